"""``direct``: Adam on the k reduced coordinates themselves (the control without a network).

Same map, same loss and same exact spike-time gradients as ``snn``; it tells whether the
spiking network helps or is only a detour. ``N_STARTS`` trajectories run side by side in one
batched sensitivity pass (default one): the first from the base point, the others from uniform random
points (seeded). A trajectory that has not improved its own best loss for ``PATIENCE`` steps
restarts from a new random point (its Adam state reset). Coordinates are clipped to the box.
"""

from __future__ import annotations

import numpy as np

from .adam import Adam

#: tuned on naud2008 adapting/tonic/initial_burst (budget 6000, seed 0): one trajectory with
#: lr 0.01 did best among (1|2 starts) x (lr 0.005|0.01|0.02)
N_STARTS = 1
LR = 0.01
PATIENCE = 60


def run(problem) -> dict:
    rng = problem.rng
    k = problem.k
    lr = problem.settings.lr or LR
    Z = rng.uniform(0.0, 1.0, (N_STARTS, k))
    Z[0] = problem.space.start()
    opt = Adam(Z.shape, lr)
    own_best = np.full(N_STARTS, np.inf)
    stall = np.zeros(N_STARTS, int)
    steps = restarts = 0
    while not problem.exhausted:
        loss, g = problem.loss_and_grad(Z)
        steps += 1
        with np.errstate(invalid="ignore"):
            improved = ~np.isfinite(own_best) | (loss < own_best - 1e-9 * np.abs(own_best))
        own_best = np.where(improved, loss, own_best)
        stall = np.where(improved, 0, stall + 1)
        Z = np.clip(opt.step(Z, g), 0.0, 1.0)
        stuck = np.flatnonzero(stall >= PATIENCE)
        if stuck.size:
            Z[stuck] = rng.uniform(0.0, 1.0, (stuck.size, k))
            opt.reset(stuck)
            own_best[stuck] = np.inf
            stall[stuck] = 0
            restarts += stuck.size
    return {"steps": steps, "restarts": int(restarts), "n_starts": N_STARTS, "lr": lr}
