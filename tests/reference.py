"""Independent references for the simulator tests: analytic, naive pure-Python, scipy, Brian 2.

Nothing here imports the kernels. The naive simulators are written from the conventions in
``snnfit.sim.models.base`` / the model docstrings (one neuron, plain Python floats, divisions
written as in the equations), so they share no code with the batched numba kernels.

Conventions restated (ms, mV, pA, nS, pF): step ``k`` covers ``[k dt, (k+1) dt)`` and its
input is ``holding + amplitude`` when ``k_on <= k < k_off`` (the main step), else ``holding``
plus the amplitude of the protocol's extra epoch whose ``[start, end)`` holds ``k dt`` (0 if
none): the epochs are looked up step by step from the protocol's list (:func:`step_input`);
a spike is registered at the linearly interpolated crossing time inside its step.
"""

from __future__ import annotations

import math

import numpy as np

# ----------------------------------------------------------------------------------------
# spike-train indices (Naud et al. 2008 style)


def isis(t) -> np.ndarray:
    return np.diff(np.asarray(t, dtype=float))


def adaptation_index(t, skip: int = 0) -> float:
    """Naud et al. (2008): mean over consecutive ISIs of (ISI_{k+1} - ISI_k)/(ISI_{k+1} + ISI_k).

    ``skip`` leaves out the first ``skip`` ISIs (Naud et al. drop the transient). ~0 for tonic
    firing, > 0 for adaptation, < 0 for acceleration. NaN with fewer than two ISIs.
    """
    d = isis(t)[skip:]
    if len(d) < 2:
        return float("nan")
    return float(np.mean((d[1:] - d[:-1]) / (d[1:] + d[:-1])))


def first_latency(t, delay_ms: float) -> float:
    """First-spike latency from the step onset (ms); NaN without spikes."""
    return float(t[0] - delay_ms) if len(t) else float("nan")


def bursts(t) -> list[int]:
    """Sizes of the groups of spikes separated by 'long' ISIs.

    The ISIs are split at the geometric mean of the shortest and longest ISI; only meaningful
    when :func:`burst_ratio` is large (bimodal ISIs). A tonic train gives one group.
    """
    d = isis(t)
    if len(d) == 0:
        return [len(t)] if len(t) else []
    cut = math.sqrt(d.min() * d.max())
    sizes, cur = [], 1
    for x in d:
        if x > cut:
            sizes.append(cur)
            cur = 1
        else:
            cur += 1
    sizes.append(cur)
    return sizes


def burst_ratio(t) -> float:
    """Longest ISI over shortest ISI (1 for perfectly tonic firing)."""
    d = isis(t)
    return float(d.max() / d.min()) if len(d) else float("nan")


def cv(t) -> float:
    d = isis(t)
    return float(d.std() / d.mean())


# ----------------------------------------------------------------------------------------
# analytic LIF


def lif_isi(p: dict, I: float) -> float:
    """Steady ISI of the LIF under constant current: t_ref + tau ln((Vinf - Vr)/(Vinf - Vth))."""
    tau = p["C"] / p["gL"]
    vinf = p["EL"] + I / p["gL"]
    return p["t_ref"] + tau * math.log((vinf - p["Vr"]) / (vinf - p["Vth"]))


def lif_exact_spikes(p: dict, amp: float, delay: float, duration: float, t_stop: float):
    """Exact spike times of the continuous LIF (holding 0, starting at rest) under a step."""
    tau = p["C"] / p["gL"]
    vinf = p["EL"] + amp / p["gL"]
    if vinf <= p["Vth"]:
        return np.array([])
    out = []
    t = delay + tau * math.log((vinf - p["EL"]) / (vinf - p["Vth"]))
    isi = lif_isi(p, amp)
    end = min(delay + duration, t_stop)
    while t < end:
        out.append(t)
        t += isi
    return np.array(out)


# ----------------------------------------------------------------------------------------
# naive pure-Python simulators of the kernels' discrete maps


