"""Simulator correctness: analytic LIF, naive references, published patterns, the 2003 model,
Brian 2, convergence of the resolved scheme to solve_ivp, initial state, presets, determinism.

References live in tests/reference.py; none of them uses the numba kernels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import reference as R
from snnfit.errors import UserError
from snnfit.sim.models import all_presets, get_model
from snnfit.sim.models.izhikevich import _ROWS_2003
from snnfit.sim.protocol import Epoch, StepProtocol
from snnfit.sim.simulate import simulate, simulate_batch

PRESETS = all_presets()
DEFAULT = StepProtocol()
LIF = dict(get_model("lif").spec.defaults())


def preset(name):
    m, p = PRESETS[name]
    return m, dict(p.params), p.amplitude_pA


def spikes(name, scheme="euler", protocol=DEFAULT, amp=None):
    m, p, a = preset(name)
    return simulate(m, p, a if amp is None else amp, protocol, scheme=scheme).spike_times_ms


# ------------------------------------------------------------------------------------------
# LIF against the analytic solution


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("I", [230.0, 300.0, 450.0, 800.0])
@pytest.mark.parametrize("t_ref", [0.0, 2.0, 3.33])
def test_lif_isi_analytic(I, scheme, t_ref):
    """Every interspike interval equals the analytic one within one dt."""
    p = dict(LIF, t_ref=t_ref)
    dt = DEFAULT.dt_ms
    t = simulate("lif", p, I, DEFAULT, scheme=scheme).spike_times_ms
    isi = R.lif_isi(p, I)
    assert len(t) > 10
    d = np.diff(t)
    assert np.all(np.abs(d - isi) <= dt), (isi, d.min(), d.max())
    # first-spike latency from rest: tau ln((Vinf - EL)/(Vinf - Vth))
    tau, vinf = p["C"] / p["gL"], p["EL"] + I / p["gL"]
    lat = tau * math.log((vinf - p["EL"]) / (vinf - p["Vth"]))
    # forward Euler's global error on a charging curve of length T is ~ T dt / (2 tau)
    assert abs((t[0] - DEFAULT.delay_ms) - lat) <= dt * (1 + lat / (2 * tau))


def test_lif_subthreshold_is_silent():
    """Below rheobase gL (Vth - EL) = 200 pA the LIF never fires."""
    t = simulate("lif", LIF, 199.0, DEFAULT).spike_times_ms
    assert len(t) == 0


# ------------------------------------------------------------------------------------------
# kernels against naive pure-Python simulations of the same discrete map

_NAIVE_CASES = ["lif:default", "naud2008:tonic", "naud2008:adapting", "naud2008:initial_burst",
                "naud2008:regular_bursting", "naud2008:delayed_accelerating",
                "naud2008:transient", "brette2005:default", "izhikevich2007:RS",
                "izhikevich2007:IB", "izhikevich2007:CH", "izhikevich2003:CH"]


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("name", _NAIVE_CASES)
def test_kernel_matches_naive(name, scheme):
    m, p, a = preset(name)
    ref = R.NAIVE[m](p, a, DEFAULT, scheme)
    t = simulate(m, p, a, DEFAULT, scheme=scheme).spike_times_ms
    assert len(t) == len(ref) > 0
    np.testing.assert_allclose(t, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_kernel_matches_naive_odd_protocol(model, scheme):
    """Off-grid delay/duration, dt not dividing them, holding 0, spikes after the step."""
    proto = StepProtocol(delay_ms=13.37, duration_ms=155.55, t_stop_ms=200.05, dt_ms=0.07)
    p = get_model(model).spec.defaults()
    amp = {"lif": 320.0, "adex": 600.0, "izhikevich": 400.0}[model]
    ref = R.NAIVE[model](p, amp, proto, scheme)
    t = simulate(model, p, amp, proto, scheme=scheme).spike_times_ms
    assert len(t) == len(ref) > 2
    np.testing.assert_allclose(t, ref, rtol=0, atol=1e-6)
    assert t[0] >= proto.step_on * proto.dt_ms


# ------------------------------------------------------------------------------------------
# published patterns


def _check_naud(name, t):
    delay = DEFAULT.delay_ms
    A = R.adaptation_index(t)
    lat = R.first_latency(t, delay)
    d = R.isis(t)
    if name == "tonic":
        assert abs(A) < 0.01 and R.burst_ratio(t) < 1.2 and lat < 20
    elif name == "adapting":
        assert A > 0.03 and d[-1] / d[0] > 3 and R.burst_ratio(t) < 10 and lat < 20
    elif name == "initial_burst":
        b = R.bursts(t)
        assert b[0] >= 2 and all(x == 1 for x in b[1:]) and len(b) > 5
        assert d[0] < d[-1] / 5 and lat < 10
        assert R.adaptation_index(t, skip=b[0]) < 0.01  # tonic after the burst
    elif name == "regular_bursting":
        b = R.bursts(t)
        assert R.burst_ratio(t) > 10 and len(b) >= 4 and all(x >= 2 for x in b)
    elif name == "delayed_accelerating":
        assert lat > 30 and lat > d[0] and A < 0 and d[-1] / d[0] < 0.6
    elif name == "delayed_regular_bursting":
        b = R.bursts(t)
        assert lat > 50 and lat > 5 * d[0]
        assert R.burst_ratio(t) > 10 and len(b) >= 4 and all(x >= 2 for x in b[:-1])
    elif name == "transient":
        assert len(t) == 1 and lat < 50
    elif name == "irregular":
        assert R.cv(t) > 0.3 and len(t) > 20
    else:  # pragma: no cover
        raise AssertionError(name)


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("name", [k.split(":")[1] for k in PRESETS if k.startswith("naud2008:")])
def test_naud2008_patterns(name, scheme):
    t = spikes(f"naud2008:{name}", scheme)
    t = t[t < DEFAULT.stim_end_ms]
    _check_naud(name, t)


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("name", ["RS", "IB", "CH", "FS"])
def test_izhikevich2003_patterns(name, scheme):
    """Izhikevich (2003) Fig. 2 at I = 10."""
    m, p, a = preset(f"izhikevich2003:{name}")
    assert a == 10.0
    t = simulate(m, p, a, DEFAULT, scheme=scheme).spike_times_ms
    d = R.isis(t)
    b = R.bursts(t)
    if name == "RS":  # regular spiking with adaptation, no bursts
        assert d[-1] / d[0] > 2 and R.burst_ratio(t) < 3 and R.cv(t[5:]) < 0.02
    elif name == "IB":  # initial burst, then tonic spiking
        assert b[0] >= 2 and all(x == 1 for x in b[1:]) and len(b) > 10
        assert R.burst_ratio(t) > 5 and R.cv(t[b[0] + 1:]) < 0.05
    elif name == "CH":  # repeated bursts
        assert R.burst_ratio(t) > 10 and len(b) >= 10 and all(x >= 3 for x in b[:-1])
    elif name == "FS":  # high rate, no adaptation
        assert len(t) > 100 and abs(R.adaptation_index(t, skip=3)) < 0.01
        assert R.burst_ratio(t) < 2.5


def test_izhikevich2007_default_counts():
    """In the default protocol RS fires 13 spikes at 100 pA, IB 18 at 600, CH 56 at 400;
    none fires at 50, 300 and 100 pA respectively."""
    for name, n, on, off in (("RS", 13, 100.0, 50.0), ("IB", 18, 600.0, 300.0),
                             ("CH", 56, 400.0, 100.0)):
        m, p, a = preset(f"izhikevich2007:{name}")
        assert a == on
        assert len(simulate(m, p, on, DEFAULT).spike_times_ms) == n, name
        assert len(simulate(m, p, off, DEFAULT).spike_times_ms) == 0, name


# ------------------------------------------------------------------------------------------
# the 2003 four-parameter model is an exact special case


@pytest.mark.parametrize("name", list(_ROWS_2003))
def test_izhikevich2003_exact_special_case(name):
    a, b, c, d, I = _ROWS_2003[name]
    m, p, amp = preset(f"izhikevich2003:{name}")
    assert amp == I
    ref = R.izhikevich2003(a, b, c, d, I, DEFAULT)
    t = simulate(m, p, amp, DEFAULT).spike_times_ms
    assert len(t) == len(ref) > 0
    if name in ("FS", "LTS"):
        # same map, different rounding (0.04 v^2 + 5 v + 140 vs 0.04 (v - vr)(v - vt)):
        # the 1e-13 ms differences grow along these long trains until one crossing changes
        # step; over the first 250 ms they still agree to 1e-8 ms
        keep = ref < 250.0
        np.testing.assert_allclose(t[keep], ref[keep], rtol=0, atol=1e-8)
        np.testing.assert_allclose(t, ref, rtol=0, atol=DEFAULT.dt_ms * 30)
    else:
        np.testing.assert_allclose(t, ref, rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------------------
# agreement with Brian 2 (same scheme, independent implementation)

_BRIAN_PROTO = StepProtocol(delay_ms=20.0, duration_ms=250.0, t_stop_ms=300.0, dt_ms=0.1)


def _compare_brian(names):
    R_ = pytest.importorskip("brian2")  # noqa: F841
    model = PRESETS[names[0]][0]
    plist = [preset(n)[1] for n in names]
    amps = [preset(n)[2] for n in names]
    brian = R.brian2_spikes(model, plist, amps, _BRIAN_PROTO)
    dt = _BRIAN_PROTO.dt_ms
    for name, p, a, tb in zip(names, plist, amps, brian):
        t = simulate(model, p, a, _BRIAN_PROTO).spike_times_ms
        assert len(tb) > 0, name
        assert abs(len(t) - len(tb)) <= 1, (name, len(t), len(tb))
        n = min(len(t), len(tb))
        # Brian records the step time k dt; snnfit interpolates inside the step: [0, dt)
        diff = t[:n] - tb[:n]
        assert np.all(np.abs(diff - 0.5 * dt) <= 0.5 * dt + 1e-6), (name, diff)
        if len(t) != len(tb):  # only the very last spike may differ
            assert max(t[-1], tb[-1]) > _BRIAN_PROTO.stim_end_ms - 30, name


_quiet_brian = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@_quiet_brian
def test_adex_agrees_with_brian2():
    _compare_brian([k for k in PRESETS if k.startswith("naud2008:")])


@_quiet_brian
def test_izhikevich_agrees_with_brian2():
    _compare_brian([k for k in PRESETS if k.startswith("izhikevich2007:")])


# ------------------------------------------------------------------------------------------
# resolved scheme: convergence to a high-accuracy reference

_CONV_PROTO = dict(delay_ms=10.0, duration_ms=150.0, t_stop_ms=160.0)
_DTS = (0.1, 0.05, 0.025, 0.0125)


def _conv_errors(model, p, amp, ref, n_first):
    errs = []
    for dt in _DTS:
        proto = StepProtocol(dt_ms=dt, **_CONV_PROTO)
        t = simulate(model, p, amp, proto, scheme="resolved").spike_times_ms
        assert len(t) >= n_first
        errs.append(np.max(np.abs(t[:n_first] - ref[:n_first])))
    return np.array(errs)


def _assert_first_order(errs):
    ratios = errs[:-1] / errs[1:]
    # roughly linear: each halving of dt divides the error by ~2 (first order)
    assert np.all(ratios > 1.6) and np.all(ratios < 2.6), (errs, ratios)
    assert errs[-1] < errs[0] / 6 and errs[-1] < 0.2, errs


@pytest.mark.parametrize("name", ["naud2008:adapting", "naud2008:tonic", "izhikevich2007:RS",
                                  "izhikevich2007:IB"])
def test_resolved_converges_to_solve_ivp(name):
    pytest.importorskip("scipy")
    m, p, a = preset(name)
    proto = StepProtocol(dt_ms=0.1, **_CONV_PROTO)
    ref = R.ivp_spikes(m, p, a, proto)
    n_first = min(len(ref), 6)
    assert n_first >= 2
    _assert_first_order(_conv_errors(m, p, a, ref, n_first))


@pytest.mark.parametrize("t_ref", [0.0, 2.0])
def test_lif_resolved_converges_to_exact(t_ref):
    p = dict(LIF, t_ref=t_ref)
    ref = R.lif_exact_spikes(p, 350.0, _CONV_PROTO["delay_ms"], _CONV_PROTO["duration_ms"],
                             _CONV_PROTO["t_stop_ms"])
    _assert_first_order(_conv_errors("lif", p, 350.0, ref, 6))


# ------------------------------------------------------------------------------------------
# initial state


def _trace0(model, p, amp, proto):
    r = simulate(model, p, amp, proto, trace=True)
    return r, [np.asarray(v) for v in r.trace.values()]


def test_initial_state_without_holding():
    proto = StepProtocol(t_stop_ms=5.0, delay_ms=1.0, duration_ms=1.0)
    for model, expect in (("lif", lambda p: p["EL"]), ("adex", lambda p: p["EL"]),
                          ("izhikevich", lambda p: p["vr"])):
        p = get_model(model).spec.defaults()
        _, (x, y) = _trace0(model, p, 0.0, proto)
        assert x[0] == expect(p)
        if model != "lif":
            assert y[0] == 0.0
        if model != "adex":  # (EL is not a fixed point of the AdEx: the exp term is > 0)
            np.testing.assert_allclose(x, x[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("model,holding", [("lif", -50.0), ("lif", 150.0), ("adex", -80.0),
                                           ("adex", 60.0), ("izhikevich", -40.0),
                                           ("izhikevich", 30.0)])
def test_initial_state_is_fixed_point_under_holding(model, holding):
    proto = StepProtocol(delay_ms=0.0, duration_ms=0.0, t_stop_ms=500.0, holding_pA=holding)
    p = get_model(model).spec.defaults()
    r, (x, y) = _trace0(model, p, 0.0, proto)
    assert r.status == "ok" and len(r.spike_times_ms) == 0
    # analytic fixed point
    if model == "lif":
        assert x[0] == pytest.approx(p["EL"] + holding / p["gL"], abs=1e-12)
    elif model == "adex":
        V = x[0]
        w = y[0]
        dV = (-p["gL"] * (V - p["EL"]) + p["gL"] * p["DeltaT"] * math.exp((V - p["VT"]) /
              p["DeltaT"]) - w + holding)
        assert abs(dV) < 1e-9 and w == pytest.approx(p["a"] * (V - p["EL"]), abs=1e-9)
        assert V < p["VT"]
    else:
        v, u = x[0], y[0]
        dv = p["k"] * (v - p["vr"]) * (v - p["vt"]) - u + holding
        assert abs(dv) < 1e-9 and u == pytest.approx(p["b"] * (v - p["vr"]), abs=1e-9)
    # simulate with no step: the state does not move
    np.testing.assert_allclose(x, x[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(y[np.isfinite(y)], y[0] if np.isfinite(y[0]) else 0.0,
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("model,holding", [("lif", 250.0), ("adex", 1000.0),
                                           ("izhikevich", 400.0)])
def test_no_fixed_point_is_spontaneous(model, holding):
    proto = StepProtocol(holding_pA=holding, t_stop_ms=300.0)
    p = get_model(model).spec.defaults()
    r = simulate(model, p, 0.0, proto)
    assert r.status == "spontaneous"
    assert len(r.spike_times_ms) > 0  # and it does fire without any step


def test_lif_el_above_threshold_is_spontaneous():
    r = simulate("lif", dict(LIF, EL=-45.0), 0.0, StepProtocol(t_stop_ms=200.0))
    # without holding the start is V = EL (no fixed point test), and it fires at once
    assert len(r.spike_times_ms) > 0 and r.spike_times_ms[0] < 1.0


# ------------------------------------------------------------------------------------------
# presets and bounds


def test_bounds_contain_published_presets():
    n = 0
    for name, (m, p) in PRESETS.items():
        if not name.startswith(("naud2008:", "izhikevich2007:")):
            continue
        spec = get_model(m).spec
        for ps in spec.params:
            v = p.params[ps.name]
            assert ps.lower <= v <= ps.upper, (name, ps.name, v, ps.lower, ps.upper)
        n += 1
    assert n == 11
    assert sum(PRESETS[k][1].params["a"] < 0 for k in PRESETS if k.startswith("naud2008:")) == 3


def test_every_preset_documents_its_amplitude_and_source():
    for name, (m, p) in PRESETS.items():
        assert np.isfinite(p.amplitude_pA) and p.amplitude_pA > 0, name
        assert p.citation.strip() and any(ch.isdigit() for ch in p.citation), name
        assert set(p.params) == set(get_model(m).spec.names), name
        # the documented amplitude makes it fire
        assert len(spikes(name)) >= 1, name


def test_izhikevich_vt_below_vr_is_allowed():
    """The converted 2003 RZ cell has vr = vt = -62.5 mV: not an error."""
    _, p, a = preset("izhikevich2003:RZ")
    assert p["vr"] == pytest.approx(-62.5) and p["vt"] == pytest.approx(-62.5)
    r = simulate("izhikevich", dict(p, vt=-70.0), a)
    assert r.status in ("ok", "spontaneous")


# ------------------------------------------------------------------------------------------
# bitwise determinism: thread count and position in the batch


def _jittered(name, B, seed):
    m, p, a = preset(name)
    spec = get_model(m).spec
    base = spec.vector(p)
    rng = np.random.default_rng(seed)
    P = base * (1 + 0.01 * rng.standard_normal((B, len(base))))
    P[0] = base
    return m, P, np.full(B, a)


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
def test_bitwise_determinism_irregular(scheme):
    """naud2008:irregular (chaotic): bitwise identical across thread counts and positions."""
    m, P, amps = _jittered("naud2008:irregular", 150, seed=1)
    ref = simulate_batch(m, P, amps, DEFAULT, scheme, threads=1, max_spikes=200)
    for threads in (1, 2):
        for perm_seed in (0, 1):
            perm = np.random.default_rng(perm_seed).permutation(len(P))
            r = simulate_batch(m, P[perm], amps[perm], DEFAULT, scheme, threads=threads,
                               max_spikes=200)
            assert r.times.tobytes() == ref.times[perm].tobytes()
            assert np.array_equal(r.counts, ref.counts[perm])
            assert np.array_equal(r.n_in_step, ref.n_in_step[perm])
    # alone (a batch of one, the scalar remainder path) and at the end of a partial chunk
    for pos in (0, 63, 64, 149):
        one = simulate_batch(m, P[pos:pos + 1], amps[pos:pos + 1], DEFAULT, scheme, threads=1,
                             max_spikes=200)
        assert one.times.tobytes() == ref.times[pos:pos + 1].tobytes()
    # and the batch result is the public single-set result
    single = simulate(m, preset("naud2008:irregular")[1], amps[0], DEFAULT, scheme=scheme)
    assert single.spike_times_ms.tobytes() == ref.spike_times(0).tobytes()


# ------------------------------------------------------------------------------------------
# the scheme registry (each model's ``maps``) against what the kernels actually do

_SCHEMES = ("euler", "resolved", "resolved2")
_FIRING = {"lif": "lif:default", "adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS"}


def _firing_batch(model, B=8, seed=3):
    """The model's firing preset and ``B - 1`` copies jittered by 2 %."""
    _, p, a = preset(_FIRING[model])
    base = get_model(model).spec.vector(p)
    rng = np.random.default_rng(seed)
    P = base * (1 + 0.02 * rng.standard_normal((B, base.size)))
    P[0] = base
    return P, np.full(B, a)


