"""Adam on a batch of points in the unit box (shared by the gradient optimisers)."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma & Ba 2015) with per-row state; ``step(x, g)`` returns the new rows.

    ``lr`` is a scalar or one learning rate per row (``self.lr`` may be changed between
    steps, e.g. by a schedule)."""

    def __init__(self, shape, lr, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        self.lr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (shape[0],)).copy()
        self.b1, self.b2, self.eps = beta1, beta2, eps
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = np.zeros(shape[0])

    def reset(self, rows) -> None:
        self.m[rows] = 0.0
        self.v[rows] = 0.0
        self.t[rows] = 0.0

    def step(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        mh = self.m / (1 - self.b1 ** self.t[:, None])
        vh = self.v / (1 - self.b2 ** self.t[:, None])
        return x - self.lr[:, None] * mh / (np.sqrt(vh) + self.eps)


class PlateauSchedule:
    """Parallel Adam trajectories with reduce-on-plateau and restarts (``direct``, ``snn``).

    Per row: after ``plateau`` steps without improving its own best loss, the row goes back
    to its own best point, its learning rate is multiplied by ``decay`` and its Adam moments
    are reset; a row whose rate falls below ``lr_min`` is handed back for a restart
    (:meth:`restart` resets its rate, moments and best loss).
    """

    def __init__(self, x: np.ndarray, lr0: float, plateau: int, decay: float, lr_min: float):
        n = x.shape[0]
        self.opt = Adam((n, x[0].size), lr0)
        self.lr0, self.plateau, self.decay, self.lr_min = lr0, plateau, decay, lr_min
        self.own_best = np.full(n, np.inf)
        self.best = x.copy()
        self.stall = np.zeros(n, int)
        self.steps = self.restarts = self.decays = 0

    def step(self, x: np.ndarray, loss: np.ndarray, g: np.ndarray):
        """Record the losses of rows ``x``, take one Adam step along ``g``; returns the new
        rows (plateaued rows back at their best) and the rows to restart."""
        n = x.shape[0]
        self.steps += 1
        with np.errstate(invalid="ignore"):
            improved = ~np.isfinite(self.own_best) | (
                loss < self.own_best - 1e-9 * np.abs(self.own_best))
        self.own_best = np.where(improved, loss, self.own_best)
        self.best[improved] = x[improved]
        self.stall = np.where(improved, 0, self.stall + 1)
        new = self.opt.step(x.reshape(n, -1), g.reshape(n, -1)).reshape(x.shape)
        flat = np.flatnonzero(self.stall >= self.plateau)
        if flat.size:
            new[flat] = self.best[flat]
            self.opt.lr[flat] *= self.decay
            self.opt.reset(flat)
            self.stall[flat] = 0
            self.decays += flat.size
        return new, np.flatnonzero(self.opt.lr < self.lr_min)

    def restart(self, rows: np.ndarray) -> None:
        self.opt.reset(rows)
        self.opt.lr[rows] = self.lr0
        self.own_best[rows] = np.inf
        self.stall[rows] = 0
        self.restarts += rows.size

    def info(self) -> dict:
        return {"steps": self.steps, "restarts": int(self.restarts),
                "decays": int(self.decays)}