def _theta(cut, V, Vn):
    """Crossing fraction of the step; 0 when V was already at or above the cut."""
    th = (cut - V) / (Vn - V)
    return th if 0.0 <= th <= 1.0 else 0.0


def _steps(protocol):
    return protocol.n_steps, protocol.step_on, protocol.step_off


def step_input(protocol, amp: float, k: int) -> float:
    """The input (pA) of step ``k``: ``holding + amp`` in the main step; elsewhere ``holding``
    plus the amplitude of the extra epoch with ``start <= k dt < end`` (found by scanning the
    list, with a rounding tolerance of 1e-9 dt on both ends), or ``holding`` alone."""
    _, k_on, k_off = _steps(protocol)
    if k_on <= k < k_off:
        return protocol.holding_pA + amp
    t = k * protocol.dt_ms
    tol = 1e-9 * protocol.dt_ms
    for ep in protocol.epochs:
        if ep.start_ms - tol <= t < ep.end_ms - tol:
            return protocol.holding_pA + ep.amplitude_pA
    return protocol.holding_pA


def naive_lif(p: dict, amp: float, protocol, scheme: str = "euler", V0=None):
    C, gL, EL, Vth, Vr, tref = (p[k] for k in ("C", "gL", "EL", "Vth", "Vr", "t_ref"))
    dt = protocol.dt_ms
    n, k_on, k_off = _steps(protocol)
    V = EL if V0 is None else V0
    spikes = []
    hold_steps = 0  # euler: whole refractory steps left
    ref_end = -math.inf  # resolved: continuous end of refractoriness

    def f(V, I):
        return (-gL * (V - EL) + I) / C

    for k in range(n):
        I = step_input(protocol, amp, k)
        t0, t1 = k * dt, k * dt + dt
        if scheme == "euler":
            live = hold_steps == 0  # a held (refractory) step cannot spike
            if hold_steps > 0:
                hold_steps -= 1
                Vn = V
            else:
                Vn = V + dt * f(V, I)
            if live and Vn >= Vth:
                theta = 0.0 if Vn == V else _theta(Vth, V, Vn)
                spikes.append(t0 + theta * dt)
                Vn = Vr
                hold_steps = int(round(tref / dt))
        else:
            start = min(max(t0, ref_end), t1)
            Vn = V + (t1 - start) * f(V, I)
            if t1 > start and Vn >= Vth:  # a step wholly inside refractoriness cannot spike
                theta = 0.0 if Vn == V else _theta(Vth, V, Vn)
                ts = start + theta * (t1 - start)
                spikes.append(ts)
                ref_end = ts + tref
                h = min(max(t1 - ref_end, 0.0), dt)
                Vn = Vr + h * f(Vr, I)
        V = Vn
    return np.array(spikes)


def naive_adex(p: dict, amp: float, protocol, scheme: str = "euler", V0=None, w0=0.0):
    if scheme == "resolved2":
        return naive_adex_r2(p, amp, protocol, V0, w0)
    C, gL, EL, VT, DT, a, tw, b, Vr = (
        p[k] for k in ("C", "gL", "EL", "VT", "DeltaT", "a", "tau_w", "b", "Vr"))
    cut = p["Vpeak"] if scheme == "euler" else VT + 5 * DT
    dt = protocol.dt_ms
    n, k_on, k_off = _steps(protocol)
    V = EL if V0 is None else V0
    w = w0
    spikes = []

    def fV(V, w, I):
        return (-gL * (V - EL) + gL * DT * math.exp(min((V - VT) / DT, 300.0)) - w + I) / C

    def fw(V, w):
        return (a * (V - EL) - w) / tw

    for k in range(n):
        I = step_input(protocol, amp, k)
        Vn = V + dt * fV(V, w, I)
        wn = w + dt * fw(V, w)
        if Vn >= cut:
            theta = _theta(cut, V, Vn)
            spikes.append(k * dt + theta * dt)
            if scheme == "euler":
                Vn, wn = Vr, wn + b
            else:
                wc = w + theta * (wn - w) + b
                rest = (1 - theta) * dt
                Vn = Vr + rest * fV(Vr, wc, I)
                wn = wc + rest * fw(Vr, wc)
        V, w = Vn, wn
    return np.array(spikes)


