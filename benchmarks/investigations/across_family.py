"""Can the across-model negative control of the adaptation question pass? Three variants of
the control, fitted outside the study.

The control (docs/answers.md): on LIF truths, AdEx and Izhikevich (adaptive families) should
predict the held-out amplitudes as well as LIF does ("equivalent", within the margin 0.05 of
the held-out pattern score). In the study they are about 0.06-0.09 worse. This script refits
the study's LIF truths (its ``targets/lif-prior-s*.json``: the truth at 1x, 1.5x, 2x, 2.5x)
with ``snnfit fit-batch`` (CMA-ES, recorded current, resolved, fit seed 1, the study's
16000 FE) under one of three variants, and prints each model's held-out pattern score
(:func:`snnfit.metrics.pattern_score`, the study's) per truth and the paired differences
``e_LIF - e_M`` (the control's effect for model M; negative: LIF predicts better):

* ``nonrefractory``: the same truths with ``t_ref = 0`` (every other parameter as drawn),
  re-simulated at the four factors; fitted on 1x and 2x, 1.5x and 2.5x held out. If the
  missing refractory period were the cause, the adaptive models would now tie with LIF.
* ``cells``: the study's truths, every model fitted in ``--box cells`` (wide, log scales;
  AdEx's DeltaT down to 0.03 mV, its LIF limit) instead of the default box.
* ``train3``: the study's truths fitted on three amplitudes (1x, 2x, 2.5x), 1.5x held out:
  does a third training amplitude pin down the flexible models?

Usage (the figures quoted in docs/answers.md, on the default study's results)::

    .venv/bin/python benchmarks/investigations/across_family.py --results results \
        --variant nonrefractory          # then --variant cells, --variant train3

Fits and targets go to ``--work`` (default ``results/benchmarks/across_family/VARIANT``;
re-running reuses finished fits); the table goes to stdout. About 30 fits of a few seconds
each per variant, two processes at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

FACTORS = [1.0, 1.5, 2.0, 2.5]
MODELS = ("adex", "izhikevich", "lif")
VARIANTS = {
    # variant: (train sweeps, held-out sweeps, box, truths without refractory period)
    "nonrefractory": (["x1", "x2"], ["x1.5", "x2.5"], "default", True),
    "cells": (["x1", "x2"], ["x1.5", "x2.5"], "cells", False),
    "train3": (["x1", "x2", "x2.5"], ["x1.5"], "default", False),
}


def _nonrefractory_target(src: Path, out: Path) -> None:
    """The truth of ``src`` with ``t_ref = 0``, simulated at :data:`FACTORS`."""
    from snnfit.data.targets import Target, load_target, write_target
    from snnfit.data.truth import truth_at_factors

    t = load_target(src)
    truth = dict(t.truth, params=dict(t.truth["params"], t_ref=0.0))
    base = next(s for s in t.sweeps if s.id == "x1")
    prov = {k: v for k, v in t.provenance.items() if k not in ("amplitude_factors",)}
    prov["note"] = "across_family.py: the study's truth with t_ref = 0"
    one = Target(t.kind, prov, truth, [base])
    write_target(out, truth_at_factors(one, FACTORS))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="results", help="a finished study's results/")
    ap.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    ap.add_argument("--budget", type=int, default=16000)
    ap.add_argument("--work", default=None)
    a = ap.parse_args(argv)
    res = Path(a.results)
    truths = sorted((res / "targets").glob("lif-prior-s*.json"))
    if not truths:
        print(f"{res / 'targets'}: no lif-prior-s*.json (run the study first)", file=sys.stderr)
        return 2
    train, held, box, nonref = VARIANTS[a.variant]
    work = Path(a.work or Path("results/benchmarks/across_family") / a.variant)
    (work / "targets").mkdir(parents=True, exist_ok=True)
    fits = []
    for src in truths:
        name = src.stem
        tgt = src
        if nonref:
            tgt = work / "targets" / f"{name}.json"
            if not tgt.exists():
                _nonrefractory_target(src, tgt)
        for m in MODELS:
            key = f"{name}_{m}"
            fits.append({"target": str(tgt), "out": str(work / "fits" / f"{key}.json"),
                         "settings": {"model": m, "optimizer": "cmaes", "seed": 1,
                                      "budget": a.budget, "current": "recorded",
                                      "scheme": "resolved", "threads": 1, "sweeps": train,
                                      "box": box},
                         "heldout": {"target": str(tgt), "sweeps": held,
                                     "out": str(work / "heldout" / f"{key}.json")}})
    procs = []
    for part in (0, 1):  # two processes: the machine's two cores
        plan = work / f"plan_{part}.json"
        plan.write_text(json.dumps({"cache": None, "fits": fits[part::2]}, indent=1))
        procs.append(subprocess.Popen([sys.executable, "-m", "snnfit", "fit-batch", "--plan",
                                       str(plan)], env=dict(os.environ, NUMBA_NUM_THREADS="1")))
    if any(p.wait() for p in procs):
        print("fit-batch failed", file=sys.stderr)
        return 1
    from snnfit.data.targets import load_target
    from snnfit.metrics import pattern_score

    score: dict[str, dict[str, float]] = {}
    for f in fits:
        h = json.loads(Path(f["heldout"]["out"]).read_text())
        sw = {s.id: s for s in load_target(h["target"]).sweeps}
        ids = h["sweep_ids"]
        sc = pattern_score(h["spike_times_ms"], [list(sw[i].spike_times_ms) for i in ids],
                           [sw[i].protocol.delay_ms for i in ids],
                           [sw[i].protocol.stim_end_ms for i in ids])
        score.setdefault(Path(f["target"]).stem, {})[f["settings"]["model"]] = sc
    print(f"variant {a.variant}: train {','.join(train)}, held out {','.join(held)}, box {box}, "
          f"{a.budget} FE; held-out pattern score (0 = the same pattern)")
    print("truth " + " ".join(f"{m:>10}" for m in MODELS))
    for t in sorted(score):
        print(t, " ".join(f"{score[t][m]:10.3f}" for m in MODELS))
    for m in MODELS:
        print(f"median {m}: {statistics.median(s[m] for s in score.values()):.3f}")
    for m in MODELS[:2]:
        d = [s["lif"] - s[m] for s in score.values()]
        print(f"e_lif - e_{m}: median {statistics.median(d):+.3f} "
              f"(range {min(d):+.3f} to {max(d):+.3f}, n {len(d)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
