"""Exact spike-time gradients of the ``resolved`` scheme, and their PyTorch autograd function.

The models' sensitivity kernels (``_sens_kernel`` beside each forward ``_kernel``) run the
``resolved`` map and carry forward sensitivities of the state along the steps and across the
in-step resets (derivation in ``docs/gradients.md``). They return the same spike times as the
forward kernel (bit-identical) and ``dT/dp`` for every spike, parameter and the amplitude.

* :func:`spike_times_and_jacobian` (numpy): times, counts, n_in_step, status, Jacobian.
* :class:`SpikeTimes` (torch): ``times, mask = SpikeTimes.apply(params, amp, model, protocol,
  max_spikes)``; the backward pass is the vector-Jacobian product with the kernel's Jacobian.
* :func:`loss_and_grad` (numpy): the fit loss of :mod:`snnfit.loss` and its gradient with
  respect to the parameters and the per-sweep amplitudes (count term by a surrogate).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import loss as _loss
from .errors import UserError
from .models import adex, get_model, izhikevich, lif
from .models.base import STATUS_OK, STATUS_SPONTANEOUS
from .protocol import StepProtocol
from .simulate import check_params_matrix, set_threads

#: default number of spike times (and Jacobian rows) kept per set
DEFAULT_MAX_SPIKES = 256

#: Cost of one sensitivity pass (all spike times, all parameters and the amplitude) in forward
#: simulations of the same batch, rounded up from the measured wall-time ratio (see
#: ``benchmarks/gradient.py`` and ``docs/gradients.md``). Set from the measurement below.
SENSITIVITY_COST_FORWARD_EQUIV = 5

_SENS = {
    mod.MODEL.name: (mod._sens_kernel, mod.initial_state_sensitivity)
    for mod in (adex, izhikevich, lif) if hasattr(mod, "_sens_kernel")
}


def spike_times_and_jacobian(
    model: str,
    P: np.ndarray,
    amplitudes,
    protocol: StepProtocol,
    threads: int | None = 1,
    max_spikes: int = DEFAULT_MAX_SPIKES,
    check: bool = True,
):
    """Spike times of the ``resolved`` scheme and their derivatives for ``B`` parameter sets.

    ``P`` is ``(B, n_params)`` in spec order, ``amplitudes`` ``(B,)`` or a scalar (pA).
    Returns ``(times, counts, n_in_step, status, jac)``: ``times (B, max_spikes)`` ms, NaN
    padded (identical to ``simulate_batch(..., scheme="resolved")``), ``counts (B,)`` all
    spikes of the sweep, ``n_in_step (B,)``, ``status (B,)`` (codes of
    :data:`snnfit.models.base.STATUS_NAMES`), ``jac (B, max_spikes, n_params + 1)``:
    ``dT_s/dp`` in ms per unit of each parameter, the last column ms/pA for the amplitude;
    zero past the count. Parameters that do not enter the map (AdEx ``Vpeak``) have zero
    columns. At a kink of the map (a spike appearing, a clipped theta, a refractory end on a
    step boundary) the value is the one-sided derivative of the branch taken.
    """
    m = get_model(model)
    if model not in _SENS:
        raise UserError(f"model: no sensitivity kernel for {model!r}")
    kern, init_sens = _SENS[model]
    P = np.ascontiguousarray(P, dtype=np.float64)
    n_p = len(m.spec.params)
    if P.ndim != 2 or P.shape[1] != n_p:
        raise UserError(f"params: expected shape (B, {n_p}), got {P.shape}")
    B = P.shape[0]
    amps = np.ascontiguousarray(np.broadcast_to(np.asarray(amplitudes, np.float64), (B,)))
    if check:
        check_params_matrix(model, P)
        if not np.all(np.isfinite(amps)):
            raise UserError("amplitude_pA: expected finite numbers")
    max_spikes = int(max_spikes)
    if max_spikes < 1:
        raise UserError(f"max_spikes: must be >= 1, got {max_spikes}")
    set_threads(threads)
    holding = float(protocol.holding_pA)
    x0, y0, spont = m.initial_state(P, holding)
    sx0, sy0 = init_sens(P, holding)
    times = np.full((B, max_spikes), np.nan)
    counts = np.zeros(B, np.int64)
    n_win = np.zeros(B, np.int64)
    status = np.zeros(B, np.int8)
    jac = np.zeros((B, max_spikes, n_p + 1))
    kern(P, amps, np.ascontiguousarray(x0), np.ascontiguousarray(y0),
         np.ascontiguousarray(sx0), np.ascontiguousarray(sy0),
         float(protocol.dt_ms), protocol.n_steps, protocol.step_on, protocol.step_off,
         holding, float(protocol.delay_ms), float(protocol.stim_end_ms),
         times, counts, n_win, status, jac)
    status = np.where((status == STATUS_OK) & spont, STATUS_SPONTANEOUS, status).astype(np.int8)
    return times, counts, n_win, status, jac
