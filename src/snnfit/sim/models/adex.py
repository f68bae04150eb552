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
from ._kernel_parts import (blowup_if_nonfinite, chunk, clear_set, crossing_theta, dtheta,
                            mark_blowup, n_chunks, record_spike, record_step, start_set)
from .base import CHUNK, EXP_CAP, Model, SchemeMap, scheme_table

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

#: the wide "cells" fit box (``snnfit fit --box cells``): bounds from physiology, from published
#: point-neuron fits and from fits of the SSCx cells' tuning run (sources and the measurements
#: in docs/fit.md, "Boxes"), ``name: (lower, upper, scale)``; it contains the default box and
#: every preset. EL, VT, Vr (and Vpeak) enter only as differences: a fit moves them along
#: their common shift when one ends at a bound (``ModelSpec.shift_group``)
CELLS_BOX = {
    "C": (10.0, 3000.0, "log"),
    "gL": (0.2, 150.0, "log"),
    "EL": (-90.0, -40.0, "linear"),
    "VT": (-65.0, -25.0, "linear"),
    "DeltaT": (0.03, 12.0, "log"),
    "a": (-30.0, 300.0, "linear"),
    "tau_w": (5.0, 3000.0, "log"),
    "b": (-100.0, 1000.0, "linear"),
    "Vr": (-120.0, -30.0, "linear"),
    "Vpeak": (-20.0, 20.0, "linear"),
}

#: the frozen prior box (``make-target --prior`` draws truths uniformly from it): the fit
#: box of snnfit up to version c2792a7, kept so that every prior seed keeps its truth
#: (docs/fit.md, "Boxes")
PRIOR_BOX = {
    "C": (50.0, 300.0),
    "gL": (2.0, 40.0),
    "EL": (-80.0, -50.0),
    "VT": (-60.0, -40.0),
    "DeltaT": (0.5, 5.0),
    "a": (-15.0, 20.0),
    "tau_w": (10.0, 500.0),
    "b": (0.0, 200.0),
    "Vr": (-70.0, -40.0),
    "Vpeak": (-20.0, 20.0),
}

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
    prior_box=PRIOR_BOX,
    boxes={"cells": CELLS_BOX},
    scaling_group=("C", "gL", "a", "b"),
    shift_group=("EL", "VT", "Vr", "Vpeak"),
)


@njit(cache=True)
def _chunk_constants(P, amp, holding, lo, n):
    """Per-set constants of the forward kernels for sets ``lo .. lo + n``: ``1/C, gL, EL, VT,
    DeltaT, 1/DeltaT, gL DeltaT, a, 1/tau_w, b, Vr, holding + amplitude``."""
    invC = np.empty(n)
    gL = np.empty(n)
    EL = np.empty(n)
    VT = np.empty(n)
    DT = np.empty(n)
    invDT = np.empty(n)
    gLDT = np.empty(n)
    a = np.empty(n)
    invtw = np.empty(n)
    b = np.empty(n)
    Vr = np.empty(n)
    Ion = np.empty(n)
    for j in range(n):
        i = lo + j
        invC[j] = 1.0 / P[i, P_C]
        gL[j] = P[i, P_GL]
        EL[j] = P[i, P_EL]
        VT[j] = P[i, P_VT]
        DT[j] = P[i, P_DT]
        invDT[j] = 1.0 / P[i, P_DT]
        gLDT[j] = P[i, P_GL] * P[i, P_DT]
        a[j] = P[i, P_A]
        invtw[j] = 1.0 / P[i, P_TAUW]
        b[j] = P[i, P_B]
        Vr[j] = P[i, P_VR]
        Ion[j] = holding + amp[i]
    return invC, gL, EL, VT, DT, invDT, gLDT, a, invtw, b, Vr, Ion


@njit(inline="always")
def _chunk_state(V0, w0, lo, n, counts, n_win, status, trace_x, trace_y, record):
    """``(V, w, Vn, wn)`` of the forward kernels for sets ``lo .. lo + n``: the initial state
    and room for its Euler update; the sets' outputs cleared (:func:`start_set`)."""
    V = np.empty(n)
    w = np.empty(n)
    for j in range(n):
        i = lo + j
        V[j] = V0[i]
        w[j] = w0[i]
        start_set(i, V[j], w[j], counts, n_win, status, trace_x, trace_y, record)
    return V, w, np.empty(n), np.empty(n)


@njit(inline="always")
def _reset_step(Vr, EL, VT, invDT, gL, gLDT, a, invC, invtw, wc, I, rest):
    """One Euler step of length ``rest`` from the reset state ``(Vr, wc)``: ``(V, w)``."""
    x = (Vr - VT) * invDT
    if x > EXP_CAP:
        x = EXP_CAP
    dV = (-gL * (Vr - EL) + gLDT * math.exp(x) - wc + I) * invC
    dw = (a * (Vr - EL) - wc) * invtw
    return Vr + rest * dV, wc + rest * dw


