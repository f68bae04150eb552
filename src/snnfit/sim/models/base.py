"""Shared pieces of the model files: the model record, status codes, kernel conventions.

Kernel conventions (every model file follows them):

* A kernel simulates a batch of ``B`` parameter sets, each with its own step amplitude, in one
  call. Parameters arrive as a float64 matrix ``P`` of shape ``(B, n_params)`` in the order of
  the model's :class:`~snnfit.sim.params.ModelSpec`; the initial state as arrays of shape ``(B,)``.
* Time is the outer loop and the batch the inner loop (so the inner loop vectorises); ``prange``
  runs over chunks of ``CHUNK`` parameter sets; the caller sets the thread count.
* Step ``k`` covers ``[k dt, (k+1) dt)``; its input is ``holding + amplitude`` for
  ``k_on <= k < k_off`` and ``holding`` otherwise.
* Schemes: ``euler`` (0): forward Euler, reset applied at the end of the step in which the
  voltage reaches the cut (the scheme of the papers and of Brian 2). ``resolved`` (1): forward
  Euler; at a crossing the reset is applied at the linearly interpolated crossing time
  ``t_k + theta dt`` and the rest of the step, ``(1 - theta) dt``, is integrated with one Euler
  step from the reset state, so spike times move continuously with the parameters.
  ``resolved2`` (2): as ``resolved`` below a switch level near the threshold; the fast upswing
  from there to the cut is integrated in V by quadrature (AdEx). A model provides it through
  ``Model.kernel_resolved2`` (same signature as ``kernel``); for a model without one (LIF: no
  upswing; Izhikevich: its upswing is resolved well at 0.1 ms) ``resolved2`` is ``resolved``.
* Spike times (ms from the sweep start) are linearly interpolated inside the step. Outputs:
  ``times (B, max_spikes)`` (first ``max_spikes`` spikes; the rest only counted), ``counts``
  (all spikes of the sweep), ``n_win`` (spikes with ``t_win0 <= t < t_win1``: the step window),
  ``status`` (``STATUS_OK`` or ``STATUS_BLOWUP``), and optionally the state trace.
* Results do not depend on the thread count or on a set's position in the batch: each set's
  arithmetic is the same scalar sequence (no fastmath, so no reassociation or contraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

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
class Model:
    """A model: its spec, its batched forward kernel and its initial-state function.

    ``initial_state(P, holding_pA) -> (x0, y0, spontaneous)`` gives the state at t = 0 (rest
    or the stable fixed point under the holding current; ``spontaneous`` marks sets without
    one). ``state_names`` names the two state variables for traces.
    """

    spec: ModelSpec
    kernel: Callable
    initial_state: Callable
    state_names: tuple[str, str]
    cut_name: str  # parameter holding the spike cut under the euler scheme
    kernel_resolved2: Callable | None = None  # kernel of the ``resolved2`` scheme, if any

    @property
    def name(self) -> str:
        return self.spec.name
