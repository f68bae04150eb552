# One fit per (target, model, dim, optimizer, current mode, seed, budget), and its
# prediction of the target's held-out sweeps.
#
# numba and torch threads follow the rule's threads (Snakemake sets only OMP/MKL);
# numba's on-disk cache (the kernels use cache=True; default location) is shared by all
# fits so that kernels compile once.
# On a cluster, fits are grouped (group "fits", group-components in the profile) so that
# start-up does not dominate; locally Snakemake ignores groups.

FIT_JSON = f"{RESULTS}/fits/{FIT_WILDCARDS}.json"


rule fit:
    input:
        target=f"{RESULTS}/targets/{{target}}.json",
        inputs=fit_inputs_npz,
    output:
        FIT_JSON,
    log:
        f"{RESULTS}/logs/fit/{FIT_WILDCARDS}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/fit/{FIT_WILDCARDS}.tsv"
    group:
        "fits"
    conda:
        "../envs/snnfit.yaml"
    threads: config["fit"]["threads"]
    resources:
        mem_mb=config["fit"]["mem_mb"],
        runtime=config["fit"]["runtime_min"],
    params:
        model=model_args,
        dim=dim_arg,
        scheme=config["fit"]["scheme"],
        extra=fit_extra_args,
    shell:
        "export NUMBA_NUM_THREADS={threads} OMP_NUM_THREADS={threads}"
        " MKL_NUM_THREADS={threads}; snnfit fit --target {input.target} {params.model}"
        " --dim {params.dim} --optimizer {wildcards.optimizer} --seed {wildcards.seed}"
        " --budget {wildcards.budget} --current {wildcards.current}"
        " --scheme {params.scheme} --threads {threads} {params.extra}"
        " --out {output} > {log} 2>&1"


rule heldout:
    input:
        fit=FIT_JSON,
        target=f"{RESULTS}/targets/{{target}}.json",
    output:
        f"{RESULTS}/heldout/{FIT_WILDCARDS}.json",
    log:
        f"{RESULTS}/logs/heldout/{FIT_WILDCARDS}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/heldout/{FIT_WILDCARDS}.tsv"
    group:
        "fits"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        sweeps=heldout_sweeps,
    shell:
        "export NUMBA_NUM_THREADS={threads} OMP_NUM_THREADS={threads}"
        " MKL_NUM_THREADS={threads}; snnfit evaluate --fit {input.fit} --target {input.target}"
        " --sweeps {params.sweeps} --out {output} > {log} 2>&1"
