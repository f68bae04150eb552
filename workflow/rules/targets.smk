# Targets: presets (resolved and euler), prior draws, fixed times, recordings. One job per
# entry of the config's `targets:` (a preset entry's schemes, a prior entry's seeds, a
# recording entry's cells, a times entry), named targets_<entry>: `snnfit make-targets`
# (snnfit.commands.make_targets) in one process writes every target file of the entry, each
# what `snnfit make-target` gives, then the truth at the synthetic amplitude factors and the
# sweeps' split (snnfit.data.truth, snnfit.data.splits): what fits read. One file per target,
# each written atomically. A recording entry's inputs are the spike table its targets are
# made from (a raw source's: rule ingest's), so that a changed raw file re-runs only its own
# source's ingest and targets.

for _entry, _names in TARGET_ENTRIES.items():

    rule:
        name:
            target_rule(_entry)
        input:
            target_entry_sources(_names),
        output:
            [target_json(t) for t in _names],
        log:
            f"{RESULTS}/logs/targets/{_entry}.log",
        benchmark:
            f"{RESULTS}/benchmarks/rules/targets/{_entry}.tsv"
        conda:
            "../envs/snnfit.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=lambda wc, n=len(_names): 5 + 2 * n,
        params:
            plan=target_entry_plan(_names),
        script:
            "../scripts/targets.py"
