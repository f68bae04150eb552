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