@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_registry_has_every_scheme_and_its_map_is_what_runs(model):
    from snnfit.sim.models import SCHEMES, kernel_for

    m = get_model(model)
    assert set(m.maps) == set(_SCHEMES) == set(SCHEMES)
    P, A = _firing_batch(model)
    runs = {}
    for scheme in _SCHEMES:
        entry = m.scheme(scheme)
        assert entry.scheme == scheme and callable(entry.kernel)
        assert kernel_for(m, SCHEMES[scheme]) == (entry.kernel, SCHEMES[entry.runs])
        runs[scheme] = simulate_batch(model, P, A, DEFAULT, scheme, 1, 300)
        assert runs[scheme].counts.min() > 3
    # a scheme gives bit for bit the times of the map the registry says it runs, and the maps
    # the registry calls different are different
    for scheme in _SCHEMES:
        ran = runs[m.scheme(scheme).runs]
        assert runs[scheme].times.tobytes() == ran.times.tobytes(), scheme
    for a, b in (("euler", "resolved"), ("resolved", "resolved2")):
        same = runs[a].times.tobytes() == runs[b].times.tobytes()
        assert same == (m.scheme(a).runs == m.scheme(b).runs), (a, b)
    # the fallback is the documented one: LIF and Izhikevich run resolved under resolved2
    assert m.scheme("resolved2").runs == ("resolved2" if model == "adex" else "resolved")