@njit(cache=True, parallel=True)
def _kernel(P, amp, V0, w0, resolved, dt, n_steps, k_on, k_off, holding, extra, t_win0,
            t_win1, times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        invC, gL, EL, VT, DT, invDT, gLDT, a, invtw, b, Vr, Ion = _chunk_constants(
            P, amp, holding, lo, n)
        cut = np.empty(n)
        V, w, Vn, wn = _chunk_state(V0, w0, lo, n, counts, n_win, status, trace_x, trace_y,
                                    record)
        for j in range(n):
            i = lo + j
            if resolved:
                cut[j] = P[i, P_VT] + 5.0 * P[i, P_DT]
            else:
                cut[j] = P[i, P_VPEAK]
        for k in range(n_steps):
            on = k >= k_on and k < k_off
            hk = holding + extra[k]  # the input outside the main step
            n_cross = 0
            for j in range(n):
                # the right-hand side written out, as in _kernel_r2: through an inline helper
                # this loop ran 2 % slower at B = 1024 (docs/simulation.md)
                I = Ion[j] if on else hk
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
                        mark_blowup(status, i)
                        Vn[j] = Vr[j]
                        wn[j] = 0.0
                        continue
                    theta = crossing_theta(cut[j], V[j], Vn[j])
                    record_spike(i, t0 + theta * dt, t_win0, t_win1, times, counts, n_win)
                    if resolved:
                        I = Ion[j] if on else hk
                        wc = w[j] + theta * (wn[j] - w[j]) + b[j]
                        rest = (1.0 - theta) * dt
                        Vn[j], wn[j] = _reset_step(Vr[j], EL[j], VT[j], invDT[j], gL[j],
                                                   gLDT[j], a[j], invC[j], invtw[j], wc, I,
                                                   rest)
                    else:
                        Vn[j] = Vr[j]
                        wn[j] += b[j]
            for j in range(n):
                V[j] = Vn[j]
                w[j] = wn[j]
            record_step(lo, n, k, V, w, trace_x, trace_y, record)
        blowup_if_nonfinite(status, lo, n, V, 0)
        blowup_if_nonfinite(status, lo, n, w, 0)


# Sensitivity-kernel workspace (both maps): one flat array per chunk whose rows (CHUNK long, at
# compile-time constant offsets) hold the per-set constants, the state, the forward pass's
# exponential and the tangent columns, so that LLVM sees one base pointer with constant
# distances and vectorises the batch loop without alias checks (as in izhikevich.py, lif.py).
_NS = len(PARAMS) + 1  # tangent columns: the parameters and the amplitude
_IA = _NS - 1
# rows: 1/C, gL, EL, VT, DeltaT, 1/DeltaT, gL DeltaT, a, 1/tau_w, b, Vr, the cut (resolved) or
# the switch level Vs (resolved2), holding + amplitude; state V, w and its Euler update Vn, wn;
# the forward pass's exp(x), capped x and cap flag (1.0 where x > EXP_CAP); resolved2: pending
# flag (1.0 while a spike is pending) and pending spike time
(_W_INVC, _W_GL, _W_EL, _W_VT, _W_DT, _W_INVDT, _W_GLDT, _W_A, _W_INVTW, _W_B, _W_VR, _W_CUT,
 _W_ION, _W_V, _W_W, _W_VN, _W_WN, _W_EX, _W_XX, _W_CAP, _W_PEND, _W_TSP) = (
    r * CHUNK for r in range(22))
_W_SV = 22 * CHUNK  # column p of dV/dp at _W_SV + p * CHUNK
_W_SW = _W_SV + _NS * CHUNK  # column p of dw/dp
_W_LEN = _W_SW + _NS * CHUNK


@njit(cache=True)
def _sens_chunk(P, amp, V0, w0, sV0, sw0, lo, n, holding, kappa, counts, n_win, status):
    """Start of a sensitivity kernel's chunk, sets ``lo .. lo + n - 1``: their outputs cleared;
    ``(W, osv, osw, ov, ow, idx)``: the workspace filled (the cut row is ``VT + kappa
    DeltaT``), room for the stashed tangents and state (:func:`_stash`) and the event sets."""
    W = np.zeros(_W_LEN)
    for j in range(n):
        i = lo + j
        clear_set(i, counts, n_win, status)
        W[_W_INVC + j] = 1.0 / P[i, P_C]
        W[_W_GL + j] = P[i, P_GL]
        W[_W_EL + j] = P[i, P_EL]
        W[_W_VT + j] = P[i, P_VT]
        W[_W_DT + j] = P[i, P_DT]
        W[_W_INVDT + j] = 1.0 / P[i, P_DT]
        W[_W_GLDT + j] = P[i, P_GL] * P[i, P_DT]
        W[_W_A + j] = P[i, P_A]
        W[_W_INVTW + j] = 1.0 / P[i, P_TAUW]
        W[_W_B + j] = P[i, P_B]
        W[_W_VR + j] = P[i, P_VR]
        W[_W_CUT + j] = P[i, P_VT] + kappa * P[i, P_DT]
        W[_W_ION + j] = holding + amp[i]
        W[_W_V + j] = V0[i]
        W[_W_W + j] = w0[i]
        for p in range(_NS):
            W[_W_SV + p * CHUNK + j] = sV0[i, p]
            W[_W_SW + p * CHUNK + j] = sw0[i, p]
    osv = np.empty((_NS, n))
    osw = np.empty((_NS, n))
    return W, osv, osw, np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)


