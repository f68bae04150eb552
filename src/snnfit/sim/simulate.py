"""Public simulation API: validated wrappers around the models' batched numba kernels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numba
import numpy as np

from ..errors import UserError
from .models import get_model
from .models.base import STATUS_BLOWUP, STATUS_NAMES, STATUS_OK, STATUS_SPONTANEOUS
from .protocol import StepProtocol

DEFAULT_MAX_SPIKES = 1000

#: rows per iteration of the kernels' vectorised loop over a chunk (measured: ``snnfit bench
#: --batches 8,15,16,17``, AdEx 6.7e7 neuron-steps/s below 16 rows and 1.1-1.6e8 from 16,
#: Izhikevich and LIF 2.1-2.3e8 against 8.2e8); rows past the last multiple run one by one
VECTOR_SETS = 16


def _vector_padding(B: int) -> int:
    """Rows to add to a batch of ``B`` so that a remainder of at least half a vector runs in
    the vector loop (one vector iteration costs about as much as 4-10 scalar rows,
    docs/performance.md); 0 for small remainders, which stay scalar."""
    r = B % VECTOR_SETS
    return VECTOR_SETS - r if r >= VECTOR_SETS // 2 else 0


@dataclass
class BatchResult:
    """Spike trains of a batch. ``times`` is ``(B, max_spikes)`` padded with NaN."""

    times: np.ndarray
    counts: np.ndarray
    n_in_step: np.ndarray
    status: np.ndarray  # int codes, see STATUS_NAMES
    trace: np.ndarray | None = None  # (B, 2, n_steps + 1) state at the step boundaries

    def spike_times(self, i: int) -> np.ndarray:
        n = min(int(self.counts[i]), self.times.shape[1])
        return self.times[i, :n].copy()

    def status_name(self, i: int) -> str:
        return STATUS_NAMES[int(self.status[i])]


@dataclass
class SimResult:
    spike_times_ms: np.ndarray
    status: str
    n_in_step: int
    t_ms: np.ndarray | None = None
    trace: dict | None = None


def set_threads(threads: int | None) -> int:
    """Set numba's thread count (explicitly: Snakemake sets OMP threads, not numba's)."""
    if threads is None:
        return numba.get_num_threads()
    threads = int(threads)
    if threads < 1:
        raise UserError(f"threads: must be >= 1, got {threads}")
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    return threads


def check_params_matrix(model: str, P: np.ndarray, where: str = "") -> None:
    """Physical validity of every row of ``P`` (one-line UserError naming the field)."""
    spec = get_model(model).spec
    for j, ps in enumerate(spec.params):
        col = P[:, j]
        bad = ~np.isfinite(col)
        if ps.constraint == "positive":
            bad |= ~(col > 0)
        elif ps.constraint == "nonnegative":
            bad |= ~(col >= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cond = {"positive": "> 0", "nonnegative": ">= 0"}.get(ps.constraint, "finite")
            raise UserError(f"{where}{ps.name}: must be {cond} {ps.unit}, got {col[i]:g}")


def checked_batch(model: str, P, amplitudes, check: bool = True):
    """``(P, amps)`` as contiguous float64 ``(B, n_params)`` and ``(B,)`` (a scalar amplitude is
    broadcast); with ``check``, the parameters against the spec and the amplitudes finite
    (one-line UserError otherwise). Shared by the forward and the sensitivity passes."""
    n_p = len(get_model(model).spec.params)
    P = np.ascontiguousarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != n_p:
        raise UserError(f"params: expected shape (B, {n_p}), got {P.shape}")
    amps = np.ascontiguousarray(np.broadcast_to(np.asarray(amplitudes, np.float64),
                                                (P.shape[0],)))
    if check:
        check_params_matrix(model, P)
        if not np.all(np.isfinite(amps)):
            raise UserError("amplitude_pA: expected finite numbers")
    return P, amps


def simulate_batch(
    model: str,
    P: np.ndarray,
    amplitudes: np.ndarray,
    protocol: StepProtocol,
    scheme: str = "euler",
    threads: int | None = None,
    max_spikes: int = DEFAULT_MAX_SPIKES,
    record: bool = False,
    check: bool = True,
) -> BatchResult:
    """Simulate ``B`` parameter sets (rows of ``P``, spec order) with their own amplitudes (pA)
    of the protocol's main step (its extra epochs, if any, are the same for every set).

    Sets without a stable rest state under the holding current get status ``spontaneous``
    (and are simulated from the rest state without holding current).
    """
    m = get_model(model)
    P, amps = checked_batch(model, P, amplitudes, check)
    B = P.shape[0]
    pad = _vector_padding(B) if not record else 0
    if pad:
        # rows are independent: copies of the last row fill the kernel's vector loop, and the
        # real rows' results are bit for bit those of an unpadded call (tests/test_simulate.py)
        P = np.concatenate([P, np.repeat(P[-1:], pad, axis=0)])
        amps = np.concatenate([amps, np.repeat(amps[-1:], pad)])
        res = simulate_batch(model, P, amps, protocol, scheme, threads, max_spikes, record,
                             check=False)
        return BatchResult(times=res.times[:B], counts=res.counts[:B],
                           n_in_step=res.n_in_step[:B], status=res.status[:B])
    entry = m.scheme(scheme)
    set_threads(threads)
    x0, y0, spont = m.initial_state(P, float(protocol.holding_pA))
    times = np.full((B, max_spikes), np.nan)
    counts = np.zeros(B, np.int64)
    n_win = np.zeros(B, np.int64)
    status = np.zeros(B, np.int8)
    n = protocol.n_steps
    if record:
        tx = np.empty((B, n + 1))
        ty = np.empty((B, n + 1))
    else:
        tx = np.empty((1, 1))
        ty = np.empty((1, 1))
    entry.kernel(P, amps, np.ascontiguousarray(x0), np.ascontiguousarray(y0), entry.code,
                 *protocol.kernel_args(), times, counts, n_win, status, tx, ty, record)
    status = np.where((status == STATUS_OK) & spont, STATUS_SPONTANEOUS, status).astype(np.int8)
    trace = np.stack([tx, ty], axis=1) if record else None
    return BatchResult(times=times, counts=counts, n_in_step=n_win, status=status, trace=trace)


def simulate(
    model: str,
    params: Mapping[str, float],
    amplitude_pA: float,
    protocol: StepProtocol | None = None,
    scheme: str = "euler",
    trace: bool = False,
    threads: int | None = 1,
) -> SimResult:
    """Simulate one parameter set (missing parameters take their defaults)."""
    m = get_model(model)
    protocol = protocol or StepProtocol()
    vec = m.spec.vector(params)
    try:
        amp = float(amplitude_pA)
    except (TypeError, ValueError):
        raise UserError(f"amplitude_pA: expected a number, got {amplitude_pA!r}") from None
    if not np.isfinite(amp):
        raise UserError(f"amplitude_pA: expected a finite number, got {amplitude_pA!r}")
    res = simulate_batch(model, vec[None, :], np.array([amp]), protocol, scheme, threads,
                         max_spikes=max(protocol.n_steps, 1), record=trace)
    out = SimResult(spike_times_ms=res.spike_times(0), status=res.status_name(0),
                    n_in_step=int(res.n_in_step[0]))
    if trace:
        out.t_ms = np.arange(protocol.n_steps + 1) * protocol.dt_ms
        out.trace = {m.state_names[0]: res.trace[0, 0], m.state_names[1]: res.trace[0, 1]}
    return out


__all__ = ["simulate", "simulate_batch", "BatchResult", "SimResult", "set_threads",
           "STATUS_OK", "STATUS_SPONTANEOUS", "STATUS_BLOWUP"]
