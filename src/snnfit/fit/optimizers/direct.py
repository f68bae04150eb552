"""``direct``: Adam on the k reduced coordinates themselves (the control without a network).

Same map, same loss and same exact spike-time gradients as ``snn``; it tells whether the
spiking network helps or is only a detour.

Settings: :class:`DirectSettings`.

* **Starts.** ``n_screen`` uniform random points (seeded) and the base point are scored with
  forward simulations only (:meth:`FitProblem.evaluate`, one forward-equivalent each per
  sweep); the ``n_starts`` best start the trajectories, which run side by side in one batched
  sensitivity pass.
* **Schedule.** Each trajectory has its own learning rate, ``lr`` at its start (``--lr``
  overrides it). After ``plateau`` steps without improving its own best loss, the trajectory
  goes back to its own best point, its learning rate is multiplied by ``decay`` and its Adam
  moments are reset (reduce on plateau). Adam's step is about ``lr`` per coordinate whatever
  the gradient's scale, so a fixed rate oscillates at that scale around a minimum; spike
  times need a far finer resolution (a 1 % change of a parameter moves a late spike by
  milliseconds).
* **Restarts.** When its rate falls below ``lr_min`` the trajectory restarts from the best
  of a new screen of ``n_screen`` random points (rate reset to ``lr``).

Coordinates are clipped to the box. Non-finite gradient components are set to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .adam import PlateauSchedule


@dataclass(frozen=True)
class DirectSettings:
    """The frozen values come from the tuning protocol of docs/gradient_fits.md
    (``benchmarks/gradient_fits.py --part tune``; tuning seeds 100+, never the benchmark's)."""

    n_screen: int = 32  # random points screened before a (re)start
    n_starts: int = 1  # trajectories side by side
    lr: float = 0.03  # Adam's initial learning rate (unit-box coordinates per step)
    decay: float = 0.5  # rate factor at a plateau
    plateau: int = 8  # steps without improvement that make a plateau
    lr_min: float = 1e-4  # a trajectory restarts below this rate

    def info(self) -> dict:
        """The settings as the record's ``optimizer_info`` gives them."""
        return {"N_SCREEN": self.n_screen, "N_STARTS": self.n_starts, "LR": self.lr,
                "DECAY": self.decay, "PLATEAU": self.plateau, "LR_MIN": self.lr_min}


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


def run(problem, settings: DirectSettings = DirectSettings()) -> dict:
    lr0 = problem.settings.lr or settings.lr
    Z = screen(problem, settings.n_screen, settings.n_starts, include_base=True)
    sched = PlateauSchedule(Z, lr0, settings.plateau, settings.decay, settings.lr_min)
    while not problem.exhausted:
        loss, g = problem.loss_and_grad(Z)
        Z, done = sched.step(Z, loss, np.where(np.isfinite(g), g, 0.0))
        Z = np.clip(Z, 0.0, 1.0)
        if done.size and not problem.exhausted:
            Z[done] = screen(problem, settings.n_screen, done.size, include_base=False)
            sched.restart(done)
    return {**sched.info(), "n_starts": settings.n_starts, "lr": lr0, **settings.info()}
