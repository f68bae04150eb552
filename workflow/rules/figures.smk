# Figures (seaborn, PNG and SVG) and a voltage trace per best fit (as snnfit plot draws it).


rule figures:
    input:
        fits=TABLES["fits"],
        heldout=TABLES["heldout"],
        curves=TABLES["loss_curves"],
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
            for name, cat in FIGURES.items()
            for ext in ("png", "svg")
        },
    log:
        f"{RESULTS}/logs/figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/figures.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        out_dir=lambda w, output: os.path.dirname(output.rasters_png),
    script:
        "../scripts/figures.py"


# All voltage-trace figures in one job (one process: the start-up and matplotlib's import
# are paid once, not per figure): per (target, model) of the adaptation arm, the best fit
# (highest Gamma) drawn as `snnfit plot` draws it.
if trace_pairs():

    rule traces:
        input:
            trace_inputs(),
        output:
            [
                report(
                    trace_png(target, model),
                    caption="../report/trace.rst",
                    category="Traces",
                    subcategory=target,
                    labels={"target": target, "model": model},
                )
                for target, model in trace_pairs()
            ],
        log:
            f"{RESULTS}/logs/traces.log",
        benchmark:
            f"{RESULTS}/benchmarks/rules/traces.tsv"
        conda:
            "../envs/snnfit.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        params:
            traces={trace_png(t, m): trace_candidates(t, m) for t, m in trace_pairs()},
        script:
            "../scripts/traces.py"
