"""Kernel benchmark: neuron-steps per second of the batched kernels against plain scalar loops.

For every model (preset that fires: ``naud2008:adapting``, ``izhikevich2007:RS``,
``lif:default``, with 1 % jittered copies) and scheme, at batch sizes 1, 64, 1024 and 8192,
one 1.2 s sweep at dt 0.1 ms (the default protocol) is timed through the model's kernel
(called directly with preallocated outputs, so the Python wrapper is not timed) and through a
plain scalar numba loop of the same equations written here (one neuron at a time, no
batching, same compile flags: ``cache=True``, no fastmath). Both must give the same spike
counts (checked). Figures are medians over ``repeats`` interleaved runs after a warm-up
call, timed by default with the process CPU time (``clock="cpu"``: robust on a shared
machine, where wall time also counts waiting for a core) or with wall time (``"wall"``).

Also timed: one current search (``search_current``, ``naud2008:adapting`` with jittered
copies, n = 5) for 1 and 256 parameter sets, and the cost of determinism, measured as the
speed of a ``fastmath=True`` build of the same kernel source (which may reassociate and
contract, so its results could depend on a set's position in the batch).

Outputs (CSV): ``kernels.csv`` with ``model, scheme, batch, threads, neuron_steps_per_s,
ratio_to_scalar``; next to it ``search.csv`` (``model, n_sets, n_spikes, threads, time_ms, clock,
simulations``) and ``fastmath.csv`` (``model, scheme, batch, threads, neuron_steps_per_s,
fastmath_neuron_steps_per_s, fastmath_speedup``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from numba import njit

from ..errors import UserError
from ..io import atomic_write_text
from .models import get_model, resolve_preset
from .models.base import EXP_CAP, SCHEMES
from .protocol import StepProtocol

BENCH_PRESETS = {"adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS",
                 "lif": "lif:default"}
BATCHES = (1, 64, 1024, 8192)
#: the scalar loop has no batching: its per-neuron speed does not depend on the batch size,
#: so it is timed on at most this many of the batch's sets
SCALAR_MAX = 1024
MAX_SPIKES = 64

# ----------------------------------------------------------------------------------------
# plain scalar loops: one neuron over the whole sweep, then the next


@njit(cache=True)
def _scalar_lif(P, amp, V0, resolved, dt, n_steps, k_on, k_off, holding, counts):
    for i in range(P.shape[0]):
        C, gL, EL, Vth, Vr, tref = P[i, 0], P[i, 1], P[i, 2], P[i, 3], P[i, 4], P[i, 5]
        nref = int(round(tref / dt))
        V = V0[i]
        left = 0
        ref_end = -np.inf
        cnt = 0
        for k in range(n_steps):
            I = holding + amp[i] if (k >= k_on and k < k_off) else holding
            t0 = k * dt
            t1 = t0 + dt
            if resolved:
                h = min(max(t1 - max(t0, ref_end), 0.0), dt)
                Vn = V + h * ((-gL * (V - EL) + I) / C)
            elif left > 0:
                left -= 1
                Vn = V
            else:
                Vn = V + dt * ((-gL * (V - EL) + I) / C)
            if Vn >= Vth:
                theta = 0.0 if Vn == V else max((Vth - V) / (Vn - V), 0.0)
                cnt += 1
                if resolved:
                    start = max(t0, min(ref_end, t1))
                    ts = start + theta * (t1 - start)
                    ref_end = ts + tref
                    h = min(max(t1 - ref_end, 0.0), dt)
                    Vn = Vr + h * ((-gL * (Vr - EL) + I) / C)
                else:
                    Vn = Vr
                    left = nref
            V = Vn
        counts[i] = cnt


@njit(cache=True)
def _scalar_adex(P, amp, V0, resolved, dt, n_steps, k_on, k_off, holding, counts):
    for i in range(P.shape[0]):
        C, gL, EL, VT, DT = P[i, 0], P[i, 1], P[i, 2], P[i, 3], P[i, 4]
        a, tw, b, Vr = P[i, 5], P[i, 6], P[i, 7], P[i, 8]
        cut = VT + 5.0 * DT if resolved else P[i, 9]
        V = V0[i]
        w = 0.0
        cnt = 0
        for k in range(n_steps):
            I = holding + amp[i] if (k >= k_on and k < k_off) else holding
            x = min((V - VT) / DT, EXP_CAP)
            Vn = V + dt * ((-gL * (V - EL) + gL * DT * math.exp(x) - w + I) / C)
            wn = w + dt * ((a * (V - EL) - w) / tw)
            if Vn >= cut:
                cnt += 1
                if resolved:
                    theta = max((cut - V) / (Vn - V), 0.0)
                    wc = w + theta * (wn - w) + b
                    rest = (1.0 - theta) * dt
                    x = min((Vr - VT) / DT, EXP_CAP)
                    Vn = Vr + rest * ((-gL * (Vr - EL) + gL * DT * math.exp(x) - wc + I) / C)
                    wn = wc + rest * ((a * (Vr - EL) - wc) / tw)
                else:
                    Vn = Vr
                    wn += b
            V = Vn
            w = wn
        counts[i] = cnt


@njit(cache=True)
def _scalar_izhikevich(P, amp, V0, resolved, dt, n_steps, k_on, k_off, holding, counts):
    for i in range(P.shape[0]):
        C, kk, vr, vt, vpeak = P[i, 0], P[i, 1], P[i, 2], P[i, 3], P[i, 4]
        a, b, c, d = P[i, 5], P[i, 6], P[i, 7], P[i, 8]
        v = V0[i]
        u = 0.0
        cnt = 0
        for k in range(n_steps):
            I = holding + amp[i] if (k >= k_on and k < k_off) else holding
            vn = v + dt * ((kk * (v - vr) * (v - vt) - u + I) / C)
            un = u + dt * (a * (b * (v - vr) - u))
            if vn >= vpeak:
                cnt += 1
                if resolved:
                    theta = max((vpeak - v) / (vn - v), 0.0)
                    uc = u + theta * (un - u) + d
                    rest = (1.0 - theta) * dt
                    vn = c + rest * ((kk * (c - vr) * (c - vt) - uc + I) / C)
                    un = uc + rest * (a * (b * (c - vr) - uc))
                else:
                    vn = c
                    un += d
            v = vn
            u = un
        counts[i] = cnt


SCALAR = {"lif": _scalar_lif, "adex": _scalar_adex, "izhikevich": _scalar_izhikevich}

# ----------------------------------------------------------------------------------------


def jittered(model: str, batch: int, seed: int = 0):
    """``(P, amplitudes)``: the model's bench preset and ``batch - 1`` copies jittered by 1 %."""
    _, preset = resolve_preset(BENCH_PRESETS[model], model)
    base = get_model(model).spec.vector(preset.params)
    rng = np.random.default_rng(seed)
    P = base * (1.0 + 0.01 * rng.standard_normal((batch, base.size)))
    P[0] = base
    return np.ascontiguousarray(P), np.full(batch, preset.amplitude_pA)


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _median_times(fns, repeats: int, clock: str = "cpu") -> list[float]:
    """Median time (s) of each zero-argument callable; the calls are interleaved (a, b, a,
    b, ...) so that load from other processes hits them alike; one warm-up call each.

    ``clock="cpu"``: CPU time of this process (all its threads), which does not count the time
    the process waits for a core on a shared machine; ``"wall"``: wall-clock time.
    """
    now = CLOCKS[clock]
    for fn in fns:
        fn()  # warm-up (compilation / cache load, page faults)
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for j, fn in enumerate(fns):
            t0 = now()
            fn()
            ts[j].append(now() - t0)
    return [float(np.median(t)) for t in ts]


