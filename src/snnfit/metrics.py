"""Spike-train metrics: how well a model's spike times match recorded ones.

All times are in milliseconds (ms). A *spike train* is a 1-D array of spike times in ms,
measured from the start of its sweep; it is sorted (a copy) before use, so the order you pass
does not matter. Several functions also take *sweeps*: a list of spike trains, one per sweep
(one per injected current step), with the per-sweep counts pooled as each function says.

Public functions
----------------
- :func:`gamma_factor` -- coincidence factor Gamma (Kistler et al. 1997; Jolivet et al. 2008).
- :func:`coincidence_count` -- one-to-one coincidences within +-delta (used by Gamma).
- :func:`matched_rmse` -- RMS error of spike times paired in order, and the count difference.
- :func:`van_rossum` -- van Rossum (2001) distance, exact (no time grid).
- :func:`victor_purpura` -- Victor & Purpura (1996) distance, O(n m) dynamic programme.
- :func:`latency_error_ms` -- error of the first-spike latency after stimulus onset.
- :func:`isi_error_ms` -- mean absolute error of interspike intervals paired in order.
- :func:`pattern_terms`, :func:`pattern_score` -- the held-out firing-pattern score: count,
  ISI-profile and first-spike-latency terms, each in [0, 1], and their mean (drift-proof).
- :func:`all_metrics` -- all of the above pooled over sweeps, as a JSON-safe dict.

Every value :func:`all_metrics` returns is a finite float, an int, or ``None`` (meaning
"undefined for these trains", e.g. no spike pairs to compare); never NaN or infinity.

The three inner loops (coincidence matching, van Rossum sums, Victor-Purpura programme) are
small numba kernels: pure, float64 arrays and scalars in, a scalar out. The public wrappers
validate input and raise :class:`snnfit.errors.UserError` for bad trains or parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import numba
import numpy as np

from snnfit.errors import UserError

__all__ = [
    "PATTERN_LATENCY_SCALE_MS",
    "all_metrics",
    "coincidence_count",
    "gamma_factor",
    "isi_error_ms",
    "latency_error_ms",
    "matched_rmse",
    "pattern_score",
    "pattern_terms",
    "van_rossum",
    "victor_purpura",
]


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------


def _train(x, name: str) -> np.ndarray:
    """Return ``x`` as a sorted, finite, 1-D float64 array (a copy), or raise UserError."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(
            f"{name}: expected a 1-D array of spike times in ms, got {type(x).__name__}"
        )
    if arr.ndim == 0:
        raise UserError(f"{name}: expected a 1-D array of spike times in ms, got a scalar")
    if arr.ndim != 1:
        raise UserError(f"{name}: expected a 1-D array of spike times in ms, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{name}: spike times must be finite numbers (ms); found NaN or inf")
    return np.sort(arr)


def _is_single_train(x) -> bool:
    """True if ``x`` looks like one spike train rather than a list of sweeps.

    A numpy array of any shape, an empty list/tuple, or a list/tuple of plain numbers is one
    train; a list/tuple whose elements are themselves sequences or arrays is a list of sweeps.
    """
    if isinstance(x, np.ndarray):
        return x.ndim <= 1
    if isinstance(x, (list, tuple)):
        return all(isinstance(v, (Real, np.number)) for v in x)
    return True


def _sweeps(x, name: str) -> list[np.ndarray]:
    if _is_single_train(x):
        return [_train(x, name)]
    return [_train(v, f"{name}[{k}]") for k, v in enumerate(x)]


