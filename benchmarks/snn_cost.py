"""Cost of one pass of the spiking front end, in forward-equivalents (frozen as
``SNNSettings.snn_step_cost`` in snnfit/fit/optimizers/snn.py).

Measures, side by side in one run on one thread: the wall time of one forward + backward
pass of the Norse layer (``SNNSettings.n_starts`` networks or ``--nets``, k latents, T input
steps of the default inputs' dt) and of one simulation of one AdEx parameter set
(naud2008:adapting, 1.2 s sweep, resolved scheme, batch 1). Writes
results/benchmarks/snn_cost.csv with the per-step ratio (forward-equivalents per input step
per pass). Usage: ``NUMBA_NUM_THREADS=1 python benchmarks/snn_cost.py [--repeats 7]
[--steps 10,20,30,50,100] [--nets 4,16]``
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="results/benchmarks/snn_cost.csv")
    ap.add_argument("--steps", default="10,20,30,50,100",
                    help="input steps T to measure (comma-separated)")
    ap.add_argument("--nets", default=None,
                    help="networks per pass to measure (comma-separated; default the frozen "
                    "number of networks)")
    args = ap.parse_args()

    import torch

    from snnfit.fit.frontend import SpikingFrontEnd, default_inputs
    from snnfit.sim.models import get_spec, resolve_preset
    from snnfit.fit.optimizers.snn import SNNSettings
    from snnfit.sim.protocol import StepProtocol
    from snnfit.sim.simulate import simulate_batch

    torch.set_num_threads(1)
    m, preset = resolve_preset("naud2008:adapting")
    P = get_spec(m).vector(preset.params)[None, :]
    proto = StepProtocol()

    def sim():
        simulate_batch(m, P, np.array([preset.amplitude_pA]), proto, "resolved", threads=1)

    rows = []
    steps = [int(t) for t in args.steps.split(",")]
    frozen = SNNSettings()
    nets = [int(n) for n in args.nets.split(",")] if args.nets else [frozen.n_starts]
    for k, T, n_nets in [(k, T, n) for k in (3, 8) for T in steps for n in nets]:
        inp = default_inputs(0)  # the default inputs (their dt), repeated to T steps
        spikes = np.resize(inp["spikes"], (T, inp["spikes"].shape[1]))
        fe = SpikingFrontEnd(spikes, float(inp["dt_ms"]), k)
        W = fe.init_weights(n_nets, np.random.default_rng(0))

        def layer():
            Z, vjp, _ = fe.latents_and_vjp(W)
            vjp(np.ones_like(Z))

        sim()
        layer()
        t_sim, t_layer = [], []
        for _ in range(args.repeats):  # interleaved: the same machine state for both
            t0 = time.perf_counter()
            for _ in range(20):
                sim()
            t_sim.append((time.perf_counter() - t0) / 20)
            t0 = time.perf_counter()
            layer()
            t_layer.append(time.perf_counter() - t0)
        s, l = statistics.median(t_sim), statistics.median(t_layer)
        rows.append({"k": k, "input_steps": T, "n_nets": n_nets, "sim_s": s,
                     "layer_pass_s": l, "fe_per_pass": l / s,
                     "fe_per_step": l / s / T,
                     # the same from the fastest repeat of each (least disturbed by load)
                     "fe_per_step_min": min(t_layer) / min(t_sim) / T,
                     "frozen_fe_per_step": frozen.snn_step_cost})
        print(rows[-1])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("median fe per input step:", statistics.median(r["fe_per_step"] for r in rows),
          "(from the fastest repeats:",
          statistics.median(r["fe_per_step_min"] for r in rows), ") frozen:",
          frozen.snn_step_cost)


if __name__ == "__main__":
    main()
