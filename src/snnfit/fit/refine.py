r"""An exact-gradient finish: Levenberg-Marquardt on the spike-time residuals (``--refine``).

After any optimiser, once the best point fires the target's count on every sweep, the
refinement minimises the same loss (:mod:`snnfit.loss`; its count term is then 0) as a
least-squares problem in the residuals

.. math::

    r_{s,i}(x) = w_s \, (M_{s,i}(x) - T_{s,i}), \qquad w_s = 1 / \sqrt{n_s \, n_\mathrm{sweeps}},

model minus target spike times (ms) paired in order on every sweep ``s`` (``n_s`` target
spikes), so that :math:`\|r\|^2` is the fit loss (ms^2). Coordinates ``x``: the ``k`` reduced
coordinates ``z`` of the fit's space (the unit box), and under ``--current search`` one more per
sweep, the step amplitude as ``a / top`` (``top``: ``--max-amplitude`` or the model's search
range). **Searched current: the amplitude is a free coordinate per sweep** (started at the
searched one; C stays fixed, as in the searched space), so a step may move it inside its
bracket; a move that changes the count is rejected like any other. Jacobian: a sensitivity pass
(:func:`snnfit.sim.grad.spike_times_and_jacobian`: ``dT/dp``, ``dT/dI``) chained through the
space's ``dP/dz`` (:meth:`ReducedSpace.jacobian`).

Step: ``d = argmin ||r + J d||^2 + lam ||D d||^2`` with ``D^2`` the running maximum of
``diag(J^T J)`` (Marquardt's scaling, as in MINPACK; floored at ``1e-12`` of its largest
entry), an augmented least-squares solve. **Box**: an active-set loop; a coordinate whose step
would leave ``[0, 1]`` is moved onto that bound and held, and the step is solved again for the
others, until none leaves. A trial (one forward simulation of the fit's map per sweep) is
**accepted** only if every sweep keeps the target's spike count, the status is ``ok`` and the
loss falls; then the Jacobian is computed there and ``lam *= down`` (0.5). Otherwise (**a
count change included: never accepted**) ``lam *= up`` (2) and the step is solved again.

Which map's Jacobian (:attr:`RefineSettings.jacobian`): by default ``resolved2``'s gradient
map: for LIF and Izhikevich their ``resolved`` map, for AdEx its ``resolved2`` map. Under the
fit's own map (AdEx ``resolved2`` fits, every LIF/Izhikevich fit) the Jacobian is exact. Under
an AdEx ``resolved`` fit it is the smoother map's exact Jacobian used for ``resolved``'s
residuals (``jacobian_exact`` false in the record): ``resolved``'s own derivative is the
slope of a fine sawtooth (``docs/gradients.md``) and predicts steps of useful size badly;
``fit`` takes it anyway. The acceptance rule always judges the fit's own residuals. Measured
in ``docs/fit_benchmarks.md`` ("Refinement").

Budget (forward-equivalents, the fit's account): the optimiser gets ``floor(budget * (1 -
share))`` (:func:`optimizer_settings`, ``share`` 0.05); the refinement gets what is left of
``--budget`` after the optimiser. Charged: each trial's simulation (one per sweep), the
Jacobian at the start and at every accepted point (:func:`snnfit.sim.grad.sensitivity_cost`
per sweep), and the engine's re-simulation of each new best (one per sweep, for its Gamma).
A trial starts only if its largest cost fits in what is left. The optimiser's last batch may
overshoot its own budget into the share (the engine's rule: by less than one batch; CMA-ES under
searched current spends ~40 simulations per candidate and sweep), and then the refinement gets
less, or nothing (``skipped``, ``stop`` ``budget``): the share must exceed a batch, e.g. 5 % of
20,000. Checking the best point's counts costs one simulation per sweep, charged even when it
is skipped.

Stopping rules, first met (``optimizer_info["refine"]["stop"]``): ``converged`` (spike-time
RMSE <= ``rmse_tol_ms``, 1e-4 ms), ``ftol`` (an accepted step lowered the loss by less than
``ftol``, 1e-8, of it), ``damping`` (``lam`` above ``max_damping``, 1e10: no acceptable step
near), ``step`` (no coordinate's step reaches ``xtol``, 1e-12), ``iterations``
(``max_iterations``, 1000 trials), ``budget``. It does not start (``status`` ``skipped``)
without a best point, without the budget of one trial, or when the best point misses the
target's count on some sweep (or fails).

History: the start and every trial append the engine's history entry
(:meth:`FitProblem.record`; a rejected trial with an infinite loss, so it never becomes the
best) with the added keys ``refine_iteration`` (0: the start), ``refine_rmse_ms`` (RMSE of the
current point), ``refine_damping`` and ``refine_accepted``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import UserError
from ..loss import batch_loss
from ..sim import grad
from ..sim.models import get_model
from ..sim.models.base import SCHEMES, STATUS_OK
from ..sim.simulate import simulate_batch

#: :attr:`RefineSettings.jacobian` value: the map the gradient optimisers use under the fit's
#: scheme (:meth:`Model.gradient_map`)
JACOBIAN_FIT = "fit"


@dataclass(frozen=True)
class RefineSettings:
    """The refinement's settings; the defaults are the frozen values (tuning protocol in
    ``docs/fit_benchmarks.md``, "Refinement")."""

    #: fraction of ``--budget`` reserved for the refinement (the optimiser stops before it)
    share: float = 0.05
    #: whose Jacobian: a scheme name (the gradient map of that scheme: ``resolved2``, the
    #: smoothest; the fit's own map for LIF and Izhikevich) or ``fit`` (the fit's gradient map)
    jacobian: str = "resolved2"
    #: initial damping ``lam``, relative to the scaled ``diag(J^T J)``
    damping: float = 1e-3
    #: ``lam`` is multiplied by ``down`` after an accepted trial, by ``up`` after a rejected one
    down: float = 0.5
    up: float = 2.0
    #: stop when the spike-time RMSE is at most this (ms)
    rmse_tol_ms: float = 1e-4
    #: stop when an accepted step lowers the loss by less than this fraction of it
    ftol: float = 1e-8
    #: stop when no coordinate's step reaches this (unit box)
    xtol: float = 1e-12
    #: stop when ``lam`` exceeds this (no acceptable step near)
    max_damping: float = 1e10
    #: stop after this many trials
    max_iterations: int = 1000

    def check(self) -> None:
        if not (0.0 <= self.share < 1.0):
            raise UserError(f"--refine-share: expected 0 <= share < 1, got {self.share}")
        for name in ("damping", "rmse_tol_ms", "ftol", "xtol", "max_damping"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise UserError(f"refine {name}: must be >= 0 and finite, got {v}")
        if not (0.0 < self.down < 1.0 < self.up and math.isfinite(self.up)):
            raise UserError(f"refine down, up: expected 0 < down < 1 < up, got {self.down}, "
                            f"{self.up}")
        if self.max_iterations < 0:
            raise UserError(f"refine max_iterations: must be >= 0, got {self.max_iterations}")
        if self.jacobian != JACOBIAN_FIT and self.jacobian not in SCHEMES:
            raise UserError(f"refine jacobian: expected {JACOBIAN_FIT} or one of "
                            f"{', '.join(SCHEMES)}, got {self.jacobian!r}")


def resolve(refine) -> RefineSettings | None:
    """``FitSettings.refine`` as settings: ``False``/``None`` -> None, ``True`` -> the frozen
    defaults, a :class:`RefineSettings` as given (checked)."""
    if refine is None or refine is False:
        return None
    rs = RefineSettings() if refine is True else refine
    if not isinstance(rs, RefineSettings):
        raise TypeError(f"refine: expected a bool or RefineSettings, got {type(rs).__name__}")
    rs.check()
    return rs


def optimizer_settings(settings):
    """The fit settings the optimiser sees: ``floor(budget * (1 - share))`` (at least 1) when
    refining, else ``settings`` itself."""
    rs = resolve(settings.refine)
    if rs is None or rs.share == 0.0:
        return settings
    return replace(settings, budget=max(1, int(math.floor(settings.budget * (1.0 - rs.share)))))


def jacobian_map(model: str, scheme: str, rs: RefineSettings):
    """The registry entry whose sensitivity kernel gives the refinement's Jacobian, and whether
    it is the fit's own map (then the Jacobian is exact for the residuals)."""
    m = get_model(model)
    entry = m.gradient_map(scheme if rs.jacobian == JACOBIAN_FIT else rs.jacobian)
    return entry, entry.runs == m.scheme(scheme).runs