def _kernel_call(kernel, model, P, amps, protocol, scheme):
    """A zero-argument closure running ``kernel`` (the model's forward kernel of ``scheme``, or a
    build of it) on preallocated outputs; and the counts."""
    m = get_model(model)
    x0, y0, _ = m.initial_state(P, protocol.holding_pA)
    B = P.shape[0]
    times = np.empty((B, MAX_SPIKES))
    counts = np.zeros(B, np.int64)
    n_win = np.zeros(B, np.int64)
    status = np.zeros(B, np.int8)
    tr = np.empty((1, 1))
    args = (P, amps, np.ascontiguousarray(x0), np.ascontiguousarray(y0), m.scheme(scheme).code,
            *protocol.kernel_args(), times, counts, n_win, status, tr, tr, False)
    return (lambda: kernel(*args)), counts


def _scalar_call(model, P, amps, protocol, scheme):
    x0, _, _ = get_model(model).initial_state(P, protocol.holding_pA)
    counts = np.zeros(P.shape[0], np.int64)
    args = (P, amps, np.ascontiguousarray(x0), SCHEMES[scheme], protocol.dt_ms,
            protocol.n_steps, protocol.step_on, protocol.step_off, protocol.holding_pA, counts)
    return (lambda: SCALAR[model](*args)), counts


def _fastmath_kernel(kernel):
    """A ``fastmath=True`` build of the source of ``kernel`` (not cached)."""
    from numba import njit as _njit

    return _njit(fastmath=True, parallel=True, cache=False)(kernel.py_func)


