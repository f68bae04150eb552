"""Shared pieces of the model files: the model record and its scheme registry, status codes,
kernel conventions.

Kernel conventions (every model file follows them):

* A kernel simulates a batch of ``B`` parameter sets, each with its own step amplitude, in one
  call. Parameters arrive as a float64 matrix ``P`` of shape ``(B, n_params)`` in the order of
  the model's :class:`~snnfit.sim.params.ModelSpec`; the initial state as arrays of shape ``(B,)``.
* Time is the outer loop and the batch the inner loop (so the inner loop vectorises); ``prange``
  runs over chunks of ``CHUNK`` parameter sets; the caller sets the thread count.
* Step ``k`` covers ``[k dt, (k+1) dt)``; its input is ``holding + amplitude`` for
  ``k_on <= k < k_off`` (the main step) and ``holding + extra[k]`` otherwise: ``extra`` is the
  protocol's extra epochs (a prepulse, a test pulse: fixed currents, the same for the whole
  batch, zero derivative) as one current per step, 0 inside the main step and where no epoch
  is. The protocol's kernel arguments, ``dt, n_steps, k_on, k_off, holding, extra, t_win0,
  t_win1``, come from :meth:`snnfit.sim.protocol.StepProtocol.kernel_args`.
* Schemes: ``euler`` (0): forward Euler, reset applied at the end of the step in which the
  voltage reaches the cut (the scheme of the papers and of Brian 2). ``resolved`` (1): forward
  Euler; at a crossing the reset is applied at the linearly interpolated crossing time
  ``t_k + theta dt`` and the rest of the step, ``(1 - theta) dt``, is integrated with one Euler
  step from the reset state, so spike times move continuously with the parameters.
  ``resolved2`` (2): as ``resolved`` below a switch level near the threshold; the fast upswing
  from there to the cut is integrated in V by quadrature (AdEx). Which kernel runs which
  scheme is each model's registry (:attr:`Model.maps`); a model without a ``resolved2`` map of
  its own runs its ``resolved`` map under that name.
* Spike times (ms from the sweep start) are linearly interpolated inside the step. Outputs:
  ``times (B, max_spikes)`` (first ``max_spikes`` spikes; the rest only counted), ``counts``
  (all spikes of the sweep), ``n_win`` (spikes with ``t_win0 <= t < t_win1``: the step window),
  ``status`` (``STATUS_OK`` or ``STATUS_BLOWUP``), and optionally the state trace.
* Results do not depend on the thread count or on a set's position in the batch: each set's
  arithmetic is the same scalar sequence (no fastmath, so no reassociation or contraction).
* A sensitivity kernel runs the same map as its forward kernel (bit-identical spike times) and
  also returns ``dT/dp`` for every spike, parameter and the amplitude (``docs/gradients.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Callable, Mapping

from ...errors import UserError
from ..params import ModelSpec

STATUS_OK = 0
STATUS_SPONTANEOUS = 1
STATUS_BLOWUP = 2
STATUS_NAMES = {STATUS_OK: "ok", STATUS_SPONTANEOUS: "spontaneous", STATUS_BLOWUP: "blowup"}

SCHEMES = {"euler": 0, "resolved": 1, "resolved2": 2}

#: parameter sets per prange chunk (inner vectorised loop length)
CHUNK = 64

#: exponent cap of the AdEx exponential term (exp(300) ~ 2e130: finite, far past any cut)
EXP_CAP = 300.0


@dataclass(frozen=True)
class SchemeMap:
    """How one model runs one scheme: the discrete map's kernels and the parameters it uses.

    ``scheme``: the scheme this entry answers for (a key of :data:`SCHEMES`).
    ``runs``: the scheme whose map actually runs: ``scheme`` itself, or the map a model falls
    back to (:func:`fallback`); the forward kernel is passed the code ``SCHEMES[runs]``.
    ``kernel``: the batched forward kernel. ``sensitivity``: the sensitivity kernel of the same
    map, or None where the map has no useful exact gradient (``euler``: spike times pinned to
    the grid, derivative 0 almost everywhere). ``sensitivity_cost``: forward simulations of the
    same map and batch that one sensitivity pass is charged in fits (the measured wall-time
    ratio rounded up, ``docs/gradients.md``, "Cost"). ``gradients``: the scheme whose
    sensitivity kernel a gradient fit under this scheme uses. ``unused``: the parameters that do
    not enter this map, each with the reason (they get zero Jacobian columns, are not fitted
    and get no parameter error).
    """

    scheme: str
    runs: str
    kernel: Callable
    gradients: str
    sensitivity: Callable | None = None
    sensitivity_cost: int | None = None
    unused: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "unused", MappingProxyType(dict(self.unused)))

    @property
    def code(self) -> int:
        """The scheme code the forward kernel is passed."""
        return SCHEMES[self.runs]


def fallback(entry: SchemeMap, scheme: str) -> SchemeMap:
    """``entry``'s map answering for ``scheme`` too: same kernels, parameters and gradients."""
    return replace(entry, scheme=scheme)