@njit(cache=True)
def _state_pass(W, n, on, hk, dt, t1):
    """Euler update ``(Vn, wn)`` of every set of the chunk, same arithmetic as :func:`_kernel`
    and :func:`_kernel_r2` (a pending set is held: step ``dt * 0``; the ``resolved`` map never
    sets the pending flag, and ``dt * 1.0 = dt``); stores ``exp(x)``, ``x`` and the cap flag
    for the tangent pass. Returns how many sets have an event: a pending spike before ``t1``
    (the step's end) or, not pending, ``Vn`` at or above the cut row."""
    n_event = 0
    for j in range(n):
        I = W[_W_ION + j] if on else hk
        V = W[_W_V + j]
        w = W[_W_W + j]
        x = (V - W[_W_VT + j]) * W[_W_INVDT + j]
        cap = x > EXP_CAP
        x = EXP_CAP if cap else x
        e = math.exp(x)
        W[_W_EX + j] = e
        W[_W_XX + j] = x
        W[_W_CAP + j] = 1.0 if cap else 0.0
        dV = (-W[_W_GL + j] * (V - W[_W_EL + j]) + W[_W_GLDT + j] * e - w + I) * W[_W_INVC + j]
        dw = (W[_W_A + j] * (V - W[_W_EL + j]) - w) * W[_W_INVTW + j]
        pf = W[_W_PEND + j]
        hdt = dt * (1.0 - pf)
        Vn = V + hdt * dV
        W[_W_VN + j] = Vn
        W[_W_WN + j] = w + hdt * dw
        ev = (W[_W_TSP + j] < t1) if pf != 0.0 else (not (Vn < W[_W_CUT + j]))
        n_event += ev
    return n_event


@njit(inline="always")
def _tangent(W, p, j, dt, Avv, invC, Awv, invtw, gv, gw, hv, hw):
    """Column ``p`` of set ``j``: ``s <- s + dt (J_f s) (+ gv, + gw where hv, hw)``."""
    sv = W[_W_SV + p * CHUNK + j]
    sw = W[_W_SW + p * CHUNK + j]
    tv = sv + dt * (Avv * sv - invC * sw)
    tw = sw + dt * (Awv * sv - invtw * sw)
    W[_W_SV + p * CHUNK + j] = tv + gv if hv else tv
    W[_W_SW + p * CHUNK + j] = tw + gw if hw else tw


@njit(cache=True)
def _tangent_pass(W, n, on, hk, dt, gI):
    """One Euler step of every tangent column in place, ``s' = s + dt (J_f s + df/dp)``
    (branch-free: the capped exponential's terms by selects; ``gI`` is ``dt`` while the step
    is on, else 0); the state moves to ``(Vn, wn)``. Crossing sets are redone by the caller;
    a held (pending) set's tangents run on unused. ``Vpeak``'s column is not stepped (it
    enters neither the map nor the initial state: zero throughout)."""
    for j in range(n):
        I = W[_W_ION + j] if on else hk
        V = W[_W_V + j]
        w = W[_W_W + j]
        invC = W[_W_INVC + j]
        gL = W[_W_GL + j]
        DT = W[_W_DT + j]
        a = W[_W_A + j]
        invtw = W[_W_INVTW + j]
        e = W[_W_EX + j]
        x = W[_W_XX + j]
        cap = W[_W_CAP + j] != 0.0
        dV_ = V - W[_W_EL + j]
        fV = (-gL * dV_ + W[_W_GLDT + j] * e - w + I) * invC
        fw = (a * dV_ - w) * invtw
        Avv = (-gL * invC) if cap else (-gL + gL * e) * invC
        Awv = a * invtw
        gVT = 0.0 if cap else dt * (-gL * e * invC)
        gDT = dt * (gL * e * invC) if cap else dt * (gL * e * (1.0 - x) * invC)
        _tangent(W, P_C, j, dt, Avv, invC, Awv, invtw, dt * (-fV * invC), 0.0, True, False)
        _tangent(W, P_GL, j, dt, Avv, invC, Awv, invtw, dt * ((-dV_ + DT * e) * invC), 0.0,
                 True, False)
        _tangent(W, P_EL, j, dt, Avv, invC, Awv, invtw, dt * (gL * invC), dt * (-a * invtw),
                 True, True)
        _tangent(W, P_VT, j, dt, Avv, invC, Awv, invtw, gVT, 0.0, True, False)
        _tangent(W, P_DT, j, dt, Avv, invC, Awv, invtw, gDT, 0.0, True, False)
        _tangent(W, P_A, j, dt, Avv, invC, Awv, invtw, 0.0, dt * (dV_ * invtw), False, True)
        _tangent(W, P_TAUW, j, dt, Avv, invC, Awv, invtw, 0.0, dt * (-fw * invtw), False, True)
        _tangent(W, P_B, j, dt, Avv, invC, Awv, invtw, 0.0, 0.0, False, False)
        _tangent(W, P_VR, j, dt, Avv, invC, Awv, invtw, 0.0, 0.0, False, False)
        _tangent(W, _IA, j, dt, Avv, invC, Awv, invtw, gI * invC, 0.0, True, False)
        W[_W_V + j] = W[_W_VN + j]
        W[_W_W + j] = W[_W_WN + j]


@njit(cache=True)
def _stash(W, n, n_event, t1, idx, ov, ow, osv, osw):
    """Indices of the event sets (as counted by :func:`_state_pass`) into ``idx``; for those
    not pending, the state and tangents before the step into ``ov, ow, osv, osw``. Returns
    their number."""
    m = 0
    for j in range(n):
        if m == n_event:
            break
        if W[_W_PEND + j] != 0.0:
            if W[_W_TSP + j] < t1:
                idx[m] = j
                m += 1
            continue
        if W[_W_VN + j] < W[_W_CUT + j]:
            continue
        idx[m] = j
        m += 1
        ov[j] = W[_W_V + j]
        ow[j] = W[_W_W + j]
        for p in range(_NS):
            osv[p, j] = W[_W_SV + p * CHUNK + j]
            osw[p, j] = W[_W_SW + p * CHUNK + j]
    return m