def _paired_sweeps(model, data) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Both arguments as lists of sorted trains with the same number of sweeps."""
    single_m, single_d = _is_single_train(model), _is_single_train(data)
    if single_m != single_d:
        raise UserError(
            "model and data: pass either one spike train each or one list of sweeps each, "
            "not one of each"
        )
    ms, ds = _sweeps(model, "model"), _sweeps(data, "data")
    if len(ms) != len(ds):
        raise UserError(
            f"model and data: expected the same number of sweeps, got {len(ms)} model sweeps "
            f"and {len(ds)} data sweeps"
        )
    return ms, ds


def _per_sweep(value, n_sweeps: int, name: str, positive: bool = False) -> list[float]:
    """A scalar broadcast to every sweep, or a list with one finite number per sweep."""
    if isinstance(value, (Real, np.number)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        values = [float(value)] * n_sweeps
    else:
        try:
            values = [float(v) for v in value]
        except (TypeError, ValueError):
            raise UserError(f"{name}: expected a number (ms) or a list of numbers, one per sweep")
        if len(values) != n_sweeps:
            raise UserError(
                f"{name}: expected {n_sweeps} value(s), one per sweep, got {len(values)}"
            )
    for k, v in enumerate(values):
        if not math.isfinite(v) or (positive and v <= 0):
            need = "a finite number > 0" if positive else "a finite number"
            raise UserError(f"{name}[{k}]: expected {need} (ms), got {v}")
    return values


def _positive(value, name: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise UserError(f"{name}: expected a finite number {need}, got {value!r}")
    return v


# ---------------------------------------------------------------------------------------------
# Numba kernels (pure: sorted float64 arrays and scalars in, a scalar out)
# ---------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _coincidences_kernel(model: np.ndarray, data: np.ndarray, delta: float) -> int:
    """Maximum number of one-to-one pairs with |model_j - data_i| <= delta (sorted inputs).

    Greedy two-pointer sweep: if the two current spikes are within delta, pair them; otherwise
    drop the earlier one, which cannot pair with anything still to come.
    """
    i = 0
    j = 0
    count = 0
    n = data.shape[0]
    m = model.shape[0]
    while i < n and j < m:
        d = model[j] - data[i]
        if abs(d) <= delta:
            count += 1
            i += 1
            j += 1
        elif d < 0.0:
            j += 1
        else:
            i += 1
    return count


@numba.njit(cache=True, nogil=True)
def _exp_cross_sum_kernel(x: np.ndarray, y: np.ndarray, tau: float) -> float:
    """sum_{i,j} exp(-|x_i - y_j| / tau) for sorted x, y in O(n + m).

    Two sweeps (Houghton & Kreuz 2012): forward over pairs with y_j <= x_i, backward over pairs
    with y_j > x_i. Each keeps a running sum of exponentials anchored at the last y it passed,
    so every exponent is <= 0 and nothing overflows.
    """
    n = x.shape[0]
    m = y.shape[0]
    if n == 0 or m == 0:
        return 0.0
    total = 0.0
    # forward: y_j <= x_i
    acc = 0.0
    t_acc = y[0]
    j = 0
    for i in range(n):
        while j < m and y[j] <= x[i]:
            acc = acc * math.exp(-(y[j] - t_acc) / tau) + 1.0
            t_acc = y[j]
            j += 1
        if j > 0:
            total += acc * math.exp(-(x[i] - t_acc) / tau)
    # backward: y_j > x_i
    acc = 0.0
    t_acc = y[m - 1]
    j = m - 1
    for i in range(n - 1, -1, -1):
        while j >= 0 and y[j] > x[i]:
            acc = acc * math.exp(-(t_acc - y[j]) / tau) + 1.0
            t_acc = y[j]
            j -= 1
        if j < m - 1:
            total += acc * math.exp(-(t_acc - x[i]) / tau)
    return total


@numba.njit(cache=True, nogil=True)
def _vr_batch_kernel(times, counts, target, tau, t_stop):
    """Squared van Rossum distance (to ``t_stop``, tails cut) of every row of ``times``
    against ``target`` (:func:`snnfit.loss.batch_van_rossum_sq`); unstored spikes add 1."""
    B, smax = times.shape
    out = np.empty(B)
    yy = _exp_cross_sum_kernel(target, target, tau)
    ty = 0.0
    for j in range(target.shape[0]):
        ty += math.exp(-(t_stop - target[j]) / tau)
    for b in range(B):
        n = 0
        lim = min(counts[b], smax)
        while n < lim and times[b, n] <= t_stop:
            n += 1
        x = times[b, :n]
        tx = 0.0
        for i in range(n):
            tx += math.exp(-(t_stop - x[i]) / tau)
        d2 = (_exp_cross_sum_kernel(x, x, tau) + yy - 2.0 * _exp_cross_sum_kernel(x, target, tau)
              - (tx - ty) ** 2)
        if counts[b] > smax and lim == n:
            d2 += counts[b] - smax
        out[b] = max(d2, 0.0)
    return out


@numba.njit(cache=True, nogil=True)
def _victor_purpura_kernel(a: np.ndarray, b: np.ndarray, q: float) -> float:
    """Victor-Purpura distance by the O(n m) dynamic programme, two rows of memory.

    G[i, j] = min(G[i-1, j] + 1, G[i, j-1] + 1, G[i-1, j-1] + q |a_i - b_j|),
    G[i, 0] = i, G[0, j] = j; the distance is G[n, m].
    """
    n = a.shape[0]
    m = b.shape[0]
    prev = np.empty(m + 1)
    cur = np.empty(m + 1)
    for j in range(m + 1):
        prev[j] = j
    for i in range(1, n + 1):
        cur[0] = i
        ai = a[i - 1]
        for j in range(1, m + 1):
            best = prev[j] + 1.0
            alt = cur[j - 1] + 1.0
            if alt < best:
                best = alt
            alt = prev[j - 1] + q * abs(ai - b[j - 1])
            if alt < best:
                best = alt
            cur[j] = best
        prev, cur = cur, prev
    return prev[m]


# ---------------------------------------------------------------------------------------------
# Gamma coincidence factor
# ---------------------------------------------------------------------------------------------


def coincidence_count(model, data, delta_ms: float = 2.0) -> int:
    """Number of coincidences between two spike trains (ms), matched one to one.

    A model spike and a data spike coincide if ``|t_model - t_data| <= delta_ms``. Each data
    spike takes part in at most one coincidence and so does each model spike. The count is the
    size of a *maximum* matching, found by a greedy in-order two-pointer sweep over the sorted
    trains: pair the two current spikes if they are within ``delta_ms``, else skip the earlier
    one. For sorted trains and this interval rule the greedy matching is optimal (an exchange
    argument: the earlier spike can pair with nothing that comes later, and pairing the two
    earliest compatible spikes never blocks a larger matching); the tests check it against a
    general maximum bipartite matching.
    """
    delta = _positive(delta_ms, "delta_ms")
    return int(_coincidences_kernel(_train(model, "model"), _train(data, "data"), delta))


def gamma_factor(model, data, t_stop_ms, delta_ms: float = 2.0) -> float | None:
    r"""Gamma coincidence factor between model and data spike trains.

    Definition (Kistler et al. 1997, J. Neurosci. Methods / Neural Comput. 9:1015;
    Jolivet et al. 2008, J. Neurosci. Methods 169:417, eq. 1):

    .. math::

        \Gamma = \frac{N_\mathrm{coinc} - \langle N_\mathrm{coinc} \rangle}
                      {\tfrac12 (1 - 2 \nu \Delta)(N_\mathrm{data} + N_\mathrm{model})},
        \qquad \langle N_\mathrm{coinc} \rangle = 2 \nu \Delta N_\mathrm{data},
        \qquad \nu = N_\mathrm{model} / T,

    with :math:`\Delta` = ``delta_ms`` (ms), :math:`T` the recording duration (ms) and
    :math:`N_\mathrm{coinc}` from :func:`coincidence_count` (one-to-one matching within
    :math:`\pm\Delta`). :math:`\langle N_\mathrm{coinc}\rangle` is the expected number of
    coincidences of the data with a Poisson train at the *model's* rate :math:`\nu`, as in
    Jolivet et al. (2008); some implementations use the data rate instead, which gives slightly
    different values when the two counts differ. Gamma is 1 for identical trains, about 0 for
    a model unrelated to the data, and it is not symmetric in model and data.

    Parameters
    ----------
    model, data
        One spike train each (1-D arrays, ms), or a list of trains each (one per sweep, same
        number of sweeps). Sweeps are pooled by summing :math:`N_\mathrm{data}`,
        :math:`N_\mathrm{model}`, :math:`N_\mathrm{coinc}` and the durations :math:`T` before
        applying the formula once (coincidences never cross sweeps).
    t_stop_ms
        Duration of each sweep in ms (spikes are times from the sweep start): a scalar used for
        every sweep, or a list with one value per sweep.
    delta_ms
        Coincidence window half-width :math:`\Delta` in ms (default 2 ms, as Jolivet et al.).

    Returns
    -------
    float or None
        - Both trains empty (over all sweeps): ``1.0``. Predicting silence for a silent
          recording is a perfect prediction, and 1 is the limit of the formula for identical
          trains, which it equals exactly for any non-empty identical pair.
        - Exactly one side empty: the formula's value, which is ``0.0`` (no coincidences, none
          expected: model silent gives :math:`\nu = 0`; data silent gives
          :math:`\langle N_\mathrm{coinc}\rangle = 0`).
        - ``None`` when :math:`2 \nu \Delta \ge 1`, i.e. the model fires at or above
          :math:`1/(2\Delta)` (250 Hz for 2 ms): the Poisson correction is then meaningless
          (the normaliser is zero or negative and can turn a bad fit into a high Gamma).
          Callers should treat ``None`` as a failed fit.
    """
    delta = _positive(delta_ms, "delta_ms")
    ms, ds = _paired_sweeps(model, data)
    t_stops = _per_sweep(t_stop_ms, len(ms), "t_stop_ms", positive=True)
    n_model = sum(m.size for m in ms)
    n_data = sum(d.size for d in ds)
    n_coinc = sum(int(_coincidences_kernel(m, d, delta)) for m, d in zip(ms, ds))
    duration = float(sum(t_stops))
    if n_model == 0 and n_data == 0:
        return 1.0
    nu = n_model / duration  # spikes per ms
    norm = 1.0 - 2.0 * nu * delta
    if norm <= 0.0:
        return None
    expected = 2.0 * nu * delta * n_data
    return float((n_coinc - expected) / (0.5 * norm * (n_data + n_model)))


# ---------------------------------------------------------------------------------------------
# Matched spike-time error
# ---------------------------------------------------------------------------------------------


def matched_rmse(model, data) -> tuple[float | None, int]:
    r"""Root-mean-square error of spike times paired in order, and the spike-count difference.

    The i-th model spike is paired with the i-th data spike (both sorted), for
    :math:`i < \min(n_\mathrm{model}, n_\mathrm{data})`; the unpaired tail is ignored here and
    shows up in the count difference instead:

    .. math::

        \mathrm{RMSE} = \sqrt{\tfrac1P \sum_{i<P} (t^\mathrm{model}_i - t^\mathrm{data}_i)^2}
        \ \mathrm{ms}, \qquad \Delta n = n_\mathrm{model} - n_\mathrm{data}.

    ``model`` and ``data`` are one spike train each (ms) or a list of trains each (one per
    sweep); with sweeps, pairs are formed within each sweep and pooled into one RMSE over all
    pairs, and ``count_diff`` is the signed sum over sweeps of
    :math:`n_\mathrm{model} - n_\mathrm{data}` (so per-sweep errors of opposite sign cancel;
    :func:`all_metrics` reports the sum of absolute differences as ``count_error``).

    Returns ``(rmse_ms, count_diff)``; ``rmse_ms`` is ``None`` when there is no pair at all
    (one or both trains empty in every sweep), never NaN.

    This is the simple "matched spike-time error" used in many fitting papers; it is
    sensitive to a missing early spike (everything after it is shifted by one), which is why
    :func:`gamma_factor` and :func:`victor_purpura` are reported alongside.
    """
    ms, ds = _paired_sweeps(model, data)
    sq = 0.0
    n_pairs = 0
    count_diff = 0
    for m, d in zip(ms, ds):
        p = min(m.size, d.size)
        if p:
            diff = m[:p] - d[:p]
            sq += float(np.dot(diff, diff))
            n_pairs += p
        count_diff += m.size - d.size
    rmse = math.sqrt(sq / n_pairs) if n_pairs else None
    return rmse, int(count_diff)


# ---------------------------------------------------------------------------------------------
# van Rossum and Victor-Purpura distances
# ---------------------------------------------------------------------------------------------


def van_rossum(a, b, tau_ms: float = 10.0, t_stop_ms: float | None = None) -> float:
    r"""van Rossum (2001) distance between two spike trains, computed exactly.

    Each train is filtered with a causal exponential, :math:`f(t) = \sum_i H(t - a_i)
    e^{-(t - a_i)/\tau}` (likewise :math:`g` for ``b``), and

    .. math::

        D^2 = \frac{2}{\tau} \int (f - g)^2 \, dt
            = \sum_{ij} e^{-|a_i - a_j|/\tau} + \sum_{ij} e^{-|b_i - b_j|/\tau}
              - 2 \sum_{ij} e^{-|a_i - b_j|/\tau}.

    **Normalisation.** This is the convention of ``elephant.spike_train_dissimilarity.
    van_rossum_distance`` (elephant 1.x): one spike against an empty train gives
    :math:`D = 1`, and :math:`D^2` of two trains with no spikes near each other is the total
    spike count. van Rossum's paper uses :math:`D^2 = \frac{1}{\tau}\int (f-g)^2 dt`, which is
    this value divided by :math:`\sqrt2`.

    The double sums are evaluated in :math:`O(n + m)` with the recursion of Houghton & Kreuz
    (2012, Network 23:48), no time grid and no discretisation error.

    Parameters
    ----------
    a, b
        Spike trains, 1-D arrays of spike times in ms.
    tau_ms
        Filter time constant :math:`\tau` in ms (> 0).
    t_stop_ms
        ``None`` (default, as elephant): integrate to infinity, so every spike's exponential
        tail counts in full. A number: integrate only up to ``t_stop_ms`` (the end of the
        recording); spikes after it are dropped and the tails are cut, which subtracts
        :math:`\bigl(\sum_i e^{-(T-a_i)/\tau} - \sum_j e^{-(T-b_j)/\tau}\bigr)^2` from
        :math:`D^2`.

    Returns
    -------
    float
        :math:`D \ge 0` (dimensionless). Tiny negative :math:`D^2` from rounding are clipped
        to 0.
    """
    tau = _positive(tau_ms, "tau_ms")
    x = _train(a, "a")
    y = _train(b, "b")
    if t_stop_ms is not None:
        t_stop = float(t_stop_ms)
        if not math.isfinite(t_stop):
            raise UserError(f"t_stop_ms: expected a finite number (ms) or None, got {t_stop_ms!r}")
        x = x[x <= t_stop]
        y = y[y <= t_stop]
    d2 = (
        _exp_cross_sum_kernel(x, x, tau)
        + _exp_cross_sum_kernel(y, y, tau)
        - 2.0 * _exp_cross_sum_kernel(x, y, tau)
    )
    if t_stop_ms is not None:
        tail = float(np.exp(-(t_stop - x) / tau).sum() - np.exp(-(t_stop - y) / tau).sum())
        d2 -= tail * tail
    return math.sqrt(max(d2, 0.0))


def victor_purpura(a, b, cost_per_ms: float = 0.1) -> float:
    r"""Victor-Purpura spike-time distance (Victor & Purpura 1996, J. Neurophysiol. 76:1310).

    The minimal total cost of turning train ``a`` into train ``b`` with the operations
    *insert a spike* (cost 1), *delete a spike* (cost 1) and *shift a spike by s ms* (cost
    :math:`q s`, :math:`q` = ``cost_per_ms`` in 1/ms). A shift is worth making only if
    :math:`q s < 2` (cheaper than delete + insert), so :math:`2/q` ms is the timescale of the
    metric (20 ms for the default 0.1/ms). ``q = 0`` gives :math:`|n_a - n_b|`.

    Computed by the standard :math:`O(n m)` dynamic programme (Victor & Purpura 1996,
    appendix); same convention as ``elephant.spike_train_dissimilarity.
    victor_purpura_distance`` with ``cost_factor = cost_per_ms / ms``. Returns a float
    :math:`\ge 0` (in units of "one spike").
    """
    q = _positive(cost_per_ms, "cost_per_ms", allow_zero=True)
    return float(_victor_purpura_kernel(_train(a, "a"), _train(b, "b"), q))


# ---------------------------------------------------------------------------------------------
# Latency and interspike-interval errors
# ---------------------------------------------------------------------------------------------


def latency_error_ms(model, data, onset_ms: float, t_stop_ms: float | None = None) -> float | None:
    r"""Error of the first-spike latency: :math:`|t^\mathrm{model}_1 - t^\mathrm{data}_1|` in ms.

    :math:`t_1` is the first spike at or after ``onset_ms`` (stimulus onset, ms from the sweep
    start); spikes before onset (spontaneous firing) are ignored. Since both latencies are
    measured from the same onset, the latency error is the difference of first-spike times.

    Empty cases (no spike at or after onset):

    - neither train spikes: ``0.0`` (both correctly predict no response);
    - one train spikes and ``t_stop_ms`` is given: the silent train's first spike is taken to
      be at ``t_stop_ms`` (its latency is censored at the end of the sweep), so the error is
      ``t_stop_ms - t_1`` of the other train, a finite penalty that grows the earlier the
      missed spike was;
    - one train spikes and ``t_stop_ms`` is None: ``None`` (undefined).
    """
    onset = float(onset_ms)
    if not math.isfinite(onset):
        raise UserError(f"onset_ms: expected a finite number (ms), got {onset_ms!r}")
    m = _train(model, "model")
    d = _train(data, "data")
    m = m[m >= onset]
    d = d[d >= onset]
    if m.size == 0 and d.size == 0:
        return 0.0
    if m.size and d.size:
        return float(abs(m[0] - d[0]))
    if t_stop_ms is None:
        return None
    t_stop = float(t_stop_ms)
    if not math.isfinite(t_stop) or t_stop < onset:
        raise UserError(
            f"t_stop_ms: expected a finite number >= onset_ms ({onset}), got {t_stop_ms!r}"
        )
    first = m[0] if m.size else d[0]
    return float(abs(t_stop - first))


def _isi_abs_diffs(m: np.ndarray, d: np.ndarray) -> np.ndarray:
    im, idd = np.diff(m), np.diff(d)
    p = min(im.size, idd.size)
    return np.abs(im[:p] - idd[:p])


def isi_error_ms(model, data) -> float | None:
    r"""Mean absolute difference of interspike intervals paired in order, in ms.

    With :math:`I_k = t_{k+1} - t_k` the intervals of each (sorted) train, the k-th model
    interval is paired with the k-th data interval for :math:`k < P = \min(n_\mathrm{model} - 1,
    n_\mathrm{data} - 1)` and the error is :math:`\frac1P \sum_k |I^\mathrm{model}_k -
    I^\mathrm{data}_k|`. It measures the firing pattern (rate and adaptation) independently of
    spike timing; missing or extra spikes are the job of the count error.

    ``model`` and ``data`` are one train each or a list of sweeps each; with sweeps, the pairs
    of all sweeps are pooled (intervals never cross sweeps). Returns ``None`` when there is no
    pair (fewer than two spikes in one of the trains of every sweep), never NaN.
    """
    ms, ds = _paired_sweeps(model, data)
    diffs = [_isi_abs_diffs(m, d) for m, d in zip(ms, ds)]
    n = sum(x.size for x in diffs)
    if n == 0:
        return None
    return float(sum(x.sum() for x in diffs) / n)


# ---------------------------------------------------------------------------------------------
# The firing-pattern score (held-out sweeps)
# ---------------------------------------------------------------------------------------------

#: latency scale of the pattern score: a first-spike error of this many ms scores 0.5
PATTERN_LATENCY_SCALE_MS = 10.0


def pattern_terms(model, data, onset_ms: float, offset_ms: float) -> dict:
    r"""The three terms of the firing-pattern score of one sweep, each in ``[0, 1]``.

    Only spikes inside the stimulus window ``[onset_ms, offset_ms)`` count (the f-I curve's
    count). With :math:`n_m, n_d` the model's and the data's spikes in the window:

    * ``count``: :math:`|n_m - n_d| / \max(n_m, n_d, 1)`.
    * ``isi``: the intervals :math:`I_k = t_{k+1} - t_k` paired in order for
      :math:`k < P = \min(n_m, n_d) - 1`, :math:`\frac1P \sum_k |I^m_k - I^d_k| / (I^m_k + I^d_k)`;
      0 when both trains have fewer than two spikes, 1 when only one of them does.
    * ``latency``: with :math:`\Delta` the difference of the first spikes in the window,
      :math:`|\Delta| / (|\Delta| + L)` with :math:`L` = :data:`PATTERN_LATENCY_SCALE_MS`
      (10 ms); 0 when neither train spikes in the window, 1 when only one does.

    Each term compares intervals or counts, never absolute times past the first spike, so a
    train that drifts by a small error per interval keeps a small score (Gamma and spike-time
    errors do not: the error accumulates over the train). Symmetric in ``model`` and ``data``.
    """
    on, off = float(onset_ms), float(offset_ms)
    if not (math.isfinite(on) and math.isfinite(off) and off > on):
        raise UserError(f"stimulus window: expected finite onset < offset (ms), got "
                        f"[{onset_ms!r}, {offset_ms!r})")
    m = _train(model, "model")
    d = _train(data, "data")
    m = m[(m >= on) & (m < off)]
    d = d[(d >= on) & (d < off)]
    nm, nd = m.size, d.size
    count = abs(nm - nd) / max(nm, nd, 1)
    if nm >= 2 and nd >= 2:
        p = min(nm, nd) - 1
        im, idd = np.diff(m)[:p], np.diff(d)[:p]
        isi = float(np.mean(np.abs(im - idd) / (im + idd)))
    else:
        isi = 0.0 if (nm < 2 and nd < 2) else 1.0
    if nm and nd:
        delta = abs(float(m[0] - d[0]))
        latency = delta / (delta + PATTERN_LATENCY_SCALE_MS)
    else:
        latency = 0.0 if (nm == 0 and nd == 0) else 1.0
    return {"count": float(count), "isi": isi, "latency": float(latency)}


def pattern_score(model_sweeps, data_sweeps, onset_ms_list, offset_ms_list) -> float:
    """The held-out firing-pattern score, in ``[0, 1]`` (0: the same pattern on every sweep).

    The mean over sweeps of the mean of the three :func:`pattern_terms` (count, ISI profile,
    first-spike latency; equal weights, fixed before any study control was run: docs/study.md).
    ``model_sweeps`` and ``data_sweeps`` are lists of trains (one per sweep); onsets and
    offsets (ms) are one per sweep or a scalar for all.
    """
    if _is_single_train(model_sweeps) or _is_single_train(data_sweeps):
        raise UserError("pattern_score: expected lists of spike trains, one per sweep")
    ms, ds = _paired_sweeps(model_sweeps, data_sweeps)
    if not ms:
        raise UserError("pattern_score: expected at least one sweep, got none")
    ons = _per_sweep(onset_ms_list, len(ms), "onset_ms_list")
    offs = _per_sweep(offset_ms_list, len(ms), "offset_ms_list")
    vals = []
    for m, d, on, off in zip(ms, ds, ons, offs):
        t = pattern_terms(m, d, on, off)
        vals.append((t["count"] + t["isi"] + t["latency"]) / 3.0)
    return float(np.mean(vals))


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------


def all_metrics(
    model_sweeps: Sequence,
    data_sweeps: Sequence,
    t_stop_ms_list,
    onset_ms_list,
    delta_ms: float = 2.0,
    tau_ms: float = 10.0,
    cost_per_ms: float = 0.1,
) -> dict:
    """All spike-train metrics of a model against data, pooled over sweeps; JSON-safe.

    Parameters
    ----------
    model_sweeps, data_sweeps
        Lists of spike trains (1-D arrays, ms), one per sweep, same length (>= 1).
    t_stop_ms_list, onset_ms_list
        Sweep duration and stimulus onset (ms), one per sweep or a scalar for all sweeps.
    delta_ms, tau_ms, cost_per_ms
        Gamma window (ms), van Rossum time constant (ms), Victor-Purpura shift cost (1/ms).

    Returns
    -------
    dict with keys (values are finite floats, ints or ``None``, never NaN or inf):

    ``gamma``
        :func:`gamma_factor` with counts and durations pooled over sweeps (``None`` if the
        model fires at >= 1/(2 delta)).
    ``spike_time_rmse_ms``
        :func:`matched_rmse` pooled over all in-order pairs of all sweeps (``None``: no pair).
    ``count_error``
        int, sum over sweeps of ``|n_model - n_data|``.
    ``van_rossum``
        mean over sweeps of :func:`van_rossum` (elephant normalisation, integrated to
        infinity, ``t_stop_ms=None``).
    ``victor_purpura``
        mean over sweeps of :func:`victor_purpura`.
    ``latency_error_ms``
        mean over the sweeps in which at least one of the two trains spikes after onset of
        :func:`latency_error_ms` with the ``t_stop_ms`` penalty for a missing first spike;
        ``None`` if neither train spikes after onset in any sweep.
    ``isi_error_ms``
        :func:`isi_error_ms` pooled over sweeps (``None``: no interval pair).
    """
    if _is_single_train(model_sweeps) or _is_single_train(data_sweeps):
        raise UserError(
            "model_sweeps and data_sweeps: expected lists of spike trains, one per sweep "
            "(wrap a single train in a list)"
        )
    ms, ds = _paired_sweeps(model_sweeps, data_sweeps)
    if not ms:
        raise UserError("model_sweeps and data_sweeps: expected at least one sweep, got none")
    n = len(ms)
    t_stops = _per_sweep(t_stop_ms_list, n, "t_stop_ms_list", positive=True)
    onsets = _per_sweep(onset_ms_list, n, "onset_ms_list")
    delta = _positive(delta_ms, "delta_ms")
    tau = _positive(tau_ms, "tau_ms")
    q = _positive(cost_per_ms, "cost_per_ms", allow_zero=True)

    gamma = gamma_factor(ms, ds, t_stops, delta)
    rmse, _ = matched_rmse(ms, ds)
    count_error = int(sum(abs(m.size - d.size) for m, d in zip(ms, ds)))
    vr = float(np.mean([van_rossum(m, d, tau) for m, d in zip(ms, ds)]))
    vp = float(np.mean([victor_purpura(m, d, q) for m, d in zip(ms, ds)]))
    lat = []
    for m, d, onset, t_stop in zip(ms, ds, onsets, t_stops):
        if np.any(m >= onset) or np.any(d >= onset):
            lat.append(latency_error_ms(m, d, onset, max(t_stop, onset)))
    latency = float(np.mean(lat)) if lat else None
    isi = isi_error_ms(ms, ds)

    out = {
        "gamma": gamma,
        "spike_time_rmse_ms": rmse,
        "count_error": count_error,
        "van_rossum": vr,
        "victor_purpura": vp,
        "latency_error_ms": latency,
        "isi_error_ms": isi,
    }
    for key, value in out.items():  # guard the promise: never NaN or inf in the output
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"all_metrics: internal error, {key} = {value}")
    return out