#: resolved2 (restated from the AdEx docstring): switch level VT + 2 DeltaT, 8-point
#: Gauss-Legendre quadrature of the upswing in x = (V - VT) / DeltaT up to x = 5
R2_KAPPA = 2.0
R2_POINTS = 8


def naive_adex_r2(p: dict, amp: float, protocol, V0=None, w0=0.0):
    """AdEx under ``resolved2``, one neuron, written from the kernel's docstring: Euler below
    ``Vs = VT + 2 DeltaT``; in the step whose update reaches ``Vs`` the crossing is
    interpolated (or the step's start if already above); if ``f > 0`` there, the time to the
    cut ``tau = int dV / f(V, w_s)`` and the adaptation gained ``int (a (V - EL) - w_s) /
    (tau_w f) dV`` are integrated with ``w`` and ``I`` held; the neuron is held until the
    spike at ``t_s + tau``, then reset to ``(Vr, w_s + dw + b)`` and the rest of that step is
    one Euler step with that step's input."""
    C, gL, EL, VT, DT, a, tw, b, Vr = (
        p[k] for k in ("C", "gL", "EL", "VT", "DeltaT", "a", "tau_w", "b", "Vr"))
    nodes, weights = np.polynomial.legendre.leggauss(R2_POINTS)
    Vs = VT + R2_KAPPA * DT
    dt = protocol.dt_ms
    V = EL if V0 is None else V0
    w = w0
    spikes = []
    pending = None  # (spike time, w after the reset)

    def fV(V, w, I):
        return (-gL * (V - EL) + gL * DT * math.exp(min((V - VT) / DT, 300.0)) - w + I) / C

    def fw(V, w):
        return (a * (V - EL) - w) / tw

    for k in range(protocol.n_steps):
        I = step_input(protocol, amp, k)
        t0, t1 = k * dt, k * dt + dt
        if pending is None:
            Vn = V + dt * fV(V, w, I)
            wn = w + dt * fw(V, w)
            if Vn >= Vs:
                if V < Vs:
                    theta = (Vs - V) / (Vn - V)
                    Vx, wx = Vs, w + theta * (wn - w)
                else:
                    theta, Vx, wx = 0.0, V, w
                if fV(Vx, wx, I) > 0:
                    x0 = (Vx - VT) / DT
                    tau = dw = 0.0
                    if x0 < 5.0:
                        h = 0.5 * (5.0 - x0)
                        for xi, wt in zip(nodes, weights):
                            Vq = VT + DT * (x0 + h * (xi + 1.0))
                            fq = fV(Vq, wx, I)
                            tau += h * wt * DT / fq
                            dw += h * wt * DT / fq * fw(Vq, wx)
                    pending = (t0 + theta * dt + tau, wx + dw + b)
                    Vn, wn = Vx, wx
        else:
            Vn, wn = V, w  # held until the pending spike
        if pending is not None and pending[0] < t1:
            ts, wc = pending
            spikes.append(ts)
            pending = None
            rest = t1 - ts
            Vn = Vr + rest * fV(Vr, wc, I)
            wn = wc + rest * fw(Vr, wc)
        V, w = Vn, wn
    return np.array(spikes)


