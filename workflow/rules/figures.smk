# Figures (seaborn, PNG and SVG) and a voltage trace per best fit (snnfit plot).


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
    log:
        f"{RESULTS}/logs/trace/{{target}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/trace/{{target}}/{{model}}.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=f"{workflow.basedir}/scripts/best_fit.py",
    shell:
        "(best=$(python {params.script} {input})"
        ' && echo "best fit: $best" && snnfit plot "$best" --out {output}) > {log} 2>&1'
