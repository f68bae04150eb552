# Tables: one tidy row per fit, held-out predictions, optimisation histories, summaries per
# question (medians, bootstrap 95% intervals), and the answers.


rule aggregate:
    input:
        fits=all_fit_jsons(),
        heldout=all_heldout_jsons(),
        recordings=recording_targets(),
    output:
        **TABLES,
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/aggregate.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        records=fit_records(),
        statistics=config["statistics"],
    script:
        "../scripts/aggregate.py"


rule answers:
    input:
        fits=TABLES["fits"],
        heldout=TABLES["heldout"],
        history=TABLES["history"],
        reliability=TABLES["reliability"],
    output:
        **{
            f"{name}_{ext}": (
                report(
                    f"{RESULTS}/figures/{name}.{ext}",
                    caption=f"../report/{name}.rst",
                    category=cat,
                )
                if ext == "png"
                else f"{RESULTS}/figures/{name}.{ext}"
            )
            for name, cat in ANSWER_FIGURES.items()
            for ext in ("png", "svg")
        },
        answers=f"{RESULTS}/reports/answers.json",
    log:
        f"{RESULTS}/logs/answers.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/answers.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        statistics=config["statistics"],
        headline=config["experiments"]["adaptation"]["headline"],
        figures_dir=lambda w, output: os.path.dirname(output.controls_png),
    script:
        "../scripts/answers.py"
