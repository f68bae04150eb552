# One fit per (target, model, dim, optimizer, current mode, seed, budget), and its
# prediction of the target's held-out sweeps.
#
# numba and torch threads follow the rule's threads (Snakemake sets only OMP/MKL);
# numba's on-disk cache is shared by all fits so that kernels compile once.
# On a cluster, fits are grouped (group "fits", group-components in the profile) so that
# start-up does not dominate; locally Snakemake ignores groups.

NUMBA_ENV = (
    "export NUMBA_NUM_THREADS={threads} OMP_NUM_THREADS={threads}"
    " MKL_NUM_THREADS={threads}; "
)


rule fit:
    input:
        target=f"{RESULTS}/targets/{{target}}.json",
        inputs=fit_inputs_npz,
    output:
        FIT_PATTERN + ".json",
    params:
        dim=dim_arg,
        scheme=config["fit"]["scheme"],
        extra=fit_extra_args,
    log:
        FIT_PATTERN.replace(f"{RESULTS}/fits", f"{RESULTS}/logs/fit", 1) + ".log",
    benchmark:
        FIT_PATTERN.replace(f"{RESULTS}/fits", f"{RESULTS}/benchmarks/rules/fit", 1) + ".tsv"
    threads: config["fit"]["threads"]
    resources:
        mem_mb=config["fit"]["mem_mb"],
        runtime=config["fit"]["runtime_min"],
    group:
        "fits"
    shell:
        NUMBA_ENV + "snnfit fit --target {input.target} --model {wildcards.model}"
        " --dim {params.dim} --optimizer {wildcards.optimizer} --seed {wildcards.seed}"
        " --budget {wildcards.budget} --current {wildcards.current}"
        " --scheme {params.scheme} --threads {threads} {params.extra}"
        " --out {output} > {log} 2>&1"


rule heldout:
    input:
        fit=FIT_PATTERN + ".json",
        target=f"{RESULTS}/targets/{{target}}.json",
    output:
        FIT_PATTERN.replace("/fits/", "/heldout/", 1) + ".json",
    params:
        sweeps=heldout_sweeps,
    log:
        FIT_PATTERN.replace(f"{RESULTS}/fits", f"{RESULTS}/logs/heldout", 1) + ".log",
    benchmark:
        FIT_PATTERN.replace(f"{RESULTS}/fits", f"{RESULTS}/benchmarks/rules/heldout", 1) + ".tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    group:
        "fits"
    shell:
        NUMBA_ENV + "snnfit evaluate --fit {input.fit} --target {input.target}"
        " --sweeps {params.sweeps} --out {output} > {log} 2>&1"