def warm_up(model: str, scheme: str, rs: RefineSettings | None, threads: int) -> None:
    """Compile (or load) the sensitivity kernel the refinement uses, before the meter starts."""
    if rs is None:
        return
    from ..sim.protocol import StepProtocol

    entry, _ = jacobian_map(model, scheme, rs)
    P = get_model(model).spec.vector({})[None, :]
    proto = StepProtocol(delay_ms=1.0, duration_ms=2.0, t_stop_ms=4.0, dt_ms=0.1)
    grad.spike_times_and_jacobian(model, P, np.array([100.0]), proto, threads, max_spikes=2,
                                  scheme=entry.scheme)


@dataclass
class _Point:
    """An evaluated point: ``ok`` (every sweep keeps the target's count, status ok), the
    engine's loss (ms^2), the pooled spike-time RMSE (ms), the weighted residuals and, once
    computed, their Jacobian."""

    ok: bool
    loss: float = math.inf
    rmse_ms: float = math.inf
    r: np.ndarray | None = None
    J: np.ndarray | None = None


class _Residuals:
    """The refinement's coordinates ``x`` on a :class:`FitProblem`: residuals (one forward
    simulation per sweep) and their Jacobian (one sensitivity pass per sweep), charged."""

    def __init__(self, problem, rs: RefineSettings):
        s = problem.settings
        self.problem = problem
        self.space = problem.space
        self.search = s.current == "search"
        self.n_sw = len(problem.sweeps)
        self.top = float(s.max_amplitude_pA or get_model(problem.model).spec.max_amplitude_pA)
        self.entry, self.exact = jacobian_map(problem.model, s.scheme, rs)
        self.jac_cost = grad.sensitivity_cost(problem.model, self.entry.scheme)
        self.n_x = self.space.k + (self.n_sw if self.search else 0)
        n = [sw.times.size for sw in problem.sweeps]
        self.weights = [1.0 / math.sqrt(max(n_s, 1) * self.n_sw) for n_s in n]

    def split(self, x: np.ndarray):
        """``(z, amplitudes_pA)`` of coordinates ``x``."""
        k = self.space.k
        if self.search:
            return x[:k], x[k:] * self.top
        return x[:k], np.array([sw.amplitude_pA for sw in self.problem.sweeps], np.float64)

    def start(self) -> np.ndarray:
        """The problem's best point as coordinates."""
        z = np.asarray(self.problem.best_z, dtype=np.float64)
        if not self.search:
            return z.copy()
        amps = np.asarray(self.problem.best_amps, dtype=np.float64) / self.top
        return np.concatenate([z, np.clip(amps, 0.0, 1.0)])

    def trial_cost(self) -> int:
        """Largest forward-equivalents of one trial: its simulation, the Jacobian and the
        engine's re-simulation of a new best (one each per sweep)."""
        return self.n_sw * (1 + self.jac_cost + 1)

    def evaluate(self, x: np.ndarray) -> _Point:
        """Simulate ``x`` with the fit's scheme on every sweep (one forward-equivalent each)."""
        p = self.problem
        s = p.settings
        z, amps = self.split(x)
        P = self.space.to_params(z[None, :])
        times, counts, ok = [], [], True
        for j, sw in enumerate(p.sweeps):
            r = simulate_batch(p.model, P, np.array([amps[j]]), sw.protocol, s.scheme,
                               s.threads, max_spikes=sw.times.size + 1, check=False)
            p.charge(1)
            times.append(r.times[0])
            counts.append(int(r.counts[0]))
            ok = ok and counts[-1] == sw.times.size and int(r.status[0]) == STATUS_OK
        p.candidates += 1
        if not ok:
            return _Point(False)
        targets = [sw.times for sw in p.sweeps]
        # sweeps of different spike counts: rows padded with NaN to the longest
        smax = max(t.size for t in times)
        padded = np.full((len(times), smax), np.nan)
        for j, t in enumerate(times):
            padded[j, :t.size] = t
        loss = float(batch_loss(padded[None], np.array(counts)[None], targets,
                                s.count_penalty_ms)[0])
        d = [t[:T.size] - T for t, T in zip(times, targets)]
        n_all = sum(T.size for T in targets)
        rmse = math.sqrt(sum(float(v @ v) for v in d) / n_all) if n_all else 0.0
        r = np.concatenate([w * v for w, v in zip(self.weights, d)])
        return _Point(True, loss, rmse, r)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """``dr/dx`` at ``x``: a sensitivity pass of the Jacobian's map on every sweep (charged
        :func:`snnfit.sim.grad.sensitivity_cost` each), ``dT/dp`` chained through the space's
        ``dP/dz`` and ``dT/dI`` times ``top`` for a searched amplitude. Rows are paired in order
        with the target's spikes (zero past the map's own count, which only another map's can
        miss)."""
        p = self.problem
        s = p.settings
        z, amps = self.split(x)
        P = self.space.to_params(z[None, :])
        Jz = self.space.jacobian(z[None, :])[0]  # (n_params, k)
        n_p, k = Jz.shape
        blocks = []
        for j, sw in enumerate(p.sweeps):
            n = sw.times.size
            jac = grad.spike_times_and_jacobian(
                p.model, P, np.array([amps[j]]), sw.protocol, s.threads,
                max_spikes=max(n, 1), check=False, scheme=self.entry.scheme)[4][0, :n]
            p.charge(self.jac_cost)
            blk = np.zeros((n, self.n_x))
            blk[:, :k] = jac[:, :n_p] @ Jz
            if self.search:
                blk[:, k + j] = jac[:, n_p] * self.top
            blocks.append(self.weights[j] * blk)
        return np.concatenate(blocks, axis=0)


