r"""Stages of a fit: which objective is minimised, in which box, with which share of the
budget.

Two things change between stages.

**The objective** (``--loss``). The spike-time loss (:mod:`snnfit.loss`: ordered pairs plus a
count penalty) has many basins: a burst matched one spike off costs as much as a wrong
pattern, so a search can settle on a train with the right count and the wrong pattern. The
staged loss (``--loss staged``) first minimises the ``pattern`` objective: per sweep the
weighted mean of the terms of the study's held-out pattern score
(:func:`snnfit.metrics.pattern_terms`, vectorised as :func:`snnfit.loss.batch_pattern_terms`):
the spike count in the step, the ISI profile (intervals paired in order, burst structure
included) and the first-spike latency, each in ``[0, 1]``,

.. math:: (w_c\,\mathrm{count} + w_i\,\mathrm{isi} + w_l\,\mathrm{latency}) / (w_c + w_i + w_l),

averaged over the sweeps (dimensionless; 0 = the same pattern), for ``pattern_fraction`` of
the budget; then the ``times`` objective, the spike-time loss, for the rest. ``--loss times``
minimises the spike-time loss throughout.

``--loss vr`` first minimises the van Rossum loss (:func:`snnfit.loss.batch_van_rossum_sq`:
per sweep the squared van Rossum distance, filter ``vr_tau_ms``, integrated to the end of the
step and divided by the target's spike count; mean over sweeps) for ``vr_fraction`` of the
budget, then the spike-time loss. The spike-time loss steps by the count penalty wherever a
spike appears or disappears; the van Rossum distance changes continuously when a spike enters
or leaves through the end of the step, and near the truth by about 1 (in units of one
isolated spike, before the division by the count) when one appears elsewhere, against the
spike-time loss's 2500 ms^2; so near a truth whose spike count changes at tiny parameter
changes its landscape has no cliffs. With a long filter (``vr_tau_ms`` of 100 ms, longer
than most intervals) it compares something close to the firing rate in time; short filters
weigh single spike times and, like the spike-time loss, favour dropping spikes.
With ``vr_fraction = 1`` the fit minimises it throughout (its loss is then the van Rossum
loss, dimensionless).

Optional stages of ``--loss vr``, off by default (docs/fit.md, docs/fit_benchmarks.md 7.4-7.5),
run in this order between the van Rossum stage and the spike times: ``vr_fine`` (a short
filter), ``isiq`` (the intervals' distribution, :func:`snnfit.loss.batch_isi_quantile_loss`)
and ``align`` (spike times matched by dynamic programming,
:func:`snnfit.loss.batch_align_loss`); each has its share of the budget in
:class:`StageSettings` and its name in the history's ``stage``.

**The box.** The search may begin in the *core* box, the fit box intersected with the
model's frozen prior box (:meth:`snnfit.fit.space.ReducedSpace.core`: typical values, where
published presets and prior truths lie), for ``core_fraction`` of the budget, and continue
in the whole fit box from the best point so far. This matters only in a box wider than the
prior box (``--box cells``); in the default box the core is the fit box and there is no
switch. ``core_fraction`` is 0 by default (docs/fit_benchmarks.md, section 6).

The plan (:func:`plan`): ``times``: ``[times in the core, times in the fit box]``; ``staged``:
``[pattern in the core, times in the fit box]``; with ``core_fraction = 0`` (or a projected
space, which has no core) the box stays the fit box. At a switch the optimiser starts again
at the best point so far, with the smaller step ``next_sigma0`` and local restarts (every
restart at that point: CMA-ES ``restart_from="start"``). The same objective keeps its best
point across a switch; a new objective starts a new best. The fit's result (``loss``,
parameters, metrics) is the best point of the last stage.

Every stage is charged to ``--budget`` like any evaluation, so equal budgets stay equal. The
fit history shows the stages: every row has a ``stage`` key (``pattern`` or ``times``; a box
switch adds ``box``: ``core`` or ``fit``); ``best_loss`` is the best of that row's objective
(dimensionless in the pattern stage, ms^2 in the times stage). ``optimizer_info.stages`` lists
each stage's objective, box, forward-equivalents and best loss, with the optimiser's own info.

Only CMA-ES takes stages. Random search samples the box afresh in every stage, so a switch
would only discard its first stage's candidates (and handicap it against CMA-ES at equal
budget); it and the gradient optimisers (``direct``, ``snn``) minimise the spike-time loss
in the fit box throughout (their record says ``loss_name: times``). Before 2026-12-01 random
search took stages too (only ever with a non-default ``--loss``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import UserError
from ..loss import batch_pattern_terms

#: the objectives
PATTERN, TIMES, VR, VR_FINE, ALIGN, ISIQ = "pattern", "times", "vr", "vr_fine", "align", "isiq"
#: the boxes
CORE, FIT = "core", "fit"
#: the losses a fit may minimise (``--loss``)
LOSSES = ("staged", "times", "vr")
DEFAULT_LOSS = "vr"
#: optimisers that take stages (the others minimise the spike-time loss in the fit box)
STAGED_OPTIMIZERS = ("cmaes",)
#: a failed evaluation in the pattern stage: above every working set's pattern loss (<= 1)
PATTERN_FAIL_LOSS = 2.0


@dataclass(frozen=True)
class StageSettings:
    #: share of the budget of the pattern stage (``--loss staged``)
    pattern_fraction: float = 0.5
    #: share of the budget searched in the core box first (``--loss times``; 0: none)
    core_fraction: float = 0.0
    #: weights of the count, ISI-profile and latency terms of the pattern objective
    count_weight: float = 1.0
    isi_weight: float = 1.0
    latency_weight: float = 1.0
    #: CMA-ES step (fraction of the unit box) of every stage after the first, started at
    #: the best point so far
    next_sigma0: float = 0.05
    #: CMA-ES stagnation patience (generations; ``CMAESSettings.patience``) of every stage
    #: after the first, whose restarts start again at the best point with a doubled
    #: population (0: the optimiser's own ``patience``)
    next_patience: int = 0
    #: share of the budget of the van Rossum stage (``--loss vr``; 1: van Rossum throughout)
    #: and its filter time constant (ms): chosen on the tuning truths (AdEx prior seeds
    #: 310-319, fit seeds 0-2) among 0.5/10, 1.0/10, 0.5/50, 0.3/100, 0.5/100, 0.3/200
    #: (docs/fit_benchmarks.md, section 7.4)
    vr_fraction: float = 0.3
    vr_tau_ms: float = 100.0
    #: an optional second van Rossum stage with a short filter (burst structure), between
    #: the first and the spike times: its share of the budget (0: none) and filter (ms)
    vr_fine_fraction: float = 0.0
    vr_fine_tau_ms: float = 5.0
    #: an optional alignment stage (:func:`snnfit.loss.batch_align_loss`: spike times
    #: matched by dynamic programming, so a burst one spike short costs one unmatched spike)
    #: after the van Rossum stages and before the spike times: its share of the budget (0:
    #: none) and the cost of an unmatched spike (ms, squared)
    align_fraction: float = 0.0
    align_unmatched_ms: float = 50.0
    #: an optional interval-distribution stage (:func:`snnfit.loss.batch_isi_quantile_loss`:
    #: the step's intervals compared as distributions, order ignored) after the van Rossum
    #: stages and before the alignment and spike-time stages: its share of the budget (0: none)
    isiq_fraction: float = 0.0

    def check(self) -> None:
        if not 0.0 < self.pattern_fraction < 1.0:
            raise UserError(f"pattern_fraction: expected a share in (0, 1), got "
                            f"{self.pattern_fraction!r}")
        if not 0.0 <= self.core_fraction < 1.0:
            raise UserError(f"core_fraction: expected a share in [0, 1), got "
                            f"{self.core_fraction!r}")
        w = (self.count_weight, self.isi_weight, self.latency_weight)
        if min(w) < 0 or sum(w) <= 0:
            raise UserError(f"pattern weights: expected >= 0 with a positive sum, got {w}")
        if not 0.0 < self.vr_fraction <= 1.0:
            raise UserError(f"vr_fraction: expected a share in (0, 1], got "
                            f"{self.vr_fraction!r}")
        if not (0.0 <= self.vr_fine_fraction and self.vr_fraction + self.vr_fine_fraction
                <= 1.0):
            raise UserError(f"vr_fine_fraction: expected a share >= 0 with vr_fraction + "
                            f"vr_fine_fraction <= 1, got {self.vr_fine_fraction!r}")
        for name in ("align_fraction", "isiq_fraction"):
            if not (0.0 <= getattr(self, name) and self.vr_fraction + self.vr_fine_fraction
                    + self.align_fraction + self.isiq_fraction <= 1.0):
                raise UserError(f"{name}: expected a share >= 0 with vr_fraction + "
                                f"vr_fine_fraction + align_fraction + isiq_fraction <= 1, "
                                f"got {getattr(self, name)!r}")
        if not self.align_unmatched_ms > 0.0:
            raise UserError(f"align_unmatched_ms: expected a time > 0 (ms), got "
                            f"{self.align_unmatched_ms!r}")
        if not self.vr_fine_tau_ms > 0.0:
            raise UserError(f"vr_fine_tau_ms: expected a time constant > 0 (ms), got "
                            f"{self.vr_fine_tau_ms!r}")
        if not self.vr_tau_ms > 0.0:
            raise UserError(f"vr_tau_ms: expected a time constant > 0 (ms), got "
                            f"{self.vr_tau_ms!r}")
        if not (isinstance(self.next_patience, int) and self.next_patience >= 0):
            raise UserError(f"next_patience: expected an integer >= 0, got "
                            f"{self.next_patience!r}")
        if not 0.0 < self.next_sigma0 <= 1.0:
            raise UserError(f"next_sigma0: expected a step in (0, 1], got "
                            f"{self.next_sigma0!r}")


@dataclass(frozen=True)
class Stage:
    objective: str
    box: str
    fraction: float


def plan(loss: str, settings: StageSettings, has_core: bool) -> list[Stage]:
    """The stages of a fit (module docstring); one stage means no switch."""
    if loss == "staged":
        first = CORE if (has_core and settings.core_fraction > 0) else FIT
        return [Stage(PATTERN, first, settings.pattern_fraction),
                Stage(TIMES, FIT, 1.0 - settings.pattern_fraction)]
    if loss == VR:
        out = [Stage(VR, FIT, settings.vr_fraction)]
        if settings.vr_fine_fraction > 0:
            out.append(Stage(VR_FINE, FIT, settings.vr_fine_fraction))
        if settings.isiq_fraction > 0:
            out.append(Stage(ISIQ, FIT, settings.isiq_fraction))
        if settings.align_fraction > 0:
            out.append(Stage(ALIGN, FIT, settings.align_fraction))
        rest = (1.0 - settings.vr_fraction - settings.vr_fine_fraction
                - settings.align_fraction - settings.isiq_fraction)
        if rest > 1e-12:
            out.append(Stage(TIMES, FIT, rest))
        return out
    if has_core and settings.core_fraction > 0:
        return [Stage(TIMES, CORE, settings.core_fraction),
                Stage(TIMES, FIT, 1.0 - settings.core_fraction)]
    return [Stage(TIMES, FIT, 1.0)]


def pattern_loss(times, n_in_step, target_times, protocol, settings: StageSettings):
    """The pattern objective of ``B`` simulations of one sweep, shape ``(B,)``: the weighted
    mean of :func:`snnfit.loss.batch_pattern_terms` in the protocol's step window."""
    terms = batch_pattern_terms(times, n_in_step, target_times, protocol.delay_ms,
                                protocol.stim_end_ms)
    w = np.array([settings.count_weight, settings.isi_weight, settings.latency_weight])
    return terms @ w / w.sum()


