# Figures (seaborn, PNG and SVG) and a voltage trace per best fit (snnfit plot).

FIGURES = {
    "gamma_by_model": "Adaptation",
    "dimensionality": "Dimensionality",
    "optimizer_curves": "Optimizers",
    "joules_vs_accuracy": "Optimizers",
    "rasters": "Adaptation",
}


def figure_files():
    return expand(
        f"{RESULTS}/figures/{{name}}.{{ext}}", name=list(FIGURES), ext=["png", "svg"]
    )


def trace_files():
    return [
        f"{RESULTS}/figures/traces/{target}/{model}.png"
        for target, model in trace_pairs()
    ]


rule figures:
    input:
        fits=TABLES["fits"],
        heldout=TABLES["heldout"],
        curves=TABLES["loss_curves"],
    output:
        **{
            f"{name}_{ext}": report(
                f"{RESULTS}/figures/{name}.{ext}",
                caption=f"../report/{name}.rst",
                category=cat,
            )
            if ext == "png"
            else f"{RESULTS}/figures/{name}.{ext}"
            for name, cat in FIGURES.items()
            for ext in ("png", "svg")
        },
    params:
        out_dir=f"{RESULTS}/figures",
    log:
        f"{RESULTS}/logs/figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/figures.py"


rule trace:
    input:
        trace_candidates,
    output:
        report(
            f"{RESULTS}/figures/traces/{{target}}/{{model}}.png",
            caption="../report/trace.rst",
            category="Traces",
            subcategory="{target}",
            labels={"target": "{target}", "model": "{model}"},
        ),
    params:
        script=f"{workflow.basedir}/scripts/best_fit.py",
    log:
        f"{RESULTS}/logs/trace/{{target}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/trace/{{target}}/{{model}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "(best=$(python {params.script} {input})"
        ' && echo "best fit: $best" && snnfit plot "$best" --out {output}) > {log} 2>&1'
