"""``direct``: Adam on the k reduced coordinates themselves (the control without a network).

Same map, same loss and same exact spike-time gradients as ``snn``; it tells whether the
spiking network helps or is only a detour.

* **Starts.** ``N_SCREEN`` uniform random points (seeded) and the base point are scored with
  forward simulations only (:meth:`FitProblem.evaluate`, one forward-equivalent each per
  sweep); the ``N_STARTS`` best start the trajectories, which run side by side in one batched
  sensitivity pass.
* **Schedule.** Each trajectory has its own learning rate, ``LR`` at its start. After
  ``PLATEAU`` steps without improving its own best loss, the trajectory goes back to its own
  best point, its learning rate is multiplied by ``DECAY`` and its Adam moments are reset
  (reduce on plateau). Adam's step is about ``lr`` per coordinate whatever the gradient's
  scale, so a fixed rate oscillates at that scale around a minimum; spike times need a far
  finer resolution (a 1 % change of a parameter moves a late spike by milliseconds).
* **Restarts.** When its rate falls below ``LR_MIN`` the trajectory restarts from the best
  of a new screen of ``N_SCREEN`` random points (rate reset to ``LR``).

Coordinates are clipped to the box. Non-finite gradient components are set to 0.
"""

from __future__ import annotations

import numpy as np

from .adam import PlateauSchedule

#: frozen after the tuning protocol of docs/gradient_fits.md (benchmarks/gradient_fits.py
#: --part tune; tuning targets and seeds 100+, never the benchmark seeds)
N_SCREEN = 32
N_STARTS = 1
LR = 0.03
DECAY = 0.5
PLATEAU = 8
LR_MIN = 1e-4


def settings() -> dict:
    return {"N_SCREEN": N_SCREEN, "N_STARTS": N_STARTS, "LR": LR, "DECAY": DECAY,
            "PLATEAU": PLATEAU, "LR_MIN": LR_MIN}


def screen(problem, n_screen: int, n_keep: int, include_base: bool) -> np.ndarray:
    """The ``n_keep`` best of ``n_screen`` random points (and the base point), by forward
    evaluation; ``(n_keep, k)``."""
    k = problem.k
    Z = problem.rng.uniform(0.0, 1.0, (n_screen, k))
    if include_base:
        Z = np.vstack([problem.space.start()[None, :], Z])
    if Z.shape[0] <= n_keep:
        return np.vstack([Z, problem.rng.uniform(0.0, 1.0, (n_keep - Z.shape[0], k))])
    losses = problem.evaluate(Z)
    return Z[np.argsort(losses, kind="stable")[:n_keep]]


def run(problem) -> dict:
    k = problem.k
    lr0 = problem.settings.lr or LR
    Z = screen(problem, N_SCREEN, N_STARTS, include_base=True)
    sched = PlateauSchedule(Z, lr0, PLATEAU, DECAY, LR_MIN)
    while not problem.exhausted:
        loss, g = problem.loss_and_grad(Z)
        Z, done = sched.step(Z, loss, np.where(np.isfinite(g), g, 0.0))
        Z = np.clip(Z, 0.0, 1.0)
        if done.size and not problem.exhausted:
            Z[done] = screen(problem, N_SCREEN, done.size, include_base=False)
            sched.restart(done)
    return {**sched.info(), "n_starts": N_STARTS, "lr": lr0, **settings()}