@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_registry_gradients_exist_where_fits_use_them(model):
    from snnfit.fit.engine import _grad_scheme
    from snnfit.sim.grad import (SENSITIVITY_COST_FORWARD_EQUIV_BY_MODEL, sensitivity_cost,
                                 spike_times_and_jacobian)

    m = get_model(model)
    P, A = _firing_batch(model)
    for scheme in _SCHEMES:
        g = m.gradient_map(scheme)
        assert _grad_scheme(model, scheme) == g.scheme
        assert g.sensitivity is not None and sensitivity_cost(model, scheme) >= 1
        # the Jacobian a fit under `scheme` uses belongs to the fit's own map (times bit for
        # bit), except under euler, whose gradients are the resolved map's
        t = spike_times_and_jacobian(model, P, A, DEFAULT, 1, 300, scheme=g.scheme)[0]
        own = simulate_batch(model, P, A, DEFAULT, "resolved" if scheme == "euler" else scheme,
                             1, 300)
        assert t.tobytes() == own.times.tobytes(), scheme
    assert m.scheme("euler").sensitivity is None
    with pytest.raises(UserError, match="exact gradients need resolved or resolved2"):
        spike_times_and_jacobian(model, P, A, DEFAULT, scheme="euler")
    assert SENSITIVITY_COST_FORWARD_EQUIV_BY_MODEL[model] == sensitivity_cost(model, "resolved")


