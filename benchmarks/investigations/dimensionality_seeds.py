"""How many fit seeds does the dimensionality question's positive control need? Recomputes
the question's controls (:func:`snnfit.study.answers.answer_dimensionality`, the study's own
code and statistics settings) on subsets of a finished study's fits: the control truths of
the default configuration (seeds below 250 of ``adex-sub`` and ``adex-any``) or all of them,
and one or more fit seeds, pooled per truth by their median as the study pools seeds.

Usage (the table quoted in docs/answers.md, on the full study's results, which fitted 30 + 30
control truths with fit seeds 1, 2 and 3)::

    .venv/bin/python benchmarks/investigations/dimensionality_seeds.py \\
        --results /path/to/full-study/results

Reads ``tables/fits.csv`` and ``tables/history.csv`` (no fits); prints one line per subset:
each control's verdict and, per checkpoint, the effect and the Holm-adjusted p value.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SUBSETS = [  # label, truths (all or default), fit seeds
    ("20 + 20 truths, fit seed 1", "default", {1}),
    ("20 + 20 truths, fit seed 2", "default", {2}),
    ("20 + 20 truths, fit seed 3", "default", {3}),
    ("20 + 20 truths, fit seeds 1-2", "default", {1, 2}),
    ("20 + 20 truths, fit seeds 1-3", "default", {1, 2, 3}),
    ("30 + 30 truths, fit seed 1", "all", {1}),
    ("30 + 30 truths, fit seeds 1-3", "all", {1, 2, 3}),
]


def _truth_seed(target: str):
    m = re.match(r"adex-(sub|any)-s(\d+)$", target)
    return int(m.group(2)) if m else None


def main(argv=None) -> int:
    import pandas as pd

    from snnfit.study.answers import answer_dimensionality
    from snnfit.study.statistics import StatsConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="a finished study's results/")
    a = ap.parse_args(argv)
    tables = Path(a.results) / "tables"
    if not (tables / "fits.csv").exists():
        print(f"{tables / 'fits.csv'}: not found (run the study first)", file=sys.stderr)
        return 2
    fits = pd.read_csv(tables / "fits.csv")
    hist = pd.read_csv(tables / "history.csv")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["statistics"]
    stats = StatsConfig.from_config(cfg)
    for label, truths, seeds in SUBSETS:
        def keep(df):
            # the default configuration's control truths are those with seeds below 250
            ts = df["target"].map(_truth_seed)
            ok_t = (ts.isna() | (ts < 250)) if truths == "default" else pd.Series(True, df.index)
            return df[ok_t & df["seed"].isin(seeds)]

        f = keep(fits)
        if f[f["target"].map(_truth_seed).notna()].empty:
            print(f"{label}: no such fits in {a.results}")
            continue
        ans = answer_dimensionality(f, keep(hist), stats, cfg["checkpoints"])
        parts = []
        for role in ("positive", "negative"):
            c = ans["controls"].get(role)
            if not c:
                continue
            steps = " ".join(f"{b['checkpoint']}: {b['effect']:+.3f} (p {b['p_value']:.3f})"
                             for b in c["by_budget"])
            parts.append(f"{role} {c['verdict']} at {c['checkpoint']} FE, n {c['n_pairs']}; "
                         f"{steps}")
        print(f"{label} | " + " | ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
