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
from ._kernel_parts import (blowup_if_nonfinite, chunk, clear_set, crossing_theta, dtheta,
                            mark_blowup, n_chunks, record_spike, record_step, start_set)
from .base import CHUNK, Model, without_resolved2

P_C, P_GL, P_EL, P_VTH, P_VR, P_TREF = range(6)

PARAMS = (
    ParamSpec("C", "pF", 200.0, 20.0, 400.0, "membrane capacitance", "positive"),
    ParamSpec("gL", "nS", 10.0, 2.0, 40.0, "leak conductance", "nonnegative"),
    ParamSpec("EL", "mV", -70.0, -80.0, -50.0, "leak reversal (resting) potential"),
    ParamSpec("Vth", "mV", -50.0, -60.0, -35.0, "spike threshold"),
    ParamSpec("Vr", "mV", -60.0, -75.0, -45.0, "reset potential"),
    ParamSpec("t_ref", "ms", 2.0, 0.0, 10.0, "absolute refractory period", "nonnegative"),
)

#: the wide "cells" fit box (``snnfit fit --box cells``): bounds from physiology and from fits
#: of real cells (sources in docs/fit.md, "Boxes"), ``name: (lower, upper, scale)``; it
#: contains the default box and every preset
CELLS_BOX = {
    "C": (10.0, 3000.0, "log"),
    "gL": (1.0, 150.0, "log"),
    "EL": (-90.0, -40.0, "linear"),
    "Vth": (-65.0, -20.0, "linear"),
    "Vr": (-120.0, -30.0, "linear"),
    "t_ref": (0.0, 30.0, "linear"),
}

#: the frozen prior box (``make-target --prior`` draws truths uniformly from it): the fit
#: box of snnfit up to version c2792a7, kept so that every prior seed keeps its truth
#: (docs/fit.md, "Boxes")
PRIOR_BOX = {
    "C": (20.0, 400.0),
    "gL": (2.0, 40.0),
    "EL": (-80.0, -50.0),
    "Vth": (-60.0, -35.0),
    "Vr": (-75.0, -45.0),
    "t_ref": (0.0, 10.0),
}

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
    prior_box=PRIOR_BOX,
    boxes={"cells": CELLS_BOX},
    scaling_group=("C", "gL"),
    shift_group=("EL", "Vth", "Vr"),
)