@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_registry_unused_parameters_are_those_without_effect(model):
    """A parameter is listed unused for a scheme exactly when moving it (by 5 % of its box)
    leaves every spike time of the scheme's map unchanged; only the AdEx Vpeak outside euler."""
    from snnfit.fit.space import build_space
    from snnfit.sim.grad import spike_times_and_jacobian

    m = get_model(model)
    spec = m.spec
    P, A = _firing_batch(model, B=4)
    for scheme in _SCHEMES:
        base = simulate_batch(model, P, A, DEFAULT, scheme, 1, 300)
        no_effect = set()
        for j, ps in enumerate(spec.params):
            Q = P.copy()
            Q[:, j] += 0.05 * (ps.upper - ps.lower)
            r = simulate_batch(model, Q, A, DEFAULT, scheme, 1, 300)
            if r.times.tobytes() == base.times.tobytes():
                no_effect.add(ps.name)
        unused = set(m.scheme(scheme).unused)
        assert unused == no_effect, (scheme, unused, no_effect)
        assert unused == ({"Vpeak"} if model == "adex" and scheme != "euler" else set())
        # not fitted, and (where the map has gradients) zero Jacobian columns
        s = build_space(model, "full", scheme=scheme, current="recorded")
        assert set(s.free_names) == set(spec.names) - unused
        if m.scheme(scheme).sensitivity is not None:
            J = spike_times_and_jacobian(model, P, A, DEFAULT, 1, 300, scheme=scheme)[4]
            for name in spec.names:
                assert np.all(J[:, :, spec.index(name)] == 0.0) == (name in unused), name


