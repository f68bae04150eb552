# Seeded Poisson input trains, one file per fit seed (the spiking front end's inputs).


rule inputs:
    output:
        f"{RESULTS}/inputs/seed~{{seed}}.npz",
    log:
        f"{RESULTS}/logs/inputs/seed~{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/inputs/seed~{{seed}}.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        n_channels=config["inputs"]["n_channels"],
        rate_hz=config["inputs"]["rate_hz"],
        steps=config["inputs"]["steps"],
        dt_ms=config["inputs"]["dt_ms"],
    shell:
        "snnfit make-inputs --n-channels {params.n_channels} --rate-hz {params.rate_hz}"
        " --steps {params.steps} --dt {params.dt_ms} --seed {wildcards.seed}"
        " --out {output} > {log} 2>&1"
