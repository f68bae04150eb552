"""``snn``: the spiking front end (:mod:`snnfit.frontend`) trained by gradient descent.

The weights of a Norse LIF layer produce the k latents; the fit engine's map takes them to
the model's parameters. Each step: a forward pass of the layer, the loss and its exact
spike-time gradient through the cell model (:meth:`FitProblem.loss_and_grad`, the same as
``direct``), the backward pass through the layer (Norse's surrogate gradient), Adam on the
weights. ``N_STARTS`` networks (independent weight sets) train side by side in one batch; a
network that has not improved its own best loss for ``PATIENCE`` steps is re-initialised.

Accounting: one pass (forward + backward) of the layer is charged
``SNN_STEP_COST * T`` forward-equivalents for ``T`` input steps (measured once by
``benchmarks/snn_cost.py`` and frozen; see ``docs/gradients.md``).
"""

from __future__ import annotations

import numpy as np

from .adam import Adam

N_STARTS = 4
LR = 0.01
PATIENCE = 60
#: forward-equivalents per input time step of one layer pass (forward + backward, all
#: networks): benchmarks/snn_cost.py measured a median of 0.65 (range 0.50-0.84 over k = 3, 8
#: and T = 50, 100, 200 on a shared 2-core machine, 2026-11-29), rounded up to 0.7; frozen
SNN_STEP_COST = 0.7


def run(problem) -> dict:
    from ..frontend import SpikingFrontEnd, default_inputs
    from ..inputs import load_inputs

    s = problem.settings
    rng = problem.rng
    inputs = load_inputs(s.inputs) if s.inputs else default_inputs(s.seed)
    fe = SpikingFrontEnd(inputs["spikes"], float(inputs["dt_ms"]), problem.k)
    W = fe.init_weights(N_STARTS, rng)
    opt = Adam((N_STARTS, W[0].size), s.lr or LR)
    own_best = np.full(N_STARTS, np.inf)
    stall = np.zeros(N_STARTS, int)
    pass_cost = SNN_STEP_COST * fe.T
    steps = restarts = 0
    rates = []
    while not problem.exhausted:
        Z, vjp, rate = fe.latents_and_vjp(W)
        rates.append(rate)
        problem.charge(pass_cost)
        loss, gZ = problem.loss_and_grad(Z)
        gW = vjp(gZ)
        steps += 1
        with np.errstate(invalid="ignore"):
            improved = ~np.isfinite(own_best) | (loss < own_best - 1e-9 * np.abs(own_best))
        own_best = np.where(improved, loss, own_best)
        stall = np.where(improved, 0, stall + 1)
        W = opt.step(W.reshape(N_STARTS, -1), gW.reshape(N_STARTS, -1)).reshape(W.shape)
        stuck = np.flatnonzero(stall >= PATIENCE)
        if stuck.size:
            W[stuck] = fe.init_weights(stuck.size, rng)
            opt.reset(stuck)
            own_best[stuck] = np.inf
            stall[stuck] = 0
            restarts += stuck.size
    return {"steps": steps, "restarts": int(restarts), "n_starts": N_STARTS, "lr": s.lr or LR,
            "input_steps": fe.T, "input_channels": fe.C, "layer_pass_cost": pass_cost,
            "mean_layer_rate": float(np.mean(rates)) if rates else None,
            "inputs": s.inputs or f"generated from seed {s.seed}"}