def naive_izhikevich(p: dict, amp: float, protocol, scheme: str = "euler", v0=None, u0=0.0):
    C, k_, vr, vt, vpeak, a, b, c, d = (
        p[k] for k in ("C", "k", "vr", "vt", "vpeak", "a", "b", "c", "d"))
    dt = protocol.dt_ms
    n, k_on, k_off = _steps(protocol)
    v = vr if v0 is None else v0
    u = u0
    spikes = []

    def fv(v, u, I):
        return (k_ * (v - vr) * (v - vt) - u + I) / C

    def fu(v, u):
        return a * (b * (v - vr) - u)

    for k in range(n):
        I = step_input(protocol, amp, k)
        vn = v + dt * fv(v, u, I)
        un = u + dt * fu(v, u)
        if vn >= vpeak:
            theta = _theta(vpeak, v, vn)
            spikes.append(k * dt + theta * dt)
            if scheme == "euler":
                vn, un = c, un + d
            else:
                uc = u + theta * (un - u) + d
                rest = (1 - theta) * dt
                vn = c + rest * fv(c, uc, I)
                un = uc + rest * fu(c, uc)
        v, u = vn, un
    return np.array(spikes)


NAIVE = {"lif": naive_lif, "adex": naive_adex, "izhikevich": naive_izhikevich}


def izhikevich2003(a: float, b: float, c: float, d: float, I: float, protocol):
    """The 2003 equations as published (v' = 0.04 v^2 + 5 v + 140 - u + I, u' = a (b v - u),
    cut 30 mV, v <- c, u <- u + d), forward Euler with the snnfit step and spike-time
    conventions. Starts at rest: v = the lower root of 0.04 v^2 + (5 - b) v + 140, u = b v."""
    dt = protocol.dt_ms
    n, k_on, k_off = _steps(protocol)
    v = (-(5 - b) - math.sqrt((5 - b) ** 2 - 4 * 0.04 * 140)) / (2 * 0.04)
    u = b * v
    spikes = []
    for k in range(n):
        Ik = protocol.holding_pA + (I if k_on <= k < k_off else 0.0)
        vn = v + dt * (0.04 * v * v + 5 * v + 140 - u + Ik)
        un = u + dt * (a * (b * v - u))
        if vn >= 30.0:
            spikes.append(k * dt + (30.0 - v) / (vn - v) * dt)
            vn, un = c, un + d
        v, u = vn, un
    return np.array(spikes)


# ----------------------------------------------------------------------------------------
# high-accuracy reference: scipy solve_ivp with events


def ivp_spikes(model: str, p: dict, amp: float, protocol, rtol=1e-10, atol=1e-10):
    """Spike times of the continuous model (resolved-scheme cut) by solve_ivp (DOP853) with a
    terminal event at the cut, restarted after every reset and at the step edges.

    adex: cut VT + 5 DeltaT, reset V <- Vr, w <- w + b. izhikevich: cut vpeak, v <- c, u <- u + d.
    Holding 0, starting at rest (V = EL, w = 0 / v = vr, u = 0).
    """
    from scipy.integrate import solve_ivp

    if model == "adex":
        C, gL, EL, VT, DT, a, tw, b, Vr = (
            p[k] for k in ("C", "gL", "EL", "VT", "DeltaT", "a", "tau_w", "b", "Vr"))
        cut = VT + 5 * DT

        def rhs(t, y, I):
            V, w = y
            return [(-gL * (V - EL) + gL * DT * np.exp((V - VT) / DT) - w + I) / C,
                    (a * (V - EL) - w) / tw]

        y = [EL, 0.0]
        reset = lambda y: [Vr, y[1] + b]  # noqa: E731
    elif model == "izhikevich":
        C, k_, vr, vt, cut, a, b, c, d = (
            p[k] for k in ("C", "k", "vr", "vt", "vpeak", "a", "b", "c", "d"))

        def rhs(t, y, I):
            v, u = y
            return [(k_ * (v - vr) * (v - vt) - u + I) / C, a * (b * (v - vr) - u)]

        y = [vr, 0.0]
        reset = lambda y: [c, y[1] + d]  # noqa: E731
    else:
        raise ValueError(model)

    def ev(t, y, I):
        return y[0] - cut

    ev.terminal = True
    ev.direction = 1
    edges = [0.0, protocol.delay_ms, protocol.stim_end_ms, protocol.t_stop_ms]
    spikes = []
    for seg in range(3):
        t, t_end = edges[seg], min(edges[seg + 1], protocol.t_stop_ms)
        I = protocol.holding_pA + (amp if seg == 1 else 0.0)
        while t < t_end:
            sol = solve_ivp(rhs, (t, t_end), y, method="DOP853", events=ev, args=(I,),
                            rtol=rtol, atol=atol)
            if sol.status == 1:  # event
                ts = float(sol.t_events[0][0])
                spikes.append(ts)
                y = reset(sol.y_events[0][0])
                t = ts
            else:
                y = list(sol.y[:, -1])
                t = t_end
    return np.array(spikes)