@njit(cache=True)
def _blowup(W, j, status, i):
    """If the Euler update of set ``j`` (batch row ``i``) is not finite: status blow-up, restart
    at ``(Vr, 0)`` with ``dV/dVr = 1``; returns whether it was."""
    if math.isfinite(W[_W_V + j]) and math.isfinite(W[_W_W + j]):
        return False
    mark_blowup(status, i)
    W[_W_V + j] = W[_W_VR + j]
    W[_W_W + j] = 0.0
    for p in range(_NS):
        W[_W_SV + p * CHUNK + j] = 0.0
        W[_W_SW + p * CHUNK + j] = 0.0
    W[_W_SV + P_VR * CHUNK + j] = 1.0
    return True


@njit(cache=True)
def _crossing(W, j, theta, den, dwn, osv, osw, kappa, dth, swx):
    """Derivatives at a crossing of ``VT + kappa DeltaT`` at ``theta`` of the step of set ``j``
    (``den = Vn - V``, ``dwn = wn - w``; tangents before the step ``osv, osw``, after it in the
    workspace): ``dth = d theta/dp``, ``swx = d w/dp`` at the crossing."""
    dtheta(W, _W_SV, j, osv, theta, den, dth)
    dth[P_VT] += 1.0 / den
    dth[P_DT] += kappa / den
    for p in range(_NS):
        swx[p] = osw[p, j] + dth[p] * dwn + theta * (W[_W_SW + p * CHUNK + j] - osw[p, j])


@njit(cache=True)
def _record(i, ts, dT, t_win0, t_win1, times, counts, n_win, jac):
    """Spike at ``ts`` of batch row ``i`` with derivatives ``dT``."""
    s = record_spike(i, ts, t_win0, t_win1, times, counts, n_win)
    if s >= 0:
        for p in range(_NS):
            jac[i, s, p] = dT[p]


@njit(cache=True)
def _remainder(W, j, wc, swc, dT, rest, I, on, tV, tw):
    """Reset of set ``j`` at spike time ``T``: from ``(Vr, wc)`` one Euler step of length
    ``rest`` (``drest = -dT``); tangents from ``swc = d wc/dp`` and ``dT = dT/dp``."""
    invC = W[_W_INVC + j]
    gL = W[_W_GL + j]
    EL = W[_W_EL + j]
    DT = W[_W_DT + j]
    a = W[_W_A + j]
    invtw = W[_W_INVTW + j]
    Vr = W[_W_VR + j]
    x = (Vr - W[_W_VT + j]) * W[_W_INVDT + j]
    cap2 = x > EXP_CAP
    if x > EXP_CAP:
        x = EXP_CAP
    e = math.exp(x)
    dV = (-gL * (Vr - EL) + W[_W_GLDT + j] * e - wc + I) * invC
    dw = (a * (Vr - EL) - wc) * invtw
    W[_W_V + j] = Vr + rest * dV
    W[_W_W + j] = wc + rest * dw
    # tangent of the remainder step from (Vr, wc)
    avv = (-gL * invC) if cap2 else (-gL + gL * e) * invC
    for p in range(_NS):
        tV[p] = -invC * swc[p]
        tw[p] = -invtw * swc[p]
    tV[P_VR] += avv
    tw[P_VR] += a * invtw
    dr = Vr - EL
    tV[P_C] += -dV * invC
    tV[P_GL] += (-dr + DT * e) * invC
    tV[P_EL] += gL * invC
    if not cap2:
        tV[P_VT] += -gL * e * invC
        tV[P_DT] += gL * e * (1.0 - x) * invC
    else:
        tV[P_DT] += gL * e * invC
    if on:
        tV[_IA] += invC
    tw[P_EL] += -a * invtw
    tw[P_A] += dr * invtw
    tw[P_TAUW] += -dw * invtw
    for p in range(_NS):
        W[_W_SV + p * CHUNK + j] = -dT[p] * dV + rest * tV[p]
        W[_W_SW + p * CHUNK + j] = swc[p] - dT[p] * dw + rest * tw[p]
    W[_W_SV + P_VR * CHUNK + j] += 1.0


