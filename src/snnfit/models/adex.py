r"""Adaptive exponential integrate-and-fire model (AdEx).

Brette & Gerstner (2005), J. Neurophysiol. 94:3637; Naud, Marcille, Clopath & Gerstner (2008),
Biol. Cybern. 99:335.

.. math::

    C \frac{dV}{dt} = -g_L (V - E_L) + g_L \Delta_T \exp\left(\frac{V - V_T}{\Delta_T}\right)
                      - w + I, \qquad
    \tau_w \frac{dw}{dt} = a (V - E_L) - w

At :math:`V \ge V_\mathrm{cut}`: :math:`V \leftarrow V_r`, :math:`w \leftarrow w + b`. The cut is
``Vpeak`` under the ``euler`` scheme and :math:`V_T + 5 \Delta_T` (Brette & Gerstner's practical
cut) under ``resolved``, where ``Vpeak`` plays no role. Units: C pF, gL nS, EL/VT/DeltaT/Vr/Vpeak
mV, a nS, tau_w ms, b pA, I pA, t ms.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..params import ModelSpec, ParamSpec, Preset
from .base import CHUNK, EXP_CAP, STATUS_BLOWUP, Model

P_C, P_GL, P_EL, P_VT, P_DT, P_A, P_TAUW, P_B, P_VR, P_VPEAK = range(10)

PARAMS = (
    ParamSpec("C", "pF", 200.0, 50.0, 300.0, "membrane capacitance", "positive"),
    ParamSpec("gL", "nS", 10.0, 2.0, 40.0, "leak conductance", "nonnegative"),
    ParamSpec("EL", "mV", -70.0, -80.0, -50.0, "leak reversal potential"),
    ParamSpec("VT", "mV", -50.0, -60.0, -40.0, "threshold slope point of the exponential"),
    ParamSpec("DeltaT", "mV", 2.0, 0.5, 5.0, "slope factor of the exponential", "positive"),
    ParamSpec("a", "nS", 2.0, -15.0, 20.0, "subthreshold adaptation conductance"),
    ParamSpec("tau_w", "ms", 100.0, 10.0, 500.0, "adaptation time constant", "positive"),
    ParamSpec("b", "pA", 50.0, 0.0, 200.0, "spike-triggered adaptation increment"),
    ParamSpec("Vr", "mV", -58.0, -70.0, -40.0, "reset potential"),
    ParamSpec("Vpeak", "mV", 0.0, -20.0, 20.0, "spike cut under the euler scheme (not resolved)"),
)

_NAUD = "Naud, Marcille, Clopath & Gerstner (2008), Biol. Cybern. 99:335, Table 1"
_NAUD_BRIAN = (
    _NAUD + "; values as in Brian 2's example examples/frompapers/"
    "Naud_et_al_2008_adex_firing_patterns.py ('adapted to match the figures')"
)


def _naud(C, gL, EL, VT, DeltaT, a, tau_w, b, Vr, I, cite=_NAUD):
    p = dict(C=C, gL=gL, EL=EL, VT=VT, DeltaT=DeltaT, a=a, tau_w=tau_w, b=b, Vr=Vr, Vpeak=0.0)
    return p, float(I), cite


_NAUD_ROWS = {
    "tonic": _naud(200, 10, -70, -50, 2, 2, 30, 0, -58, 500),
    "adapting": _naud(200, 12, -70, -50, 2, 2, 300, 60, -58, 500),
    "initial_burst": _naud(130, 18, -58, -50, 2, 4, 150, 120, -50, 400),
    "regular_bursting": _naud(200, 10, -58, -50, 2, 2, 120, 100, -46, 210),
    "delayed_accelerating": _naud(200, 12, -70, -50, 2, -10, 300, 0, -58, 300),
    "delayed_regular_bursting": _naud(100, 10, -65, -50, 2, -10, 90, 30, -47, 110, _NAUD_BRIAN),
    "transient": _naud(100, 10, -65, -50, 2, 10, 90, 100, -47, 180, _NAUD_BRIAN),
    "irregular": _naud(100, 12, -60, -50, 2, -11, 130, 30, -48, 160),
}

PRESETS = {
    f"naud2008:{name}": Preset(f"naud2008:{name}", p, amp, cite, "Vpeak 0 mV (the paper's cut)")
    for name, (p, amp, cite) in _NAUD_ROWS.items()
}
PRESETS["brette2005:default"] = Preset(
    "brette2005:default",
    dict(C=281.0, gL=30.0, EL=-70.6, VT=-50.4, DeltaT=2.0, a=4.0, tau_w=144.0, b=80.5,
         Vr=-70.6, Vpeak=20.0),
    1000.0,
    "Brette & Gerstner (2005), J. Neurophysiol. 94:3637 (Vr = EL)",
    "Vpeak 20 mV as in the paper's figures (Vpeak = VT + 5 DeltaT = -40.4 mV is the practical "
    "cut of the resolved scheme); amplitude 1000 pA (rheobase ~ 0.6 nA) makes it fire clearly.",
)

SPEC = ModelSpec(
    name="adex",
    params=PARAMS,
    equations=__doc__,
    presets=PRESETS,
    max_amplitude_pA=3000.0,
    scaling_group=("C", "gL", "a", "b"),
)


@njit(cache=True, parallel=True)
def _kernel(P, amp, V0, w0, resolved, dt, n_steps, k_on, k_off, holding, t_win0, t_win1,
            times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    max_spikes = times.shape[1]
    n_chunks = (B + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(B, lo + CHUNK)
        n = hi - lo
        invC = np.empty(n)
        gL = np.empty(n)
        EL = np.empty(n)
        VT = np.empty(n)
        invDT = np.empty(n)
        gLDT = np.empty(n)
        a = np.empty(n)
        invtw = np.empty(n)
        b = np.empty(n)
        Vr = np.empty(n)
        cut = np.empty(n)
        Ion = np.empty(n)
        V = np.empty(n)
        w = np.empty(n)
        Vn = np.empty(n)
        wn = np.empty(n)
        for j in range(n):
            i = lo + j
            invC[j] = 1.0 / P[i, P_C]
            gL[j] = P[i, P_GL]
            EL[j] = P[i, P_EL]
            VT[j] = P[i, P_VT]
            invDT[j] = 1.0 / P[i, P_DT]
            gLDT[j] = P[i, P_GL] * P[i, P_DT]
            a[j] = P[i, P_A]
            invtw[j] = 1.0 / P[i, P_TAUW]
            b[j] = P[i, P_B]
            Vr[j] = P[i, P_VR]
            if resolved:
                cut[j] = P[i, P_VT] + 5.0 * P[i, P_DT]
            else:
                cut[j] = P[i, P_VPEAK]
            Ion[j] = holding + amp[i]
            V[j] = V0[i]
            w[j] = w0[i]
            counts[i] = 0
            n_win[i] = 0
            status[i] = 0
            if record:
                trace_x[i, 0] = V[j]
                trace_y[i, 0] = w[j]
        for k in range(n_steps):
            on = k >= k_on and k < k_off
            n_cross = 0
            for j in range(n):
                I = Ion[j] if on else holding
                x = (V[j] - VT[j]) * invDT[j]
                if x > EXP_CAP:
                    x = EXP_CAP
                dV = (-gL[j] * (V[j] - EL[j]) + gLDT[j] * math.exp(x) - w[j] + I) * invC[j]
                dw = (a[j] * (V[j] - EL[j]) - w[j]) * invtw[j]
                Vn[j] = V[j] + dt * dV
                wn[j] = w[j] + dt * dw
                n_cross += not (Vn[j] < cut[j])
            if n_cross > 0:
                t0 = k * dt
                for j in range(n):
                    if Vn[j] < cut[j]:
                        continue
                    i = lo + j
                    if not (math.isfinite(Vn[j]) and math.isfinite(wn[j])):
                        if status[i] == 0:
                            status[i] = STATUS_BLOWUP
                        Vn[j] = Vr[j]
                        wn[j] = 0.0
                        continue
                    theta = (cut[j] - V[j]) / (Vn[j] - V[j])
                    if theta < 0.0:
                        theta = 0.0
                    ts = t0 + theta * dt
                    if counts[i] < max_spikes:
                        times[i, counts[i]] = ts
                    counts[i] += 1
                    if ts >= t_win0 and ts < t_win1:
                        n_win[i] += 1
                    if resolved:
                        I = Ion[j] if on else holding
                        wc = w[j] + theta * (wn[j] - w[j]) + b[j]
                        rest = (1.0 - theta) * dt
                        x = (Vr[j] - VT[j]) * invDT[j]
                        if x > EXP_CAP:
                            x = EXP_CAP
                        dV = (-gL[j] * (Vr[j] - EL[j]) + gLDT[j] * math.exp(x) - wc + I) * invC[j]
                        dw = (a[j] * (Vr[j] - EL[j]) - wc) * invtw[j]
                        Vn[j] = Vr[j] + rest * dV
                        wn[j] = wc + rest * dw
                    else:
                        Vn[j] = Vr[j]
                        wn[j] += b[j]
            for j in range(n):
                V[j] = Vn[j]
                w[j] = wn[j]
            if record:
                for j in range(n):
                    trace_x[lo + j, k + 1] = V[j]
                    trace_y[lo + j, k + 1] = w[j]
        for j in range(n):
            if not (math.isfinite(V[j]) and math.isfinite(w[j])):
                status[lo + j] = STATUS_BLOWUP


def _exp_term(V, VT, DT):
    return DT * np.exp(np.minimum((V - VT) / DT, EXP_CAP))


def initial_state(P: np.ndarray, holding_pA: float):
    """State at t = 0: V = EL, w = 0 without holding current; with one, the stable fixed point.

    The fixed point solves ``-gL (V-EL) + gL DeltaT exp((V-VT)/DeltaT) - a (V-EL) + I_h = 0``
    with ``w = a (V - EL)``; it is sought below VT (the lower branch) by bisection and kept if
    the Jacobian there has eigenvalues with negative real part. Sets without one are
    ``spontaneous`` (they start from V = EL, w = 0).
    """
    P = np.asarray(P, dtype=np.float64)
    C, gL, EL, VT, DT, a, tau_w = (P[:, i] for i in (P_C, P_GL, P_EL, P_VT, P_DT, P_A, P_TAUW))
    B = P.shape[0]
    V0 = EL.copy()
    w0 = np.zeros(B)
    spont = np.zeros(B, dtype=bool)
    if holding_pA == 0.0:
        return V0, w0, spont

    def f(V):
        return -(gL + a) * (V - EL) + gL * _exp_term(V, VT, DT) + holding_pA

    # f is decreasing then increasing; its minimum on the lower branch is at V* where
    # (gL + a) = gL exp((V*-VT)/DT); a root below V* exists if f(V*) <= 0.
    ratio = np.where(gL > 0, (gL + a) / np.where(gL > 0, gL, 1.0), np.inf)
    Vstar = np.where(ratio > 0, VT + DT * np.log(np.where(ratio > 0, ratio, 1.0)), np.inf)
    hi = np.minimum(Vstar, VT + 10.0 * DT)
    lo = np.minimum(EL, hi) - 1.0
    # extend lo downwards until f(lo) > 0 (f -> +inf as V -> -inf when gL + a > 0)
    for _ in range(60):
        bad = f(lo) <= 0
        if not bad.any():
            break
        lo = np.where(bad, lo - 2.0 * (np.abs(lo - hi) + 1.0), lo)
    ok = (f(lo) > 0) & (f(hi) <= 0) & np.isfinite(hi)
    lo_, hi_ = lo.copy(), hi.copy()
    for _ in range(200):
        mid = 0.5 * (lo_ + hi_)
        pos = f(mid) > 0
        lo_ = np.where(pos, mid, lo_)
        hi_ = np.where(pos, hi_, mid)
    Vf = 0.5 * (lo_ + hi_)
    # Jacobian of (dV/dt, dw/dt) at the fixed point
    j11 = (-gL + gL * np.exp(np.minimum((Vf - VT) / DT, EXP_CAP))) / C
    j12 = -1.0 / C
    j21 = a / tau_w
    j22 = -1.0 / tau_w
    tr = j11 + j22
    det = j11 * j22 - j12 * j21
    stable = ok & (tr < 0) & (det > 0)
    V0 = np.where(stable, Vf, EL)
    w0 = np.where(stable, a * (Vf - EL), 0.0)
    return V0, w0, ~stable


MODEL = Model(spec=SPEC, kernel=_kernel, initial_state=initial_state,
              state_names=("V_mV", "w_pA"), cut_name="Vpeak")