def _solve(J, r, lam, D2, free):
    """``argmin_d ||r + J d||^2 + lam ||D d||^2`` over the ``free`` coordinates (0 elsewhere),
    as an augmented least-squares problem."""
    d = np.zeros(J.shape[1])
    idx = np.flatnonzero(free)
    if idx.size:
        A = np.vstack([J[:, idx], np.diag(np.sqrt(lam * D2[idx]))])
        b = np.concatenate([-r, np.zeros(idx.size)])
        d[idx] = np.linalg.lstsq(A, b, rcond=None)[0]
    return d


def _step(J, r, x, lam, D2):
    """The damped step inside the box ``[0, 1]^n`` (an active-set loop): a coordinate whose step
    would leave the box is moved onto that bound and held there, and the step is solved again
    for the others (with the held moves in the residual), until no free coordinate leaves."""
    n = x.size
    free = np.ones(n, dtype=bool)
    held = np.zeros(n)  # moves of the held coordinates (onto their bound)
    d = held
    for _ in range(n + 1):
        d = _solve(J, r + J @ held, lam, D2, free) + held
        lo, hi = free & (x + d < 0.0), free & (x + d > 1.0)
        if not (lo.any() or hi.any()):
            break
        held[lo] = -x[lo]
        held[hi] = 1.0 - x[hi]
        free &= ~(lo | hi)
    return np.clip(x + d, 0.0, 1.0) - x


