r"""Leaky integrate-and-fire model with an absolute refractory period.

.. math::

    C \frac{dV}{dt} = -g_L (V - E_L) + I

At :math:`V \ge V_\mathrm{th}`: :math:`V \leftarrow V_r`, held there for ``t_ref``.
Units: C pF, gL nS, EL/Vth/Vr mV, t_ref ms, I pA.

Refractoriness: under ``euler`` V is held at Vr for ``round(t_ref / dt)`` whole steps after the
spike step; under ``resolved`` V is held until ``t_spike + t_ref`` (continuous time) and each
step integrates only the part of it after that instant (one Euler step of that length), so
spike times move continuously with every parameter. The second state variable is the time
(ms) at which the refractory period ends.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..params import ModelSpec, ParamSpec, Preset
from .base import CHUNK, STATUS_BLOWUP, Model

P_C, P_GL, P_EL, P_VTH, P_VR, P_TREF = range(6)

PARAMS = (
    ParamSpec("C", "pF", 200.0, 20.0, 400.0, "membrane capacitance", "positive"),
    ParamSpec("gL", "nS", 10.0, 2.0, 40.0, "leak conductance", "nonnegative"),
    ParamSpec("EL", "mV", -70.0, -80.0, -50.0, "leak reversal (resting) potential"),
    ParamSpec("Vth", "mV", -50.0, -60.0, -35.0, "spike threshold"),
    ParamSpec("Vr", "mV", -60.0, -75.0, -45.0, "reset potential"),
    ParamSpec("t_ref", "ms", 2.0, 0.0, 10.0, "absolute refractory period", "nonnegative"),
)

PRESETS = {
    "lif:default": Preset(
        "lif:default", {p.name: p.default for p in PARAMS}, 300.0,
        "snnfit default (tau_m = 20 ms; rheobase gL (Vth - EL) = 200 pA)",
        "amplitude 300 pA: regular firing",
    )
}

SPEC = ModelSpec(
    name="lif",
    params=PARAMS,
    equations=__doc__,
    presets=PRESETS,
    max_amplitude_pA=3000.0,
    scaling_group=("C", "gL"),
)


@njit(cache=True, parallel=True)
def _kernel(P, amp, V0, r0, resolved, dt, n_steps, k_on, k_off, holding, t_win0, t_win1,
            times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    max_spikes = times.shape[1]
    n_chunks = (B + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        lo = ch * CHUNK
        hi = min(B, lo + CHUNK)
        n = hi - lo
        invC = np.empty(n)
        gL = np.empty(n)
        EL = np.empty(n)
        cut = np.empty(n)
        Vr = np.empty(n)
        tref = np.empty(n)
        nref = np.empty(n, dtype=np.int64)
        Ion = np.empty(n)
        V = np.empty(n)
        Vn = np.empty(n)
        ref_end = np.empty(n)  # resolved: time the refractory period ends
        ref_left = np.zeros(n, dtype=np.int64)  # euler: whole steps still refractory
        for j in range(n):
            i = lo + j
            invC[j] = 1.0 / P[i, P_C]
            gL[j] = P[i, P_GL]
            EL[j] = P[i, P_EL]
            cut[j] = P[i, P_VTH]
            Vr[j] = P[i, P_VR]
            tref[j] = P[i, P_TREF]
            nref[j] = int(round(P[i, P_TREF] / dt))
            Ion[j] = holding + amp[i]
            V[j] = V0[i]
            ref_end[j] = r0[i]
            counts[i] = 0
            n_win[i] = 0
            status[i] = 0
            if record:
                trace_x[i, 0] = V[j]
                trace_y[i, 0] = ref_end[j]
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            t0 = kk * dt
            t1 = t0 + dt
            n_cross = 0
            if resolved:
                for j in range(n):
                    I = Ion[j] if on else holding
                    # integrate only the part of the step after the refractory period
                    h = t1 - max(t0, ref_end[j])
                    h = min(max(h, 0.0), dt)
                    Vn[j] = V[j] + h * ((-gL[j] * (V[j] - EL[j]) + I) * invC[j])
                    n_cross += not (Vn[j] < cut[j])
            else:
                for j in range(n):
                    I = Ion[j] if on else holding
                    if ref_left[j] > 0:
                        ref_left[j] -= 1
                        Vn[j] = V[j]
                    else:
                        Vn[j] = V[j] + dt * ((-gL[j] * (V[j] - EL[j]) + I) * invC[j])
                    n_cross += not (Vn[j] < cut[j])
            if n_cross > 0:
                for j in range(n):
                    if Vn[j] < cut[j]:
                        continue
                    i = lo + j
                    if not math.isfinite(Vn[j]):
                        if status[i] == 0:
                            status[i] = STATUS_BLOWUP
                        Vn[j] = Vr[j]
                        continue
                    if Vn[j] == V[j]:
                        theta = 0.0
                    else:
                        theta = (cut[j] - V[j]) / (Vn[j] - V[j])
                    if theta < 0.0:
                        theta = 0.0
                    if resolved:
                        # the step's integration started at max(t0, ref_end)
                        start = max(t0, min(ref_end[j], t1))
                        ts = start + theta * (t1 - start)
                    else:
                        ts = t0 + theta * dt
                    if counts[i] < max_spikes:
                        times[i, counts[i]] = ts
                    counts[i] += 1
                    if ts >= t_win0 and ts < t_win1:
                        n_win[i] += 1
                    if resolved:
                        I = Ion[j] if on else holding
                        ref_end[j] = ts + tref[j]
                        h = t1 - ref_end[j]
                        h = min(max(h, 0.0), dt)
                        Vn[j] = Vr[j] + h * ((-gL[j] * (Vr[j] - EL[j]) + I) * invC[j])
                    else:
                        Vn[j] = Vr[j]
                        ref_left[j] = nref[j]
            for j in range(n):
                V[j] = Vn[j]
            if record:
                for j in range(n):
                    trace_x[lo + j, kk + 1] = V[j]
                    trace_y[lo + j, kk + 1] = ref_end[j]
        for j in range(n):
            if not math.isfinite(V[j]):
                status[lo + j] = STATUS_BLOWUP


def initial_state(P: np.ndarray, holding_pA: float):
    """V = EL (or EL + I_h / gL under a holding current; spontaneous if that is >= Vth)."""
    P = np.asarray(P, dtype=np.float64)
    gL, EL, Vth = P[:, P_GL], P[:, P_EL], P[:, P_VTH]
    B = P.shape[0]
    if holding_pA == 0.0:
        return EL.copy(), np.full(B, -np.inf), np.zeros(B, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        Vf = np.where(gL > 0, EL + holding_pA / np.where(gL > 0, gL, 1.0), np.nan)
    stable = np.isfinite(Vf) & (Vf < Vth)
    return np.where(stable, Vf, EL), np.full(B, -np.inf), ~stable


MODEL = Model(spec=SPEC, kernel=_kernel, initial_state=initial_state,
              state_names=("V_mV", "ref_end_ms"), cut_name="Vth")