@njit(cache=True, parallel=True)
def _sens_kernel(P, amp, V0, w0, sV0, sw0, dt, n_steps, k_on, k_off, holding, extra, t_win0,
                 t_win1, times, counts, n_win, status, jac):
    r"""Forward sensitivities of the ``resolved`` map: spike times and ``dT/dp`` (exact, discrete).

    Same map and same arithmetic as :func:`_kernel` with ``resolved=1`` (the spike times are
    bit-identical); in addition every state variable carries its derivative with respect to
    each column ``p`` of ``(C, gL, EL, VT, DeltaT, a, tau_w, b, Vr, Vpeak, amplitude)``:
    ``sV[p] = dV/dp``, ``sw[p] = dw/dp`` (units mV/[p], pA/[p]). Inputs ``sV0, sw0`` (B, 11) are
    the derivatives of the initial state. Per Euler step ``x' = x + dt f(x; p)``:
    ``s' = s + dt (J_f s + df/dp)``. At a crossing inside step k (``cut = VT + 5 DeltaT``):

    * ``theta = (cut - V) / (Vn - V)``,
      ``dtheta = (dcut - sV - theta (sVn - sV)) / (Vn - V)``, spike time ``t_k + theta dt``,
      ``dT/dp = dt dtheta``;
    * ``wc = w + theta (wn - w) + b``, ``swc = sw + dtheta (wn - w) + theta (swn - sw) + db``;
    * remainder ``rest = (1 - theta) dt`` (``drest = -dt dtheta``) from ``(Vr, wc)``:
      ``sVn = dVr + drest fV + rest (J_f (dVr, swc) + dfV/dp)``, likewise for ``w``.

    ``Vpeak`` does not enter the map (zero column). ``jac`` is ``(B, max_spikes, 11)`` (ms per
    unit of each parameter; ms/pA for the amplitude); rows past the spike count are untouched.

    Layout (for speed): each step is a forward pass over the batch (:func:`_state_pass`), a
    branch-free pass that updates the state and all tangent columns in place
    (:func:`_tangent_pass`, one flat workspace, see ``_W_*``) and, only for the sets that
    crossed the cut, a scalar pass applying the crossing to the tangents saved before the
    update (:func:`_stash`).
    """
    B = P.shape[0]
    NP = _NS
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        # workspace; state and tangents, before the step, of the sets crossing in it
        W, osv, osw, ov, ow, idx = _sens_chunk(P, amp, V0, w0, sV0, sw0, lo, n, holding, 5.0,
                                               counts, n_win, status)
        dth = np.empty(NP)
        dT = np.empty(NP)
        swc = np.empty(NP)
        tV = np.empty(NP)
        tw = np.empty(NP)
        for k in range(n_steps):
            on = k >= k_on and k < k_off
            hk = holding + extra[k]  # extra epochs: fixed currents, zero derivative
            gI = dt if on else 0.0  # amplitude column's forcing factor (0 outside the step)
            t0 = k * dt
            n_cross = _state_pass(W, n, on, hk, dt, t0 + dt)
            m = 0
            if n_cross > 0:
                m = _stash(W, n, n_cross, t0 + dt, idx, ov, ow, osv, osw)
            _tangent_pass(W, n, on, hk, dt, gI)
            for q in range(m):
                j = idx[q]
                i = lo + j
                if _blowup(W, j, status, i):
                    continue
                Vn = W[_W_V + j]
                wn = W[_W_W + j]
                V = ov[j]
                w = ow[j]
                den = Vn - V
                theta = (W[_W_CUT + j] - V) / den
                if not (theta >= 0.0 and theta <= 1.0):  # already above the cut
                    theta = 0.0
                    for p in range(NP):
                        dth[p] = 0.0
                        swc[p] = osw[p, j] + dth[p] * (wn - w) + theta * (
                            W[_W_SW + p * CHUNK + j] - osw[p, j])
                else:
                    _crossing(W, j, theta, den, wn - w, osv, osw, 5.0, dth, swc)
                for p in range(NP):
                    dT[p] = dt * dth[p]
                _record(i, t0 + theta * dt, dT, t_win0, t_win1, times, counts, n_win, jac)
                I = W[_W_ION + j] if on else hk
                wc = w + theta * (wn - w) + W[_W_B + j]
                swc[P_B] += 1.0
                _remainder(W, j, wc, swc, dT, (1.0 - theta) * dt, I, on, tV, tw)
        blowup_if_nonfinite(status, lo, n, W, _W_V)
        blowup_if_nonfinite(status, lo, n, W, _W_W)


# ---------------------------------------------------------------------------------------------
# Scheme ``resolved2``: the upswing from VT + KAPPA DeltaT to the cut by quadrature
# ---------------------------------------------------------------------------------------------

#: switch level of ``resolved2`` in units of DeltaT above VT (the exponential's e^2 = 7.4 times
#: the leak scale there; see docs/gradients.md for the choice, measured over 1, 2, 3, 5)
R2_KAPPA = 2.0
#: Gauss-Legendre nodes and weights on [-1, 1] for the upswing quadrature
R2_NODES, R2_WEIGHTS = np.polynomial.legendre.leggauss(8)


