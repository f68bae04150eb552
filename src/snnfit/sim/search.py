"""Current search: the smallest step amplitude that gives exactly ``n`` spikes in the step.

For every parameter set of a batch (all searched together, deterministic, independent of the
thread count):

1. a coarse grid of ``grid`` amplitudes on ``[0, max_amplitude_pA]``, simulated as one batch;
   the count at amplitude 0 decides ``spontaneous`` (spikes in the step window, or before
   the step, without any step current; or no stable rest under the holding current). A
   protocol's extra epochs (a prepulse, a test pulse: :mod:`snnfit.sim.protocol`) are
   simulated as they are, never scaled; spikes at amplitude 0 that come after the first
   extra epoch starts answer to it and do not make a set spontaneous;
2. on the first grid interval where the step-window count reaches ``n`` (and, in the same
   batched calls, ``n + 1``), bisection until the interval is narrower than
   ``max(1 pA, 1 %)``; where the count at the upper end is still above ``n`` (the count
   jumps over ``n`` at that resolution: ``n`` may live on a narrower interval), bisection goes
   on until the upper end gives ``n`` or the interval is narrower than
   :data:`STRADDLE_TOL_PA` (1e-6 pA). The result ``amplitude_pA`` is the upper end of the
   ``n`` interval: at most ``max(1 pA, 1 %)`` above the true threshold ``I_n``, and its count
   (kept from the bisection, so re-simulation reproduces it) is exactly ``n``, else the
   status is ``infeasible`` (the count jumps over ``n`` within 1e-6 pA). Every extra
   bisection step is counted in ``n_simulations``;
3. ``bracket_pA = [I_n, I_{n+1})``: amplitudes that give exactly ``n`` spikes; its lower end is
   ``amplitude_pA`` and its upper end the lower end of the ``n + 1`` bisection (or the top of
   the range when ``n + 1`` is never reached).

``silent``: fewer than ``n`` spikes even at the top of the range. Counts are assumed to grow
with the amplitude between the grid points bracketing the threshold (checked: the returned
amplitude's count is the exact count of a real simulation).

The simulations stop at the end of the step (the count only looks inside it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .models import get_model
from .protocol import StepProtocol
from .simulate import STATUS_SPONTANEOUS, simulate_batch

FOUND, INFEASIBLE, SPONTANEOUS, SILENT = 0, 1, 2, 3
#: bracket width (pA) below which a straddling bracket is given up as infeasible
STRADDLE_TOL_PA = 1e-6
SEARCH_STATUS = {FOUND: "found", INFEASIBLE: "infeasible", SPONTANEOUS: "spontaneous",
                 SILENT: "silent"}


@dataclass
class SearchResult:
    amplitude_pA: np.ndarray  # (B,) NaN unless found
    bracket_pA: np.ndarray  # (B, 2) NaN unless found
    n_spikes: np.ndarray  # (B,) count at amplitude_pA (or at the failing point)
    status: np.ndarray  # (B,) codes, SEARCH_STATUS
    n_simulations: int  # parameter-set simulations run (each up to the end of the step)
    n_calls: int  # batched kernel calls

    def status_name(self, i: int) -> str:
        return SEARCH_STATUS[int(self.status[i])]


def search_protocol(protocol: StepProtocol) -> StepProtocol:
    """The protocol cut at the end of the step (only the step window is counted); extra
    epochs before the cut are kept (the search scales the main step only)."""
    return protocol.cut(min(protocol.t_stop_ms, protocol.stim_end_ms + protocol.dt_ms))


def search_current(
    model: str,
    P: np.ndarray,
    n_spikes,
    protocol: StepProtocol | None = None,
    scheme: str = "euler",
    max_amplitude_pA: float | None = None,
    threads: int | None = None,
    grid: int = 16,
    rel_tol: float = 0.01,
    abs_tol_pA: float = 1.0,
) -> SearchResult:
    """Search the amplitude giving ``n_spikes`` (scalar or per set) for every row of ``P``."""
    m = get_model(model)
    protocol = protocol or StepProtocol()
    P = np.atleast_2d(np.asarray(P, dtype=np.float64))
    B = P.shape[0]
    n = np.broadcast_to(np.asarray(n_spikes), (B,)).astype(np.int64)
    if np.any(n < 0):
        raise UserError(f"n_spikes: must be >= 0, got {int(n.min())}")
    top = float(m.spec.max_amplitude_pA if max_amplitude_pA is None else max_amplitude_pA)
    if not np.isfinite(top) or top <= 0:
        raise UserError(f"max_amplitude_pA: must be > 0, got {max_amplitude_pA!r}")
    if grid < 2:
        raise UserError(f"grid: must be >= 2, got {grid}")
    proto = search_protocol(protocol)
    # before the first extra epoch (inf: none) a spike at amplitude 0 is firing at rest
    quiet_ms = min([ep.start_ms for ep in proto.epochs], default=np.inf)
    n_sims = 0
    n_calls = 0

    def run(Prow, amps):
        nonlocal n_sims, n_calls
        n_sims += len(amps)
        n_calls += 1
        r = simulate_batch(model, Prow, amps, proto, scheme, threads, max_spikes=1)
        return r

    # 1. grid (amplitude 0 first)
    levels = np.linspace(0.0, top, grid)
    Pg = np.repeat(P, grid, axis=0)
    r = run(Pg, np.tile(levels, B))
    cnt = r.n_in_step.reshape(B, grid)
    before = (r.counts - r.n_in_step).reshape(B, grid)  # spikes outside the window
    spont = (cnt[:, 0] > 0) | (r.status.reshape(B, grid)[:, 0] == STATUS_SPONTANEOUS)
    # spikes before the step onset at amplitude 0 (the count after the step is cut off);
    # with extra epochs, only a first spike before the first epoch starts: later ones are
    # answers to the recorded epochs (the loss judges them), not firing at rest
    first0 = r.times[::grid, 0]
    with np.errstate(invalid="ignore"):
        spont |= (before[:, 0] > 0) & ~(first0 >= quiet_ms)

    status = np.full(B, FOUND, np.int64)
    amp = np.full(B, np.nan)
    bracket = np.full((B, 2), np.nan)
    n_at = cnt[:, -1].copy()

    # 2. bisection for thresholds of n and n+1: lo has count < target, hi has count >= target
    def first_reach(target):
        reach = cnt >= target[:, None]
        any_ = reach.any(axis=1)
        idx = np.where(any_, reach.argmax(axis=1), grid - 1)
        return any_, idx

    reach_n, idx_n = first_reach(n)
    reach_n1, idx_n1 = first_reach(n + 1)
    lo = np.empty((B, 2))
    hi = np.empty((B, 2))
    c_hi = np.empty((B, 2), np.int64)
    c_lo = np.empty((B, 2), np.int64)
    for col, (reach, idx) in enumerate(((reach_n, idx_n), (reach_n1, idx_n1))):
        hi[:, col] = levels[idx]
        lo[:, col] = levels[np.maximum(idx - 1, 0)]
        c_hi[:, col] = cnt[np.arange(B), idx]
        c_lo[:, col] = cnt[np.arange(B), np.maximum(idx - 1, 0)]
    # n = 0 and not spontaneous: threshold is amplitude 0 itself
    zero = (n == 0) & ~spont
    lo[zero, 0] = hi[zero, 0] = 0.0
    active = np.zeros((B, 2), bool)
    active[:, 0] = reach_n & ~spont & ~zero
    active[:, 1] = reach_n1 & ~spont
    while True:
        width = hi - lo
        tol = np.maximum(abs_tol_pA, rel_tol * lo)
        todo = active & (width > tol)
        # past the tolerance, keep bisecting a bracket whose ends straddle the target count
        # (the count jumps over n at the tolerance's resolution: n may still live on a narrow
        # interval inside it), until n is found or the bracket is below STRADDLE_TOL_PA; and
        # the n + 1 bracket until its lower end is above the n point (the bracket upper end)
        fine = width > STRADDLE_TOL_PA
        todo[:, 0] |= active[:, 0] & fine[:, 0] & (c_hi[:, 0] > n)
        todo[:, 1] |= active[:, 1] & fine[:, 1] & (lo[:, 1] <= hi[:, 0]) & active[:, 0]
        if not todo.any():
            break
        rows, cols = np.nonzero(todo)
        mid = 0.5 * (lo[rows, cols] + hi[rows, cols])
        rr = run(P[rows], mid)
        c = rr.n_in_step
        target = n[rows] + cols
        up = c >= target
        hi[rows[up], cols[up]] = mid[up]
        c_hi[rows[up], cols[up]] = c[up]
        lo[rows[~up], cols[~up]] = mid[~up]
        c_lo[rows[~up], cols[~up]] = c[~up]

    status[~reach_n] = SILENT
    status[spont] = SPONTANEOUS
    ok = status == FOUND
    n_at = np.where(ok, np.where(zero, cnt[:, 0], c_hi[:, 0]), n_at)
    infeasible = ok & (n_at != n)
    status[infeasible] = INFEASIBLE
    ok = status == FOUND
    amp[ok] = hi[ok, 0]
    upper = np.where(reach_n1, lo[:, 1], top)
    bracket[ok, 0] = amp[ok]
    bracket[ok, 1] = np.maximum(upper[ok], amp[ok])
    return SearchResult(amplitude_pA=amp, bracket_pA=bracket, n_spikes=n_at, status=status,
                        n_simulations=n_sims, n_calls=n_calls)
