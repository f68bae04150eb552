"""Target and fitted spike trains of the bursting misses of issue 12 (docs/img/bursters.png).

Reads the fit records that ``benchmarks/fit_quality.py`` wrote for the goal sets (their CSVs
under ``results/benchmarks``, column ``fit_file``) and draws, per chosen fit, the target's
spikes above the fit's, over the step. Rows: the fits at Gamma < ``--below`` of the CSVs'
AdEx targets (``transient`` and ``irregular`` left out, as the goal reports them apart), and
for contrast the first fit at Gamma >= 0.9 of the same targets.

Usage (after the goal-set runs of docs/fit_benchmarks.md, 7.6)::

    .venv/bin/python benchmarks/investigations/burster_rasters.py \\
        --csv results/benchmarks/s7_goal_naud.csv,results/benchmarks/s7_goal_prior.csv \\
        --out docs/img/bursters.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True, help="comma-separated fit_quality CSVs")
    ap.add_argument("--below", type=float, default=0.9, help="Gamma of a miss (default 0.9)")
    ap.add_argument("--max-rows", type=int, default=8)
    ap.add_argument("--out", default="docs/img/bursters.png")
    a = ap.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frames = []
    for f in a.csv.split(","):
        p = Path(f)
        if not p.exists():
            print(f"burster_rasters: {p}: no such CSV (run benchmarks/fit_quality.py first)",
                  file=sys.stderr)
            return 2
        frames.append(pd.read_csv(p))
    d = pd.concat(frames, ignore_index=True)
    d = d[(d["model"] == "adex") & ~d["target"].str.contains("transient|irregular")]
    d = d[d["target"].str.startswith(("naud2008:", "prior:adex"))]
    misses = d[d["gamma"] < a.below]
    # one row per (target, truth seed): the first miss, then one hit for contrast
    misses = misses.drop_duplicates(subset=["target", "target_seed"])
    hits = d[(d["gamma"] >= 0.9) & d["target"].str.contains("regular_bursting|prior")]
    rows = list(misses.itertuples())[: a.max_rows - 1] + list(hits.itertuples())[:1]
    if not rows:
        print("burster_rasters: no fit to draw", file=sys.stderr)
        return 2
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 1.1 * len(rows) + 0.6), sharex=False)
    axes = [axes] if len(rows) == 1 else list(axes)
    for ax, r in zip(axes, rows):
        rec = json.loads(Path(r.fit_file).read_text())
        target = rec["target_spike_times_ms"][0]
        model = rec["spike_times_ms"][0]
        ax.eventplot([model, target], colors=["tab:red", "black"], lineoffsets=[0, 1],
                     linelengths=0.8, linewidths=0.8)
        truth = (f"truth {int(r.target_seed)}" if r.target.startswith("prior")
                 else r.target.split(":")[1])
        ax.set_yticks([0, 1], ["fit", "target"], fontsize=7)
        ax.set_title(f"{truth}, fit seed {int(r.seed)}: Gamma {r.gamma:.2f}, "
                     f"{len(model)} vs {len(target)} spikes", fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"burster_rasters: {len(rows)} rows -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
