"""Rule aggregate: fit JSONs -> tidy tables (snnfit.study); every CSV written atomically."""

import sys

from snnfit.io import atomic_write_text
from snnfit.study import FitRecord, StatsConfig, build_tables, study_tables

sys.stderr = open(snakemake.log[0], "w")
arms = {}
for arm, rows in snakemake.params.arms.items():
    for r in rows:
        key = (r["target"], r["model"], r["dim"], r["optimizer"], r["current"], r["seed"],
               r["budget"])
        arms.setdefault(key, []).append(arm)

records = []
for r in snakemake.params.records:
    parts = {p.split("~", 1)[0]: p.split("~", 1)[1] for p in r["path"].split("/") if "~" in p}
    key = (r["target"], parts["model"], r["dim"], parts["optimizer"], parts["current"],
           int(parts["seed"]), int(r["budget"]))
    records.append(FitRecord(arms=";".join(arms.get(key, [])), **r))

s = snakemake.params.statistics
stats = StatsConfig.from_config(s)
fits, heldout, history = build_tables(records)
tables = {"fits": fits, "heldout": heldout, "history": history,
          **study_tables(fits, heldout, history, stats)}
for name, df in tables.items():
    atomic_write_text(snakemake.output[name], df.to_csv(index=False))
    print(f"{snakemake.output[name]}: {len(df)} rows", file=sys.stderr)