def pattern_fail_loss(count_distance) -> np.ndarray:
    """The pattern objective of failed evaluations: :data:`PATTERN_FAIL_LOSS` plus
    ``d / (d + 1)`` of the count distance ``d``, so failures still rank by how close they
    came (the counterpart of :func:`snnfit.loss.fail_loss`)."""
    d = np.maximum(np.asarray(count_distance, dtype=np.float64), 1.0)
    return PATTERN_FAIL_LOSS + d / (d + 1.0)


def uses_stages(loss: str, optimizer: str) -> bool:
    """True if a fit with this loss and optimiser runs through :func:`run_staged`."""
    return optimizer in STAGED_OPTIMIZERS


def run_staged(problem, run, opt_settings, settings: StageSettings, loss: str) -> dict:
    """Run the optimiser ``run`` through the stages of :func:`plan`; its ``optimizer_info``
    (a single stage: the optimiser's own; several: one entry per stage under ``stages``)."""
    settings.check()
    fit_space = problem.space
    core = fit_space.core()
    stages = plan(loss, settings, core is not None)
    if len(stages) == 1:
        if stages[0].objective != problem.stage:
            problem.begin_stage(stages[0].objective, problem.budget)
        return run(problem, opt_settings) or {}
    budget = problem.budget
    out, end, spent = [], 0.0, 0
    for i, st in enumerate(stages):
        end += st.fraction
        space = core if st.box == CORE else fit_space
        start = None
        if i and problem.best_z is not None:
            start = space.to_reduced(problem.space.to_params(problem.best_z[None, :]))[0]
        limit = budget if i == len(stages) - 1 else int(round(end * budget))
        problem.begin_stage(st.objective, limit, start_z=start, space=space)
        problem.box = st.box
        if problem.exhausted and start is not None:
            # the earlier stages' populations spent this stage's budget too (a budget of
            # about one generation): score the start point, so the objective has a best
            info = {"start_only": True}
            problem.evaluate(start[None, :])
        else:
            info = run(problem, opt_settings if i == 0 else _next_settings(opt_settings,
                                                                            settings)) or {}
        out.append({"stage": st.objective, "box": st.box,
                    "simulations": int(problem.forward_equivalents - spent),
                    "best_loss": float(problem.best_loss), **info})
        spent = int(problem.forward_equivalents)
    problem.limit = None  # the whole budget again: a --refine after the stages spends the rest
    return {"stages": out, "restarts": int(sum(int(s.get("restarts", 0)) for s in out))}


def _next_settings(opt_settings, settings: StageSettings):
    """The optimiser's settings after a switch: CMA-ES local (smaller step, restarts at the
    start point, no portfolio); other optimisers unchanged."""
    names = getattr(opt_settings, "__dataclass_fields__", {})
    if "sigma0" in names and "restart_from" in names:
        out = replace(opt_settings, sigma0=settings.next_sigma0, restart_from="start",
                      screen=0)
        if settings.next_patience and "patience" in names:
            out = replace(out, patience=int(settings.next_patience))
        return out
    return opt_settings
