# The study benchmark (snnfit.study.throughput): per rule, the jobs' wall and CPU seconds
# (Snakemake's benchmark files), the fits' own seconds, and the study's simulation lower
# bound (the fits' neuron-steps over the kernel's throughput at batch 64 on one thread,
# measured here by a short kernel benchmark, over the cores) against the measured wall time.
# It runs last: after every other output of the study.


rule study_benchmark:
    input:
        fits=all_fit_jsons(),
        study=study_outputs(),
    output:
        study=f"{RESULTS}/benchmarks/study.csv",
        kernels=f"{RESULTS}/benchmarks/study_kernels.csv",
    log:
        f"{RESULTS}/logs/study_benchmark.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/study_benchmark.tsv"
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        # the cores of the run (the bound's divisor): a resource, not a param, so that a
        # dry run (which sees other cores under a cluster profile) does not re-trigger it
        study_cores=lambda wildcards: run_cores(),
    params:
        bench_dir=f"{RESULTS}/benchmarks/rules",
        scheme=config["fit"]["scheme"],
    script:
        "../scripts/study_benchmark.py"
