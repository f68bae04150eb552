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

import numba
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


# ---------------------------------------------------------------------------------------------
# The firing-pattern loss (the first stage of the staged loss, snnfit.fit.stages)
# ---------------------------------------------------------------------------------------------


def batch_pattern_terms(times, n_in_step, target_times, onset_ms: float,
                        offset_ms: float) -> np.ndarray:
    """The three terms of :func:`snnfit.metrics.pattern_terms` (count, ISI profile, latency;
    each in ``[0, 1]``) of ``B`` model trains against one target sweep, shape ``(B, 3)``.

    ``times (B, Smax)``: each set's first ``Smax`` spike times of the sweep (NaN past its
    count), sorted; ``n_in_step (B,)``: its spikes inside ``[onset_ms, offset_ms)`` (may exceed
    what is stored); ``target_times``: the target's spike times of the sweep. The same
    definitions as :func:`~snnfit.metrics.pattern_terms`, vectorised: equal whenever the
    stored times hold the model's first ``n_d`` spikes in the window (``n_d`` the target's),
    which holds when ``Smax`` exceeds the target's spikes in and before the window. Where a
    needed interval is not stored, the ISI term counts that pair as fully different (1).
    """
    from .metrics import PATTERN_LATENCY_SCALE_MS

    on, off = float(onset_ms), float(offset_ms)
    times = np.atleast_2d(np.asarray(times, np.float64))
    B, smax = times.shape
    T = np.asarray(target_times, np.float64)
    d = T[(T >= on) & (T < off)]
    nd = d.size
    nm = np.asarray(n_in_step, np.int64).reshape(B)
    out = np.zeros((B, 3))
    out[:, 0] = np.abs(nm - nd) / np.maximum(np.maximum(nm, nd), 1)
    # the window's spikes: sorted times, so those before the onset come first
    with np.errstate(invalid="ignore"):
        pre = np.sum(times < on, axis=1)
    P = np.minimum(nm, nd) - 1  # interval pairs
    if nd >= 2:
        k = np.arange(nd - 1)
        i0 = pre[:, None] + k[None, :]
        ok = (i0 + 1 < smax) & (k[None, :] < P[:, None])
        i0c = np.minimum(i0, smax - 2) if smax >= 2 else np.zeros_like(i0)
        if smax >= 2:
            im = np.take_along_axis(times, i0c + 1, 1) - np.take_along_axis(times, i0c, 1)
        else:
            im = np.full(i0.shape, np.nan)
        idd = np.diff(d)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs(im - idd) / (im + idd)
        rel = np.where(np.isfinite(rel), rel, 1.0)  # a pair whose times are not stored
        used = k[None, :] < P[:, None]
        s = np.sum(np.where(used & ok, rel, 0.0) + np.where(used & ~ok, 1.0, 0.0), axis=1)
        isi = np.where(P >= 1, s / np.maximum(P, 1), 0.0)
    else:
        isi = np.zeros(B)
    both_few = (nm < 2) & (nd < 2)
    one_few = (nm < 2) != (nd < 2)
    out[:, 1] = np.where(both_few, 0.0, np.where(one_few, 1.0, isi))
    if nd and smax:
        first = np.take_along_axis(times, np.minimum(pre, smax - 1)[:, None], 1)[:, 0]
        delta = np.abs(first - d[0])
        lat = delta / (delta + PATTERN_LATENCY_SCALE_MS)
        lat = np.where(np.isfinite(lat) & (pre < smax), lat, 1.0)
        out[:, 2] = np.where(nm > 0, lat, 1.0)
    else:
        out[:, 2] = np.where(nm > 0, 1.0, 0.0)
    return out


# ---------------------------------------------------------------------------------------------
# The van Rossum loss (the first stage of ``--loss vr``, snnfit.fit.stages)
# ---------------------------------------------------------------------------------------------

#: base loss of a failed evaluation in the van Rossum stage (above any working set's: a
#: sweep's normalised D^2 is below (n_m + n_t)^2 / n_t, a few thousand for 1-3 s sweeps)
VR_FAIL_LOSS = 1.0e6


def batch_van_rossum_sq(times, counts, target_times, tau_ms: float, t_stop_ms: float):
    r"""The squared van Rossum distance (:func:`snnfit.metrics.van_rossum`, elephant's
    normalisation, integrated to ``t_stop_ms``) of ``B`` model trains against one target
    sweep, divided by ``max(n_t, 1)`` (``n_t`` the target's spikes up to ``t_stop_ms``), shape
    ``(B,)``.

    ``times (B, Smax)``: each set's first ``Smax`` spike times (NaN past its count), sorted;
    ``counts (B,)``: all its spikes (may exceed ``Smax``). A spike that is not stored adds 1 to
    :math:`D^2` (its value against an empty train; exact for spikes far from every other).
    The fit passes the end of the step as ``t_stop_ms``: a spike that appears at the end of
    a train appears after it and moves in continuously, so :math:`D^2` has no step there
    (the spike-time loss's count penalty does), and it varies smoothly with every spike
    time.
    """
    from .metrics import _vr_batch_kernel

    times = np.ascontiguousarray(np.atleast_2d(np.asarray(times, np.float64)))
    B, smax = times.shape
    counts = np.asarray(counts, np.int64).reshape(B)
    T = np.asarray(target_times, np.float64)
    T = np.ascontiguousarray(T[T <= t_stop_ms])
    out = _vr_batch_kernel(times, counts, T, float(tau_ms), float(t_stop_ms))
    return out / max(T.size, 1)


# ---------------------------------------------------------------------------------------------
# The alignment loss (an optional stage of ``--loss vr``, snnfit.fit.stages)
# ---------------------------------------------------------------------------------------------


