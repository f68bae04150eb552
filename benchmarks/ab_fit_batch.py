"""A/B speed of two commits on a study-like batch of fits, measured side by side.

The machine's speed drifts by a third between ten-minute windows, so two whole study runs
made one after the other cannot show a 1.3x change. This runs the same ``snnfit fit-batch``
plan with the code of commit A and with the working tree's code (B), alternately, ``--repeats``
times each, and writes the process wall time and the fits' own ``wall_s`` per model.

The plan is study-like: the adaptive prior truths of the default config (``adex-adapt``,
seeds 11-20), made here with ``snnfit make-targets`` as the study makes them (the truth at
1, 1.5, 2 and 2.5x, fitted on 1x and 2x, held-out evaluations of 1.5x and 2.5x), and
AdEx, Izhikevich and LIF fitted with CMA-ES at ``--budget`` forward-equivalents, seed 1,
one thread.

Usage (the measurement in docs/simulation.md, "Small batches")::

    .venv/bin/python benchmarks/ab_fit_batch.py --old d980b98 --repeats 2

A git worktree of ``--old`` is made under ``results/benchmarks/ab/`` (its numba cache is
warmed by an untimed first run; so is the working tree's). Output:
``results/benchmarks/ab_fit_batch.csv`` (one row per run: version, repeat, process wall
seconds, fits' own wall seconds per model) and a summary (medians, ratios) on stdout.
Both versions must produce the same fits: the summary says whether the records agree
(apart from timing, energy and provenance).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
WORK = OUT / "ab"
MODELS = ("adex", "izhikevich", "lif")
SEEDS = range(11, 21)
VOLATILE = {"wall_s", "cpu_s", "joules", "energy_source", "energy_note", "provenance"}


def _strip(x):
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def make_targets(python: str, where: Path) -> list[Path]:
    """The adaptive prior truths as the study makes them (snnfit make-targets)."""
    split = {"train": ["x1", "x2"], "heldout": ["x1.5", "x2.5"],
             "role": {"x1": "train", "x1.5": "interpolated", "x2": "train",
                      "x2.5": "extrapolated"}, "repeat_pairs": []}
    plan = {"targets": [{"make": f"--prior adex --seed {s} --prior-kind adapting",
                         "out": str(where / f"adex-adapt-s{s}.json"),
                         "factors": [1.0, 1.5, 2.0, 2.5], "split": split} for s in SEEDS]}
    where.mkdir(parents=True, exist_ok=True)
    path = where / "targets_plan.json"
    path.write_text(json.dumps(plan))
    subprocess.run([python, "-m", "snnfit", "make-targets", "--plan", str(path)], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    return [where / f"adex-adapt-s{s}.json" for s in SEEDS]


def fit_plan(targets: list[Path], out: Path, budget: int) -> dict:
    fits = []
    for t in targets:
        for m in MODELS:
            fits.append({"target": str(t), "out": str(out / f"{t.stem}_{m}.json"),
                         "settings": {"model": m, "dim": "full", "optimizer": "cmaes",
                                      "seed": 1, "budget": budget, "current": "recorded",
                                      "scheme": "resolved", "threads": 1,
                                      "sweeps": ["x1", "x2"]},
                         "heldout": {"target": str(t), "sweeps": ["x1.5", "x2.5"],
                                     "out": str(out / f"heldout_{t.stem}_{m}.json")}})
    return {"fits": fits}


def run_once(python: str, src: Path, plan: dict, out: Path) -> tuple[float, dict, dict]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    path = out / "plan.json"
    path.write_text(json.dumps(plan))
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    # a fresh, empty cache directory per run (not "--cache none": before a0b28de that made a
    # directory called "none" in the working directory, so a second run copied the first)
    subprocess.run([python, "-m", "snnfit", "fit-batch", "--plan", str(path), "--cache",
                    str(out / "cache")], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    per_model = {m: 0.0 for m in MODELS}
    records = {}
    for f in plan["fits"]:
        r = json.loads(Path(f["out"]).read_text())
        per_model[r["model"]] += r["wall_s"]
        records[Path(f["out"]).name] = _strip(r)
    return wall, per_model, records


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="commit A (B is the working tree)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--budget", type=int, default=16000)
    a = ap.parse_args(argv)
    python = sys.executable
    WORK.mkdir(parents=True, exist_ok=True)
    tree = WORK / "old"
    if tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False)
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(tree),
                    a.old], check=True, stdout=subprocess.DEVNULL)
    versions = {"old": tree / "src", "new": ROOT / "src"}
    targets = make_targets(python, WORK / "targets")
    plans = {v: fit_plan(targets, WORK / f"fits_{v}", a.budget) for v in versions}
    for v, src in versions.items():  # untimed: numba caches, page cache
        run_once(python, src, fit_plan(targets[:1], WORK / f"warm_{v}", 300),
                 WORK / f"warm_{v}")
    rows, records = [], {}
    for rep in range(1, a.repeats + 1):
        for v, src in versions.items():
            wall, per_model, records[v] = run_once(python, src, plans[v], WORK / f"fits_{v}")
            rows.append({"version": v, "commit": a.old if v == "old" else "working tree",
                         "repeat": rep, "process_wall_s": round(wall, 2),
                         **{f"fits_wall_s_{m}": round(s, 2) for m, s in per_model.items()}})
            print(rows[-1], flush=True)
    out = OUT / "ab_fit_batch.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\n{out}")
    for key in ("process_wall_s", *(f"fits_wall_s_{m}" for m in MODELS)):
        med = {v: statistics.median(r[key] for r in rows if r["version"] == v) for v in versions}
        print(f"{key:22s} old {med['old']:7.2f}  new {med['new']:7.2f}  "
              f"old/new {med['old'] / med['new']:.2f}x")
    same = records["old"] == records["new"]
    print("fit records (without timing, energy, provenance):",
          "identical" if same else "DIFFER")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                   check=False)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
