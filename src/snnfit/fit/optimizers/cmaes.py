"""CMA-ES (pycma, ask/tell) in the reduced unit box, with IPOP restarts.

Each population is evaluated in one batched simulation. Restarts double the population
while budget remains (Auger & Hansen 2005). The first run starts at the base point, restarts
at uniform random points; the initial step ``sigma0`` is 0.25 of the box
(:class:`CMAESSettings`). pycma writes no files (``verb_log=0``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CMAESSettings:
    #: initial step size, as a fraction of the unit box
    sigma0: float = 0.25


def run(problem, settings: CMAESSettings = CMAESSettings()) -> dict:
    import cma

    k = problem.k
    rng = problem.rng
    popsize = 4 + int(3 * np.log(max(k, 1)))
    x0 = problem.space.start()
    restarts = 0
    runs = []
    while not problem.exhausted:
        seed = int(rng.integers(1, 2**31 - 1))
        opts = {"bounds": [0.0, 1.0], "popsize": popsize, "seed": seed, "verbose": -9,
                "verb_log": 0, "verb_disp": 0, "verb_filenameprefix": "",
                "tolfun": 1e-9, "tolx": 1e-7}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es = cma.CMAEvolutionStrategy(list(x0) if k > 1 else [float(x0[0])],
                                          settings.sigma0, opts)
            iters = 0
            while not problem.exhausted and not es.stop():
                X = np.asarray(es.ask())
                losses = problem.evaluate(X)
                es.tell(list(X), list(losses))
                iters += 1
        runs.append({"popsize": popsize, "iterations": iters,
                     "stop": {k_: str(v) for k_, v in es.stop().items()}})
        restarts += 1
        popsize *= 2
        x0 = rng.uniform(0.0, 1.0, k)
    return {"runs": runs, "restarts": restarts - 1}
