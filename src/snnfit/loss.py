"""The fit loss, defined once (the fit engine and the gradient methods both use it).

Per sweep ``s`` with target times ``T`` (``n_t`` spikes) and model times ``M`` (``n_m``
spikes, every spike of the sweep, ms):

    L_s = mean_{i < min(n_m, n_t)} (M_i - T_i)^2  +  lambda * |n_m - n_t|

(the mean is 0 when there is no pair), ``lambda = count_penalty_ms ** 2`` (default 50 ms, so
2500 ms^2 per missing or extra spike). The loss of a parameter set is the mean of ``L_s``
over sweeps, in ms^2.

A parameter set whose simulation or current search fails (blow-up, spontaneous firing,
silent or infeasible search) gets the finite penalty ``FAIL_LOSS_MS2 + lambda * d`` where
``d >= 1`` is its count distance to the target, so failures still rank by how close they came;
never NaN, never an exception.
"""

from __future__ import annotations

import numpy as np

DEFAULT_COUNT_PENALTY_MS = 50.0
#: base loss of a failed evaluation (ms^2), above any loss of a working set in a 1-3 s sweep
FAIL_LOSS_MS2 = 1.0e7


def sweep_loss(times: np.ndarray, counts: np.ndarray, target: np.ndarray,
               count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS) -> np.ndarray:
    """Loss of one sweep for a batch: ``times (B, S)`` (NaN padded), ``counts (B,)``.

    ``S`` must be at least ``len(target)`` (only matched pairs are read).
    """
    times = np.asarray(times, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64)
    target = np.asarray(target, dtype=np.float64)
    B = times.shape[0]
    n_t = target.size
    lam = count_penalty_ms ** 2
    out = lam * np.abs(counts - n_t).astype(np.float64)
    if n_t == 0:
        return out
    if times.shape[1] < n_t:
        raise ValueError("times has fewer columns than the target has spikes")
    pairs = np.minimum(counts, n_t)
    d = times[:, :n_t] - target[None, :]
    mask = np.arange(n_t)[None, :] < pairs[:, None]
    sq = np.where(mask, d * d, 0.0).sum(axis=1)
    out += np.where(pairs > 0, sq / np.maximum(pairs, 1), 0.0)
    return out


def spike_time_loss(model_times_list, target_times_list,
                    count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS) -> float:
    """Loss of one parameter set: mean over sweeps of :func:`sweep_loss`."""
    losses = []
    for m, t in zip(model_times_list, target_times_list, strict=True):
        m = np.asarray(m, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        width = max(m.size, t.size, 1)
        row = np.full((1, width), np.nan)
        row[0, : m.size] = m
        losses.append(sweep_loss(row, np.array([m.size]), t, count_penalty_ms)[0])
    return float(np.mean(losses))


def fail_loss(count_distance, count_penalty_ms: float = DEFAULT_COUNT_PENALTY_MS):
    """Penalty of failed evaluations with count distance ``d`` (at least 1 counted)."""
    d = np.maximum(np.asarray(count_distance, dtype=np.float64), 1.0)
    return FAIL_LOSS_MS2 + count_penalty_ms ** 2 * d
