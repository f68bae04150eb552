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
from .base import CHUNK, STATUS_BLOWUP, Model

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
    scaling_group=("C", "k", "b", "d"),
)


@njit(cache=True, parallel=True)
def _kernel(P, amp, v0, u0, resolved, dt, n_steps, k_on, k_off, holding, t_win0, t_win1,
            times, counts, n_win, status, trace_x, trace_y, record):
    B = P.shape[0]
    max_spikes = times.shape[1]
    n_chunks = (B + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        lo = ch * CHUNK
        hi = min(B, lo + CHUNK)
        n = hi - lo
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
            counts[i] = 0
            n_win[i] = 0
            status[i] = 0
            if record:
                trace_x[i, 0] = v[j]
                trace_y[i, 0] = u[j]
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            n_cross = 0
            for j in range(n):
                I = Ion[j] if on else holding
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
                        if status[i] == 0:
                            status[i] = STATUS_BLOWUP
                        vn[j] = c[j]
                        un[j] = 0.0
                        continue
                    theta = (cut[j] - v[j]) / (vn[j] - v[j])
                    if not (theta >= 0.0 and theta <= 1.0):  # already above the cut
                        theta = 0.0
                    ts = t0 + theta * dt
                    if counts[i] < max_spikes:
                        times[i, counts[i]] = ts
                    counts[i] += 1
                    if ts >= t_win0 and ts < t_win1:
                        n_win[i] += 1
                    if resolved:
                        I = Ion[j] if on else holding
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
            if record:
                for j in range(n):
                    trace_x[lo + j, kk + 1] = v[j]
                    trace_y[lo + j, kk + 1] = u[j]
        for j in range(n):
            if not (math.isfinite(v[j]) and math.isfinite(u[j])):
                status[lo + j] = STATUS_BLOWUP


@njit(cache=True, parallel=True)
def _sens_kernel(P, amp, v0, u0, sv0, su0, dt, n_steps, k_on, k_off, holding, t_win0, t_win1,
                 times, counts, n_win, status, jac):
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
        fv = np.empty(n)
        fu = np.empty(n)
        Avv = np.empty(n)
        Avu = np.empty(n)
        Auv = np.empty(n)
        Auu = np.empty(n)
        sv = np.empty((NP, n))
        su = np.empty((NP, n))
        svn = np.empty((NP, n))
        sun = np.empty((NP, n))
        dth = np.empty(NP)
        suc = np.empty(NP)
        tv = np.empty(NP)
        tu = np.empty(NP)
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
            for p in range(NP):
                sv[p, j] = sv0[i, p]
                su[p, j] = su0[i, p]
            counts[i] = 0
            n_win[i] = 0
            status[i] = 0
        for kk in range(n_steps):
            on = kk >= k_on and kk < k_off
            n_cross = 0
            for j in range(n):
                I = Ion[j] if on else holding
                dv = (k_[j] * (v[j] - vr[j]) * (v[j] - vt[j]) - u[j] + I) * invC[j]
                du = a[j] * (b[j] * (v[j] - vr[j]) - u[j])
                fv[j] = dv
                fu[j] = du
                vn[j] = v[j] + dt * dv
                un[j] = u[j] + dt * du
                n_cross += not (vn[j] < cut[j])
                # one Euler step's tangent matrix I + dt J_f
                Avv[j] = 1.0 + dt * (k_[j] * ((v[j] - vr[j]) + (v[j] - vt[j])) * invC[j])
                Avu[j] = -dt * invC[j]
                Auv[j] = dt * (a[j] * b[j])
                Auu[j] = 1.0 - dt * a[j]
            for p in range(NP):
                for j in range(n):
                    svp = sv[p, j]
                    sup = su[p, j]
                    svn[p, j] = Avv[j] * svp + Avu[j] * sup
                    sun[p, j] = Auv[j] * svp + Auu[j] * sup
            for j in range(n):
                x1 = v[j] - vr[j]
                x2 = v[j] - vt[j]
                svn[P_C, j] += dt * (-fv[j] * invC[j])
                svn[P_K, j] += dt * (x1 * x2 * invC[j])
                svn[P_VR, j] += dt * (-k_[j] * x2 * invC[j])
                svn[P_VT, j] += dt * (-k_[j] * x1 * invC[j])
                if on:
                    svn[IA, j] += dt * invC[j]
                sun[P_VR, j] += dt * (-a[j] * b[j])
                sun[P_A, j] += dt * (b[j] * x1 - u[j])
                sun[P_B, j] += dt * (a[j] * x1)
            if n_cross > 0:
                t0 = kk * dt
                for j in range(n):
                    if vn[j] < cut[j]:
                        continue
                    i = lo + j
                    if not (math.isfinite(vn[j]) and math.isfinite(un[j])):
                        if status[i] == 0:
                            status[i] = STATUS_BLOWUP
                        vn[j] = c[j]
                        un[j] = 0.0
                        for p in range(NP):
                            svn[p, j] = 0.0
                            sun[p, j] = 0.0
                        svn[P_CR, j] = 1.0
                        continue
                    den = vn[j] - v[j]
                    theta = (cut[j] - v[j]) / den
                    if not (theta >= 0.0 and theta <= 1.0):  # already above the cut
                        theta = 0.0
                        for p in range(NP):
                            dth[p] = 0.0
                    else:
                        for p in range(NP):
                            dth[p] = (-sv[p, j] - theta * (svn[p, j] - sv[p, j])) / den
                        dth[P_VPEAK] += 1.0 / den
                    ts = t0 + theta * dt
                    if counts[i] < max_spikes:
                        times[i, counts[i]] = ts
                        for p in range(NP):
                            jac[i, counts[i], p] = dt * dth[p]
                    counts[i] += 1
                    if ts >= t_win0 and ts < t_win1:
                        n_win[i] += 1
                    I = Ion[j] if on else holding
                    uc = u[j] + theta * (un[j] - u[j]) + d[j]
                    for p in range(NP):
                        suc[p] = su[p, j] + dth[p] * (un[j] - u[j]) + theta * (sun[p, j] - su[p, j])
                    suc[P_D] += 1.0
                    rest = (1.0 - theta) * dt
                    dv = (k_[j] * (c[j] - vr[j]) * (c[j] - vt[j]) - uc + I) * invC[j]
                    du = a[j] * (b[j] * (c[j] - vr[j]) - uc)
                    vn[j] = c[j] + rest * dv
                    un[j] = uc + rest * du
                    x1 = c[j] - vr[j]
                    x2 = c[j] - vt[j]
                    for p in range(NP):
                        tv[p] = -invC[j] * suc[p]
                        tu[p] = -a[j] * suc[p]
                    tv[P_CR] += k_[j] * (x1 + x2) * invC[j]
                    tu[P_CR] += a[j] * b[j]
                    tv[P_C] += -dv * invC[j]
                    tv[P_K] += x1 * x2 * invC[j]
                    tv[P_VR] += -k_[j] * x2 * invC[j]
                    tv[P_VT] += -k_[j] * x1 * invC[j]
                    if on:
                        tv[IA] += invC[j]
                    tu[P_VR] += -a[j] * b[j]
                    tu[P_A] += b[j] * x1 - uc
                    tu[P_B] += a[j] * x1
                    for p in range(NP):
                        svn[p, j] = -dt * dth[p] * dv + rest * tv[p]
                        sun[p, j] = suc[p] - dt * dth[p] * du + rest * tu[p]
                    svn[P_CR, j] += 1.0
            for j in range(n):
                v[j] = vn[j]
                u[j] = un[j]
            sv, svn = svn, sv
            su, sun = sun, su
        for j in range(n):
            if not (math.isfinite(v[j]) and math.isfinite(u[j])):
                status[lo + j] = STATUS_BLOWUP


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


MODEL = Model(spec=SPEC, kernel=_kernel, initial_state=initial_state,
              state_names=("v_mV", "u_pA"), cut_name="vpeak")