def bench_kernels(models=("adex", "izhikevich", "lif"), schemes=("euler", "resolved"),
                  batches=BATCHES, threads: int = 1, repeats: int = 5, fastmath: bool = True,
                  clock: str = "cpu", log=print):
    """Rows for kernels.csv and fastmath.csv (lists of dicts)."""
    from .simulate import set_threads

    threads = set_threads(threads)
    protocol = StepProtocol()
    n = protocol.n_steps
    rows, fm_rows = [], []
    for model in models:
        fm_builds = {}  # forward kernel -> its fastmath build (one per kernel, not per scheme)
        for scheme in schemes:
            kernel = get_model(model).scheme(scheme).kernel
            if fastmath and kernel not in fm_builds:
                fm_builds[kernel] = _fastmath_kernel(kernel)
            fm = fm_builds.get(kernel)
            for B in batches:
                P, amps = jittered(model, B)
                run, counts = _kernel_call(kernel, model, P, amps, protocol, scheme)
                Bs = min(B, SCALAR_MAX)
                run_s, counts_s = _scalar_call(model, P[:Bs], amps[:Bs], protocol, scheme)
                fns = [run, run_s]
                if fm is not None and B in (1, 1024):
                    run_f, _ = _kernel_call(fm, model, P, amps, protocol, scheme)
                    fns.append(run_f)
                ts = _median_times(fns, repeats, clock)
                t_k, t_s = ts[0], ts[1]
                if not np.array_equal(counts[:Bs], counts_s):
                    raise RuntimeError(f"scalar loop and kernel disagree ({model}, {scheme})")
                if counts[0] == 0:
                    raise RuntimeError(f"bench preset of {model} does not fire")
                rate = B * n / t_k
                rate_s = Bs * n / t_s
                row = dict(model=model, scheme=scheme, batch=B, threads=threads,
                           neuron_steps_per_s=rate, ratio_to_scalar=rate / rate_s)
                rows.append(row)
                msg = (f"{model:<10} {scheme:<8} batch {B:>5}: {rate:9.3g} neuron-steps/s, "
                       f"{rate / rate_s:5.2f}x scalar ({rate_s:.3g})")
                if len(ts) > 2:
                    t_f = ts[2]
                    rate_f = B * n / t_f
                    fm_rows.append(dict(model=model, scheme=scheme, batch=B, threads=threads,
                                        neuron_steps_per_s=rate,
                                        fastmath_neuron_steps_per_s=rate_f,
                                        fastmath_speedup=rate_f / rate))
                    msg += f"; fastmath {rate_f:.3g} ({rate_f / rate:.2f}x)"
                log(msg)
    return rows, fm_rows


def bench_search(sizes=(1, 256), threads: int = 1, repeats: int = 5, n_spikes: int = 5,
                 clock: str = "cpu", log=print):
    """Wall time (ms, median) of one current search for ``sizes`` parameter sets (adex)."""
    from .search import search_current

    rows = []
    for B in sizes:
        P, _ = jittered("adex", B, seed=1)
        res = {}

        def run():
            res["r"] = search_current("adex", P, n_spikes, threads=threads)

        t = _median_times([run], repeats, clock)[0]
        rows.append(dict(model="adex", n_sets=B, n_spikes=n_spikes, threads=threads,
                         time_ms=1e3 * t, clock=clock, simulations=res["r"].n_simulations))
        log(f"search     adex     {B:>5} set(s): {1e3 * t:8.2f} ms "
            f"({res['r'].n_simulations} simulations)")
    return rows


def _csv(rows) -> str:
    cols = list(rows[0])
    lines = [",".join(cols)]
    for r in rows:
        lines.append(",".join(f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c])
                              for c in cols))
    return "\n".join(lines) + "\n"


def run_bench(out: str | Path = "results/benchmarks/kernels.csv", threads: int = 1,
              repeats: int = 5, batches=BATCHES, fastmath: bool = True, clock: str = "cpu",
              log=print) -> dict:
    """Run every benchmark and write kernels.csv, search.csv and fastmath.csv (same folder)."""
    if repeats < 1:
        raise UserError(f"repeats: must be >= 1, got {repeats}")
    if clock not in CLOCKS:
        raise UserError(f"clock: expected one of {', '.join(CLOCKS)}, got {clock!r}")
    out = Path(out)
    rows, fm_rows = bench_kernels(batches=batches, threads=threads, repeats=repeats,
                                  fastmath=fastmath, clock=clock, log=log)
    s_rows = bench_search(threads=threads, repeats=repeats, clock=clock, log=log)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, _csv(rows))
    atomic_write_text(out.with_name("search.csv"), _csv(s_rows))
    if fm_rows:
        atomic_write_text(out.with_name("fastmath.csv"), _csv(fm_rows))
    return dict(kernels=rows, search=s_rows, fastmath=fm_rows)
