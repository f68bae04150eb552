"""Why the dimensionality controls failed, and what fixes them: the study's two control fits
(AdEx full space and the subset ``a,b,tau_w,VT``) on the study's control truths, with the
best-so-far in-sample Gamma at budget checkpoints, and the signed-rank test per checkpoint.

Truths as the study makes them (``prior_target`` with kind ``subspace:a,b,tau_w,VT`` for the
positive control ``adex-sub``, plain prior draws for the negative ``adex-any``; the truth at
1, 1.5, 2, 2.5 x; fitted on 1x and 2x), fits as the study runs them (CMA-ES, seed 1,
``--current recorded``). One fit at a time, one thread.

Usage (the run that chose the default budget and number of control truths, 2026-12-01)::

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/investigations/dimensionality_controls.py \\
        --budget 16000 --sub-seeds 51-60,71-80 --any-seeds 61-70,81-90
    .venv/bin/python benchmarks/investigations/dimensionality_controls.py --summary

Output: ``results/benchmarks/dimensionality_controls.csv`` (one row per fit: control, seed,
space, budget, Gamma at each checkpoint, wall seconds) and the summary on stdout.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "results" / "benchmarks"
CSV = OUT / "dimensionality_controls.csv"  # --csv NAME: OUT / NAME.csv
SUBSET = "a,b,tau_w,VT"
CHECKPOINTS = (250, 1000, 2000, 4000, 5000, 8000, 16000)
FACTORS, TRAIN = (1.0, 1.5, 2.0, 2.5), ["x1", "x2"]
CONTROLS = {"sub": f"subspace:{SUBSET}", "any": "any"}  # positive, negative


def seeds_arg(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def target_file(control: str, seed: int) -> Path:
    from snnfit.data.targets import prior_target, write_target
    from snnfit.data.truth import truth_at_factors

    p = OUT / "targets" / f"adex-{control}-s{seed}.json"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        t = prior_target("adex", seed, "resolved", kind=CONTROLS[control])
        write_target(p, truth_at_factors(t, FACTORS))
    return p


STUDY_CHECKPOINTS = (250, 1000, 4000, 16000)  # config.yaml's statistics.checkpoints + budget


def run(budget: int, seeds: dict[str, list[int]]) -> None:
    from snnfit.fit import FitSettings, run_fit

    new = not CSV.exists()
    with open(CSV, "a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["control", "seed", "space", "budget",
                        *[f"gamma_{c}" for c in CHECKPOINTS], "wall_s"])
        for control, ss in seeds.items():
            for seed in ss:
                path = target_file(control, seed)
                for space in ("full", SUBSET):
                    r = run_fit(str(path), FitSettings(
                        model="adex", dim=space, optimizer="cmaes", seed=1, budget=budget,
                        current="recorded", sweeps=TRAIN))
                    gam = []
                    for c in CHECKPOINTS:
                        h = [x for x in r.history if x["simulations"] <= c]
                        gam.append(f"{h[-1]['gamma_at_best']:.6f}" if h and c <= budget
                                   else "")
                    w.writerow([control, seed, space, budget, *gam, f"{r.wall_s:.2f}"])
                    fh.flush()
                    print(f"adex-{control}-s{seed} {space}: Gamma {r.gamma:.3f}",
                          file=sys.stderr)


def summary() -> None:
    import numpy as np
    from scipy.stats import wilcoxon

    rows = list(csv.DictReader(open(CSV, encoding="utf-8")))
    for budget in sorted({int(r["budget"]) for r in rows}):
        for control, sign in (("sub", "> 0: reduction helps"), ("any", "< 0: full wins")):
            by = {}
            for r in rows:
                if r["control"] == control and int(r["budget"]) == budget:
                    by.setdefault(int(r["seed"]), {})[r["space"]] = r
            pairs = {s: v for s, v in by.items() if len(v) == 2}
            print(f"budget {budget}, adex-{control} ({len(pairs)} truths; effect "
                  f"e_full - e_reduced {sign})")
            raw = {}
            for c in CHECKPOINTS:
                if c > budget:
                    continue
                d = np.array([float(v[SUBSET][f"gamma_{c}"]) - float(v["full"][f"gamma_{c}"])
                              for v in pairs.values()])
                nz = int(np.sum(np.abs(d) > 1e-12))
                p = wilcoxon(d).pvalue if nz else float("nan")
                raw[c] = p
                print(f"  {c:>6} FE: mean {d.mean():+.3f}, median {np.median(d):+.3f}, "
                      f"untied pairs {nz}, reduced better in {int(np.sum(d > 1e-12))}, "
                      f"p (raw) {p:.4f}")
            if budget == STUDY_CHECKPOINTS[-1]:
                from snnfit.study.statistics import holm

                adj = holm({str(c): raw[c] for c in STUDY_CHECKPOINTS})
                print("  Holm over the study's checkpoints: " + ", ".join(
                    f"{c} FE p {adj[str(c)]:.4f}" for c in STUDY_CHECKPOINTS))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=16000)
    ap.add_argument("--sub-seeds", default="51-60")
    ap.add_argument("--any-seeds", default="61-70")
    ap.add_argument("--summary", action="store_true", help="only summarise the CSV")
    ap.add_argument("--csv", default="dimensionality_controls",
                    help="CSV name under results/benchmarks (one per set of truths)")
    a = ap.parse_args(argv)
    global CSV
    CSV = OUT / f"{a.csv}.csv"
    if not a.summary:
        run(a.budget, {"sub": seeds_arg(a.sub_seeds), "any": seeds_arg(a.any_seeds)})
    summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
