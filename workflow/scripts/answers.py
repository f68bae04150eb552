"""Rule answers: the three answers (snnfit.study.answers) -> answers.json, atomically."""

import sys

from snnfit.io import atomic_write_json
from snnfit.study import StatsConfig, answers, read_tables

sys.stderr = open(snakemake.log[0], "w")
s = snakemake.params.statistics
stats = StatsConfig.from_config(s)
fits, heldout = read_tables(snakemake.input.fits, snakemake.input.heldout)
result = answers(fits, heldout, stats, treatment=s["treatment"], control=s["control"])
atomic_write_json(snakemake.output[0], result)
for q, a in result.items():
    print(f"{q}: {a['verdict']} (n = {a['n_pairs']})", file=sys.stderr)
