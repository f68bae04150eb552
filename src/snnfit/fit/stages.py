r"""The staged loss: first the firing pattern, then the spike times.

The spike-time loss (:mod:`snnfit.loss`: ordered pairs plus a count penalty) has many basins:
a burst matched one spike off costs as much as a wrong pattern, so a search can settle on a
train with the right count and the wrong pattern (a tonic train where the truth bursts). The
staged loss (``--loss staged``) searches in two stages, each with its own objective:

1. ``pattern``: the firing pattern of every sweep, the terms of the study's held-out pattern
   score (:func:`snnfit.metrics.pattern_terms`, here in their vectorised form
   :func:`snnfit.loss.batch_pattern_terms`): the spike count in the step, the ISI profile
   (the intervals paired in order, burst structure included) and the first-spike latency,
   each in ``[0, 1]``. Per sweep the weighted mean
   :math:`(w_c\,\mathrm{count} + w_i\,\mathrm{isi} + w_l\,\mathrm{latency}) / (w_c + w_i + w_l)`,
   averaged over the sweeps (dimensionless, 0 = the same pattern). The optimiser runs on it
   until ``pattern_fraction`` of the budget is spent.
2. ``times``: the spike-time loss, the optimiser started again at the best point of the
   pattern stage with the smaller step ``times_sigma0`` and local restarts (every restart at
   that point), for the rest of the budget. The fit's result (its ``loss``, parameters and
   metrics) is the best point of this stage.

The switch happens at a fixed share of the budget (:class:`StageSettings`), so equal budgets
stay equal: both stages are charged to ``--budget`` like any evaluation. The fit history
shows the stages: every row has a ``stage`` key (``pattern`` or ``times``), and its
``best_loss`` is the best of that stage's objective (dimensionless in the pattern stage,
ms^2 in the times stage).

The staged loss needs no gradient; the gradient optimisers (``direct``, ``snn``) always
minimise the spike-time loss (their record says ``loss_name: times``). ``--loss times`` is the
earlier behaviour: the spike-time loss throughout, one stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import UserError
from ..loss import batch_pattern_terms

#: the stages' objectives
PATTERN, TIMES = "pattern", "times"
#: the losses a fit may minimise (``--loss``)
LOSSES = ("staged", "times")
DEFAULT_LOSS = "times"
#: optimisers that take the staged loss (the others minimise the spike-time loss)
STAGED_OPTIMIZERS = ("cmaes", "random")
#: a failed evaluation in the pattern stage: above every working set's pattern loss (<= 1)
PATTERN_FAIL_LOSS = 2.0


@dataclass(frozen=True)
class StageSettings:
    #: share of the budget spent in the pattern stage
    pattern_fraction: float = 0.5
    #: weights of the count, ISI-profile and latency terms in the pattern stage
    count_weight: float = 1.0
    isi_weight: float = 1.0
    latency_weight: float = 1.0
    #: CMA-ES step of the times stage (fraction of the unit box), started at the pattern
    #: stage's best point
    times_sigma0: float = 0.05

    def check(self) -> None:
        if not 0.0 < self.pattern_fraction < 1.0:
            raise UserError(f"pattern_fraction: expected a share in (0, 1), got "
                            f"{self.pattern_fraction!r}")
        w = (self.count_weight, self.isi_weight, self.latency_weight)
        if min(w) < 0 or sum(w) <= 0:
            raise UserError(f"pattern weights: expected >= 0 with a positive sum, got {w}")
        if not 0.0 < self.times_sigma0 <= 1.0:
            raise UserError(f"times_sigma0: expected a step in (0, 1], got "
                            f"{self.times_sigma0!r}")


def pattern_loss(times, n_in_step, target_times, protocol, settings: StageSettings):
    """The pattern stage's loss of ``B`` simulations of one sweep, shape ``(B,)``: the
    weighted mean of :func:`snnfit.loss.batch_pattern_terms` in the protocol's step window."""
    terms = batch_pattern_terms(times, n_in_step, target_times, protocol.delay_ms,
                                protocol.stim_end_ms)
    w = np.array([settings.count_weight, settings.isi_weight, settings.latency_weight])
    return terms @ w / w.sum()


def pattern_fail_loss(count_distance) -> np.ndarray:
    """The pattern stage's loss of failed evaluations: :data:`PATTERN_FAIL_LOSS` plus
    ``d / (d + 1)`` of the count distance ``d``, so failures still rank by how close they
    came (the stage's counterpart of :func:`snnfit.loss.fail_loss`)."""
    d = np.maximum(np.asarray(count_distance, dtype=np.float64), 1.0)
    return PATTERN_FAIL_LOSS + d / (d + 1.0)


def uses_stages(loss: str, optimizer: str) -> bool:
    """True if a fit with this loss and optimiser runs the two stages."""
    return loss == "staged" and optimizer in STAGED_OPTIMIZERS


def run_staged(problem, run, opt_settings, settings: StageSettings) -> dict:
    """Run the optimiser ``run`` through the two stages (module docstring); its
    ``optimizer_info`` per stage, and where each stage ended."""
    settings.check()
    budget = problem.budget
    first_end = int(round(settings.pattern_fraction * budget))
    problem.begin_stage(PATTERN, first_end)
    info_1 = run(problem, opt_settings) or {}
    z1 = problem.best_z
    pattern_best = problem.best_loss
    pattern_spent = int(problem.forward_equivalents)
    problem.begin_stage(TIMES, budget, start_z=z1)
    info_2 = run(problem, _times_settings(opt_settings, settings)) or {}
    return {"stages": [
        {"stage": PATTERN, "simulations": pattern_spent, "best_loss": float(pattern_best),
         **info_1},
        {"stage": TIMES, "simulations": int(problem.forward_equivalents - pattern_spent),
         "best_loss": float(problem.best_loss), **info_2}],
        "restarts": int(info_1.get("restarts", 0)) + int(info_2.get("restarts", 0))}


def _times_settings(opt_settings, settings: StageSettings):
    """The optimiser's settings in the times stage: CMA-ES local (smaller step, restarts at
    the start point, no portfolio); other optimisers unchanged."""
    names = getattr(opt_settings, "__dataclass_fields__", {})
    if "sigma0" in names and "restart_from" in names:
        return replace(opt_settings, sigma0=settings.times_sigma0, restart_from="start",
                       screen=0)
    return opt_settings
