"""Exact spike-time gradients of the ``resolved`` and ``resolved2`` maps, and their PyTorch
autograd function.

The models' sensitivity kernels (listed in each model's scheme registry, beside the forward
kernel of the same map) carry forward sensitivities of the state along the steps and across
the in-step resets (derivation in ``docs/gradients.md``). They return the same spike times as
the forward kernel (bit-identical) and ``dT/dp`` for every spike, parameter and the amplitude.

* :func:`spike_times_and_jacobian` (numpy): times, counts, n_in_step, status, Jacobian.
* :class:`SpikeTimes` (torch): ``times, mask = SpikeTimes.apply(params, amp, model, protocol,
  max_spikes)``; the backward pass is the vector-Jacobian product with the kernel's Jacobian.
* :func:`loss_and_grad` (numpy): the fit loss of :mod:`snnfit.loss` and its gradient with
  respect to the parameters and the per-sweep amplitudes (count term by a surrogate).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import loss as _loss
from ..errors import UserError
from .models import MODELS, get_model
from .models.base import SCHEMES, STATUS_OK, STATUS_SPONTANEOUS
from .protocol import StepProtocol, protocol_groups
from .simulate import checked_batch, set_threads

#: default number of spike times (and Jacobian rows) kept per set
DEFAULT_MAX_SPIKES = 256


def sensitivity_cost(model: str, scheme: str) -> int:
    """Forward simulations (same map and batch) one sensitivity pass of a gradient fit under
    ``scheme`` is charged: the registry's figure for the map whose gradients it uses
    (``SchemeMap.sensitivity_cost``; measurements in docs/gradients.md, "Cost")."""
    return get_model(model).gradient_map(scheme).sensitivity_cost


#: :func:`sensitivity_cost` of each model's ``resolved`` map, by model name
SENSITIVITY_COST_FORWARD_EQUIV_BY_MODEL = {
    name: m.scheme("resolved").sensitivity_cost for name, m in MODELS.items()}


def spike_times_and_jacobian(
    model: str,
    P: np.ndarray,
    amplitudes,
    protocol: StepProtocol,
    threads: int | None = 1,
    max_spikes: int = DEFAULT_MAX_SPIKES,
    check: bool = True,
    scheme: str = "resolved",
):
    """Spike times of the map of ``scheme`` and their derivatives for ``B`` parameter sets.

    ``scheme``: one with a sensitivity kernel in the model's registry (``resolved``,
    ``resolved2``; LIF and Izhikevich run their ``resolved`` map under ``resolved2``).

    ``P`` is ``(B, n_params)`` in spec order, ``amplitudes`` ``(B,)`` or a scalar (pA).
    Returns ``(times, counts, n_in_step, status, jac)``: ``times (B, max_spikes)`` ms, NaN
    padded (identical to ``simulate_batch(..., scheme)``), ``counts (B,)`` all spikes of the
    sweep, ``n_in_step (B,)``, ``status (B,)`` (codes of
    :data:`snnfit.sim.models.base.STATUS_NAMES`), ``jac (B, max_spikes, n_params + 1)``:
    ``dT_s/dp`` in ms per unit of each parameter, the last column ms/pA for the amplitude;
    zero past the count. Parameters that do not enter the map (the registry's ``unused``: AdEx
    ``Vpeak``) have zero columns. At a kink of the map (a spike appearing, a clipped theta, a
    refractory end on a step boundary) the value is the one-sided derivative of the branch
    taken.
    """
    m = get_model(model)
    entry = m.maps.get(scheme)
    if entry is None or entry.sensitivity is None:
        have = [s for s in SCHEMES if m.maps[s].sensitivity is not None]
        raise UserError(f"scheme: exact gradients need {' or '.join(have)}, got {scheme!r}")
    P, amps = checked_batch(model, P, amplitudes, check)
    B, n_p = P.shape
    max_spikes = int(max_spikes)
    if max_spikes < 1:
        raise UserError(f"max_spikes: must be >= 1, got {max_spikes}")
    set_threads(threads)
    holding = float(protocol.holding_pA)
    x0, y0, spont = m.initial_state(P, holding)
    sx0, sy0 = m.initial_state_sensitivity(P, holding)
    times = np.full((B, max_spikes), np.nan)
    counts = np.zeros(B, np.int64)
    n_win = np.zeros(B, np.int64)
    status = np.zeros(B, np.int8)
    jac = np.zeros((B, max_spikes, n_p + 1))
    entry.sensitivity(P, amps, np.ascontiguousarray(x0), np.ascontiguousarray(y0),
                      np.ascontiguousarray(sx0), np.ascontiguousarray(sy0),
                      *protocol.kernel_args(), times, counts, n_win, status, jac)
    status = np.where((status == STATUS_OK) & spont, STATUS_SPONTANEOUS, status).astype(np.int8)
    return times, counts, n_win, status, jac


def loss_and_grad(
    model: str,
    P: np.ndarray,
    amplitudes_per_sweep,
    protocols: StepProtocol | Sequence[StepProtocol],
    targets: Sequence[np.ndarray],
    count_penalty_ms: float = _loss.DEFAULT_COUNT_PENALTY_MS,
    count_surrogate: bool = True,
    threads: int | None = 1,
    max_spikes: int | None = None,
    scheme: str = "resolved",
    check: bool = True,
):
    """The fit loss (:mod:`snnfit.loss`, ms^2) and its gradient for ``B`` parameter sets.

    ``P`` is ``(B, n_params)`` (or ``(n_params,)`` for one set); ``amplitudes_per_sweep``
    ``(B, n_sweeps)`` or ``(n_sweeps,)`` (pA, one per target sweep); ``protocols`` one
    :class:`StepProtocol` for all sweeps or one per sweep; ``targets`` ``n_sweeps`` arrays of
    target spike times (ms). Returns ``(loss (B,), dloss/dP (B, n_params), dloss/damp
    (B, n_sweeps))`` (scalars/1-D for a 1-D ``P``). The time term's gradient is exact (for the
    ``resolved`` map); the count term gets the surrogate of :mod:`snnfit.loss`
    (``count_surrogate=False``: none). Cost: one sensitivity pass per sweep. ``check=False``
    skips the validation of ``P`` and the amplitudes (callers whose sets come from a fit box).
    """
    P = np.asarray(P, dtype=np.float64)
    one = P.ndim == 1
    P2 = np.atleast_2d(P)
    B, n_p = P2.shape
    targets = [np.asarray(T, np.float64) for T in targets]
    n_sw = len(targets)
    if n_sw == 0:
        raise UserError("loss_and_grad: no target sweeps")
    amps = np.asarray(amplitudes_per_sweep, np.float64)
    if amps.ndim <= 1:
        amps = np.broadcast_to(amps.reshape(-1) if amps.ndim else amps, (n_sw,))
        amps = np.broadcast_to(amps, (B, n_sw))
    if amps.shape != (B, n_sw):
        raise UserError(f"amplitudes: expected shape ({B}, {n_sw}), got {amps.shape}")
    if isinstance(protocols, StepProtocol):
        protocols = [protocols] * n_sw
    if len(protocols) != n_sw:
        raise UserError(f"protocols: expected {n_sw} (one per sweep), got {len(protocols)}")
    smax = max_spikes or max(max((len(T) for T in targets), default=1) + 1, 2)
    times = np.zeros((B, n_sw, smax))
    counts = np.zeros((B, n_sw), np.int64)
    jacs: list = [None] * n_sw
    for idx in protocol_groups(protocols):  # one sensitivity pass over a group's rows
        t, c, _, _, J = spike_times_and_jacobian(model, np.tile(P2, (len(idx), 1)),
                                                 amps[:, idx].T.reshape(-1), protocols[idx[0]],
                                                 threads=threads, max_spikes=smax,
                                                 check=check, scheme=scheme)
        for g, s in enumerate(idx):  # rows are independent, bit for bit (tests/test_grad.py)
            rows = slice(g * B, (g + 1) * B)
            times[:, s] = np.nan_to_num(t[rows], nan=0.0)
            counts[:, s] = c[rows]
            jacs[s] = J[rows]
    loss, g = _loss.batch_loss_grad(times, counts, targets, count_penalty_ms, count_surrogate)
    gP = np.zeros((B, n_p))
    gA = np.zeros((B, n_sw))
    for s in range(n_sw):
        v = np.einsum("bt,btp->bp", g[:, s], jacs[s])
        gP += v[:, :n_p]
        gA[:, s] = v[:, n_p]
    if one:
        return float(loss[0]), gP[0], gA[0]
    return loss, gP, gA


def _torch():
    import torch  # deferred: the numpy path does not need torch

    return torch


def _make_function():
    torch = _torch()

    class SpikeTimes(torch.autograd.Function):
        """``times, mask = SpikeTimes.apply(params, amp, model, protocol, max_spikes)``.

        ``params (B, n_params)`` float64 in spec order, ``amp (B,)`` float64 (pA); ``model`` a
        model name, ``protocol`` a :class:`StepProtocol` (``None``: the default), ``max_spikes``
        an int (``None``: :data:`DEFAULT_MAX_SPIKES`). Returns ``times (B, max_spikes)`` (ms,
        ``resolved`` scheme) with padded entries (past the count) set to 0.0, and ``mask
        (B, max_spikes)`` bool (True for a real spike; not differentiable). The backward pass is
        the vector-Jacobian product with the sensitivity kernel's Jacobian; padded entries get no
        gradient.
        """

        @staticmethod
        def forward(ctx, params, amp, model, protocol=None, max_spikes=None):
            protocol = protocol or StepProtocol()
            P = params.detach().cpu().numpy().astype(np.float64)
            A = amp.detach().cpu().numpy().astype(np.float64).reshape(-1)
            t, c, _, _, J = spike_times_and_jacobian(
                model, P, A, protocol, threads=None,
                max_spikes=max_spikes or DEFAULT_MAX_SPIKES)
            mask = ~np.isnan(t)
            t = np.where(mask, t, 0.0)
            ctx.save_for_backward(torch.from_numpy(J))
            ctx.n_params = P.shape[1]
            mask_t = torch.from_numpy(mask)
            ctx.mark_non_differentiable(mask_t)
            return torch.from_numpy(t).to(params.dtype), mask_t

        @staticmethod
        def backward(ctx, grad_times, grad_mask):
            (J,) = ctx.saved_tensors
            v = torch.einsum("bs,bsp->bp", grad_times.to(J.dtype), J)
            n_p = ctx.n_params
            return v[:, :n_p], v[:, n_p], None, None, None

    return SpikeTimes


def __getattr__(name):
    # SpikeTimes is built on first use so that importing snnfit.sim.grad does not import torch
    if name == "SpikeTimes":
        fn = _make_function()
        globals()["SpikeTimes"] = fn
        return fn
    raise AttributeError(name)


def spike_times_torch(params, amp, model: str, protocol: StepProtocol | None = None,
                      max_spikes: int | None = None):
    """``(times, mask)`` of :class:`SpikeTimes` (differentiable in ``params`` and ``amp``)."""
    from . import grad as _self

    return _self.SpikeTimes.apply(params, amp, model, protocol, max_spikes)


def prediction_errors(model: str, params: np.ndarray, amplitude_pA: float,
                      protocol: StepProtocol, scheme: str = "resolved",
                      rel_step: float = 1e-3, floor_ms: float = 1e-3):
    """Usefulness of the Jacobian: how well ``J d`` predicts the simulated spike-time shift.

    Each parameter that enters the Jacobian's map (the registry's; not AdEx ``Vpeak``) is
    perturbed by ``d = rel_step * max(|value|, 0.01 (upper - lower))`` (spec box), one at a
    time, in one batched simulation. Perturbations that change the spike count are skipped
    (counted). Per spike: ``|J_sp d - (T_s(p + d) - T_s(p))| / max(|T_s(p + d) - T_s(p)|,
    floor_ms)``.

    The Jacobian is the one a gradient fit under ``scheme`` uses (:meth:`Model.gradient_map`):
    ``resolved`` and ``resolved2`` their own map's. ``scheme="euler"`` documents why not Euler:
    the shift is Euler's own (spike times pinned to the grid, cut at ``Vpeak`` as in the
    papers), predicted by the resolved Jacobian (Euler's own derivative is 0 almost
    everywhere); the first ``min`` of the two counts are compared.
    Returns ``(errors (n_pairs,), n_pairs, n_skipped)``.
    """
    from .simulate import simulate_batch

    m = get_model(model)
    spec = m.spec
    jmap = m.gradient_map(scheme)
    p0 = np.asarray(params, np.float64)
    lo, hi = spec.lower(), spec.upper()
    idx = [j for j, name in enumerate(spec.names) if name not in jmap.unused]
    d = rel_step * np.maximum(np.abs(p0), 0.01 * (hi - lo))
    t, c, _, _, J = spike_times_and_jacobian(model, p0[None], amplitude_pA, protocol,
                                             max_spikes=protocol.n_steps + 1,
                                             scheme=jmap.scheme)
    n = int(c[0])
    Pp = np.repeat(p0[None], len(idx) + 1, axis=0)
    for r, j in enumerate(idx):
        Pp[r + 1, j] += d[j]
    res = simulate_batch(model, Pp, amplitude_pA, protocol, scheme, threads=None,
                         max_spikes=max(n, int(c[0]), 1), check=False)
    n = min(n, int(res.counts[0]))  # euler: its own count (its own map)
    base = res.times[0, :n]
    errs, skipped = [], 0
    for r, j in enumerate(idx):
        if res.counts[r + 1] != res.counts[0]:
            skipped += 1
            continue
        sim = res.times[r + 1, :n] - base
        pred = J[0, :n, j] * d[j]
        errs.append(np.abs(pred - sim) / np.maximum(np.abs(sim), floor_ms))
    errs = np.concatenate(errs) if errs else np.zeros(0)
    return errs, len(errs), skipped