@njit(cache=True, parallel=True)
def _kernel_r2(P, amp, V0, w0, resolved, dt, n_steps, k_on, k_off, holding, extra, t_win0,
               t_win1, times, counts, n_win, status, trace_x, trace_y, record):
    r"""Forward kernel of the ``resolved2`` scheme (same signature as :func:`_kernel`).

    Forward Euler at ``dt`` below the switch level ``Vs = VT + R2_KAPPA DeltaT``. In the step
    whose Euler update reaches ``Vs`` the crossing is interpolated linearly (``theta``, state
    ``(Vs, w_s)``; if V already starts at or above ``Vs``, ``theta = 0`` and the state is the
    step's start). If ``f = dV/dt > 0`` there, the rest of the upswing is integrated in V,
    not in t: with ``w`` and ``I`` held at their crossing values, ``V`` increases monotonically
    (``f`` grows with V above VT), so

    .. math::

        \tau = \int_{V_s}^{V_T + 5\Delta_T} \frac{dV}{f(V, w_s)}, \qquad
        \Delta w = \int_{V_s}^{V_T + 5\Delta_T} \frac{a (V - E_L) - w_s}{\tau_w f(V, w_s)} dV

    by 8-point Gauss-Legendre quadrature in ``x = (V - VT)/DeltaT`` on ``[x_s, 5]``. The spike
    is at ``t_s + tau`` (possibly steps later: the set is held, "pending", until then); the
    reset state is ``(Vr, w_s + Delta w + b)`` and the rest of that step, up to the next grid
    point, is one Euler step. Spike times are thereby set by the slow approach to ``Vs``, not
    by the grid phase of the fast upswing. If ``f <= 0`` at the switch state the Euler step is
    kept (the trajectory may turn back). The trace holds ``Vs`` while a spike is pending.
    ``resolved`` is ignored (the scheme is this kernel's).
    """
    B = P.shape[0]
    NQ = R2_NODES.shape[0]
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        invC, gL, EL, VT, DT, invDT, gLDT, a, invtw, b, Vr, Ion = _chunk_constants(
            P, amp, holding, lo, n)
        Vs = np.empty(n)
        V, w, Vn, wn = _chunk_state(V0, w0, lo, n, counts, n_win, status, trace_x, trace_y,
                                    record)
        for j in range(n):
            Vs[j] = P[lo + j, P_VT] + R2_KAPPA * P[lo + j, P_DT]
        pend = np.zeros(n, dtype=np.int64)  # 1 while a spike is pending (held set)
        hdt = np.empty(n)
        tsp = np.zeros(n)
        wsp = np.zeros(n)
        for k in range(n_steps):
            on = k >= k_on and k < k_off
            hk = holding + extra[k]  # the input outside the main step
            t0 = k * dt
            n_event = 0
            for j in range(n):
                I = Ion[j] if on else hk
                x = (V[j] - VT[j]) * invDT[j]
                if x > EXP_CAP:
                    x = EXP_CAP
                dV = (-gL[j] * (V[j] - EL[j]) + gLDT[j] * math.exp(x) - w[j] + I) * invC[j]
                dw = (a[j] * (V[j] - EL[j]) - w[j]) * invtw[j]
                # a pending set is held: step 0 (0 * finite = 0); branch-free so it vectorises
                hdt[j] = dt * (1 - pend[j])
                Vn[j] = V[j] + hdt[j] * dV
                wn[j] = w[j] + hdt[j] * dw
                n_event += pend[j] * (tsp[j] < t0 + dt) + (1 - pend[j]) * (not (Vn[j] < Vs[j]))
            if n_event > 0:
                for j in range(n):
                    i = lo + j
                    I = Ion[j] if on else hk
                    if pend[j] == 1:
                        if not (tsp[j] < t0 + dt):
                            continue
                    elif not (Vn[j] < Vs[j]):
                        if not (math.isfinite(Vn[j]) and math.isfinite(wn[j])):
                            mark_blowup(status, i)
                            Vn[j] = Vr[j]
                            wn[j] = 0.0
                            continue
                        if V[j] < Vs[j]:
                            theta = (Vs[j] - V[j]) / (Vn[j] - V[j])
                            Vx = Vs[j]
                            wx = w[j] + theta * (wn[j] - w[j])
                        else:
                            theta = 0.0
                            Vx = V[j]
                            wx = w[j]
                        x0 = (Vx - VT[j]) * invDT[j]
                        xc = x0 if x0 < EXP_CAP else EXP_CAP
                        f0 = (-gL[j] * (Vx - EL[j]) + gLDT[j] * math.exp(xc) - wx + I) * invC[j]
                        if not (f0 > 0.0):
                            continue
                        tau = 0.0
                        dwu = 0.0
                        if x0 < 5.0:
                            h = 0.5 * (5.0 - x0)
                            for q in range(NQ):
                                xq = x0 + h * (R2_NODES[q] + 1.0)
                                Vq = VT[j] + DT[j] * xq
                                fq = (-gL[j] * (Vq - EL[j]) + gLDT[j] * math.exp(xq) - wx
                                      + I) * invC[j]
                                wq = h * R2_WEIGHTS[q] * DT[j] / fq
                                tau += wq
                                dwu += wq * ((a[j] * (Vq - EL[j]) - wx) * invtw[j])
                        pend[j] = 1
                        tsp[j] = t0 + theta * dt + tau
                        wsp[j] = wx + dwu + b[j]
                        Vn[j] = Vx
                        wn[j] = wx
                    else:
                        continue
                    if tsp[j] < t0 + dt:  # the pending spike falls in this step
                        ts = tsp[j]
                        record_spike(i, ts, t_win0, t_win1, times, counts, n_win)
                        pend[j] = 0
                        rest = t0 + dt - ts
                        Vn[j], wn[j] = _reset_step(Vr[j], EL[j], VT[j], invDT[j], gL[j],
                                                   gLDT[j], a[j], invC[j], invtw[j], wsp[j],
                                                   I, rest)
            for j in range(n):
                V[j] = Vn[j]
                w[j] = wn[j]
            record_step(lo, n, k, V, w, trace_x, trace_y, record)
        blowup_if_nonfinite(status, lo, n, V, 0)
        blowup_if_nonfinite(status, lo, n, w, 0)


