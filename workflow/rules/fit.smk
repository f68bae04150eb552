# The fits and their predictions of the targets' held-out sweeps, in batches: one rule per
# batch (BATCHES, rules/common.smk: the study's fits ordered by optimizer, target and model, at most
# fit.batch_size per batch, at least fit.min_batches batches), each running its fits in one
# process (snnfit.fit.batch: one start-up, kernels warmed once). Every fit and every held-out
# evaluation is still its own output file, written atomically as soon as it is done.
#
# Resuming: Snakemake deletes a job's outputs before it runs the job again, so finished fits
# are also kept in a content-addressed cache (results/.fitcache/); a batch run again copies
# those and runs only the rest.
#
# numba's threads follow the rule's threads (the script sets them; Snakemake sets only
# OMP/MKL); numba's on-disk cache (the kernels use cache=True) is shared by all batches.
# Resources: fit.mem_mb per batch, fit.runtime_min per fit of the batch (SLURM: sbatch --mem,
# -t), both doubled on a retry.

for _name, _rows in BATCHES.items():

    rule:
        name:
            _name
        input:
            batch_inputs(_rows),
        output:
            batch_outputs(_rows),
        log:
            f"{RESULTS}/logs/fit_batch/{_name}.log",
        benchmark:
            f"{RESULTS}/benchmarks/rules/fit_batch/{_name}.tsv"
        conda:
            "../envs/snnfit.yaml"
        threads: config["fit"]["threads"]
        resources:
            mem_mb=lambda wc, attempt: config["fit"]["mem_mb"] * attempt,
            runtime=lambda wc, attempt, n=len(_rows): config["fit"]["runtime_min"]
            * n
            * attempt,
        params:
            plan=batch_plan(_rows),
            cache=FIT_CACHE,
        script:
            "../scripts/fit_batch.py"
