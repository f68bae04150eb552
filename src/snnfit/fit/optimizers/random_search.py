"""Uniform random search in the reduced box: the floor every method must beat."""

from __future__ import annotations

import numpy as np

#: candidates per batch (one batched simulation per sweep)
BATCH = 64


def run(problem) -> dict:
    rng = problem.rng
    n_batches = 0
    while not problem.exhausted:
        per = problem.cost_per_candidate()
        n = int(min(BATCH, max(1, problem.remaining // max(per, 1))))
        Z = rng.uniform(0.0, 1.0, (n, problem.k))
        problem.evaluate(Z)
        n_batches += 1
    return {"batches": n_batches, "batch_size": BATCH}