@njit(cache=True, parallel=True)
def _sens_kernel_r2(P, amp, V0, w0, sV0, sw0, dt, n_steps, k_on, k_off, holding, extra,
                    t_win0, t_win1, times, counts, n_win, status, jac):
    r"""Forward sensitivities of the ``resolved2`` map (same signature as :func:`_sens_kernel`).

    Same arithmetic as :func:`_kernel_r2` (bit-identical spike times) plus the tangents
    ``sV[p], sw[p]`` of the state, as in :func:`_sens_kernel` for the Euler steps and the
    remainder step after a reset. At the switch (``Vs = VT + R2_KAPPA DeltaT``, so
    ``dVs = dVT + R2_KAPPA dDeltaT``): ``dtheta = (dVs - sV - theta (sVn - sV)) / (Vn - V)``,
    ``dw_s = sw + dtheta (wn - w) + theta (swn - sw)``; with ``x_s = (V_s - VT)/DeltaT`` and
    nodes ``x_q = x_s + h (xi_q + 1)``, ``h = (5 - x_s)/2``: ``dx_q = dx_s (1 - xi_q)/2``,
    ``dV_q = dVT + x_q dDeltaT + DeltaT dx_q``, ``df_q`` by the chain rule (``e^{x_q}`` enters
    through ``dx_q``), ``dtau = sum_q W_q [(dh DeltaT + h dDeltaT)/f_q - h DeltaT df_q/f_q^2]``
    and likewise ``dDelta w``. Spike time ``t_s + tau``: ``dT = dt dtheta + dtau``; reset
    ``w = w_s + Delta w + b``; the remainder ``rest = t_{k+1} - T`` has ``drest = -dT``.

    Layout as :func:`_sens_kernel` (forward pass, branch-free in-place tangent pass, scalar
    pass over the event sets only: the sets reaching ``Vs`` and the pending spikes falling in
    the step). A held set's tangents are never read: its reset sets them from the pending
    spike's derivatives ``stsp, swsp``.
    """
    B = P.shape[0]
    NP = _NS
    IA = _IA
    NQ = R2_NODES.shape[0]
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        # workspace; state and tangents, before the step, of the sets reaching Vs in it
        W, osv, osw, ov, ow, idx = _sens_chunk(P, amp, V0, w0, sV0, sw0, lo, n, holding,
                                               R2_KAPPA, counts, n_win, status)
        wsp = np.zeros(n)
        stsp = np.zeros((NP, n))
        swsp = np.zeros((NP, n))
        dth = np.empty(NP)
        sVx = np.empty(NP)
        swx = np.empty(NP)
        dx0 = np.empty(NP)
        dfq = np.empty(NP)
        dVq = np.empty(NP)
        dT = np.empty(NP)
        swc = np.empty(NP)
        tV = np.empty(NP)
        tw = np.empty(NP)
        for k in range(n_steps):
            on = k >= k_on and k < k_off
            hk = holding + extra[k]  # extra epochs: fixed currents, zero derivative
            gI = dt if on else 0.0
            t0 = k * dt
            t1 = t0 + dt
            n_event = _state_pass(W, n, on, hk, dt, t1)
            m = 0
            if n_event > 0:
                m = _stash(W, n, n_event, t1, idx, ov, ow, osv, osw)
            _tangent_pass(W, n, on, hk, dt, gI)
            for q in range(m):
                j = idx[q]
                i = lo + j
                I = W[_W_ION + j] if on else hk
                if W[_W_PEND + j] == 0.0:
                    if _blowup(W, j, status, i):
                        continue
                    Vn = W[_W_V + j]
                    wn = W[_W_W + j]
                    V = ov[j]
                    w = ow[j]
                    Vs = W[_W_CUT + j]
                    VT = W[_W_VT + j]
                    DT = W[_W_DT + j]
                    invDT = W[_W_INVDT + j]
                    invC = W[_W_INVC + j]
                    gL = W[_W_GL + j]
                    EL = W[_W_EL + j]
                    a = W[_W_A + j]
                    invtw = W[_W_INVTW + j]
                    if V < Vs:
                        den = Vn - V
                        theta = (Vs - V) / den
                        Vx = Vs
                        wx = w + theta * (wn - w)
                        _crossing(W, j, theta, den, wn - w, osv, osw, R2_KAPPA, dth, swx)
                        for p in range(NP):
                            sVx[p] = 0.0
                        sVx[P_VT] = 1.0
                        sVx[P_DT] = R2_KAPPA
                    else:
                        theta = 0.0
                        Vx = V
                        wx = w
                        for p in range(NP):
                            dth[p] = 0.0
                            sVx[p] = osv[p, j]
                            swx[p] = osw[p, j]
                    x0 = (Vx - VT) * invDT
                    xc = x0 if x0 < EXP_CAP else EXP_CAP
                    f0 = (-gL * (Vx - EL) + W[_W_GLDT + j] * math.exp(xc) - wx + I) * invC
                    if not (f0 > 0.0):
                        continue
                    for p in range(NP):
                        dx0[p] = sVx[p] * invDT
                    dx0[P_VT] -= invDT
                    dx0[P_DT] -= x0 * invDT
                    for p in range(NP):
                        stsp[p, j] = dt * dth[p]
                        swsp[p, j] = swx[p]
                    swsp[P_B, j] += 1.0
                    tau = 0.0
                    dwu = 0.0
                    if x0 < 5.0:
                        h = 0.5 * (5.0 - x0)
                        for qq in range(NQ):
                            xi = R2_NODES[qq]
                            xq = x0 + h * (xi + 1.0)
                            Vq = VT + DT * xq
                            eq = math.exp(xq)
                            fq = (-gL * (Vq - EL) + W[_W_GLDT + j] * eq - wx + I) * invC
                            wq = h * R2_WEIGHTS[qq] * DT / fq
                            gq = (a * (Vq - EL) - wx) * invtw
                            tau += wq
                            dwu += wq * gq
                            # d f_q / dp (per unit of each column)
                            for p in range(NP):
                                dxq = dx0[p] * 0.5 * (1.0 - xi)
                                dVq[p] = DT * dxq
                                dfq[p] = ((-gL + gL * eq) * dVq[p] - swx[p]) * invC
                            dVq[P_VT] += 1.0
                            dVq[P_DT] += xq
                            dfq[P_VT] += -gL * invC
                            dfq[P_DT] += (-gL * xq + gL * eq) * invC
                            dfq[P_C] += -fq * invC
                            dfq[P_GL] += (-(Vq - EL) + DT * eq) * invC
                            dfq[P_EL] += gL * invC
                            if on:
                                dfq[IA] += invC
                            # d w_q / dp with w_q = h W_q DeltaT / f_q
                            for p in range(NP):
                                dh = -0.5 * dx0[p]
                                dwq = R2_WEIGHTS[qq] * dh * DT / fq - wq * dfq[p] / fq
                                dgq = (a * dVq[p] - swx[p]) * invtw
                                stsp[p, j] += dwq
                                swsp[p, j] += dwq * gq + wq * dgq
                            dwqDT = h * R2_WEIGHTS[qq] / fq  # explicit DeltaT factor
                            stsp[P_DT, j] += dwqDT
                            swsp[P_DT, j] += dwqDT * gq
                            swsp[P_EL, j] += wq * (-a * invtw)
                            swsp[P_A, j] += wq * (Vq - EL) * invtw
                            swsp[P_TAUW, j] += wq * (-gq * invtw)
                    W[_W_PEND + j] = 1.0
                    W[_W_TSP + j] = t0 + theta * dt + tau
                    wsp[j] = wx + dwu + W[_W_B + j]
                    W[_W_V + j] = Vx
                    W[_W_W + j] = wx
                    # (the held set's tangents are not needed: the reset sets them)
                if W[_W_TSP + j] < t1:  # the pending spike falls in this step
                    ts = W[_W_TSP + j]
                    for p in range(NP):
                        dT[p] = stsp[p, j]
                        swc[p] = swsp[p, j]
                    _record(i, ts, dT, t_win0, t_win1, times, counts, n_win, jac)
                    W[_W_PEND + j] = 0.0
                    _remainder(W, j, wsp[j], swc, dT, t1 - ts, I, on, tV, tw)
        blowup_if_nonfinite(status, lo, n, W, _W_V)
        blowup_if_nonfinite(status, lo, n, W, _W_W)


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


