"""Uniform random search in the reduced box: the floor every method must beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RandomSettings:
    #: candidates per batch (one batched simulation per sweep)
    batch: int = 64


def run(problem, settings: RandomSettings = RandomSettings()) -> dict:
    rng = problem.rng
    n_batches = 0
    while not problem.exhausted:
        per = problem.cost_per_candidate()
        n = int(min(settings.batch, max(1, problem.remaining // max(per, 1))))
        Z = rng.uniform(0.0, 1.0, (n, problem.k))
        problem.evaluate(Z)
        n_batches += 1
    return {"batches": n_batches, "batch_size": settings.batch}
