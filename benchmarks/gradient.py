"""Usefulness and cost of the exact spike-time gradients of the ``resolved2`` and ``resolved`` maps.

Usefulness (``results/benchmarks/gradient.csv``: ``preset, n_pairs, n_skipped,
median_rel_err, scheme``, one row per preset, for ``--scheme``, default ``resolved2``; the other
of the two maps in ``gradient_<scheme>.csv``): on the ``naud2008:*`` presets except
``irregular`` (chaotic), each parameter that enters the map is perturbed by
``d = 1e-3 max(|value|, 0.01 (upper - lower))``; per spike
``|J d - simulated shift| / max(|simulated shift|, 1e-3 ms)`` with the exact Jacobian of the
same map (perturbations that change the count skipped); median per preset, then the median
over presets (printed). Also printed: plain Euler at 0.1 ms with the cut at Vpeak = 0 mV
(Euler's shifts, resolved Jacobian's prediction: why not Euler), and Izhikevich's upswing
(``izhikevich2007:RS, IB, CH`` under ``resolved``; written to ``gradient_izhikevich.csv``).

Cost (``results/benchmarks/gradient_cost.csv``: ``model, scheme, batch, forward_s,
sensitivity_s, ratio``): wall time of the sensitivity pass (all spike times, all parameters and
the amplitude) over the forward simulation of the same map and batch, threads = 1, median of
interleaved repeats; AdEx for both maps.

Run: ``NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/gradient.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from snnfit.sim.grad import prediction_errors, spike_times_and_jacobian
from snnfit.sim.models import get_spec, resolve_preset
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import simulate_batch

NAUD = ["tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
        "delayed_regular_bursting", "transient"]
COST_PRESETS = {"adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS",
                "lif": "lif:default"}


IZH = ["izhikevich2007:RS", "izhikevich2007:IB", "izhikevich2007:CH"]


def usefulness(protocol: StepProtocol, scheme: str = "resolved", presets=None):
    rows = []
    for pname in presets or [f"naud2008:{n}" for n in NAUD]:
        model, ps = resolve_preset(pname)
        P = get_spec(model).vector(ps.params)
        errs, n, skipped = prediction_errors(model, P, ps.amplitude_pA, protocol, scheme)
        rows.append(dict(preset=pname, n_pairs=n, n_skipped=skipped,
                         median_rel_err=float(np.median(errs)) if n else float("nan"),
                         scheme=scheme))
    return rows


def batch_for(model: str, B: int, seed: int = 0):
    """``B`` sets: the preset with each parameter jittered by up to 1 % (seeded)."""
    _, ps = resolve_preset(COST_PRESETS[model])
    spec = get_spec(model)
    rng = np.random.default_rng(seed)
    P = spec.vector(ps.params)[None] * (1.0 + 0.01 * rng.uniform(-1, 1, (B, len(spec.names))))
    return P, np.full(B, ps.amplitude_pA)


COST_CASES = [("adex", "resolved2"), ("adex", "resolved"), ("izhikevich", "resolved"),
              ("lif", "resolved")]


def cost(protocol: StepProtocol, batches=(64, 1024), repeats: int = 5, max_spikes: int = 256):
    rows = []
    for model, scheme in COST_CASES:
        for B in batches:
            P, A = batch_for(model, B)
            simulate_batch(model, P[:2], A[:2], protocol, scheme, 1, max_spikes)  # compile
            spike_times_and_jacobian(model, P[:2], A[:2], protocol, 1, max_spikes, scheme=scheme)
            tf, ts, cf, cs = [], [], [], []
            for _ in range(repeats):  # interleaved, so load from other processes hits both
                t0, c0 = time.perf_counter(), time.process_time()
                simulate_batch(model, P, A, protocol, scheme, 1, max_spikes)
                tf.append(time.perf_counter() - t0)
                cf.append(time.process_time() - c0)
                t0, c0 = time.perf_counter(), time.process_time()
                spike_times_and_jacobian(model, P, A, protocol, 1, max_spikes, scheme=scheme)
                ts.append(time.perf_counter() - t0)
                cs.append(time.process_time() - c0)
            f, s = float(np.median(tf)), float(np.median(ts))
            rows.append(dict(model=model, scheme=scheme, batch=B, forward_s=f, sensitivity_s=s,
                             ratio=s / f))
            print(f"cost {model:10s} {scheme:9s} B={B:5d} forward {f:.4f} s  sensitivity {s:.4f} s  "
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
    ap.add_argument("--scheme", default="resolved2", choices=("resolved2", "resolved"),
                    help="map of gradient.csv (the other goes to gradient_<scheme>.csv)")
    args = ap.parse_args(argv)
    from snnfit.sim.simulate import set_threads

    set_threads(1)
    out = Path(args.out)
    prot = StepProtocol()
    other = "resolved" if args.scheme == "resolved2" else "resolved2"
    for scheme, name in ((args.scheme, "gradient.csv"), (other, f"gradient_{other}.csv")):
        rows = usefulness(prot, scheme)
        for r in rows:
            print(f"usefulness {scheme:9s} {r['preset']:35s} pairs {r['n_pairs']:4d} skipped "
                  f"{r['n_skipped']:2d} median rel err {r['median_rel_err']:.3f}")
        write_csv(out / name, rows)
        med = float(np.nanmedian([r["median_rel_err"] for r in rows]))
        print(f"median over presets ({scheme}, exact Jacobian): {med:.3f}  (goal < 0.10)")
    irows = usefulness(prot, "resolved", IZH)
    write_csv(out / "gradient_izhikevich.csv", irows)
    print("Izhikevich upswing (resolved): " + ", ".join(
        f"{r['preset'].split(':')[1]} {r['median_rel_err']:.3f}" for r in irows)
        + f"; median {np.nanmedian([r['median_rel_err'] for r in irows]):.3f}")
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