def initial_state_sensitivity(P: np.ndarray, holding_pA: float):
    """Derivatives ``(dV0/dp, dw0/dp)``, each ``(B, n_params + 1)``, of :func:`initial_state`.

    Without holding current ``V0 = EL``. With one, the stable fixed point ``V*`` solves
    ``F(V) = -(gL + a)(V - EL) + gL DeltaT exp((V - VT)/DeltaT) + I_h = 0`` and
    ``dV*/dp = -(dF/dp) / (dF/dV)`` (implicit function theorem), ``w* = a (V* - EL)``.
    Sets without a stable fixed point start at ``V = EL, w = 0``. The amplitude column is 0.
    """
    P = np.asarray(P, dtype=np.float64)
    B, n_p = P.shape
    sV = np.zeros((B, n_p + 1))
    sw = np.zeros((B, n_p + 1))
    V0, w0, spont = initial_state(P, holding_pA)
    sV[:, P_EL] = 1.0
    if holding_pA == 0.0:
        return sV, sw
    gL, EL, VT, DT, a = (P[:, i] for i in (P_GL, P_EL, P_VT, P_DT, P_A))
    fx = ~spont
    x = np.minimum((V0 - VT) / DT, EXP_CAP)
    e = np.exp(x)
    FV = -(gL + a) + gL * e
    dF = np.zeros((B, n_p + 1))
    dF[:, P_GL] = -(V0 - EL) + DT * e
    dF[:, P_EL] = gL + a
    dF[:, P_VT] = -gL * e
    dF[:, P_DT] = gL * e * (1.0 - x)
    dF[:, P_A] = -(V0 - EL)
    with np.errstate(divide="ignore", invalid="ignore"):
        dV = -dF / FV[:, None]
    sV[fx] = dV[fx]
    dw = a[:, None] * dV
    dw[:, P_EL] -= a
    dw[:, P_A] += V0 - EL
    sw[fx] = dw[fx]
    return sV, sw


#: the cut of the resolved maps is VT + 5 DeltaT: Vpeak does not enter them
_VPEAK_UNUSED = {"Vpeak": "no role under the resolved scheme (cut VT + 5 DeltaT)"}

MODEL = Model(
    spec=SPEC,
    maps=scheme_table(
        SchemeMap("euler", "euler", _kernel, gradients="resolved"),
        SchemeMap("resolved", "resolved", _kernel, gradients="resolved",
                  sensitivity=_sens_kernel, sensitivity_cost=2, unused=_VPEAK_UNUSED),
        SchemeMap("resolved2", "resolved2", _kernel_r2, gradients="resolved2",
                  sensitivity=_sens_kernel_r2, sensitivity_cost=2, unused=_VPEAK_UNUSED),
    ),
    initial_state=initial_state,
    initial_state_sensitivity=initial_state_sensitivity,
    state_names=("V_mV", "w_pA"),
    cut_name="Vpeak",
)