# ----------------------------------------------------------------------------------------
# Brian 2 (optional, test-only): the same equations, forward Euler, numpy target


def brian2_spikes(model: str, plist: list[dict], amps, protocol) -> list[np.ndarray]:
    """Spike times (Brian records the time of the step, k dt) of one NeuronGroup holding every
    parameter set of ``plist`` with its own amplitude, forward Euler, reset after the step."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = protocol.dt_ms * b2.ms
    N = len(plist)
    if model == "adex":
        eqs = """
        dv/dt = (-gL*(v - EL) + gL*DeltaT*exp((v - VT)/DeltaT) - w + I)/C : volt
        dw/dt = (a*(v - EL) - w)/tau_w : amp
        I : amp
        C : farad
        gL : siemens
        EL : volt
        VT : volt
        DeltaT : volt
        a : siemens
        tau_w : second
        b : amp
        Vr : volt
        Vpeak : volt
        """
        G = b2.NeuronGroup(N, eqs, threshold="v >= Vpeak", reset="v = Vr; w += b",
                           method="euler")
        units = dict(C=b2.pF, gL=b2.nS, EL=b2.mV, VT=b2.mV, DeltaT=b2.mV, a=b2.nS,
                     tau_w=b2.ms, b=b2.pA, Vr=b2.mV, Vpeak=b2.mV)
        for name, u in units.items():
            setattr(G, name, np.array([p[name] for p in plist]) * u)
        G.v = np.array([p["EL"] for p in plist]) * b2.mV
        G.w = 0 * b2.pA
    elif model == "izhikevich":
        eqs = """
        dv/dt = (k*(v - vr)*(v - vt) - u + I)/C : volt
        du/dt = a*(b*(v - vr) - u) : amp
        I : amp
        C : farad
        k : siemens/volt
        vr : volt
        vt : volt
        vpeak : volt
        a : 1/second
        b : siemens
        c : volt
        d : amp
        """
        G = b2.NeuronGroup(N, eqs, threshold="v >= vpeak", reset="v = c; u += d",
                           method="euler")
        units = dict(C=b2.pF, k=b2.nS / b2.mV, vr=b2.mV, vt=b2.mV, vpeak=b2.mV,
                     a=1 / b2.ms, b=b2.nS, c=b2.mV, d=b2.pA)
        for name, u in units.items():
            setattr(G, name, np.array([p[name] for p in plist]) * u)
        G.v = np.array([p["vr"] for p in plist]) * b2.mV
        G.u = 0 * b2.pA
    else:
        raise ValueError(model)
    M = b2.SpikeMonitor(G)
    net = b2.Network(G, M)
    hold = protocol.holding_pA * b2.pA
    G.I = hold
    net.run(protocol.delay_ms * b2.ms)
    G.I = hold + np.asarray(amps, dtype=float) * b2.pA
    net.run(protocol.duration_ms * b2.ms)
    G.I = hold
    rest = protocol.t_stop_ms - protocol.stim_end_ms
    if rest > 0:
        net.run(rest * b2.ms)
    trains = M.spike_trains()
    return [np.asarray(trains[i] / b2.ms) for i in range(N)]
