# Tables: one tidy row per fit, held-out predictions, optimisation histories, summaries per
# question (medians, bootstrap 95% intervals), and the answers.

QUESTIONS = ["adaptation", "dimensionality", "optimizers"]
TABLES = {
    "fits": f"{RESULTS}/tables/fits.csv",
    "heldout": f"{RESULTS}/tables/heldout.csv",
    "history": f"{RESULTS}/tables/history.csv",
    "loss_curves": f"{RESULTS}/tables/loss_curves.csv",
    **{f"summary_{q}": f"{RESULTS}/tables/summary_{q}.csv" for q in QUESTIONS},
}


rule aggregate:
    input:
        fits=all_fit_jsons(),
        heldout=all_heldout_jsons(),
    output:
        **TABLES,
    params:
        records=fit_records(),
        arms=ARMS,
        statistics=config["statistics"],
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/aggregate.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/aggregate.py"


rule answers:
    input:
        fits=TABLES["fits"],
        heldout=TABLES["heldout"],
    output:
        f"{RESULTS}/reports/answers.json",
    params:
        statistics=config["statistics"],
        adaptation=config["experiments"]["adaptation"],
    log:
        f"{RESULTS}/logs/answers.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/answers.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/answers.py"
