"""The fit engine: target + model + reduced space + optimiser -> fit result.

Optimisers never own the objective (pycma's ask/tell style): they receive a
:class:`FitProblem`, ask it to evaluate batches of reduced coordinates ``Z`` in ``[0, 1]^k``
(:meth:`FitProblem.evaluate`, one batched simulation per sweep), and stop when its budget is
spent. The problem keeps the best point, the accounting and the history.

Accounting, in forward-equivalents (:attr:`FitProblem.forward_equivalents`, the record's
``evaluations``): one simulation is one parameter set x one amplitude x one sweep. Every
simulation counts: the current search's grid and bisection points (each counted as a whole
simulation although it stops at the end of the step), the amplitude search inside the
bracket, and the re-simulation of each new best point (to score it with Gamma; charged when
the point becomes the best, run later for all best points in one batch). Passes of
other kinds (a sensitivity pass, a pass of the spiking layer) are charged as frozen constant
multiples of one simulation (see :mod:`snnfit.sim.grad`). The last batch may overshoot the
budget by less than one batch. :attr:`FitProblem.candidates` counts the parameter sets
evaluated. ``history`` holds, after every batch or step, ``{simulations, wall_s, cpu_s,
joules, best_loss, gamma_at_best}`` (``simulations``: forward-equivalents spent so far).
Compilation (numba) is excluded: the kernels are warmed before the meter starts.

Current (``current``): ``recorded`` uses each sweep's own amplitude (several sweeps are fitted
jointly); ``search`` runs the current search for every parameter set and sweep (the target
count ``n`` is the number of target spikes inside the step), then a golden-section search of
``amp_iters`` simulations for the loss-minimising amplitude inside the bracket
``[I_n, I_{n+1})``. A set whose search fails gets :func:`snnfit.loss.fail_loss` of its count
distance.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from .energy import DEFAULT_WATTS_PER_CORE, EnergyMeter
from ..errors import UserError
from ..loss import (DEFAULT_COUNT_PENALTY_MS, VR_FAIL_LOSS, batch_align_loss,
                    batch_isi_quantile_loss, batch_loss, batch_van_rossum_sq, fail_loss)
from ..sim.models import get_model
from ..sim.params import DEFAULT_BOX
from ..sim.protocol import StepProtocol, protocol_groups
from ..sim.search import FOUND, SILENT, SPONTANEOUS, search_current
from ..sim.simulate import STATUS_OK, BatchResult, simulate_batch
from .record import AT_BOUND_FRACTION, FitResult, at_bound
from .stages import (ALIGN, DEFAULT_LOSS, ISIQ, LOSSES, PATTERN, TIMES, VR, VR_FINE,
                     StageSettings, pattern_fail_loss, pattern_loss, run_staged, uses_stages)
from .space import ReducedSpace, build_space
from ..data.quality import left_out_notice
from ..data.targets import Target, fittable_sweeps, load_target, subset_sweeps

CURRENT_MODES = ("search", "recorded")
OPTIMIZERS = ("cmaes", "random", "snn", "direct")
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
#: the default simulation step of a fit (ms), whatever the target's sampling interval
DEFAULT_FIT_DT_MS = 0.1
#: the largest step a fit accepts (ms): the models' spikes last about a millisecond
MAX_FIT_DT_MS = 1.0
#: a bracket end counts as "a spike crossing the window end" if that spike is this close to it
END_SPIKE_TOL_MS = 10.0


def _search_fail_distance(sr, n_step: int) -> np.ndarray:
    """Count distance of failed current searches: spontaneous sets are ``n + 1`` away, the
    others ``|count at the failing point - n|`` (used by :func:`fail_loss`)."""
    return np.where(sr.status == SPONTANEOUS, n_step + 1, np.abs(sr.n_spikes - n_step))


@dataclass
class FitSettings:
    model: str
    dim: str = "full"
    optimizer: str = "cmaes"
    seed: int = 0
    budget: int = 5000
    current: str = "search"
    scheme: str = "resolved"
    #: the simulation step (ms) of every sweep of the fit; the target's ``dt_ms`` (a
    #: recording's sampling interval) is not used: spike times stay as recorded
    dt_ms: float = DEFAULT_FIT_DT_MS
    threads: int = 1
    watts_per_core: float = DEFAULT_WATTS_PER_CORE
    inputs: str | None = None
    sweeps: list[str] | None = None
    bounds: list[str] = field(default_factory=list)
    fix: list[str] = field(default_factory=list)
    base: str = "defaults"
    projection_seed: int = 0
    count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS
    #: the loss minimised (:data:`snnfit.fit.stages.LOSSES`): ``staged`` (the firing pattern
    #: first, then the spike times), ``times`` (the spike-time loss throughout) or ``vr``
    #: (the van Rossum distance first, then the spike times)
    loss: str = DEFAULT_LOSS
    #: the fit box (:meth:`snnfit.sim.params.ModelSpec.box`): ``default`` (the declared
    #: bounds) or a named box such as ``cells`` (wide, for real cells); ``bounds`` apply on top
    box: str = DEFAULT_BOX
    #: the staged loss's settings (:class:`snnfit.fit.stages.StageSettings`); None: defaults
    stage_settings: Any = None
    amp_iters: int = 8
    max_amplitude_pA: float | None = None
    progress: bool = False
    # optimiser options (gradient methods)
    lr: float | None = None
    #: the optimiser's settings (``DirectSettings``, ``SNNSettings``, ... of
    #: :mod:`snnfit.fit.optimizers`); None: its frozen defaults
    optimizer_settings: Any = None
    #: the exact-gradient finish after the optimiser (:mod:`snnfit.fit.refine`): False, True
    #: (its frozen ``RefineSettings``) or a ``RefineSettings``
    refine: Any = False

    def check(self) -> None:
        get_model(self.model)
        if self.current not in CURRENT_MODES:
            raise UserError(f"--current: expected one of {', '.join(CURRENT_MODES)}, "
                            f"got {self.current!r}")
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}, "
                            f"got {self.optimizer!r}")
        if self.scheme not in ("euler", "resolved", "resolved2"):
            raise UserError("--scheme: expected euler, resolved or resolved2, got "
                            f"{self.scheme!r}")
        if self.budget < 1:
            raise UserError(f"--budget: must be >= 1, got {self.budget}")
        if not (isinstance(self.dt_ms, (int, float)) and math.isfinite(self.dt_ms)
                and 0 < self.dt_ms <= MAX_FIT_DT_MS):
            raise UserError(f"--dt: expected a step in (0, {MAX_FIT_DT_MS:g}] ms, got "
                            f"{self.dt_ms!r}")
        if self.seed < 0:
            raise UserError(f"--seed: must be >= 0, got {self.seed}")
        if not (self.watts_per_core >= 0 and math.isfinite(self.watts_per_core)):
            raise UserError(f"--watts-per-core: must be >= 0, got {self.watts_per_core}")
        get_model(self.model).spec.box(self.box)  # one-line UserError for an unknown box
        if self.loss not in LOSSES:
            raise UserError(f"--loss: expected one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.stage_settings is not None and not isinstance(self.stage_settings,
                                                                StageSettings):
            raise TypeError(f"stage_settings: expected StageSettings, got "
                            f"{type(self.stage_settings).__name__}")
        if self.optimizer_settings is not None:
            from .optimizers import settings_class

            cls = settings_class(self.optimizer)
            if not isinstance(self.optimizer_settings, cls):
                raise TypeError(f"optimizer_settings: expected {cls.__name__} for optimizer "
                                f"{self.optimizer!r}, got "
                                f"{type(self.optimizer_settings).__name__}")
        from .refine import resolve

        resolve(self.refine)


@dataclass
class SweepData:
    id: str
    protocol: StepProtocol
    amplitude_pA: float | None
    times: np.ndarray  # target spike times (ms)
    n_step: int  # target spikes inside the step window


@dataclass
class SearchedSweep:
    """One sweep's current search (:meth:`FitProblem.search_amplitudes`) for a batch of sets.

    ``status`` per set (:mod:`snnfit.sim.search`); ``found`` the rows whose search found the
    bracket ``[lo, hi)`` (pA, one entry per found row); ``loss`` per set: the golden-section
    minimum inside the bracket, or :func:`snnfit.loss.fail_loss` of the count distance;
    ``amplitude_pA`` per set: the loss-minimising amplitude, NaN where the search failed.
    """

    status: np.ndarray
    found: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    loss: np.ndarray
    amplitude_pA: np.ndarray


class FitProblem:
    """The objective, budget and bookkeeping that every optimiser uses.

    ``progress``, if given, is called with the problem whenever the forward-equivalents spent
    or the best point change (e.g. :class:`ProgressBar`).
    """

    def __init__(self, space: ReducedSpace, target: Target, settings: FitSettings,
                 meter: EnergyMeter | None = None,
                 progress: Callable[[FitProblem], None] | None = None):
        self.space = space
        self.target = target
        self.settings = settings
        self.model = settings.model
        self.meter = meter
        self.sweeps = []
        for s in target.sweeps:
            t = np.asarray(s.spike_times_ms, dtype=np.float64)
            p = replace(s.protocol, dt_ms=float(settings.dt_ms))  # the fit's step
            n_step = int(np.sum((t >= p.delay_ms) & (t < p.delay_ms + p.duration_ms)))
            self.sweeps.append(SweepData(s.id, p, s.amplitude_pA, t, n_step))
        if settings.current == "recorded":
            missing = [s.id for s in self.sweeps if s.amplitude_pA is None]
            if missing:
                raise UserError(
                    f"--current recorded: the target has no amplitude for sweep(s) "
                    f"{', '.join(missing)} (fixed-times targets need --current search)")
        self.forward_equivalents = 0  # spent: simulations and other passes at their cost
        self.candidates = 0  # parameter sets evaluated
        self.best_loss = math.inf
        self.best_z: np.ndarray | None = None
        self.best_amps: list[float] | None = None
        self._history: list[dict] = []
        #: every best point so far: (parameter row, amplitudes per sweep); its Gamma is
        #: computed later
        self._bests: list[tuple[np.ndarray, list[float]]] = []
        self._gammas: dict[int, float | None] = {}  # best index -> Gamma, once computed
        self._pending: list[tuple[dict, int]] = []  # history rows awaiting their Gamma
        #: the objective now minimised (:mod:`snnfit.fit.stages`), the forward-equivalents at
        #: which the current stage ends, and where the next optimiser run starts (None: the
        #: space's base point)
        self.stage = TIMES
        self.box: str | None = None  # core | fit while a fit switches boxes
        self.limit: int | None = None  # None: the whole budget
        self.start_z: np.ndarray | None = None
        self.stage_settings = settings.stage_settings or StageSettings()
        self.rng = np.random.default_rng(settings.seed)
        self._t0 = time.perf_counter()
        self.progress = progress

    # ------------------------------------------------------------------ budget
    @property
    def budget(self) -> int:
        return self.settings.budget

    @property
    def remaining(self) -> int:
        """Forward-equivalents left in the current stage (the whole budget outside stages)."""
        return max(self._limit() - self.forward_equivalents, 0)

    @property
    def exhausted(self) -> bool:
        return self.forward_equivalents >= self._limit()

    def _limit(self) -> int:
        return self.budget if self.limit is None else self.limit

    def start_point(self) -> np.ndarray:
        """Where an optimiser run starts: :attr:`start_z`, else the space's base point."""
        return self.space.start() if self.start_z is None else self.start_z.copy()

    def begin_stage(self, stage: str, limit: int, start_z: np.ndarray | None = None,
                    space: ReducedSpace | None = None) -> None:
        """Switch the objective to ``stage`` (and the search to ``space``, if given) until
        ``limit`` forward-equivalents are spent; the next optimiser run starts at ``start_z``
        (coordinates of the new space). A new objective forgets the best point (losses of
        different objectives do not compare); the same objective keeps it (moved to the new
        space's coordinates)."""
        if space is not None and space is not self.space:
            if self.best_z is not None:
                self.best_z = space.to_reduced(self.space.to_params(self.best_z[None, :]))[0]
            self.space = space
        if stage != self.stage:
            self.best_loss = math.inf
            self.best_z = None
            self.best_amps = None
        self.stage = stage
        self.limit = int(min(limit, self.budget))
        self.start_z = None if start_z is None else np.asarray(start_z, np.float64).copy()

    @property
    def k(self) -> int:
        return self.space.k

    def charge(self, forward_equivalents: float) -> None:
        """Add ``forward_equivalents`` to the account (rounded up)."""
        self.forward_equivalents += int(math.ceil(forward_equivalents - 1e-9))
        if self.progress is not None:
            self.progress(self)

    def cost_per_candidate(self) -> float:
        """Expected forward-equivalents of one candidate (recorded: one per sweep)."""
        if self.settings.current == "recorded":
            return float(len(self.sweeps))
        return float(len(self.sweeps) * (30 + self.settings.amp_iters))

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, Z: np.ndarray) -> np.ndarray:
        """Loss of each row of ``Z`` (reduced coordinates); records best and history."""
        Z = np.clip(np.atleast_2d(np.asarray(Z, dtype=np.float64)), 0.0, 1.0)
        P = self.space.to_params(Z)
        losses, amps = self.losses(P)
        self.record(Z, losses, amps)
        return losses

    def losses(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss and chosen amplitudes ``(B, n_sweeps)`` of physical parameter sets (charged)."""
        B = P.shape[0]
        total = np.zeros(B)
        amps = np.zeros((B, len(self.sweeps)))
        if self.settings.current == "recorded":
            per_sweep = [None] * len(self.sweeps)
            for group in self._protocol_groups():
                for j, loss in zip(group, self._group_recorded(P, group)):
                    per_sweep[j] = loss
                    amps[:, j] = float(self.sweeps[j].amplitude_pA)
            for loss in per_sweep:  # summed in sweep order, as one call per sweep would
                total += loss
        else:
            for j, sw in enumerate(self.sweeps):
                loss, a = self._sweep_search(P, sw)
                total += loss
                amps[:, j] = a
        self.candidates += B
        return total / len(self.sweeps), amps

    def _protocol_groups(self) -> list[list[int]]:
        """The sweeps grouped by protocol (:func:`snnfit.sim.protocol.protocol_groups`): each
        group is simulated in one kernel call."""
        return protocol_groups([sw.protocol for sw in self.sweeps])

    def _group_recorded(self, P, group: list[int]) -> list[np.ndarray]:
        """The loss of every set of ``P`` on each sweep of ``group`` (one protocol) at the
        sweep's recorded amplitude, from one kernel call over ``len(group) * B`` rows. Each
        sweep is scored on its own rows with its own spike cap (``times`` cut to the target's
        count + 1 columns), so the losses equal one call per sweep bit for bit (rows of a
        batch are independent; tests/test_fit.py)."""
        B = P.shape[0]
        sws = [self.sweeps[j] for j in group]
        a = np.repeat([float(sw.amplitude_pA) for sw in sws], B)
        n_max = max(sw.times.size for sw in sws)
        extra = self._extra_stored(n_max)
        cap = n_max + 1 + extra
        self.charge(B * len(sws))
        r = simulate_batch(self.model, np.tile(P, (len(sws), 1)), a, sws[0].protocol,
                           self.settings.scheme, self.settings.threads, max_spikes=cap,
                           check=False)
        out = []
        for g, sw in enumerate(sws):
            rows = slice(g * B, (g + 1) * B)
            part = BatchResult(times=np.ascontiguousarray(r.times[rows, :sw.times.size + 1
                                                                  + extra]),
                               counts=r.counts[rows],
                               n_in_step=r.n_in_step[rows], status=r.status[rows])
            out.append(self._score(part, sw))
        return out

    def _extra_stored(self, n_target: int) -> int:
        """Spike times stored beyond the target's count + 1: the alignment and interval
        stages score the model's extra spikes too (up to twice the target's count); the
        others need none."""
        return n_target + 1 if self.stage in (ALIGN, ISIQ) else 0

    def _simulate(self, P, amps, sw: SweepData):
        self.charge(P.shape[0])
        return simulate_batch(self.model, P, amps, sw.protocol, self.settings.scheme,
                              self.settings.threads,
                              max_spikes=sw.times.size + 1 + self._extra_stored(sw.times.size),
                              check=False)

    def _score(self, r, sw: SweepData) -> np.ndarray:
        """The current stage's loss of one sweep's simulations (``pattern``: the firing
        pattern, :func:`snnfit.fit.stages.pattern_loss`; ``vr``/``vr_fine``: the van Rossum
        loss to the end of the step, :func:`snnfit.loss.batch_van_rossum_sq`; ``isiq``: the
        intervals' distribution, :func:`snnfit.loss.batch_isi_quantile_loss`; ``align``: the
        alignment loss, :func:`snnfit.loss.batch_align_loss`; ``times``: the spike-time
        loss)."""
        if self.stage == PATTERN:
            loss = pattern_loss(r.times, r.n_in_step, sw.times, sw.protocol,
                                self.stage_settings)
        elif self.stage in (VR, VR_FINE):
            tau = (self.stage_settings.vr_tau_ms if self.stage == VR
                   else self.stage_settings.vr_fine_tau_ms)
            loss = batch_van_rossum_sq(r.times, r.counts, sw.times, tau,
                                       sw.protocol.stim_end_ms)
        elif self.stage == ISIQ:
            loss = batch_isi_quantile_loss(r.times, r.counts, sw.times, sw.protocol.delay_ms,
                                           sw.protocol.stim_end_ms)
        elif self.stage == ALIGN:
            loss = batch_align_loss(r.times, r.counts, sw.times,
                                    self.stage_settings.align_unmatched_ms)
        else:
            loss = batch_loss(r.times, r.counts, [sw.times], self.settings.count_penalty_ms)
        bad = r.status != STATUS_OK
        if bad.any():
            loss[bad] = self._fail(np.abs(r.counts[bad] - sw.times.size))
        return loss

    def _fail(self, count_distance) -> np.ndarray:
        """The current stage's loss of failed evaluations (above every working set's)."""
        if self.stage in (PATTERN, ISIQ):  # dimensionless losses of at most 2
            return pattern_fail_loss(count_distance)
        if self.stage in (VR, VR_FINE):
            return VR_FAIL_LOSS + np.maximum(np.asarray(count_distance, np.float64), 1.0)
        return fail_loss(count_distance, self.settings.count_penalty_ms)

    def _sweep_search(self, P, sw: SweepData):
        r = self.search_amplitudes(P, sw)
        a = r.amplitude_pA
        return r.loss, np.where(np.isfinite(a), a, 0.0)

    def search_amplitudes(self, P, sw: SweepData) -> SearchedSweep:
        """The current search of every set of ``P`` for the target count on ``sw``, then the
        golden-section search of the loss over the amplitude inside each found bracket
        ``[I_n, I_{n+1})`` (all simulations charged). A failed search gets
        :func:`snnfit.loss.fail_loss` of its count distance."""
        s = self.settings
        sr = search_current(self.model, P, sw.n_step, sw.protocol, s.scheme,
                            s.max_amplitude_pA, threads=s.threads)
        self.charge(sr.n_simulations)
        found = np.flatnonzero(sr.status == FOUND)
        lo = sr.bracket_pA[found, 0].copy()
        hi = sr.bracket_pA[found, 1].copy()
        loss = self._fail(_search_fail_distance(sr, sw.n_step))
        amps = np.full(P.shape[0], np.nan)
        if found.size:
            loss[found], amps[found] = self._golden(P[found], lo, hi, sw)
        return SearchedSweep(sr.status, found, lo, hi, loss, amps)

    def _golden(self, P, lo, hi, sw: SweepData):
        """Golden-section search of the loss over the amplitude in ``[lo, hi]`` per row."""
        n_it = max(int(self.settings.amp_iters), 1)
        best_l = np.full(P.shape[0], np.inf)
        best_a = lo.copy()

        def ev(a):
            nonlocal best_l, best_a
            r = self._simulate(P, a, sw)
            l = self._score(r, sw)
            better = l < best_l
            best_l = np.where(better, l, best_l)
            best_a = np.where(better, a, best_a)
            return l

        if n_it == 1:
            ev(lo)
            return best_l, best_a
        x1 = hi - GOLDEN * (hi - lo)
        x2 = lo + GOLDEN * (hi - lo)
        f1 = ev(x1)
        f2 = ev(x2)
        for _ in range(n_it - 2):
            left = f1 <= f2  # minimum in [lo, x2]
            hi = np.where(left, x2, hi)
            lo = np.where(left, lo, x1)
            new_x = np.where(left, hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo))
            fn = ev(new_x)
            x2n = np.where(left, x1, new_x)
            x1n = np.where(left, new_x, x2)
            f2n = np.where(left, f1, fn)
            f1n = np.where(left, fn, f2)
            x1, x2, f1, f2 = x1n, x2n, f1n, f2n
        return best_l, best_a

    # ------------------------------------------------------------------ gradients
    def loss_and_grad(self, Z: np.ndarray):
        """Loss and ``dloss/dZ`` of reduced coordinates (the gradient optimisers' objective).

        Recorded current: the exact gradient of the loss of the ``resolved`` map (time term) plus
        the count surrogate of :mod:`snnfit.loss`, through the space's Jacobian. Searched current:
        the amplitude is the loss-minimising one inside the bracket ``[I_n, I_{n+1})`` (the same
        golden-section search as the other optimisers); at an interior optimum ``dL/dI = 0``, so
        the gradient with respect to the parameters needs no derivative of the search. At a
        bracket end (the optimum within 5 % of the bracket width from an end, which is common:
        the loss often falls monotonically toward an end) the end moves with the parameters and
        the total derivative ``dL/dp + dL/dI * dI_e/dp`` is used. The end ``I_e`` is where a spike
        crosses the end of the step window (the n-th spike at ``I_n``, the (n+1)-th at
        ``I_{n+1}``), so by the implicit function theorem ``dI_e/dp = -(dT/dp) / (dT/dI)`` for that
        spike, from one extra sensitivity pass at the end (just above ``I_{n+1}`` for the upper
        end). Where the end is instead the birth of a new spike inside the window (a tangency of
        the voltage with the cut: the spike appears mid-step, so no spike time defines the end),
        no end derivative is used. A set whose search fails gets
        the failure penalty and, as a surrogate, the gradient of the loss at the top of the
        range (silent: the count surrogate asks for more spikes) or at amplitude 0 (spontaneous:
        fewer spikes), which moves the parameters toward the target count.
        Costs: a sensitivity pass is charged :func:`snnfit.sim.grad.sensitivity_cost`
        forward-equivalents per set and sweep.
        """
        from ..sim import grad

        s = self.settings
        Z = np.clip(np.atleast_2d(np.asarray(Z, dtype=np.float64)), 0.0, 1.0)
        P, J = self.space.params_and_jacobian(Z)
        B = P.shape[0]
        n_sw = len(self.sweeps)
        amps = np.zeros((B, n_sw))
        extra = np.zeros(B)
        edge_terms = []
        if s.current == "recorded":
            for j, sw in enumerate(self.sweeps):
                amps[:, j] = sw.amplitude_pA
        else:
            top = float(s.max_amplitude_pA or get_model(self.model).spec.max_amplitude_pA)
            for j, sw in enumerate(self.sweeps):
                r = self.search_amplitudes(P, sw)
                # failed searches: the failure loss, and the gradient at the top of the
                # range (silent) or at 0 pA (spontaneous) as a surrogate
                a = np.where(r.status == SILENT, top, 0.0)
                if r.found.size:
                    a[r.found] = r.amplitude_pA[r.found]
                    edge_terms.append((j, r.found, r.lo, r.hi, r.amplitude_pA[r.found]))
                extra += np.where(r.status == FOUND, 0.0, r.loss) / n_sw
                amps[:, j] = a
        loss, gP, gA = grad.loss_and_grad(self.model, P, amps,
                                          [sw.protocol for sw in self.sweeps],
                                          [sw.times for sw in self.sweeps],
                                          s.count_penalty_ms, threads=s.threads,
                                          scheme=_grad_scheme(self.model, s.scheme),
                                          check=False)  # sets of the fit box, as evaluate's
        self.charge(B * n_sw * grad.sensitivity_cost(self.model, s.scheme))
        for j, idx, lo, hi, best_a in edge_terms:
            gP[idx] += gA[idx, j][:, None] * self._bracket_end_derivative(P[idx], j, lo, hi,
                                                                      best_a)
        self.candidates += B
        loss = np.asarray(loss, dtype=np.float64) + extra
        gZ = np.einsum("bp,bpk->bk", gP, J)
        self.record(Z, loss, amps)
        return loss, gZ

    def _bracket_end_derivative(self, P, j, lo, hi, best_a, edge_frac=0.05):
        """``dI_e/dp`` (B, n_params) for rows whose best amplitude sits at a bracket end, else 0.

        ``I_e`` is defined by a spike crossing the end of the step window; implicit function
        theorem on that spike time ``T(p, I) = t_end``. Charged as sensitivity passes.
        """
        from ..sim import grad

        sw = self.sweeps[j]
        B, n_p = P.shape
        out = np.zeros((B, n_p))
        width = np.maximum(hi - lo, 1e-12)
        at_lo = (best_a - lo) <= edge_frac * width
        at_hi = ~at_lo & ((hi - best_a) <= edge_frac * width)
        t_on = sw.protocol.delay_ms
        for rows, amp, k_extra in ((np.flatnonzero(at_lo), lo, 0),
                                   (np.flatnonzero(at_hi), hi + np.maximum(1.0, 0.01 * hi), 1)):
            if rows.size == 0:
                continue
            times, counts, n_in, status, jac = grad.spike_times_and_jacobian(
                self.model, P[rows], amp[rows], sw.protocol, self.settings.threads,
                max_spikes=sw.times.size + 8,
                scheme=_grad_scheme(self.model, self.settings.scheme))
            self.charge(rows.size * grad.sensitivity_cost(self.model, self.settings.scheme))
            pre = np.sum(np.nan_to_num(times, nan=np.inf) < t_on, axis=1)
            spike = pre + sw.n_step - 1 + k_extra  # index of the spike defining the end
            for r_i, row in enumerate(rows):
                sp = int(spike[r_i])
                if n_in[r_i] != sw.n_step + k_extra or sp < 0 or sp >= jac.shape[1]:
                    continue  # not the expected crossing: no end derivative (kept at 0)
                if abs(times[r_i, sp] - sw.protocol.stim_end_ms) > END_SPIKE_TOL_MS:
                    continue  # the end is a spike birth inside the window, not a crossing of
                    # the window end: no implicit derivative (kept at 0)
                dTdI = jac[r_i, sp, n_p]
                if dTdI != 0.0 and np.isfinite(dTdI):
                    out[row] = -jac[r_i, sp, :n_p] / dTdI
        return out

    # ------------------------------------------------------------------ bookkeeping
    def record(self, Z: np.ndarray, losses: np.ndarray, amps: np.ndarray) -> None:
        """Update the best point and append one history entry (optimisers that compute
        losses themselves, e.g. with gradients, call this too).

        A new best point is charged one simulation per sweep at once (its re-simulation at
        full length, which scores it with Gamma); the simulations themselves run later, for
        all best points in one batch (:meth:`score_bests`, when :attr:`history` or
        :attr:`best_gamma` is read): same trains, same Gamma (a set's result does not depend
        on its batch), a fraction of the time (one batched pass instead of a batch of one per
        new best)."""
        i = int(np.argmin(losses))
        if losses[i] < self.best_loss:
            self.best_loss = float(losses[i])
            self.best_z = np.asarray(Z[i], dtype=np.float64).copy()
            self.best_amps = [float(a) for a in amps[i]]
            # kept as model parameters: a staged fit may change the space later
            self._bests.append((self.space.to_params(self.best_z[None, :])[0], self.best_amps))
            for _ in self.sweeps:
                self.charge(1)
        reading = self.meter.read() if self.meter is not None else None
        row = {
            "simulations": int(self.forward_equivalents),
            "wall_s": float(reading.wall_s if reading else time.perf_counter() - self._t0),
            "cpu_s": float(reading.cpu_s) if reading else None,
            "joules": float(reading.joules) if reading else None,
            "best_loss": float(self.best_loss),
            "gamma_at_best": None,
            "stage": self.stage,
            **({"box": self.box} if self.box is not None else {}),
        }
        self._history.append(row)
        if self._bests:
            self._pending.append((row, len(self._bests) - 1))
        if self.progress is not None:
            self.progress(self)

    @property
    def history(self) -> list[dict]:
        """One row per batch or step (module docstring); Gammas are scored on first read."""
        self.score_bests()
        return self._history

    @property
    def best_gamma(self) -> float | None:
        """Gamma of the best point so far (None before any)."""
        if not self._bests:
            return None
        last = len(self._bests) - 1
        if last not in self._gammas:
            self._gammas[last] = self._gamma_of([last])[0]
        return self._gammas[last]

    def score_bests(self) -> None:
        """Score every best point whose Gamma a history row still lacks (one batched
        simulation per sweep; already charged by :meth:`record`)."""
        if not self._pending:
            return
        todo = sorted({b for _, b in self._pending if b not in self._gammas})
        if todo:
            self._gammas.update(zip(todo, self._gamma_of(todo)))
        for row, b in self._pending:
            row["gamma_at_best"] = self._gammas[b]
        self._pending.clear()

    def _gamma_of(self, best_indices: list[int], chunk: int = 256) -> list[float | None]:
        """Gamma of best points (indices into the bests), their trains simulated at full
        length as :meth:`best_trains` does (not charged: :meth:`record` charged them)."""
        from ..metrics import gamma_factor

        P = np.vstack([self._bests[b][0][None, :] for b in best_indices])
        trains: list[list[np.ndarray]] = [[] for _ in best_indices]
        for j, sw in enumerate(self.sweeps):
            amps = np.array([self._bests[b][1][j] for b in best_indices])
            for lo in range(0, len(best_indices), chunk):
                r = simulate_batch(self.model, P[lo:lo + chunk], amps[lo:lo + chunk],
                                   sw.protocol, self.settings.scheme, self.settings.threads,
                                   check=False)
                for n in range(r.counts.shape[0]):
                    trains[lo + n].append(r.spike_times(n))
        targets = [sw.times for sw in self.sweeps]
        t_stop = [sw.protocol.t_stop_ms for sw in self.sweeps]
        return [gamma_factor(tr, targets, t_stop) for tr in trains]

    def best_trains(self, charge: bool = True) -> list[np.ndarray]:
        """Spike trains of the best point on every sweep (full recording)."""
        P = self.space.to_params(self.best_z[None, :])
        out = []
        for sw, a in zip(self.sweeps, self.best_amps):
            if charge:
                self.charge(1)
            r = simulate_batch(self.model, P, np.array([a]), sw.protocol, self.settings.scheme,
                               self.settings.threads, check=False)
            out.append(r.spike_times(0))
        return out


# ---------------------------------------------------------------------- driver


def _grad_scheme(model: str, scheme: str) -> str:
    """The map whose exact gradients the gradient optimisers use under ``scheme``: the model's
    registry says (the fit's own map; ``resolved`` under ``euler``, whose spike times are pinned
    to the grid: derivative 0 almost everywhere)."""
    return get_model(model).gradient_map(scheme).scheme


def _warm_up(model: str, scheme: str, threads: int, optimizer: str = "cmaes") -> None:
    """Compile (or load from numba's cache) the kernels, and import torch/Norse for the
    gradient optimisers, before the meter starts (compilation is not part of a fit's cost)."""
    m = get_model(model)
    P = m.spec.vector({})[None, :]
    proto = StepProtocol(delay_ms=1.0, duration_ms=2.0, t_stop_ms=4.0, dt_ms=0.1)
    simulate_batch(model, P, np.array([100.0]), proto, scheme, threads, max_spikes=2)
    if optimizer in ("snn", "direct"):
        from ..sim import grad

        grad.spike_times_and_jacobian(model, P, np.array([100.0]), proto, threads, max_spikes=2,
                                      scheme=_grad_scheme(model, scheme))
    if optimizer == "snn":
        import norse.torch  # noqa: F401  (slow first import)
    if optimizer == "cmaes":
        from .optimizers import cmaes  # noqa: F401  (pycma: about 0.4 s to import)
    from ..metrics import gamma_factor

    gamma_factor([np.array([1.0])], [np.array([1.0])], [4.0])


@lru_cache(maxsize=1)
def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


@lru_cache(maxsize=None)
def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def provenance(settings: FitSettings) -> dict:
    return {
        "snnfit_version": __version__,
        "git_commit": _git_commit(),
        "threads": settings.threads,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numba": _version("numba"),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "cma": _version("cma"),
        "norse": _version("norse"),
        "command": " ".join(sys.argv) if sys.argv else None,
        "pid": os.getpid(),
    }


def param_error(space: ReducedSpace, params: dict, target: Target, settings: FitSettings):
    """Normalised errors of the identifiable parameters (synthetic targets of this model).

    ``recorded`` current: ``|fit - truth| / (upper - lower)`` for every parameter the scheme
    uses. ``search`` current (scaling invariance): the same for parameters outside the
    scaling group, and ``|ratio_fit / ratio_truth - 1|`` for each group member divided by C
    (``gL/C`` is ``1/tau_m``), since only those ratios are determined.
    """
    truth = target.truth
    if not truth or truth.get("model") != settings.model:
        return None
    spec = get_model(settings.model).spec
    tp = spec.complete(truth.get("params", {}))
    out = {}
    group = set(spec.scaling_group) if settings.current == "search" else set()
    unused = get_model(settings.model).scheme(settings.scheme).unused
    for i, name in enumerate(spec.names):
        if name in unused:  # no role in the fit's map (AdEx Vpeak outside euler)
            continue
        if name in group:
            if name == "C":
                continue
            rt = tp[name] / tp["C"]
            rf = params[name] / params["C"]
            out[f"{name}/C"] = abs(rf / rt - 1.0) if rt != 0 else abs(rf - rt)
            continue
        span = spec.params[i].upper - spec.params[i].lower
        out[name] = abs(params[name] - tp[name]) / span
    if settings.current == "search" and "gL" in spec.names:
        out["tau_m"] = abs((params["C"] / params["gL"]) / (tp["C"] / tp["gL"]) - 1.0) \
            if params["gL"] > 0 and tp["gL"] > 0 else None
    return out


class ProgressBar:
    """A tqdm bar on stderr of the forward-equivalents spent (capped at the budget), with the
    best loss and its Gamma; a :class:`FitProblem` progress hook."""

    def __init__(self, budget: int, desc: str):
        from tqdm import tqdm

        self.budget = budget
        self.bar = tqdm(total=budget, unit="sim", desc=desc, file=sys.stderr,
                        dynamic_ncols=True)
        self._best = None

    def __call__(self, problem: FitProblem) -> None:
        best = (problem.best_loss, problem.best_gamma)
        if best != self._best:
            self._best = best
            g = problem.best_gamma
            self.bar.set_postfix(loss=f"{problem.best_loss:.4g}",
                                 gamma="-" if g is None else f"{g:.3f}", refresh=False)
        self.bar.update(min(problem.forward_equivalents, self.budget) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def run_fit(target_path: str, settings: FitSettings) -> FitResult:
    """Run one fit; its :class:`FitResult` (``to_json()`` is the record ``snnfit fit`` writes)."""
    from . import optimizers, refine
    from ..metrics import all_metrics
    from ..sim.simulate import set_threads

    settings.check()
    target = load_target(target_path)
    if settings.sweeps:
        unknown = [s for s in settings.sweeps if s not in target.ids]
        if unknown:
            raise UserError(f"--sweeps: unknown sweep(s) {', '.join(unknown)} in "
                            f"{target_path} (available: {', '.join(target.ids)})")
        target = subset_sweeps(target, settings.sweeps)
    target, left_out = fittable_sweeps(target)
    for sw in left_out:
        print(left_out_notice(str(target_path), target.provenance.get("cell_id") or "-", sw.id,
                              sw.quality), file=sys.stderr)
    set_threads(settings.threads)
    space = build_space(settings.model, settings.dim, settings.scheme, settings.current,
                        settings.bounds, settings.fix, settings.base, settings.projection_seed,
                        settings.threads, settings.box)
    _warm_up(settings.model, settings.scheme, settings.threads, settings.optimizer)
    run = optimizers.get(settings.optimizer)
    opt_settings = settings.optimizer_settings or optimizers.settings_class(settings.optimizer)()
    bar = (ProgressBar(settings.budget, f"fit {settings.optimizer}") if settings.progress
           else None)
    refine.warm_up(settings.model, settings.scheme, refine.resolve(settings.refine),
                   settings.threads)
    meter = EnergyMeter(watts_per_core=settings.watts_per_core)
    meter.start()
    problem = FitProblem(space, target, refine.optimizer_settings(settings), meter,
                         progress=bar)
    staged = uses_stages(settings.loss, settings.optimizer)
    try:
        if staged:
            extra = run_staged(problem, run, opt_settings, problem.stage_settings,
                               settings.loss)
        else:
            extra = run(problem, opt_settings) or {}
        if problem.best_z is None:
            raise UserError("the optimiser evaluated no candidate (budget too small?)")
        if settings.refine:
            extra = {**extra, "refine": refine.run(problem, settings)}
        problem.score_bests()
        trains = problem.best_trains()
        reading = meter.stop()
    finally:
        if bar is not None:
            bar.close()
    P = space.to_params(problem.best_z[None, :])[0]
    if settings.box != DEFAULT_BOX:  # voltages at a bound: move along the exact invariance
        P, shift = space.shift_inside(P, AT_BOUND_FRACTION)
        if shift:
            extra = {**extra, "voltage_shift_mV": shift}
    params = dict(zip(space.names, [float(x) for x in P]))
    metrics = all_metrics(trains, [sw.times for sw in problem.sweeps],
                          [sw.protocol.t_stop_ms for sw in problem.sweeps],
                          [sw.protocol.delay_ms for sw in problem.sweeps])
    status = "ok" if problem.best_loss < 1e6 else "failed"
    return FitResult(
        target=str(target_path),
        target_kind=target.kind,
        model=settings.model,
        scheme=settings.scheme,
        dim=settings.dim,
        k=space.k,
        optimizer=settings.optimizer,
        seed=settings.seed,
        current=settings.current,
        budget=settings.budget,
        status=status,
        loss=problem.best_loss,
        params=params,
        sweep_ids=[sw.id for sw in problem.sweeps],
        protocols=[sw.protocol.to_dict() for sw in problem.sweeps],
        amplitude_pA=problem.best_amps,
        spike_times_ms=[[float(t) for t in tr] for tr in trains],
        target_spike_times_ms=[[float(t) for t in sw.times] for sw in problem.sweeps],
        **metrics,
        param_error=param_error(space, params, target, settings),
        forward_equivalents=int(problem.forward_equivalents),
        candidates=int(problem.candidates),
        wall_s=reading.wall_s,
        cpu_s=reading.cpu_s,
        joules=reading.joules,
        energy_source=reading.energy_source,
        energy_note=getattr(meter, "fallback_reason", None),
        history=problem.history,
        space=space.describe(),
        optimizer_info=extra,
        provenance=provenance(settings),
        loss_name=settings.loss if staged else "times",
        at_bound=at_bound(space.free_names, dict(zip(space.names, space.to_unit(P)))),
    )
