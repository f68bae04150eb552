"""Rule aggregate: fit JSONs -> tidy tables (snnfit.study); the recorded cells' reliability;
every CSV written atomically."""

import sys

import pandas as pd

from snnfit.data.targets import load_target
from snnfit.io import atomic_write_text
from snnfit.study import FitRecord, StatsConfig, build_tables, study_tables
from snnfit.study.reliability import cell_reliability

sys.stderr = open(snakemake.log[0], "w")
records = [FitRecord(**r) for r in snakemake.params.records]
stats = StatsConfig.from_config(snakemake.params.statistics)
fits, heldout, history = build_tables(records)
rel = []
for path in snakemake.input.recordings:
    t = load_target(path)
    pairs = [tuple(p) for p in (t.provenance.get("split") or {}).get("repeat_pairs", [])]
    name = path.rsplit("/", 1)[-1][: -len(".json")]
    rel.append({"target": name, **cell_reliability(t, pairs)})
reliability = pd.DataFrame(rel, columns=["target", "n_repeat_pairs", "gamma_intrinsic",
                                         "pattern_intrinsic"])
tables = {"fits": fits, "heldout": heldout, "history": history, "reliability": reliability,
          **study_tables(fits, heldout, history, stats)}
for name, df in tables.items():
    atomic_write_text(snakemake.output[name], df.to_csv(index=False))
    print(f"{snakemake.output[name]}: {len(df)} rows", file=sys.stderr)