def run(problem, settings) -> dict:
    """Refine ``problem``'s best point (the module docstring); returns the record's
    ``optimizer_info["refine"]``. ``settings``: the fit's full :class:`FitSettings` (put back
    on the problem, so the refinement spends what the optimiser left of ``--budget``)."""
    rs = resolve(settings.refine) or RefineSettings()
    problem.settings = settings
    fe0 = int(problem.forward_equivalents)
    res = _Residuals(problem, rs)
    info = {"settings": {k: getattr(rs, k) for k in rs.__dataclass_fields__},
            "jacobian_scheme": res.entry.scheme, "jacobian_exact": bool(res.exact),
            "amplitude": "free per sweep" if res.search else "recorded",
            "start_forward_equivalents": fe0, "start_loss": float(problem.best_loss)}

    def done(status, stop, **more):
        info.update(status=status, stop=stop,
                    forward_equivalents=int(problem.forward_equivalents) - fe0, **more)
        return info

    if problem.best_z is None or not problem.best_loss < math.inf:
        return done("skipped", "no best point")
    if problem.remaining < res.trial_cost():
        return done("skipped", "budget")
    x = res.start()
    cur = res.evaluate(x)
    if not cur.ok:
        return done("skipped", "the best point misses the target's count (or failed)")
    cur.J = res.jacobian(x)
    info["start_rmse_ms"] = cur.rmse_ms
    lam = float(rs.damping)
    _record(problem, res, x, cur, 0, lam, True)
    D2 = np.zeros(res.n_x)
    it = accepted = miscount = 0
    while True:
        if cur.rmse_ms <= rs.rmse_tol_ms:
            stop = "converged"
            break
        if it >= rs.max_iterations:
            stop = "iterations"
            break
        if lam > rs.max_damping:
            stop = "damping"
            break
        if problem.remaining < res.trial_cost():
            stop = "budget"
            break
        D2 = np.maximum(D2, np.sum(cur.J * cur.J, axis=0))  # Moré's running maximum
        d = _step(cur.J, cur.r, x, lam, np.maximum(D2, 1e-12 * max(float(D2.max()), 1e-300)))
        if not np.max(np.abs(d)) >= rs.xtol:
            stop = "step"
            break
        it += 1
        trial = res.evaluate(x + d)
        better = trial.ok and trial.loss < cur.loss
        if better:
            small = cur.loss - trial.loss <= rs.ftol * cur.loss
            x = np.clip(x + d, 0.0, 1.0)
            trial.J = res.jacobian(x)
            cur = trial
            accepted += 1
            lam *= rs.down
        else:
            miscount += int(not trial.ok)
            lam *= rs.up
        _record(problem, res, x, cur, it, lam, better)
        if better and small:
            stop = "ftol"
            break
    return done("ok", stop, iterations=it, accepted=accepted, rejected_count=miscount,
                final_loss=float(cur.loss), final_rmse_ms=float(cur.rmse_ms),
                final_damping=float(lam))


def _record(problem, res: _Residuals, x, cur: _Point, it: int, lam: float, accepted: bool):
    """One history entry of the engine (:meth:`FitProblem.record`; the current point's loss
    if the trial was accepted, else an infinite one, so that a rejected trial is never the
    best) with the refinement's keys added."""
    z, amps = res.split(x)
    problem.record(z[None, :], np.array([cur.loss if accepted else math.inf]), amps[None, :])
    problem.history[-1].update(refine_iteration=it, refine_rmse_ms=float(cur.rmse_ms),
                               refine_damping=float(lam), refine_accepted=bool(accepted))
