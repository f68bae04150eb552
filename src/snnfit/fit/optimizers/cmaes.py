"""CMA-ES (pycma, ask/tell) in the reduced unit box, with IPOP or BIPOP restarts and an
optional portfolio start.

Each population is evaluated in one batched simulation. The first run starts at the problem's
start point (:meth:`~snnfit.fit.engine.FitProblem.start_point`: the base point, or where an
earlier stage ended) with step ``sigma0`` (a fraction of the unit box); restarts start at
uniform random points (``restart_from="uniform"``) or again at the start point
(``"start"``, a local restart used by the staged loss's second stage).

Restart regimes (``restarts``):

* ``ipop`` (Auger & Hansen 2005): every restart doubles the population.
* ``bipop`` (Hansen 2009, as pycma's ``fmin(bipop=True)``): besides the doubling
  ("large") runs, "small" runs with population ``floor(popsize0 * m**(U**2))`` (``m`` the
  current large multiplier, ``U`` uniform in [0, 1)) and step ``sigma0 * 0.01**U``, whenever
  the small runs have spent less than the large ones; a small run stops after half the
  large runs' evaluations.

Stagnation restarts (``patience`` > 0): a run also stops when its best loss has not fallen
by ``stall_rel`` (relative) in ``patience`` generations, so a stalled run hands its budget to
the next restart (pycma's own ``tolstagnation`` waits hundreds of generations).

Portfolio start (``screen`` > 0): before the first run, ``screen`` points drawn uniformly
from the box (one batched evaluation, charged to the budget like every evaluation) and the
start point are evaluated; the first run starts at the best of them.

All randomness comes from the problem's seeded generator; pycma writes no files
(``verb_log=0``).

The box is pycma's own boundary handling (``BoundTransform``: the piecewise linear-quadratic
map of ``cma.transformations.BoxConstraintsLinQuadTransformation`` from the genotype into
``[0, 1]``), computed for the whole population at once (:func:`linquad_population`, the same
arithmetic element by element, so the candidates are bit for bit pycma's) instead of one
candidate at a time inside ``ask`` (which was 0.18 s of a 1.1 s AdEx fit at budget 5000).
"""

from __future__ import annotations

import importlib.abc
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from ...errors import UserError

#: modules pycma imports at its own import for what we do not use (matplotlib's ``pyplot``
#: for ``cma.plot``, ``scipy.stats`` for its surrogate models' Kendall tau; both imports are
#: in ``try: ... except ImportError`` there): 2.4 s of a fit job's 5 s start-up
PYCMA_SKIPPED = ("matplotlib", "matplotlib.pyplot", "scipy.stats")