def test_cached_kernels_equal_a_fresh_build():
    """numba's cache checks only a kernel's own file, not the inline helpers of
    ``_kernel_parts.py`` or the constants of ``base.py``: the cached LIF kernels (which use every
    helper) must give bit for bit what a fresh build of their source gives (else: delete
    src/snnfit/sim/models/__pycache__/*.nb[ic])."""
    import numba

    from snnfit.sim.models import lif

    proto = StepProtocol(delay_ms=10.0, duration_ms=80.0, t_stop_ms=100.0,
                         epochs=(Epoch(2.0, 8.0, -50.0),))
    P = np.repeat(lif.SPEC.vector(LIF)[None], 4, axis=0)
    P[3, 0] = 1e-300  # a blow-up
    A = np.array([300.0, 260.0, 1000.0, 300.0])
    x0, y0, _ = lif.initial_state(P, 0.0)
    sx0, sy0 = lif.initial_state_sensitivity(P, 0.0)
    runs = {}
    for name, fwd, sens in (("cached", lif._kernel, lif._sens_kernel),
                            ("fresh", numba.njit(parallel=True)(lif._kernel.py_func),
                             numba.njit(parallel=True)(lif._sens_kernel.py_func))):
        out = []
        for code in (0, 1):  # a few stored spikes, the rest only counted
            o = (np.empty((4, 3)), np.zeros(4, np.int64), np.zeros(4, np.int64),
                 np.zeros(4, np.int8), np.empty((4, proto.n_steps + 1)),
                 np.empty((4, proto.n_steps + 1)))
            fwd(P, A, x0, y0, code, *proto.kernel_args(), *o, True)
            out += o
        o = (np.empty((4, 3)), np.zeros(4, np.int64), np.zeros(4, np.int64),
             np.zeros(4, np.int8), np.zeros((4, 3, P.shape[1] + 1)))
        sens(P, A, x0, y0, sx0, sy0, *proto.kernel_args(), *o)
        runs[name] = out + list(o)
    assert runs["cached"][1].max() > 3 and runs["cached"][3][3] == 2  # overflow, blow-up
    for a, b in zip(runs["cached"], runs["fresh"]):
        assert a.tobytes() == b.tobytes(), "stale numba cache of the model kernels"


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_rows_do_not_depend_on_the_batch(model, scheme):
    """Every row of a batch equals the same set simulated alone, bit for bit, at batch sizes
    that run scalar (5), padded to the vector width (11, 25: simulate_batch adds rows) and
    mixed (37): what lets fits merge sweeps into one call and pad small populations."""
    from snnfit.sim.simulate import VECTOR_SETS, _vector_padding, simulate_batch

    assert _vector_padding(5) == 0 and _vector_padding(11) == VECTOR_SETS - 11
    spec = get_model(model).spec
    lo = np.array([p.lower for p in spec.params])
    hi = np.array([p.upper for p in spec.params])
    rng = np.random.default_rng(7)
    P = lo + (hi - lo) * rng.random((37, lo.size))
    amps = rng.uniform(100.0, 800.0, 37)
    alone = [simulate_batch(model, P[i:i + 1], amps[i:i + 1], DEFAULT, scheme, 1, 400,
                            check=False) for i in range(37)]
    n_spikes = 0
    for B in (5, 11, 25, 37):
        r = simulate_batch(model, P[:B], amps[:B], DEFAULT, scheme, 1, 400, check=False)
        assert r.times.shape == (B, 400)
        for i in range(B):
            a = alone[i]
            assert r.counts[i] == a.counts[0] and r.n_in_step[i] == a.n_in_step[0]
            assert r.status[i] == a.status[0]
            assert np.array_equal(r.times[i], a.times[0], equal_nan=True)
            n_spikes += int(r.counts[i])
    assert n_spikes > 1000  # the comparison saw spiking sets, not only silent ones