@njit(cache=True, parallel=True)
def _kernel(P, amp, V0, r0, resolved, dt, n_steps, k_on, k_off, holding, extra, t_win0,
            t_win1, times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
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
            start_set(i, V[j], ref_end[j], counts, n_win, status, trace_x, trace_y, record)
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            hk = holding + extra[kk]  # the input outside the main step
            t0 = kk * dt
            t1 = t0 + dt
            n_cross = 0
            if resolved:
                for j in range(n):
                    I = Ion[j] if on else hk
                    # integrate only the part of the step after the refractory period
                    h = t1 - max(t0, ref_end[j])
                    h = min(max(h, 0.0), dt)
                    Vn[j] = V[j] + h * ((-gL[j] * (V[j] - EL[j]) + I) * invC[j])
                    live[j] = h > 0.0  # a step wholly inside the refractory period cannot spike
                    n_cross += live[j] and not (Vn[j] < cut[j])
            else:
                for j in range(n):
                    I = Ion[j] if on else hk
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
                        mark_blowup(status, i)
                        Vn[j] = Vr[j]
                        continue
                    theta = 0.0 if Vn[j] == V[j] else crossing_theta(cut[j], V[j], Vn[j])
                    if resolved:
                        # the step's integration started at max(t0, ref_end)
                        start = max(t0, min(ref_end[j], t1))
                        ts = start + theta * (t1 - start)
                    else:
                        ts = t0 + theta * dt
                    record_spike(i, ts, t_win0, t_win1, times, counts, n_win)
                    if resolved:
                        I = Ion[j] if on else hk
                        ref_end[j] = ts + tref[j]
                        h = t1 - ref_end[j]
                        h = min(max(h, 0.0), dt)
                        Vn[j] = Vr[j] + h * ((-gL[j] * (Vr[j] - EL[j]) + I) * invC[j])
                    else:
                        Vn[j] = Vr[j]
                        ref_left[j] = nref[j]
            for j in range(n):
                V[j] = Vn[j]
            record_step(lo, n, kk, V, ref_end, trace_x, trace_y, record)
        blowup_if_nonfinite(status, lo, n, V, 0)


# Sensitivity-kernel workspace: one flat array per chunk whose rows (CHUNK long, at compile-time
# constant offsets) hold the per-set constants, the state and the tangents, so that LLVM sees one
# base pointer with constant distances and vectorises the batch loop without alias checks.
_NS = len(PARAMS) + 1  # tangent columns: the parameters and the amplitude
# rows 0 to 5: 1/C, then the other parameters in spec order; 6: holding + amplitude; 7: -gL/C
_W_INVC, _W_GL, _W_EL, _W_CUT, _W_VR, _W_TREF, _W_ION, _W_GM = (r * CHUNK for r in range(8))
_W_V, _W_VN, _W_REF, _W_H, _W_F, _W_SPEC = (r * CHUNK for r in range(8, 14))
_W_SV = 14 * CHUNK  # column p of dV/dp at _W_SV + p * CHUNK
_W_SR = _W_SV + _NS * CHUNK  # column p of dr/dp (refractory end)
_W_LEN = _W_SR + _NS * CHUNK


@njit(inline="always")
def _tangent(W, p, j, inref, f, h, gm, g):
    """Column ``p`` of set ``j``: ``sV <- sV + dh f + h (-gL/C) sV + g`` (``dh = -sr`` if the
    refractory period ends inside the step, else 0; ``inref`` is a constant in the batch pass)."""
    s = W[_W_SV + p * CHUNK + j]
    s1 = s + (-W[_W_SR + p * CHUNK + j]) * f if inref else s
    W[_W_SV + p * CHUNK + j] = s1 + h * (gm * s) + g


@njit(inline="always")
def _tangent_set(W, j, V, on, inref):
    """One step of all tangent columns of set ``j`` (``V``: its voltage before the step)."""
    h = W[_W_H + j]
    f = W[_W_F + j]
    invC = W[_W_INVC + j]
    gm = W[_W_GM + j]
    hI = h if on else 0.0
    _tangent(W, P_C, j, inref, f, h, gm, h * (-f * invC))
    _tangent(W, P_GL, j, inref, f, h, gm, h * (-(V - W[_W_EL + j]) * invC))
    _tangent(W, P_EL, j, inref, f, h, gm, h * (W[_W_GL + j] * invC))
    _tangent(W, P_VTH, j, inref, f, h, gm, 0.0)
    _tangent(W, P_VR, j, inref, f, h, gm, 0.0)
    _tangent(W, P_TREF, j, inref, f, h, gm, 0.0)
    _tangent(W, _NS - 1, j, inref, f, h, gm, hI * invC)


@njit(inline="always")
def _special(W, j, t0, t1):
    """``(inref, cross)`` of set ``j`` after :func:`_state_pass`: its refractory period ends
    inside the step; it crosses the threshold in the step."""
    r = W[_W_REF + j]
    return (r > t0) & (r < t1), (W[_W_H + j] > 0.0) & (not (W[_W_VN + j] < W[_W_CUT + j]))


@njit(cache=True)
def _state_pass(W, n, on, hk, dt, t0, t1):
    """Step ``Vn`` of every set of the chunk (as :func:`_kernel`, ``resolved``; ``hk``: the
    input outside the main step), keeping ``h`` and ``f``; flags (``_W_SPEC``) and counts the
    sets that cross the threshold or end their refractory period inside the step."""
    n_special = 0
    for j in range(n):
        I = W[_W_ION + j] if on else hk
        V = W[_W_V + j]
        r = W[_W_REF + j]
        h = t1 - max(t0, r)
        h = min(max(h, 0.0), dt)
        f = (-W[_W_GL + j] * (V - W[_W_EL + j]) + I) * W[_W_INVC + j]
        W[_W_VN + j] = V + h * f
        W[_W_H + j] = h
        W[_W_F + j] = f
        inref, cross = _special(W, j, t0, t1)
        special = inref | cross
        W[_W_SPEC + j] = 1.0 if special else 0.0
        n_special += special
    return n_special


@njit(cache=True)
def _tangent_pass(W, n, on):
    """One step of every tangent column of the chunk in place, as if no refractory period ended
    inside the step (those sets and the crossing ones are redone by the caller); ``V <- Vn``."""
    for j in range(n):
        _tangent_set(W, j, W[_W_V + j], on, False)
        W[_W_V + j] = W[_W_VN + j]


@njit(cache=True, parallel=True)
def _sens_kernel(P, amp, V0, r0, sV0, sr0, dt, n_steps, k_on, k_off, holding, extra, t_win0,
                 t_win1, times, counts, n_win, status, jac):
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

    Layout (for speed): each step is a forward pass over the batch, a branch-free pass that
    updates the state and all tangent columns in place (one flat workspace, see ``_W_*``), and,
    only for the sets that cross or end their refractory period inside the step, a scalar pass
    that redoes their step from the tangents saved before the update.
    """
    B = P.shape[0]
    NP = _NS
    IA = NP - 1
    for ch in prange(n_chunks(B)):
        lo, n = chunk(ch, B)
        W = np.zeros(_W_LEN)
        # voltage and its tangents, before the step, of the sets redone by the scalar pass
        osV = np.empty((NP, n))
        oV = np.empty(n)
        idx = np.empty(n, dtype=np.int64)  # the sets redone, this step
        dth = np.empty(NP)
        for j in range(n):
            i = lo + j
            W[_W_INVC + j] = 1.0 / P[i, P_C]
            for q in range(1, NP - 1):  # rows 1 to 5: the parameters in spec order
                W[q * CHUNK + j] = P[i, q]
            W[_W_ION + j] = holding + amp[i]
            W[_W_GM + j] = -P[i, P_GL] * W[_W_INVC + j]
            W[_W_V + j] = V0[i]
            W[_W_REF + j] = r0[i]
            for p in range(NP):
                W[_W_SV + p * CHUNK + j] = sV0[i, p]
                W[_W_SR + p * CHUNK + j] = sr0[i, p]
            clear_set(i, counts, n_win, status)
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            hk = holding + extra[kk]
            t0 = kk * dt
            t1 = t0 + dt
            n_special = _state_pass(W, n, on, hk, dt, t0, t1)
            m = 0
            if n_special > 0:
                for j in range(n):
                    if m == n_special:
                        break
                    if W[_W_SPEC + j] != 0.0:
                        idx[m] = j
                        m += 1
                        oV[j] = W[_W_V + j]
                        for p in range(NP):
                            osV[p, j] = W[_W_SV + p * CHUNK + j]
            _tangent_pass(W, n, on)
            for q in range(m):
                j = idx[q]
                inref, cross = _special(W, j, t0, t1)
                V = oV[j]
                Vn = W[_W_VN + j]
                ref_end = W[_W_REF + j]
                cut = W[_W_CUT + j]
                if inref:  # redo the tangent step with dh = -sr
                    for p in range(NP):
                        W[_W_SV + p * CHUNK + j] = osV[p, j]
                    _tangent_set(W, j, V, on, True)
                if not cross:
                    continue
                i = lo + j
                invC = W[_W_INVC + j]
                gL = W[_W_GL + j]
                EL = W[_W_EL + j]
                Vr = W[_W_VR + j]
                if not math.isfinite(Vn):
                    mark_blowup(status, i)
                    W[_W_V + j] = Vr
                    for p in range(NP):
                        W[_W_SV + p * CHUNK + j] = 0.0
                    W[_W_SV + P_VR * CHUNK + j] = 1.0
                    continue
                if Vn == V:
                    theta = 0.0
                    den = 0.0
                else:
                    den = Vn - V
                    theta = (cut - V) / den
                if not (theta >= 0.0 and theta <= 1.0) or den == 0.0:
                    theta = 0.0 if not (theta >= 0.0 and theta <= 1.0) else theta
                    for p in range(NP):
                        dth[p] = 0.0
                else:
                    dtheta(W, _W_SV, j, osV, theta, den, dth)
                    dth[P_VTH] += 1.0 / den
                start = max(t0, min(ref_end, t1))
                ts = start + theta * (t1 - start)
                # dT = dstart (1 - theta) + dtheta (t1 - start); the new r = T + t_ref
                for p in range(NP):
                    dstart = W[_W_SR + p * CHUNK + j] if inref else 0.0
                    W[_W_SR + p * CHUNK + j] = dstart * (1.0 - theta) + dth[p] * (t1 - start)
                s = record_spike(i, ts, t_win0, t_win1, times, counts, n_win)
                if s >= 0:
                    for p in range(NP):
                        jac[i, s, p] = W[_W_SR + p * CHUNK + j]
                W[_W_SR + P_TREF * CHUNK + j] += 1.0
                I = W[_W_ION + j] if on else hk
                ref_end = ts + W[_W_TREF + j]
                W[_W_REF + j] = ref_end
                h = t1 - ref_end
                h = min(max(h, 0.0), dt)
                f = (-gL * (Vr - EL) + I) * invC
                W[_W_V + j] = Vr + h * f
                live = ref_end > t0 and ref_end < t1
                for p in range(NP):
                    dh = -W[_W_SR + p * CHUNK + j] if live else 0.0
                    W[_W_SV + p * CHUNK + j] = dh * f
                W[_W_SV + P_VR * CHUNK + j] += 1.0 + h * W[_W_GM + j]
                W[_W_SV + P_C * CHUNK + j] += h * (-f * invC)
                W[_W_SV + P_GL * CHUNK + j] += h * (-(Vr - EL) * invC)
                W[_W_SV + P_EL * CHUNK + j] += h * (gL * invC)
                if on:
                    W[_W_SV + IA * CHUNK + j] += h * invC
        blowup_if_nonfinite(status, lo, n, W, _W_V)


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


MODEL = Model(
    spec=SPEC,
    # resolved2 improves the crossing of a fast upswing; the LIF has none (its threshold
    # crossing is that of a slow trajectory)
    maps=without_resolved2(_kernel, _sens_kernel, sensitivity_cost=3),
    initial_state=initial_state,
    initial_state_sensitivity=initial_state_sensitivity,
    state_names=("V_mV", "ref_end_ms"),
    cut_name="Vth",
)
