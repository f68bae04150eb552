r"""The spike-time fit loss, defined once (the fit engine and the gradients both use it).

Per sweep ``s`` with target times :math:`T` (:math:`n_t` spikes) and model times :math:`M`
(:math:`n_m` spikes: all spikes of the sweep), times in ms:

.. math::

    L_s = \frac{1}{\min(n_m, n_t)} \sum_{i < \min(n_m, n_t)} (M_i - T_i)^2
          \;+\; \lambda \, |n_m - n_t|, \qquad \lambda = (\text{count\_penalty\_ms})^2

(the first term is 0 when there is no pair); the loss of a parameter set is the mean of
:math:`L_s` over its sweeps. Units ms^2. Default ``count_penalty_ms = 50`` (an extra or missing
spike costs as much as a 50 ms error on every matched spike).

Gradient (:func:`batch_loss_grad`): the time term is differentiated exactly. The count term is
piecewise constant (true gradient 0); we give it a *surrogate* gradient: with a continuous count
:math:`\tilde n = n_m - (M_\mathrm{last} - \mathrm{const}) / \mathrm{ISI}` (one more spike per
ISI the last spike moves earlier), :math:`\lambda |\tilde n - n_t|` has

.. math::

    \partial L_s / \partial M_\mathrm{last} = \lambda \,\mathrm{sign}(n_t - n_m) / \mathrm{ISI},

where ISI is the last model inter-spike interval (``count_penalty_ms`` if the model fired only
once) and :math:`M_\mathrm{last}` is the last stored model spike. Too few spikes pull the last
spike earlier (a faster train), too many push it later; with no model spike there is nothing to
move and the surrogate is 0. It is a surrogate: it is not the derivative of the loss.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import UserError

DEFAULT_COUNT_PENALTY_MS = 50.0


def _sweep_loss(M: np.ndarray, T: np.ndarray, lam: float) -> float:
    n_m, n_t = len(M), len(T)
    n = min(n_m, n_t)
    time_term = float(np.mean((M[:n] - T[:n]) ** 2)) if n > 0 else 0.0
    return time_term + lam * abs(n_m - n_t)


def spike_time_loss(
    model_times_list: Sequence[np.ndarray],
    target_times_list: Sequence[np.ndarray],
    count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS,
) -> float:
    """The loss (ms^2) of one parameter set: mean over sweeps of :math:`L_s` (module docstring).

    ``model_times_list[s]`` holds all model spike times of sweep ``s`` (ms), sorted;
    ``target_times_list[s]`` the target's.
    """
    if len(model_times_list) != len(target_times_list):
        raise UserError(f"loss: {len(model_times_list)} model sweeps but "
                        f"{len(target_times_list)} target sweeps")
    if len(target_times_list) == 0:
        raise UserError("loss: no sweeps")
    lam = float(count_penalty_ms) ** 2
    vals = [_sweep_loss(np.asarray(M, np.float64), np.asarray(T, np.float64), lam)
            for M, T in zip(model_times_list, target_times_list)]
    return float(np.mean(vals))


def _as_batch(times, counts, targets):
    if isinstance(times, (list, tuple)):
        times = np.stack([np.asarray(t, np.float64) for t in times], axis=1)
    times = np.asarray(times, np.float64)
    if times.ndim == 2:
        times = times[:, None, :]
    counts = np.asarray(counts)
    if counts.ndim == 1:
        counts = counts[:, None]
    B, n_sw, smax = times.shape
    if counts.shape != (B, n_sw):
        raise UserError(f"loss: counts shape {counts.shape}, expected {(B, n_sw)}")
    if len(targets) != n_sw:
        raise UserError(f"loss: {n_sw} model sweeps but {len(targets)} target sweeps")
    targets = [np.asarray(T, np.float64) for T in targets]
    for s, T in enumerate(targets):
        if len(T) > smax:
            raise UserError(f"loss: sweep {s} target has {len(T)} spikes but only {smax} model "
                            "spike times are kept (raise max_spikes)")
    return times, counts.astype(np.int64), targets


def batch_loss(times, counts, targets, count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS):
    """The loss (ms^2) of ``B`` parameter sets at once, shape ``(B,)``.

    ``times``: ``(B, n_sweeps, Smax)`` (or a list of ``n_sweeps`` arrays ``(B, Smax)``, or
    ``(B, Smax)`` for one sweep), NaN or anything past the count; ``counts (B, n_sweeps)``: all
    spikes of each sweep (may exceed ``Smax``); ``targets``: ``n_sweeps`` arrays of target times.
    ``Smax`` must be at least the largest target count (every pair is then stored).
    """
    return batch_loss_grad(times, counts, targets, count_penalty_ms, grad=False)[0]


def batch_loss_grad(times, counts, targets, count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS,
                    count_surrogate: bool = True, grad: bool = True):
    """``(loss (B,), dloss/dtimes (B, n_sweeps, Smax) or None)``; count term by the surrogate.

    Shapes as in :func:`batch_loss`. The gradient is exact for the time term and the surrogate
    of the module docstring for the count term (``count_surrogate=False``: 0, the true
    derivative almost everywhere).
    """
    times, counts, targets = _as_batch(times, counts, targets)
    B, n_sw, smax = times.shape
    lam = float(count_penalty_ms) ** 2
    loss = np.zeros(B)
    g = np.zeros((B, n_sw, smax)) if grad else None
    idx = np.arange(smax)
    for s, T in enumerate(targets):
        n_t = len(T)
        n_m = counts[:, s]
        n_pair = np.minimum(n_m, n_t)
        if n_t > 0:
            d = times[:, s, :n_t] - T[None, :]
            valid = idx[None, :n_t] < n_pair[:, None]
            d = np.where(valid, d, 0.0)
            denom = np.maximum(n_pair, 1)
            loss += np.sum(d * d, axis=1) / denom
            if grad:
                g[:, s, :n_t] += 2.0 * d / denom[:, None] / n_sw
        loss += lam * np.abs(n_m - n_t)
        if grad and count_surrogate:
            rows = np.flatnonzero((n_m != n_t) & (n_m > 0))
            for b in rows:
                last = min(int(n_m[b]), smax) - 1
                isi = (times[b, s, last] - times[b, s, last - 1]) if last >= 1 else 0.0
                if not (isi > 0.0):
                    isi = float(count_penalty_ms)
                g[b, s, last] += lam * np.sign(n_t - n_m[b]) / isi / n_sw
    return loss / n_sw, g


#: base loss of a failed evaluation (ms^2), above any loss of a working set in a 1-3 s sweep
FAIL_LOSS_MS2 = 1.0e7


def fail_loss(count_distance, count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS):
    """Finite penalty of failed evaluations (blow-up, spontaneous, silent or infeasible search):
    ``FAIL_LOSS_MS2 + lambda * d`` with ``d >= 1`` the count distance to the target, so that
    failures still rank by how close they came; never NaN, never an exception."""
    d = np.maximum(np.asarray(count_distance, dtype=np.float64), 1.0)
    return FAIL_LOSS_MS2 + count_penalty_ms ** 2 * d
