"""Usefulness and cost of the exact spike-time gradients of the ``resolved`` scheme.

Usefulness (``results/benchmarks/gradient.csv``: ``preset, n_pairs, n_skipped,
median_rel_err``): on the ``naud2008:*`` presets except ``irregular`` (chaotic), each parameter
that enters the map is perturbed by ``d = 1e-3 max(|value|, 0.01 (upper - lower))``; per spike
``|J d - simulated shift| / max(|simulated shift|, 1e-3 ms)`` (perturbations that change the
count skipped); median per preset, then the median over presets (printed). The same figure
for plain Euler at 0.1 ms with the cut at Vpeak = 0 mV (Euler's shifts, resolved Jacobian's
prediction) is printed as a separate line: why ``resolved``.

Cost (``results/benchmarks/gradient_cost.csv``: ``model, batch, forward_s, sensitivity_s,
ratio``): wall time of the sensitivity pass (all spike times, all parameters and the amplitude)
over the forward ``resolved`` simulation of the same batch, threads = 1, median of repeats.

Run: ``NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/gradient.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from snnfit.grad import prediction_errors, spike_times_and_jacobian
from snnfit.models import get_spec, resolve_preset
from snnfit.protocol import StepProtocol
from snnfit.simulate import simulate_batch

NAUD = ["tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
        "delayed_regular_bursting", "transient"]
COST_PRESETS = {"adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS",
                "lif": "lif:default"}


def usefulness(protocol: StepProtocol, scheme: str = "resolved"):
    rows = []
    for name in NAUD:
        model, ps = resolve_preset(f"naud2008:{name}")
        P = get_spec(model).vector(ps.params)
        errs, n, skipped = prediction_errors(model, P, ps.amplitude_pA, protocol, scheme)
        rows.append(dict(preset=f"naud2008:{name}", n_pairs=n, n_skipped=skipped,
                         median_rel_err=float(np.median(errs)) if n else float("nan")))
    return rows


def batch_for(model: str, B: int, seed: int = 0):
    """``B`` sets: the preset with each parameter jittered by up to 1 % (seeded)."""
    _, ps = resolve_preset(COST_PRESETS[model])
    spec = get_spec(model)
    rng = np.random.default_rng(seed)
    P = spec.vector(ps.params)[None] * (1.0 + 0.01 * rng.uniform(-1, 1, (B, len(spec.names))))
    return P, np.full(B, ps.amplitude_pA)


def cost(protocol: StepProtocol, batches=(64, 1024), repeats: int = 5, max_spikes: int = 256):
    rows = []
    for model in COST_PRESETS:
        for B in batches:
            P, A = batch_for(model, B)
            simulate_batch(model, P[:2], A[:2], protocol, "resolved", 1, max_spikes)  # compile
            spike_times_and_jacobian(model, P[:2], A[:2], protocol, 1, max_spikes)
            tf, ts, cf, cs = [], [], [], []
            for _ in range(repeats):  # interleaved, so load from other processes hits both
                t0, c0 = time.perf_counter(), time.process_time()
                simulate_batch(model, P, A, protocol, "resolved", 1, max_spikes)
                tf.append(time.perf_counter() - t0)
                cf.append(time.process_time() - c0)
                t0, c0 = time.perf_counter(), time.process_time()
                spike_times_and_jacobian(model, P, A, protocol, 1, max_spikes)
                ts.append(time.perf_counter() - t0)
                cs.append(time.process_time() - c0)
            f, s = float(np.median(tf)), float(np.median(ts))
            rows.append(dict(model=model, batch=B, forward_s=f, sensitivity_s=s, ratio=s / f))
            print(f"cost {model:10s} B={B:5d} forward {f:.4f} s  sensitivity {s:.4f} s  "
                  f"ratio {s / f:.2f} (wall, median of {repeats}); CPU-time ratio "
                  f"{np.median(cs) / np.median(cf):.2f}", flush=True)
    return rows


def write_csv(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    tmp.replace(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/benchmarks", help="output directory")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--skip-cost", action="store_true")
    args = ap.parse_args(argv)
    from snnfit.simulate import set_threads

    set_threads(1)
    out = Path(args.out)
    prot = StepProtocol()
    rows = usefulness(prot)
    for r in rows:
        print(f"usefulness {r['preset']:35s} pairs {r['n_pairs']:4d} skipped {r['n_skipped']:2d} "
              f"median rel err {r['median_rel_err']:.3f}")
    write_csv(out / "gradient.csv", rows)
    med = float(np.nanmedian([r["median_rel_err"] for r in rows]))
    print(f"median over presets (resolved, exact Jacobian): {med:.3f}  (goal < 0.10)")
    erows = usefulness(prot, "euler")
    emed = float(np.nanmedian([r["median_rel_err"] for r in erows]))
    print("median over presets, plain Euler 0.1 ms, cut Vpeak = 0 mV (its shifts vs the resolved "
          f"Jacobian): {emed:.3f}; per preset: " + ", ".join(
              f"{r['preset'].split(':')[1]} {r['median_rel_err']:.2f} "
              f"({r['n_pairs']} pairs, {r['n_skipped']} skipped)" for r in erows))
    if not args.skip_cost:
        crow = cost(prot, args.batches, args.repeats)
        write_csv(out / "gradient_cost.csv", crow)
        print(f"max ratio sensitivity/forward: {max(r['ratio'] for r in crow):.2f}")


if __name__ == "__main__":
    main()