def lookup(table: Mapping, key: str, what: str):
    """``table[key]``, or a one-line UserError naming ``what`` and the known keys."""
    try:
        return table[key]
    except KeyError:
        raise UserError(
            f"{what}: unknown {what} {key!r} (expected one of {', '.join(table)})"
        ) from None


def check_scheme(scheme: str) -> int:
    """The code of scheme ``scheme`` (one-line UserError if unknown)."""
    return lookup(SCHEMES, scheme, "scheme")


@dataclass(frozen=True)
class Model:
    """A model: its spec, its scheme registry and its initial-state functions.

    ``maps``: one :class:`SchemeMap` per scheme of :data:`SCHEMES` (the only place that says
    which kernels run a scheme, and which parameters enter it).
    ``initial_state(P, holding_pA) -> (x0, y0, spontaneous)`` gives the state at t = 0 (rest
    or the stable fixed point under the holding current; ``spontaneous`` marks sets without
    one); ``initial_state_sensitivity(P, holding_pA) -> (dx0/dp, dy0/dp)``, each
    ``(B, n_params + 1)``, its derivatives (the last column: the amplitude). ``state_names``
    names the two state variables for traces.
    """

    spec: ModelSpec
    maps: Mapping[str, SchemeMap]
    initial_state: Callable
    initial_state_sensitivity: Callable
    state_names: tuple[str, str]
    cut_name: str  # parameter holding the spike cut under the euler scheme

    @property
    def name(self) -> str:
        return self.spec.name

    def scheme(self, scheme: str) -> SchemeMap:
        """The registry entry of ``scheme`` (one-line UserError if unknown)."""
        check_scheme(scheme)
        return self.maps[scheme]

    def gradient_map(self, scheme: str) -> SchemeMap:
        """The entry whose sensitivity kernel a gradient fit under ``scheme`` uses."""
        return self.maps[self.scheme(scheme).gradients]


def scheme_table(*entries: SchemeMap) -> dict[str, SchemeMap]:
    """``{scheme: entry}``, checking that every scheme of :data:`SCHEMES` has exactly one entry
    and that each entry's gradients come from an entry with a sensitivity kernel."""
    table = {e.scheme: e for e in entries}
    if len(table) != len(entries) or set(table) != set(SCHEMES):
        raise ValueError(f"scheme table: expected one entry per scheme of {list(SCHEMES)}")
    for e in entries:
        if e.runs not in SCHEMES or table[e.gradients].sensitivity is None:
            raise ValueError(f"scheme table: {e.scheme}: no sensitivity kernel for its gradients")
    return table


def without_resolved2(kernel: Callable, sensitivity: Callable,
                      sensitivity_cost: int) -> dict[str, SchemeMap]:
    """The scheme table of a model with no ``resolved2`` map of its own: ``kernel`` runs
    ``euler`` and ``resolved`` (``sensitivity`` is the ``resolved`` map's), ``resolved2`` falls
    back to ``resolved``, a fit under ``euler`` uses the ``resolved`` gradients, and every
    parameter enters every map."""
    resolved = SchemeMap("resolved", "resolved", kernel, gradients="resolved",
                         sensitivity=sensitivity, sensitivity_cost=sensitivity_cost)
    return scheme_table(SchemeMap("euler", "euler", kernel, gradients="resolved"), resolved,
                        fallback(resolved, "resolved2"))