def batch_align_loss(times, counts, target_times, unmatched_ms: float):
    r"""The alignment loss (ms^2) of ``B`` model trains against one target sweep, shape
    ``(B,)``: the cheapest order-preserving partial matching of model spikes :math:`M` to
    target spikes :math:`T`,

    .. math::

        A = \frac{1}{\max(n_t, 1)} \min_{\text{matchings}} \Big[ \sum_{(i, j)} (M_i - T_j)^2
            + c \, (u_m + u_t) \Big], \qquad c = (\text{unmatched\_ms})^2,

    with :math:`u_m, u_t` the unmatched model and target spikes (a squared-cost
    Victor-Purpura distance, by dynamic programming in :math:`O(n_m n_t)` per train). Unlike
    the ordered pairing of :func:`batch_loss`, a spike missing from the first burst costs one
    unmatched spike, not a shift of every later pair by a burst period; with equal counts and
    every pair closer than :math:`\sqrt{2} \cdot` ``unmatched_ms`` it equals :func:`batch_loss`.

    ``times (B, Smax)``: each set's first ``Smax`` spike times (NaN past its count), sorted;
    ``counts (B,)``: all its spikes (may exceed ``Smax``: spikes not stored count as
    unmatched, so store at least twice the target's count for the exact value).
    """
    times = np.ascontiguousarray(np.atleast_2d(np.asarray(times, np.float64)))
    B = times.shape[0]
    counts = np.ascontiguousarray(np.asarray(counts, np.int64).reshape(B))
    T = np.ascontiguousarray(np.asarray(target_times, np.float64))
    return _align_kernel(times, counts, T, float(unmatched_ms) ** 2)


def _align_kernel_py(times, counts, T, c):
    B, smax = times.shape
    nt = T.size
    out = np.empty(B)
    D = np.empty((smax + 1, nt + 1))
    for b in range(B):
        nm = min(counts[b], smax)
        for j in range(nt + 1):
            D[0, j] = j * c
        for i in range(1, nm + 1):
            D[i, 0] = i * c
            m = times[b, i - 1]
            for j in range(1, nt + 1):
                d = m - T[j - 1]
                best = D[i - 1, j - 1] + d * d
                x = D[i - 1, j] + c
                if x < best:
                    best = x
                x = D[i, j - 1] + c
                if x < best:
                    best = x
                D[i, j] = best
        out[b] = (D[nm, nt] + (counts[b] - nm) * c) / max(nt, 1)
    return out


#: the compiled loop (the plain function stays the reference of tests/test_stage_options.py)
_align_kernel = numba.njit(cache=True, nogil=True)(_align_kernel_py)


def batch_isi_quantile_loss(times, counts, target_times, onset_ms: float, offset_ms: float):
    r"""The interval-distribution loss (dimensionless) of ``B`` model trains against one target
    sweep, shape ``(B,)``: the spikes in the step ``[onset_ms, offset_ms)``, the order of the
    intervals ignored,

    .. math::

        Q = \frac{|n_m - n_t|}{\max(n_m, n_t, 1)} + \frac{d}{1 + d}, \qquad
        d = \frac{1}{n_t - 1} \sum_{k} \big| \log q_m(p_k) - \log q_t(p_k) \big|,
        \quad p_k = \frac{k + 1/2}{n_t - 1},

    with :math:`q(p)` a train's empirical quantile of its intervals (the smallest interval
    whose share of intervals at or below it reaches ``p``: numpy's ``inverted_cdf``; the
    model's intervals floored at 1e-6 ms). When one train has fewer than two spikes in the step
    and the other two or more, the second term is 1 (0 when both have fewer). A bursting and a
    tonic train of the same count differ here at once (the short intra-burst intervals),
    whatever their order. The stage
    ``isiq`` of :mod:`snnfit.fit.stages`; ``times``/``counts`` as in
    :func:`batch_align_loss` (store at least twice the target's count).
    """
    times = np.atleast_2d(np.asarray(times, np.float64))
    B = times.shape[0]
    counts = np.asarray(counts, np.int64).reshape(B)
    T = np.asarray(target_times, np.float64)
    T = T[(T >= onset_ms) & (T < offset_ms)]
    out = np.empty(B)
    for b in range(B):
        m = times[b, :min(int(counts[b]), times.shape[1])]
        m = m[(m >= onset_ms) & (m < offset_ms)]
        c = abs(m.size - T.size) / max(m.size, T.size, 1)
        d = interval_log_distance(m, T)
        if d is None:  # fewer than two spikes in one train (or both)
            out[b] = c + (0.0 if (m.size < 2 and T.size < 2) else 1.0)
        else:
            out[b] = c + d / (1.0 + d)
    return out


def interval_log_distance(model_times, target_times) -> float | None:
    """The mean absolute difference of log intervals of two trains at the target's interval
    quantiles (:func:`batch_isi_quantile_loss`'s ``d``; ``exp(d)`` is a typical ratio of
    their intervals), or None when either train has fewer than two spikes. Pass the spikes
    of the window to compare (sorted)."""
    m = np.asarray(model_times, np.float64)
    t = np.asarray(target_times, np.float64)
    if m.size < 2 or t.size < 2:
        return None
    qt = np.log(np.sort(np.diff(t)))
    qm = np.log(np.maximum(np.sort(np.diff(m)), 1e-6))
    p = (np.arange(qt.size) + 0.5) / qt.size
    k = np.maximum(np.ceil(p * qm.size).astype(np.int64) - 1, 0)
    return float(np.mean(np.abs(qm[k] - qt)))
