"""Rule answers: the three answers beside their controls (snnfit.study.answers) ->
answers.json, and the answers' figures; atomically."""

import sys

import pandas as pd

from snnfit.io import atomic_write_json
from snnfit.study import StatsConfig, answers, read_tables
from snnfit.study.figures import answer_figures

sys.stderr = open(snakemake.log[0], "w")
s = snakemake.params.statistics
stats = StatsConfig.from_config(s)
fits, heldout = read_tables(snakemake.input.fits, snakemake.input.heldout)
history = pd.read_csv(snakemake.input.history, dtype={"target": str, "dim": str,
                                                      "model": str, "arms": str})
reliability = pd.read_csv(snakemake.input.reliability, dtype={"target": str})
result = answers(fits, heldout, stats, treatment=s["treatment"], control=s["control"],
                 history=history, checkpoints=s["checkpoints"],
                 headline=snakemake.params.headline, reliability=reliability)
atomic_write_json(snakemake.output.answers, result)
for path in answer_figures(result, snakemake.params.figures_dir, stats.margin):
    print(path, file=sys.stderr)
for q, a in result.items():
    print(f"{q}: {a['verdict']} (n = {a['n_pairs']}; trusted {a.get('trusted')})",
          file=sys.stderr)
