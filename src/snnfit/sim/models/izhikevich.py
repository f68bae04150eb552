r"""Izhikevich model, book form (Izhikevich 2007, Dynamical Systems in Neuroscience, ch. 8).

.. math::

    C \frac{dv}{dt} = k (v - v_r)(v - v_t) - u + I, \qquad
    \frac{du}{dt} = a \left(b (v - v_r) - u\right)

At :math:`v \ge v_\mathrm{peak}`: :math:`v \leftarrow c`, :math:`u \leftarrow u + d`.
Units: C pF, k nS/mV, vr/vt/vpeak/c mV, a 1/ms, b nS, d pA, u and I pA, t ms.

The four-parameter model of Izhikevich (2003), IEEE Trans. Neural Netw. 14:1569,
``v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u)``, cut at 30 mV, is the exact special case
``C = 1, k = 0.04, vr`` = the lower root of ``0.04 v^2 + (5 - b) v + 140 = 0`` (its resting
potential), ``vt = -125 - vr``, ``vpeak = 30``, with ``u_2007 = u_2003 - b vr``
(:func:`from_izhikevich2003`). Its presets are provided through that conversion only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..params import ModelSpec, ParamSpec, Preset
from ._kernel_parts import (blowup_if_nonfinite, chunk, clear_set, crossing_theta, dtheta,
                            mark_blowup, n_chunks, record_spike, record_step, start_set)
from .base import CHUNK, Model, without_resolved2

# The defaults (the base point of reduced fits) are a generic point of the box, deliberately
# none of the presets, so that no fit to a preset target starts at its ground truth.

P_C, P_K, P_VR, P_VT, P_VPEAK, P_A, P_B, P_CR, P_D = range(9)

PARAMS = (
    ParamSpec("C", "pF", 150.0, 20.0, 300.0, "membrane capacitance", "positive"),
    ParamSpec("k", "nS/mV", 1.0, 0.2, 3.0, "gain of the quadratic term", "positive"),
    ParamSpec("vr", "mV", -65.0, -80.0, -50.0, "resting potential"),
    ParamSpec("vt", "mV", -42.0, -55.0, -30.0, "instantaneous threshold potential"),
    ParamSpec("vpeak", "mV", 40.0, 20.0, 60.0, "spike cut"),
    ParamSpec("a", "1/ms", 0.02, 0.005, 0.2, "recovery rate of u", "positive"),
    ParamSpec("b", "nS", 0.0, -5.0, 10.0, "sensitivity of u to v - vr"),
    ParamSpec("c", "mV", -55.0, -70.0, -35.0, "reset potential"),
    ParamSpec("d", "pA", 100.0, 0.0, 300.0, "spike-triggered increment of u"),
)

#: the wide "cells" fit box (``snnfit fit --box cells``): bounds from physiology, from published
#: point-neuron fits and from fits of the SSCx cells' tuning run (sources and the measurements
#: in docs/fit.md, "Boxes"), ``name: (lower, upper, scale)``; it contains the default box and
#: every preset (the dimensionless 2003 ones apart). vr, vt, vpeak, c enter only as
#: differences: a fit moves them along their common shift when one ends at a bound
#: (``ModelSpec.shift_group``)
CELLS_BOX = {
    "C": (5.0, 5000.0, "log"),
    "k": (0.005, 50.0, "log"),
    "vr": (-90.0, -40.0, "linear"),
    "vt": (-65.0, -10.0, "linear"),
    "vpeak": (-20.0, 100.0, "linear"),
    "a": (0.0002, 1.0, "log"),
    "b": (-50.0, 300.0, "linear"),
    "c": (-150.0, -30.0, "linear"),
    "d": (-200.0, 2000.0, "linear"),
}

#: the frozen prior box (``make-target --prior`` draws truths uniformly from it): the fit
#: box of snnfit up to version c2792a7, kept so that every prior seed keeps its truth
#: (docs/fit.md, "Boxes")
PRIOR_BOX = {
    "C": (20.0, 300.0),
    "k": (0.2, 3.0),
    "vr": (-80.0, -50.0),
    "vt": (-55.0, -30.0),
    "vpeak": (20.0, 60.0),
    "a": (0.005, 0.2),
    "b": (-5.0, 10.0),
    "c": (-70.0, -35.0),
    "d": (0.0, 300.0),
}


def from_izhikevich2003(a: float, b: float, c: float, d: float) -> dict[str, float]:
    """Book-form parameters equal to the 2003 model with (a, b, c, d) (see module docstring)."""
    disc = (5.0 - b) ** 2 - 4.0 * 0.04 * 140.0
    if disc < 0:
        raise ValueError(f"2003 model with b={b} has no resting potential")
    vr = (-(5.0 - b) - math.sqrt(disc)) / (2.0 * 0.04)
    return dict(C=1.0, k=0.04, vr=vr, vt=-125.0 - vr, vpeak=30.0, a=a, b=b, c=c, d=d)


_I2003 = "Izhikevich (2003), IEEE Trans. Neural Netw. 14:1569, Fig. 2"
_I2007 = "Izhikevich (2007), Dynamical Systems in Neuroscience, ch. 8"
# (a, b, c, d, step amplitude in the model's units)
_ROWS_2003 = {
    "RS": (0.02, 0.2, -65.0, 8.0, 10.0),
    "IB": (0.02, 0.2, -55.0, 4.0, 10.0),
    "CH": (0.02, 0.2, -50.0, 2.0, 10.0),
    "FS": (0.1, 0.2, -65.0, 2.0, 10.0),
    "TC": (0.02, 0.25, -65.0, 0.05, 10.0),
    "RZ": (0.1, 0.26, -65.0, 2.0, 10.0),
    "LTS": (0.02, 0.25, -65.0, 2.0, 10.0),
}
_NOTE_2003 = "step I = 10 as in the paper's Fig. 2 (RS, IB, CH, FS)"
_NOTE_2003_DEF = "no published step: documented default amplitude that makes it fire clearly"

PRESETS = {}
for _name, (_a, _b, _c, _d, _amp) in _ROWS_2003.items():
    PRESETS[f"izhikevich2003:{_name}"] = Preset(
        f"izhikevich2003:{_name}", from_izhikevich2003(_a, _b, _c, _d), _amp, _I2003,
        _NOTE_2003 if _name in ("RS", "IB", "CH", "FS") else _NOTE_2003_DEF,
    )
_ROWS_2007 = {
    # C, k, vr, vt, vpeak, a, b, c, d, default amplitude (pA)
    "RS": (100, 0.7, -60, -40, 35, 0.03, -2, -50, 100, 100.0),
    "IB": (150, 1.2, -75, -45, 50, 0.01, 5, -56, 130, 600.0),
    "CH": (50, 1.5, -60, -40, 25, 0.03, 1, -40, 150, 400.0),
}
for _name, _row in _ROWS_2007.items():
    PRESETS[f"izhikevich2007:{_name}"] = Preset(
        f"izhikevich2007:{_name}",
        dict(zip(("C", "k", "vr", "vt", "vpeak", "a", "b", "c", "d"), map(float, _row[:9]))),
        _row[9], _I2007,
        "no published step: documented default amplitude (RS 100 pA -> 13 spikes, IB 600 pA "
        "-> 18, CH 400 pA -> 56 in the default protocol, euler scheme)",
    )

SPEC = ModelSpec(
    name="izhikevich",
    params=PARAMS,
    equations=__doc__,
    presets=PRESETS,
    max_amplitude_pA=3000.0,
    prior_box=PRIOR_BOX,
    boxes={"cells": CELLS_BOX},
    scaling_group=("C", "k", "b", "d"),
    shift_group=("vr", "vt", "vpeak", "c"),
)


@njit(cache=True, parallel=True)
def _kernel(P, amp, v0, u0, resolved, dt, n_steps, k_on, k_off, holding, extra, t_win0,
            t_win1, times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        invC = np.empty(n)
        k_ = np.empty(n)
        vr = np.empty(n)
        vt = np.empty(n)
        cut = np.empty(n)
        a = np.empty(n)
        b = np.empty(n)
        c = np.empty(n)
        d = np.empty(n)
        Ion = np.empty(n)
        v = np.empty(n)
        u = np.empty(n)
        vn = np.empty(n)
        un = np.empty(n)
        for j in range(n):
            i = lo + j
            invC[j] = 1.0 / P[i, P_C]
            k_[j] = P[i, P_K]
            vr[j] = P[i, P_VR]
            vt[j] = P[i, P_VT]
            cut[j] = P[i, P_VPEAK]
            a[j] = P[i, P_A]
            b[j] = P[i, P_B]
            c[j] = P[i, P_CR]
            d[j] = P[i, P_D]
            Ion[j] = holding + amp[i]
            v[j] = v0[i]
            u[j] = u0[i]
            start_set(i, v[j], u[j], counts, n_win, status, trace_x, trace_y, record)
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            hk = holding + extra[kk]  # the input outside the main step
            n_cross = 0
            for j in range(n):
                I = Ion[j] if on else hk
                dv = (k_[j] * (v[j] - vr[j]) * (v[j] - vt[j]) - u[j] + I) * invC[j]
                du = a[j] * (b[j] * (v[j] - vr[j]) - u[j])
                vn[j] = v[j] + dt * dv
                un[j] = u[j] + dt * du
                n_cross += not (vn[j] < cut[j])
            if n_cross > 0:
                t0 = kk * dt
                for j in range(n):
                    if vn[j] < cut[j]:
                        continue
                    i = lo + j
                    if not (math.isfinite(vn[j]) and math.isfinite(un[j])):
                        mark_blowup(status, i)
                        vn[j] = c[j]
                        un[j] = 0.0
                        continue
                    theta = crossing_theta(cut[j], v[j], vn[j])
                    record_spike(i, t0 + theta * dt, t_win0, t_win1, times, counts, n_win)
                    if resolved:
                        I = Ion[j] if on else hk
                        uc = u[j] + theta * (un[j] - u[j]) + d[j]
                        rest = (1.0 - theta) * dt
                        dv = (k_[j] * (c[j] - vr[j]) * (c[j] - vt[j]) - uc + I) * invC[j]
                        du = a[j] * (b[j] * (c[j] - vr[j]) - uc)
                        vn[j] = c[j] + rest * dv
                        un[j] = uc + rest * du
                    else:
                        vn[j] = c[j]
                        un[j] += d[j]
            for j in range(n):
                v[j] = vn[j]
                u[j] = un[j]
            record_step(lo, n, kk, v, u, trace_x, trace_y, record)
        blowup_if_nonfinite(status, lo, n, v, 0)
        blowup_if_nonfinite(status, lo, n, u, 0)


# Sensitivity-kernel workspace: one flat array per chunk whose rows (CHUNK long, at compile-time
# constant offsets) hold the per-set constants, the state and the tangents, so that LLVM sees one
# base pointer with constant distances and vectorises the batch loop without alias checks.
_NS = len(PARAMS) + 1  # tangent columns: the parameters and the amplitude
# rows 0 to 8: 1/C, then the other parameters in spec order; row 9: holding + amplitude
_W_INVC, _W_K, _W_VR, _W_VT, _W_CUT, _W_A, _W_B, _W_C, _W_D, _W_ION = (
    r * CHUNK for r in range(10))
_W_V, _W_U, _W_VN, _W_UN = (r * CHUNK for r in range(10, 14))
_W_SV = 14 * CHUNK  # column p of dv/dp at _W_SV + p * CHUNK
_W_SU = _W_SV + _NS * CHUNK  # column p of du/dp
_W_LEN = _W_SU + _NS * CHUNK


@njit(inline="always")
def _tangent(W, p, j, Avv, Avu, Auv, Auu, gv, gu):
    """Column ``p`` of set ``j``: ``(sv, su) <- [[Avv, Avu], [Auv, Auu]] (sv, su) + (gv, gu)``."""
    sv = W[_W_SV + p * CHUNK + j]
    su = W[_W_SU + p * CHUNK + j]
    W[_W_SV + p * CHUNK + j] = Avv * sv + Avu * su + gv
    W[_W_SU + p * CHUNK + j] = Auv * sv + Auu * su + gu


@njit(inline="always")
def _set_params(W, j):
    """``(1/C, k, vr, vt, a, b)`` of set ``j`` from the workspace."""
    return W[_W_INVC + j], W[_W_K + j], W[_W_VR + j], W[_W_VT + j], W[_W_A + j], W[_W_B + j]


@njit(cache=True)
def _state_pass(W, n, on, hk, dt):
    """Euler step ``(vn, un)`` of every set of the chunk (as :func:`_kernel`; ``hk``: the input
    outside the main step); returns how many reach the cut."""
    n_cross = 0
    for j in range(n):
        I = W[_W_ION + j] if on else hk
        v = W[_W_V + j]
        u = W[_W_U + j]
        invC, k_, vr, vt, a, b = _set_params(W, j)
        dv = (k_ * (v - vr) * (v - vt) - u + I) * invC
        du = a * (b * (v - vr) - u)
        vn = v + dt * dv
        W[_W_VN + j] = vn
        W[_W_UN + j] = u + dt * du
        n_cross += not (vn < W[_W_CUT + j])
    return n_cross


@njit(cache=True)
def _tangent_pass(W, n, on, hk, dt, gI):
    """One step of every tangent column of the chunk in place; the state moves to
    ``(vn, un)`` (crossing sets are corrected afterwards by the caller)."""
    IA = _NS - 1
    for j in range(n):
        # tangent step s' = (I + dt J_f) s + dt df/dp, in place; then the state moves
        I = W[_W_ION + j] if on else hk
        v = W[_W_V + j]
        u = W[_W_U + j]
        invC, k_, vr, vt, a, b = _set_params(W, j)
        x1 = v - vr
        x2 = v - vt
        fv = (k_ * x1 * x2 - u + I) * invC
        Avv = 1.0 + dt * (k_ * (x1 + x2) * invC)
        Avu = -dt * invC
        Auv = dt * (a * b)
        Auu = 1.0 - dt * a
        # one call per column (constant offsets: the batch loop vectorises)
        _tangent(W, P_C, j, Avv, Avu, Auv, Auu, dt * (-fv * invC), 0.0)
        _tangent(W, P_K, j, Avv, Avu, Auv, Auu, dt * (x1 * x2 * invC), 0.0)
        _tangent(W, P_VR, j, Avv, Avu, Auv, Auu, dt * (-k_ * x2 * invC), dt * (-a * b))
        _tangent(W, P_VT, j, Avv, Avu, Auv, Auu, dt * (-k_ * x1 * invC), 0.0)
        _tangent(W, P_VPEAK, j, Avv, Avu, Auv, Auu, 0.0, 0.0)
        _tangent(W, P_A, j, Avv, Avu, Auv, Auu, 0.0, dt * (b * x1 - u))
        _tangent(W, P_B, j, Avv, Avu, Auv, Auu, 0.0, dt * (a * x1))
        _tangent(W, P_CR, j, Avv, Avu, Auv, Auu, 0.0, 0.0)
        _tangent(W, P_D, j, Avv, Avu, Auv, Auu, 0.0, 0.0)
        _tangent(W, IA, j, Avv, Avu, Auv, Auu, gI * invC, 0.0)
        W[_W_V + j] = W[_W_VN + j]
        W[_W_U + j] = W[_W_UN + j]


@njit(cache=True, parallel=True)
def _sens_kernel(P, amp, v0, u0, sv0, su0, dt, n_steps, k_on, k_off, holding, extra, t_win0,
                 t_win1, times, counts, n_win, status, jac):
    r"""Forward sensitivities of the ``resolved`` map: spike times and ``dT/dp`` (exact, discrete).

    Same map and arithmetic as :func:`_kernel` with ``resolved=1`` (bit-identical times); each
    state variable carries its derivative with respect to every column of
    ``(C, k, vr, vt, vpeak, a, b, c, d, amplitude)``. Euler step ``x' = x + dt f(x; p)``:
    ``s' = s + dt (J_f s + df/dp)`` with
    ``J_f = [[k (2v - vr - vt)/C, -1/C], [a b, -a]]``. At a crossing inside step k
    (``cut = vpeak``): ``theta = (vpeak - v)/(vn - v)``,
    ``dtheta = (dvpeak - sv - theta (svn - sv)) / (vn - v)``, ``dT/dp = dt dtheta``;
    ``uc = u + theta (un - u) + d`` with ``suc = su + dtheta (un - u) + theta (sun - su) + dd``;
    remainder ``rest = (1 - theta) dt`` from ``(c, uc)``:
    ``svn = dc + drest fv + rest (J_f (dc, suc) + dfv/dp)``, likewise for ``u``.
    ``jac`` is ``(B, max_spikes, 10)`` (ms per unit; ms/pA for the amplitude).

    Layout (for speed): each step is a forward pass over the batch, a branch-free pass that
    updates the state and all tangent columns in place (one flat workspace, see ``_W_*``), and,
    only for the sets that crossed the cut, a scalar pass applying the reset to the tangents
    saved before the update.
    """
    B = P.shape[0]
    NP = _NS
    IA = NP - 1
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        W = np.zeros(_W_LEN)
        # state and tangents, before the step, of the sets crossing in it
        osv = np.empty((NP, n))
        osu = np.empty((NP, n))
        ov = np.empty(n)
        ou = np.empty(n)
        idx = np.empty(n, dtype=np.int64)  # the sets crossing, this step
        dth = np.empty(NP)
        suc = np.empty(NP)
        tv = np.empty(NP)
        tu = np.empty(NP)
        for j in range(n):
            i = lo + j
            W[_W_INVC + j] = 1.0 / P[i, P_C]
            for q in range(1, NP - 1):  # rows 1 to 8: the parameters in spec order
                W[q * CHUNK + j] = P[i, q]
            W[_W_ION + j] = holding + amp[i]
            W[_W_V + j] = v0[i]
            W[_W_U + j] = u0[i]
            for p in range(NP):
                W[_W_SV + p * CHUNK + j] = sv0[i, p]
                W[_W_SU + p * CHUNK + j] = su0[i, p]
            clear_set(i, counts, n_win, status)
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            hk = holding + extra[kk]  # extra epochs: fixed currents, zero derivative
            gI = dt if on else 0.0  # amplitude column's forcing factor (0 outside the step)
            n_cross = _state_pass(W, n, on, hk, dt)
            m = 0
            if n_cross > 0:
                for j in range(n):
                    if m == n_cross:
                        break
                    if W[_W_VN + j] < W[_W_CUT + j]:
                        continue
                    idx[m] = j
                    m += 1
                    ov[j] = W[_W_V + j]
                    ou[j] = W[_W_U + j]
                    for p in range(NP):
                        osv[p, j] = W[_W_SV + p * CHUNK + j]
                        osu[p, j] = W[_W_SU + p * CHUNK + j]
            _tangent_pass(W, n, on, hk, dt, gI)
            if n_cross > 0:
                t0 = kk * dt
                for q in range(m):
                    j = idx[q]
                    vn = W[_W_V + j]
                    un = W[_W_U + j]
                    cut = W[_W_CUT + j]
                    i = lo + j
                    invC, k_, vr, vt, a, b = _set_params(W, j)
                    c = W[_W_C + j]
                    if not (math.isfinite(vn) and math.isfinite(un)):
                        mark_blowup(status, i)
                        W[_W_V + j] = c
                        W[_W_U + j] = 0.0
                        for p in range(NP):
                            W[_W_SV + p * CHUNK + j] = 0.0
                            W[_W_SU + p * CHUNK + j] = 0.0
                        W[_W_SV + P_CR * CHUNK + j] = 1.0
                        continue
                    v = ov[j]
                    u = ou[j]
                    den = vn - v
                    theta = (cut - v) / den
                    if not (theta >= 0.0 and theta <= 1.0):  # already above the cut
                        theta = 0.0
                        for p in range(NP):
                            dth[p] = 0.0
                    else:
                        dtheta(W, _W_SV, j, osv, theta, den, dth)
                        dth[P_VPEAK] += 1.0 / den
                    s = record_spike(i, t0 + theta * dt, t_win0, t_win1, times, counts, n_win)
                    if s >= 0:
                        for p in range(NP):
                            jac[i, s, p] = dt * dth[p]
                    I = W[_W_ION + j] if on else hk
                    uc = u + theta * (un - u) + W[_W_D + j]
                    for p in range(NP):
                        suc[p] = osu[p, j] + dth[p] * (un - u) + theta * (
                            W[_W_SU + p * CHUNK + j] - osu[p, j])
                    suc[P_D] += 1.0
                    rest = (1.0 - theta) * dt
                    dv = (k_ * (c - vr) * (c - vt) - uc + I) * invC
                    du = a * (b * (c - vr) - uc)
                    W[_W_V + j] = c + rest * dv
                    W[_W_U + j] = uc + rest * du
                    x1 = c - vr
                    x2 = c - vt
                    for p in range(NP):
                        tv[p] = -invC * suc[p]
                        tu[p] = -a * suc[p]
                    tv[P_CR] += k_ * (x1 + x2) * invC
                    tu[P_CR] += a * b
                    tv[P_C] += -dv * invC
                    tv[P_K] += x1 * x2 * invC
                    tv[P_VR] += -k_ * x2 * invC
                    tv[P_VT] += -k_ * x1 * invC
                    if on:
                        tv[IA] += invC
                    tu[P_VR] += -a * b
                    tu[P_A] += b * x1 - uc
                    tu[P_B] += a * x1
                    for p in range(NP):
                        W[_W_SV + p * CHUNK + j] = -dt * dth[p] * dv + rest * tv[p]
                        W[_W_SU + p * CHUNK + j] = suc[p] - dt * dth[p] * du + rest * tu[p]
                    W[_W_SV + P_CR * CHUNK + j] += 1.0
        blowup_if_nonfinite(status, lo, n, W, _W_V)
        blowup_if_nonfinite(status, lo, n, W, _W_U)


def initial_state(P: np.ndarray, holding_pA: float):
    """State at t = 0: v = vr, u = 0 without holding current; with one, the stable fixed point.

    Fixed points solve ``k (v-vr)(v-vt) - b (v-vr) + I_h = 0`` (with ``u = b (v - vr)``), a
    quadratic; the lower root is kept if the Jacobian there is stable. Sets without a stable
    fixed point are ``spontaneous`` (they start from v = vr, u = 0).
    """
    P = np.asarray(P, dtype=np.float64)
    C, k, vr, vt, a, b = (P[:, i] for i in (P_C, P_K, P_VR, P_VT, P_A, P_B))
    B = P.shape[0]
    v0 = vr.copy()
    u0 = np.zeros(B)
    spont = np.zeros(B, dtype=bool)
    if holding_pA == 0.0:
        return v0, u0, spont
    # k v^2 - (k (vr + vt) + b) v + (k vr vt + b vr + I_h) = 0
    qa = k
    qb = -(k * (vr + vt) + b)
    qc = k * vr * vt + b * vr + holding_pA
    disc = qb * qb - 4 * qa * qc
    has = disc >= 0
    vf = (-qb - np.sqrt(np.where(has, disc, 0.0))) / (2 * qa)
    j11 = k * (2 * vf - vr - vt) / C
    j12 = -1.0 / C
    j21 = a * b
    j22 = -a
    stable = has & (j11 + j22 < 0) & (j11 * j22 - j12 * j21 > 0)
    v0 = np.where(stable, vf, vr)
    u0 = np.where(stable, b * (vf - vr), 0.0)
    return v0, u0, ~stable


def initial_state_sensitivity(P: np.ndarray, holding_pA: float):
    """Derivatives ``(dv0/dp, du0/dp)``, each ``(B, n_params + 1)``, of :func:`initial_state`.

    Without holding current ``v0 = vr``. With one, the lower root ``v*`` of
    ``G(v) = k (v - vr)(v - vt) - b (v - vr) + I_h = 0`` moves by ``dv*/dp = -(dG/dp)/(dG/dv)``,
    ``u* = b (v* - vr)``. Sets without a stable fixed point start at ``v = vr, u = 0``.
    """
    P = np.asarray(P, dtype=np.float64)
    B, n_p = P.shape
    sv = np.zeros((B, n_p + 1))
    su = np.zeros((B, n_p + 1))
    v0, u0, spont = initial_state(P, holding_pA)
    sv[:, P_VR] = 1.0
    if holding_pA == 0.0:
        return sv, su
    k, vr, vt, b = (P[:, i] for i in (P_K, P_VR, P_VT, P_B))
    fx = ~spont
    Gv = k * (2.0 * v0 - vr - vt) - b
    dG = np.zeros((B, n_p + 1))
    dG[:, P_K] = (v0 - vr) * (v0 - vt)
    dG[:, P_VR] = -k * (v0 - vt) + b
    dG[:, P_VT] = -k * (v0 - vr)
    dG[:, P_B] = -(v0 - vr)
    with np.errstate(divide="ignore", invalid="ignore"):
        dv = -dG / Gv[:, None]
    sv[fx] = dv[fx]
    du = b[:, None] * dv
    du[:, P_VR] -= b
    du[:, P_B] += v0 - vr
    su[fx] = du[fx]
    return sv, su


MODEL = Model(
    spec=SPEC,
    # the quadratic upswing is resolved well enough at 0.1 ms that resolved2 is not needed
    # (usefulness of the resolved gradients, docs/gradients.md)
    maps=without_resolved2(_kernel, _sens_kernel, sensitivity_cost=4),
    initial_state=initial_state,
    initial_state_sensitivity=initial_state_sensitivity,
    state_names=("v_mV", "u_pA"),
    cut_name="vpeak",
)