class _SkipImports(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name in self.names:
            raise ImportError(f"{name} is not imported for pycma (snnfit.fit.optimizers.cmaes)")
        return None


def _import_pycma():
    """``import cma`` without :data:`PYCMA_SKIPPED` (unless they are imported already): they
    fail to import while pycma imports, which it handles (``cma.plot`` is then unavailable;
    the optimiser is the same code). They import normally afterwards."""
    if "cma" in sys.modules:
        return sys.modules["cma"]
    finder = _SkipImports(n for n in PYCMA_SKIPPED if n not in sys.modules)
    sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pycma's "could not import matplotlib.pyplot"
            import cma
    finally:
        sys.meta_path.remove(finder)
    return cma


cma = _import_pycma()
from cma.boundary_handler import BoundTransform  # noqa: E402

RESTARTS = ("ipop", "bipop")
RESTART_FROM = ("uniform", "start")


@dataclass(frozen=True)
class CMAESSettings:
    #: initial step size, as a fraction of the unit box
    sigma0: float = 0.25
    #: restart regime: ``ipop`` or ``bipop`` (module docstring)
    restarts: str = "ipop"
    #: portfolio start: points screened before the first run (0: none), drawn from the
    #: model's prior box (``prior``) or uniformly from the fit box (``box``)
    screen: int = 0
    screen_draws: str = "prior"
    #: where restarts start: ``uniform`` (random points of the box) or ``start``
    restart_from: str = "uniform"
    #: stagnation restart: a run stops when its best loss has not fallen by ``stall_rel``
    #: (relative) in ``patience`` generations (0: no such stop, only pycma's own criteria)
    patience: int = 0
    stall_rel: float = 1e-3
    #: population of the first run (0: pycma's default ``4 + floor(3 ln k)``); IPOP doubles
    #: it at every restart, BIPOP's small runs scale it
    popsize: int = 0

    def check(self) -> None:
        if self.restarts not in RESTARTS:
            raise UserError(f"--restarts: expected one of {', '.join(RESTARTS)}, got "
                            f"{self.restarts!r}")
        if self.restart_from not in RESTART_FROM:
            raise UserError(f"restart_from: expected one of {', '.join(RESTART_FROM)}, got "
                            f"{self.restart_from!r}")
        if not (isinstance(self.screen, int) and self.screen >= 0):
            raise UserError(f"--screen: expected an integer >= 0, got {self.screen!r}")
        if not (isinstance(self.patience, int) and self.patience >= 0):
            raise UserError(f"patience: expected an integer >= 0, got {self.patience!r}")
        if not (isinstance(self.popsize, int) and self.popsize >= 0 and self.popsize != 1):
            raise UserError(f"popsize: expected 0 (the default) or an integer >= 2, got "
                            f"{self.popsize!r}")
        if not (0.0 < self.sigma0 <= 1.0):
            raise UserError(f"sigma0: expected a step in (0, 1], got {self.sigma0!r}")


def _screen(problem, n: int, x0: np.ndarray, draws: str) -> np.ndarray:
    """Evaluate ``x0`` and ``n`` draws (prior draws, or uniform in the unit box) in one
    batch; the best of them."""
    if draws == "prior":
        D = problem.space.sample_prior(problem.rng, n)
    else:
        D = problem.rng.uniform(0.0, 1.0, (n, problem.k))
    Z = np.vstack([x0[None, :], D])
    losses = problem.evaluate(Z)
    return Z[int(np.argmin(losses))].copy()


def linquad_population(X: np.ndarray, lb, ub, al, au) -> tuple[np.ndarray, np.ndarray]:
    """pycma's box transform (``BoxConstraintsLinQuadTransformation.__call__``, cma 4.5) of
    every row of ``X (n, N)`` at once: the same operations on every element in the same
    order (shift by whole periods far outside, mirror at ``ub + au`` and ``lb - al``,
    quadratic within ``al``/``au`` of a bound; ``lb, ub, al, au`` per coordinate). Returns
    the transformed rows and, per row, whether any element was touched (pycma returns an
    untouched genotype itself)."""
    y = np.array(X, dtype=float, copy=True)
    touched = np.zeros(y.shape, dtype=bool)
    lb, ub, al, au = (np.broadcast_to(np.asarray(a, dtype=float), y.shape[1:])
                      for a in (lb, ub, al, au))
    cols = np.broadcast_to(np.arange(y.shape[1]), y.shape)  # the coordinate of each element
    idx = (y < lb - 2 * al - (ub - lb) / 2.0) | (y > ub + 2 * au + (ub - lb) / 2.0)
    if idx.any():
        touched |= idx
        c = cols[idx]
        r = 2 * (ub[c] - lb[c] + al[c] + au[c])  # period
        s = lb[c] - 2 * al[c] - (ub[c] - lb[c]) / 2.0  # start
        y[idx] -= r * ((y[idx] - s) // r)
    idx = y > ub + au
    if idx.any():
        touched |= idx
        c = cols[idx]
        y[idx] -= 2 * (y[idx] - ub[c] - au[c])
    idx = y < lb - al
    if idx.any():
        touched |= idx
        c = cols[idx]
        y[idx] += 2 * (lb[c] - al[c] - y[idx])
    idx = y < lb + al
    if idx.any():
        touched |= idx
        c = cols[idx]
        y[idx] = lb[c] + (y[idx] - (lb[c] - al[c])) ** 2 / 4 / al[c]
    idx = y > ub - au
    if idx.any():
        touched |= idx
        c = cols[idx]
        y[idx] = ub[c] - (y[idx] - (ub[c] + au[c])) ** 2 / 4 / au[c]
    return y, touched.any(axis=1)


class PopulationBoundTransform(BoundTransform):
    """pycma's ``BoundTransform`` whose ``repair`` of a freshly sampled genotype returns the
    phenotype computed for the whole population by :meth:`prepare`, looked up by the
    genotype's values (any other argument goes through pycma's own per-vector transform)."""

    def __init__(self, bounds=None):
        super().__init__(bounds)
        self._prepared: dict[bytes, np.ndarray | None] = {}

    def prepare(self, population) -> None:
        """Transform the population (genotype rows) in one go."""
        self._prepared.clear()
        X = np.asarray(population, dtype=float)
        if X.ndim != 2 or X.shape[0] == 0:
            return
        tf = self.bounds_tf
        if len(tf._lb) != X.shape[1]:
            tf.initialize(X.shape[1])
        Y, touched = linquad_population(X, tf._lb, tf._ub, tf._al, tf._au)
        for x, y, t in zip(X, Y, touched):
            self._prepared[x.tobytes()] = y if t else None  # None: x maps to itself

    def repair(self, x, copy_if_changed=True):
        if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.ndim == 1:
            key = x.tobytes()
            if key in self._prepared:
                y = self._prepared.pop(key)
                return x if y is None else y.copy()
        return super().repair(x, copy_if_changed)


class _ES(cma.CMAEvolutionStrategy):
    """``CMAEvolutionStrategy`` that hands each sampled population to the boundary handler
    in one piece (:meth:`PopulationBoundTransform.prepare`) before ``ask`` repairs it."""

    def ask_geno(self, *args, **kwargs):
        pop = super().ask_geno(*args, **kwargs)
        if isinstance(self.boundary_handler, PopulationBoundTransform):
            self.boundary_handler.prepare(pop)
        return pop


def run(problem, settings: CMAESSettings = CMAESSettings()) -> dict:
    settings.check()
    k = problem.k
    rng = problem.rng
    popsize0 = settings.popsize or 4 + int(3 * np.log(max(k, 1)))
    start = np.asarray(problem.start_point(), dtype=np.float64)
    x0 = start
    screened = None
    if settings.screen > 0 and not problem.exhausted:
        x0 = _screen(problem, settings.screen, start, settings.screen_draws)
        screened = settings.screen + 1
    runs = []
    n_large = 0  # large (doubling) runs so far, the first run included
    evals = {"small": 0, "large": 0}
    irun = 0
    while not problem.exhausted:
        sigma = settings.sigma0
        maxiter = None
        regime = "large"
        if irun == 0:
            popsize = popsize0
            regime = "small" if settings.restarts == "bipop" else "large"
        elif settings.restarts == "bipop" and evals["small"] < max(1, evals["large"]):
            regime = "small"
            u_sigma, u_pop = rng.uniform(), rng.uniform()
            sigma = settings.sigma0 * 0.01 ** u_sigma
            popsize = max(2, int(popsize0 * (2.0 ** n_large) ** (u_pop ** 2)))
            maxiter = max(1, int(0.5 * evals["large"] / popsize))
        else:
            n_large += 1
            popsize = popsize0 * 2 ** n_large
        seed = int(rng.integers(1, 2**31 - 1))
        opts = {"bounds": [0.0, 1.0], "popsize": popsize, "seed": seed, "verbose": -9,
                "verb_log": 0, "verb_disp": 0, "verb_filenameprefix": "",
                "tolfun": 1e-9, "tolx": 1e-7, "BoundaryHandler": PopulationBoundTransform}
        if maxiter is not None:
            opts["maxiter"] = maxiter
        spent0 = problem.candidates
        stalled = False
        run_best, since = np.inf, 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            es = _ES(list(x0) if k > 1 else [float(x0[0])], sigma, opts)
            iters = 0
            while not problem.exhausted and not es.stop():
                X = np.asarray(es.ask())
                losses = problem.evaluate(X)
                es.tell(list(X), list(losses))
                iters += 1
                if settings.patience:
                    low = float(np.min(losses))
                    # (the first generation always improves: inf - x * inf is nan)
                    if not np.isfinite(run_best) or \
                            low < run_best - settings.stall_rel * abs(run_best):
                        run_best, since = low, 0
                    else:
                        since += 1
                    if since >= settings.patience:
                        stalled = True
                        break
        evals[regime] += problem.candidates - spent0
        stop = {k_: str(v) for k_, v in es.stop().items()}
        if stalled:
            stop["stalled"] = str(settings.patience)
        run_info = {"popsize": popsize, "iterations": iters, "stop": stop}
        if settings.restarts == "bipop":
            run_info.update(regime=regime, sigma0=sigma)
        runs.append(run_info)
        irun += 1
        x0 = start if settings.restart_from == "start" else rng.uniform(0.0, 1.0, k)
    out = {"runs": runs, "restarts": len(runs) - 1}
    if screened is not None:
        out["screened"] = screened
    return out
