"""Focused micro-benchmark of the sensitivity kernels: ns per (set, step), forward vs sensitivity.

Same batches as ``benchmarks/gradient.py`` (the cost preset, parameters jittered by 1 %), one
thread, interleaved repeats, medians and minima. Run:
``NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/investigations/sens_kernels.py
[--models izhikevich lif] [--schemes resolved resolved2]`` (``resolved2``: AdEx only, the
other models' map is resolved).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from snnfit.sim.grad import spike_times_and_jacobian
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import set_threads, simulate_batch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/gradient.py
from gradient import COST_PRESETS, batch_for  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(COST_PRESETS))
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 1024])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--schemes", nargs="+", default=["resolved", "resolved2"],
                    choices=["resolved", "resolved2"])
    args = ap.parse_args(argv)
    set_threads(1)
    prot = StepProtocol()
    cases = [(m, s) for m in args.models for s in args.schemes
             if s == "resolved" or m == "adex"]
    for model, scheme in cases:
        for B in args.batches:
            P, A = batch_for(model, B)
            simulate_batch(model, P[:2], A[:2], prot, scheme, 1, 256)  # compile
            spike_times_and_jacobian(model, P[:2], A[:2], prot, 1, 256, scheme=scheme)
            tf, ts = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                simulate_batch(model, P, A, prot, scheme, 1, 256)
                tf.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                spike_times_and_jacobian(model, P, A, prot, 1, 256, scheme=scheme)
                ts.append(time.perf_counter() - t0)
            per = 1e9 / (B * prot.n_steps)
            for stat in (np.median, np.min):  # the minimum is the least disturbed by load
                f, s = float(stat(tf)), float(stat(ts))
                print(f"{model:10s} {scheme:9s} B={B:5d} {stat.__name__:6s} forward "
                      f"{f * per:6.2f} ns  sensitivity {s * per:6.2f} ns  ratio {s / f:5.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
