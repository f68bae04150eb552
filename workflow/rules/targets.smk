# Targets: presets (resolved and euler), prior draws, fixed times, recordings.
# make_target writes what `snnfit make-target` gives; target adds the held-out sweeps of
# targets with ground truth (the truth at other amplitudes) and is what fits read.


rule make_target:
    input:
        target_source,
    output:
        f"{RESULTS}/targets/raw/{{target}}.json",
    log:
        f"{RESULTS}/logs/make_target/{{target}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/make_target/{{target}}.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        args=target_args,
    shell:
        "snnfit make-target {params.args} --out {output} > {log} 2>&1"


rule target:
    input:
        f"{RESULTS}/targets/raw/{{target}}.json",
    output:
        f"{RESULTS}/targets/{{target}}.json",
    log:
        f"{RESULTS}/logs/target/{{target}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/target/{{target}}.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        spec=target_spec,
    script:
        "../scripts/target.py"
