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
        live = np.zeros(n, dtype=np.bool_)  # integrates (is not held) during this step
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
                    live[j] = h > 0.0  # a step wholly inside the refractory period cannot spike
                    n_cross += live[j] and not (Vn[j] < cut[j])
            else:
                for j in range(n):
                    I = Ion[j] if on else holding
                    if ref_left[j] > 0:
                        ref_left[j] -= 1
                        Vn[j] = V[j]
                        live[j] = False
                    else:
                        Vn[j] = V[j] + dt * ((-gL[j] * (V[j] - EL[j]) + I) * invC[j])
                        live[j] = True
                    n_cross += live[j] and not (Vn[j] < cut[j])
            if n_cross > 0:
                for j in range(n):
                    if Vn[j] < cut[j] or not live[j]:
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
                    if not (theta >= 0.0 and theta <= 1.0):  # already above the threshold
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


@njit(cache=True, parallel=True)
def _sens_kernel(P, amp, V0, r0, sV0, sr0, dt, n_steps, k_on, k_off, holding, t_win0, t_win1,
                 times, counts, n_win, status, jac):
    r"""Forward sensitivities of the ``resolved`` map: spike times and ``dT/dp`` (exact, discrete).

    Same map and arithmetic as :func:`_kernel` with ``resolved=1`` (bit-identical times); ``V``
    and the refractory end ``r`` carry their derivatives ``sV, sr`` with respect to every
    column of ``(C, gL, EL, Vth, Vr, t_ref, amplitude)``. A step integrates
    ``h = t1 - max(t0, r)`` (clipped to ``[0, dt]``; ``dh = -sr`` when ``t0 < r < t1``, else 0):
    ``Vn = V + h f(V)``, ``sVn = sV + dh f + h (-gL/C sV + df/dp)``. At a crossing:
    ``theta = (Vth - V)/(Vn - V)``, ``dtheta = (dVth - sV - theta (sVn - sV)) / (Vn - V)``; the
    integration started at ``s0 = max(t0, min(r, t1))`` so ``T = s0 + theta (t1 - s0)`` and
    ``dT = ds0 (1 - theta) + dtheta (t1 - s0)``; then ``r = T + t_ref`` (``sr = dT + dt_ref``)
    and ``Vn = Vr + h f(Vr)`` with the new ``h``. ``jac`` is ``(B, max_spikes, 7)``.
    """
    B = P.shape[0]
    NP = jac.shape[2]
    IA = NP - 1
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
        Ion = np.empty(n)
        V = np.empty(n)
        Vn = np.empty(n)
        ref_end = np.empty(n)
        hh = np.empty(n)
        ff = np.empty(n)
        inref = np.empty(n, dtype=np.bool_)
        sV = np.empty((NP, n))
        sr = np.empty((NP, n))
        sVn = np.empty((NP, n))
        dth = np.empty(NP)
        for j in range(n):
            i = lo + j
            invC[j] = 1.0 / P[i, P_C]
            gL[j] = P[i, P_GL]
            EL[j] = P[i, P_EL]
            cut[j] = P[i, P_VTH]
            Vr[j] = P[i, P_VR]
            tref[j] = P[i, P_TREF]
            Ion[j] = holding + amp[i]
            V[j] = V0[i]
            ref_end[j] = r0[i]
            for p in range(NP):
                sV[p, j] = sV0[i, p]
                sr[p, j] = sr0[i, p]
            counts[i] = 0
            n_win[i] = 0
            status[i] = 0
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            t0 = kk * dt
            t1 = t0 + dt
            n_cross = 0
            for j in range(n):
                I = Ion[j] if on else holding
                h = t1 - max(t0, ref_end[j])
                h = min(max(h, 0.0), dt)
                f = (-gL[j] * (V[j] - EL[j]) + I) * invC[j]
                Vn[j] = V[j] + h * f
                n_cross += h > 0.0 and not (Vn[j] < cut[j])
                hh[j] = h
                ff[j] = f
                inref[j] = ref_end[j] > t0 and ref_end[j] < t1
            for p in range(NP):
                for j in range(n):
                    dh = -sr[p, j] if inref[j] else 0.0
                    sVn[p, j] = sV[p, j] + dh * ff[j] + hh[j] * (-gL[j] * invC[j] * sV[p, j])
            for j in range(n):
                h = hh[j]
                sVn[P_C, j] += h * (-ff[j] * invC[j])
                sVn[P_GL, j] += h * (-(V[j] - EL[j]) * invC[j])
                sVn[P_EL, j] += h * (gL[j] * invC[j])
                if on:
                    sVn[IA, j] += h * invC[j]
            if n_cross > 0:
                for j in range(n):
                    if Vn[j] < cut[j] or not hh[j] > 0.0:
                        continue
                    i = lo + j
                    if not math.isfinite(Vn[j]):
                        if status[i] == 0:
                            status[i] = STATUS_BLOWUP
                        Vn[j] = Vr[j]
                        for p in range(NP):
                            sVn[p, j] = 0.0
                        sVn[P_VR, j] = 1.0
                        continue
                    if Vn[j] == V[j]:
                        theta = 0.0
                        den = 0.0
                    else:
                        den = Vn[j] - V[j]
                        theta = (cut[j] - V[j]) / den
                    if not (theta >= 0.0 and theta <= 1.0) or den == 0.0:
                        theta = 0.0 if not (theta >= 0.0 and theta <= 1.0) else theta
                        for p in range(NP):
                            dth[p] = 0.0
                    else:
                        for p in range(NP):
                            dth[p] = (-sV[p, j] - theta * (sVn[p, j] - sV[p, j])) / den
                        dth[P_VTH] += 1.0 / den
                    start = max(t0, min(ref_end[j], t1))
                    ts = start + theta * (t1 - start)
                    # dT = dstart (1 - theta) + dtheta (t1 - start); the new r = T + t_ref
                    for p in range(NP):
                        dstart = sr[p, j] if inref[j] else 0.0
                        sr[p, j] = dstart * (1.0 - theta) + dth[p] * (t1 - start)
                    if counts[i] < max_spikes:
                        times[i, counts[i]] = ts
                        for p in range(NP):
                            jac[i, counts[i], p] = sr[p, j]
                    counts[i] += 1
                    if ts >= t_win0 and ts < t_win1:
                        n_win[i] += 1
                    sr[P_TREF, j] += 1.0
                    I = Ion[j] if on else holding
                    ref_end[j] = ts + tref[j]
                    h = t1 - ref_end[j]
                    h = min(max(h, 0.0), dt)
                    f = (-gL[j] * (Vr[j] - EL[j]) + I) * invC[j]
                    Vn[j] = Vr[j] + h * f
                    live = ref_end[j] > t0 and ref_end[j] < t1
                    for p in range(NP):
                        dh = -sr[p, j] if live else 0.0
                        sVn[p, j] = dh * f
                    sVn[P_VR, j] += 1.0 + h * (-gL[j] * invC[j])
                    sVn[P_C, j] += h * (-f * invC[j])
                    sVn[P_GL, j] += h * (-(Vr[j] - EL[j]) * invC[j])
                    sVn[P_EL, j] += h * (gL[j] * invC[j])
                    if on:
                        sVn[IA, j] += h * invC[j]
            for j in range(n):
                V[j] = Vn[j]
            sV, sVn = sVn, sV
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


def initial_state_sensitivity(P: np.ndarray, holding_pA: float):
    """Derivatives ``(dV0/dp, dr0/dp)``, each ``(B, n_params + 1)``, of :func:`initial_state`.

    ``V0 = EL`` (``+ I_h / gL`` under a holding current: ``dV0/dgL = -I_h / gL^2``); the
    refractory end starts at ``-inf`` (zero derivative).
    """
    P = np.asarray(P, dtype=np.float64)
    B, n_p = P.shape
    sV = np.zeros((B, n_p + 1))
    sr = np.zeros((B, n_p + 1))
    sV[:, P_EL] = 1.0
    if holding_pA != 0.0:
        _, _, spont = initial_state(P, holding_pA)
        gL = P[:, P_GL]
        with np.errstate(divide="ignore", invalid="ignore"):
            sV[:, P_GL] = np.where(spont, 0.0, -holding_pA / gL**2)
    return sV, sr


MODEL = Model(spec=SPEC, kernel=_kernel, initial_state=initial_state,
              state_names=("V_mV", "ref_end_ms"), cut_name="Vth")
