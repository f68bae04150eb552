"""Pieces shared by the models' kernels: chunking, output bookkeeping, the crossing, blow-ups.

Every function here is ``@njit(inline="always")``: numba inlines it into the calling kernel
before compiling, so a kernel runs the same operations in the same order as if the lines were
written out in it (results bit for bit the same, and speed within noise: ``snnfit bench``).
Like the kernels they serve they are pure: float64 arrays and scalars in, outputs written in
place.

numba's cache (``cache=True`` on the kernels) checks only the content of the kernel's own
source file: after editing this file (or a constant of ``base.py``) delete the cached kernels,
``src/snnfit/sim/models/__pycache__/*.nbi`` and ``*.nbc``, or they keep the old code
(``tests/test_models.py`` compares the cached LIF kernels with a fresh build to catch that).
"""

from __future__ import annotations

import math

from numba import njit

from .base import CHUNK, STATUS_BLOWUP


@njit(inline="always")
def n_chunks(B):
    """Number of chunks of ``CHUNK`` sets (the last one partial) in a batch of ``B``."""
    return (B + CHUNK - 1) // CHUNK


@njit(inline="always")
def chunk(ch, B):
    """``(lo, n)``: first batch row and number of sets of chunk ``ch``."""
    lo = ch * CHUNK
    return lo, min(B, lo + CHUNK) - lo


@njit(inline="always")
def clear_set(i, counts, n_win, status):
    """Zero the spike count, window count and status of batch row ``i``."""
    counts[i] = 0
    n_win[i] = 0
    status[i] = 0


@njit(inline="always")
def start_set(i, x, y, counts, n_win, status, trace_x, trace_y, record):
    """:func:`clear_set` and, with ``record``, the initial state ``(x, y)`` into the trace."""
    clear_set(i, counts, n_win, status)
    if record:
        trace_x[i, 0] = x
        trace_y[i, 0] = y


@njit(inline="always")
def record_step(lo, n, k, x, y, trace_x, trace_y, record):
    """With ``record``, the state ``(x, y)`` of the chunk's ``n`` sets after step ``k``."""
    if record:
        for j in range(n):
            trace_x[lo + j, k + 1] = x[j]
            trace_y[lo + j, k + 1] = y[j]


@njit(inline="always")
def crossing_theta(cut, x, xn):
    """Where in the step ``x -> xn`` the voltage reaches ``cut``, as a fraction ``theta`` of the
    step (linear interpolation); 0 if it was already at or above the cut (``theta`` outside
    ``[0, 1]``)."""
    theta = (cut - x) / (xn - x)
    if not (theta >= 0.0 and theta <= 1.0):  # already above the cut
        theta = 0.0
    return theta


@njit(inline="always")
def record_spike(i, ts, t_win0, t_win1, times, counts, n_win):
    """A spike of batch row ``i`` at ``ts`` (ms): stored in ``times`` if there is room, counted,
    and counted in the window ``[t_win0, t_win1)``. Returns its column in ``times``, or -1 if
    it was only counted."""
    s = counts[i]
    if s < times.shape[1]:
        times[i, s] = ts
    else:
        s = -1
    counts[i] += 1
    if ts >= t_win0 and ts < t_win1:
        n_win[i] += 1
    return s


@njit(inline="always")
def mark_blowup(status, i):
    """Status of batch row ``i`` becomes blow-up (unless already set)."""
    if status[i] == 0:
        status[i] = STATUS_BLOWUP


@njit(inline="always")
def blowup_if_nonfinite(status, lo, n, x, off):
    """At the end of the sweep: blow-up status for every set ``j < n`` of the chunk whose
    ``x[off + j]`` is not finite."""
    for j in range(n):
        if not math.isfinite(x[off + j]):
            status[lo + j] = STATUS_BLOWUP


@njit(inline="always")
def dtheta(W, sx, j, osx, theta, den, dth):
    """``dtheta/dp`` of a crossing with a fixed cut, for every tangent column ``p`` of set ``j``:
    ``(-sx - theta (sxn - sx)) / den`` with ``den = xn - x``, ``sx`` the voltage tangents
    before the step (``osx[p, j]``) and ``sxn`` after it (workspace ``W[sx + p CHUNK + j]``).
    The caller adds the cut's own derivative."""
    for p in range(dth.shape[0]):
        dth[p] = (-osx[p, j] - theta * (W[sx + p * CHUNK + j] - osx[p, j])) / den
