# Raw recordings (targets.recordings entries with raw ABF/NWB files or an IBW manifest):
# snnfit ingest writes the spike, sweep and epoch tables that their targets are made from
# (rules/targets.smk). One job per source, whose inputs are every file it reads (a manifest
# and its waves), so that a changed raw file re-runs only that source and what depends on it.


rule ingest:
    input:
        ingest_inputs,
    output:
        spikes=f"{RESULTS}/ingest/{{source}}/spikes.csv",
        sweeps=f"{RESULTS}/ingest/{{source}}/sweeps.csv",
        epochs=f"{RESULTS}/ingest/{{source}}/epochs.csv",
        provenance=f"{RESULTS}/ingest/{{source}}/ingest.json",
    log:
        f"{RESULTS}/logs/ingest/{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/ingest/{{source}}.tsv"
    wildcard_constraints:
        source="[A-Za-z0-9_.-]+",
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        args=ingest_args,
        out=lambda wildcards: ingest_dir(wildcards.source),
    shell:
        "snnfit ingest {params.args} --out {params.out} > {log} 2>&1"
