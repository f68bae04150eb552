"""Gradient fits under ``resolved`` and ``resolved2``, side by side (does the smoother map help?).

On the AdEx targets of the tuning set of ``benchmarks/gradient_fits.py`` plus two more Naud
presets, each generated with the scheme of the fit (``make-target --preset ... --scheme S``),
``--current recorded --dim full``, seeds 100+ (never the acceptance seeds 0-2): final Gamma
and the forward-equivalents to first reach Gamma >= 0.9, per optimizer and scheme. Output:
``results/benchmarks/scheme_fits.csv`` (``target, scheme, optimizer, seed, budget, gamma,
fe_to_0.9, loss, wall_s``) and a printed summary.

Run: ``NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/investigations/scheme_fits.py
[--optimizers direct,cmaes]`` (about 1 min per fit at the default budget).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCHMARKS))  # the harnesses beside this folder (fits, gradient_fits)
ROOT = BENCHMARKS.parent
OUT = ROOT / "results" / "benchmarks"
TARGETS = ("naud2008:tonic", "naud2008:adapting", "naud2008:initial_burst",
           "naud2008:regular_bursting", "naud2008:delayed_accelerating")
COLUMNS = ("target", "scheme", "optimizer", "seed", "budget", "gamma", "fe_to_0.9", "loss",
           "wall_s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optimizers", default="direct,cmaes")
    ap.add_argument("--seeds", default="100,101")
    ap.add_argument("--budget", type=int, default=20000)
    a = ap.parse_args(argv)
    from fits import target_file  # the fit benchmarks' targets (same files)
    from gradient_fits import first_reach
    from snnfit.fit import FitSettings, run_fit
    from snnfit.sim.simulate import set_threads

    set_threads(1)
    rows = []
    path = OUT / "scheme_fits.csv"
    for opt in a.optimizers.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            for name in TARGETS:
                for scheme in ("resolved", "resolved2"):
                    st = FitSettings(model="adex", dim="full", optimizer=opt, seed=seed,
                                     budget=a.budget, current="recorded", scheme=scheme,
                                     threads=1)
                    rec = run_fit(str(target_file(name, scheme)), st)
                    row = dict(target=name, scheme=scheme, optimizer=opt, seed=seed,
                               budget=a.budget, gamma=rec.gamma,
                               **{"fe_to_0.9": first_reach(rec.history)["fe_to_0.9"]},
                               loss=rec.loss, wall_s=rec.wall_s)
                    rows.append(row)
                    g = "-" if row["gamma"] is None else f"{row['gamma']:.3f}"
                    print(f"{name:32s} {scheme:9s} {opt:6s} seed {seed}: gamma "
                          f"{g} fe_to_0.9 {row['fe_to_0.9']:.0f} "
                          f"wall {row['wall_s']:.1f} s", flush=True)
                    with open(path, "w", newline="") as fh:
                        w = csv.DictWriter(fh, fieldnames=COLUMNS)
                        w.writeheader()
                        w.writerows(rows)
    for opt in a.optimizers.split(","):
        for scheme in ("resolved", "resolved2"):
            rs = [r for r in rows if r["optimizer"] == opt and r["scheme"] == scheme]
            g = np.array([r["gamma"] for r in rs], float)
            fe = np.array([r["fe_to_0.9"] for r in rs], float)
            print(f"{opt:6s} {scheme:9s}: reach 0.9 {int(np.sum(g >= 0.9))}/{len(rs)}, mean "
                  f"Gamma {np.mean(g):.2f}, median FE to 0.9 "
                  f"{np.nanmedian(fe) if np.isfinite(fe).any() else float('nan'):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
