"""Why the across-model negative control of the adaptation question fails: on LIF truths the
adaptive models (AdEx, Izhikevich) predict the held-out amplitudes worse than LIF. Neither
family has a refractory period; if that is the cause, the loss grows with the truth's
``t_ref``. This reads a finished study (no fits): the control's per-target differences from
``answers.json`` and each truth's parameters from its target file, and prints them with the
rank correlation between ``t_ref`` and the difference (a permutation p value, seeded).

Usage (the analysis quoted in docs/answers.md, on the default study's results)::

    .venv/bin/python benchmarks/investigations/across_negative.py --results results

Output: one line per LIF truth (difference overall and per adaptive model, t_ref, the
truth's other parameters), then the correlation and the medians of the short- and
long-refractory halves, on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    r = np.empty(x.size)
    r[order] = np.arange(x.size)
    return r


def spearman(x, y, n_perm: int = 100000, seed: int = 0) -> tuple[float, float]:
    """Spearman's rho (no ties expected: continuous values) and its two-sided permutation p
    value over ``n_perm`` seeded shuffles."""
    rx, ry = _ranks(np.asarray(x, float)), _ranks(np.asarray(y, float))
    rho = float(np.corrcoef(rx, ry)[0, 1])
    rng = np.random.default_rng(seed)
    perm = np.array([np.corrcoef(rx, rng.permutation(ry))[0, 1] for _ in range(n_perm)])
    return rho, float((np.sum(np.abs(perm) >= abs(rho) - 1e-12) + 1) / (n_perm + 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="a finished study's results/")
    ap.add_argument("--permutations", type=int, default=100000)
    a = ap.parse_args(argv)
    res = Path(a.results)
    path = res / "reports" / "answers.json"
    if not path.exists():
        print(f"{path}: not found (run the study first)", file=sys.stderr)
        return 2
    across = json.loads(path.read_text())["adaptation"]["comparisons"]["across"]
    neg = across["controls"]["negative"]["pairs"]
    per_model = {m: {p["target"]: p["d"] for p in c["controls"]["negative"]["pairs"]}
                 for m, c in across.get("per_model", {}).items()}
    rows = []
    for p in neg:
        truth = json.loads((res / "targets" / f"{p['target']}.json").read_text())["truth"]
        rows.append((p["target"], p["d"], truth["params"]))
    print(f"{'target':16s} {'d':>7s} " + " ".join(f"{m:>10s}" for m in per_model)
          + "  t_ref  truth")
    for t, d, prm in sorted(rows, key=lambda r: r[2]["t_ref"]):
        dm = " ".join(f"{per_model[m].get(t, float('nan')):+10.3f}" for m in per_model)
        rest = ", ".join(f"{k}={v:.3g}" for k, v in prm.items() if k != "t_ref")
        print(f"{t:16s} {d:+7.3f} {dm} {prm['t_ref']:6.1f}  {rest}")
    tref = np.array([r[2]["t_ref"] for r in rows])
    d = np.array([r[1] for r in rows])
    rho, p = spearman(tref, d, a.permutations)
    half = np.median(tref)
    print(f"\nSpearman rho(t_ref, d) = {rho:+.2f}, permutation p = {p:.4f} (n = {d.size})")
    print(f"median d: t_ref <= {half:.1f} ms {np.median(d[tref <= half]):+.3f} "
          f"(n = {int(np.sum(tref <= half))}), t_ref > {half:.1f} ms "
          f"{np.median(d[tref > half]):+.3f} (n = {int(np.sum(tref > half))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
