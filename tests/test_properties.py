"""Property tests (hypothesis) of the simulators across the parameter bounds.

Short sweeps and small example counts keep this at a few seconds; each example is one
batched kernel call (the kernels are compiled once, cache=True).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnfit.sim.models import get_model
from snnfit.sim.params import to_physical
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import STATUS_BLOWUP, simulate_batch

SHORT = dict(delay_ms=20.0, duration_ms=150.0, t_stop_ms=200.0)
B = 8


def unit_rows(n_params):
    return st.lists(st.lists(st.floats(0.0, 1.0), min_size=n_params, max_size=n_params),
                    min_size=B, max_size=B).map(np.array)


@st.composite
def batches(draw, model):
    spec = get_model(model).spec
    scheme = draw(st.sampled_from(["euler", "resolved"]))
    U = draw(unit_rows(len(spec.params)))
    P = to_physical(U, spec.lower(), spec.upper())
    amps = np.array(draw(st.lists(st.floats(0.0, spec.max_amplitude_pA), min_size=B,
                                  max_size=B)))
    holding = draw(st.sampled_from([0.0, -50.0, 40.0]))
    dt = draw(st.sampled_from([0.1, 0.05, 0.25]))
    return P, amps, StepProtocol(dt_ms=dt, holding_pA=holding, **SHORT), scheme


def _check_sane(model, P, amps, proto, scheme):
    r = simulate_batch(model, P, amps, proto, scheme, threads=1, max_spikes=proto.n_steps,
                       record=True)
    assert not np.any(r.status == STATUS_BLOWUP), (P[r.status == STATUS_BLOWUP], amps)
    assert not np.any(np.isnan(r.trace)), "NaN state"
    assert np.all(np.isfinite(r.trace[:, 0])), "non-finite voltage"
    if model != "lif":  # (the LIF's second variable, the end of refractoriness, starts at -inf)
        assert np.all(np.isfinite(r.trace[:, 1])), "non-finite recovery variable"
    assert np.all(r.n_in_step <= r.counts)
    for i in range(len(P)):
        t = r.spike_times(i)
        assert len(t) == r.counts[i]
        assert np.all(np.isfinite(t))
        assert np.all(np.diff(t) >= 0)
        assert np.all((t >= 0) & (t <= proto.t_stop_ms))
        in_win = (t >= proto.delay_ms) & (t < proto.stim_end_ms)
        assert in_win.sum() == r.n_in_step[i]


@settings(max_examples=25, deadline=None)
@given(batches("lif"))
def test_lif_never_crashes_or_nans(b):
    _check_sane("lif", *b)


@settings(max_examples=25, deadline=None)
@given(batches("adex"))
def test_adex_never_crashes_or_nans(b):
    _check_sane("adex", *b)


@settings(max_examples=25, deadline=None)
@given(batches("izhikevich"))
def test_izhikevich_never_crashes_or_nans(b):
    _check_sane("izhikevich", *b)


@settings(max_examples=30, deadline=None)
@given(u=st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6),
       amps=st.lists(st.floats(0.0, 3000.0), min_size=2, max_size=12),
       scheme=st.sampled_from(["euler", "resolved"]),
       holding=st.sampled_from([0.0, -40.0]))
def test_lif_count_never_decreases_with_current(u, amps, scheme, holding):
    spec = get_model("lif").spec
    p = to_physical(np.array(u), spec.lower(), spec.upper())
    # Vr, EL < Vth (V >= Vth at a step start is tested separately below)
    p[4] = min(p[4], p[3] - 0.5)
    p[2] = min(p[2], p[3] - 0.5)
    amps = np.sort(np.array(amps))
    P = np.repeat(p[None, :], len(amps), axis=0)
    proto = StepProtocol(holding_pA=holding, **SHORT)
    r = simulate_batch("lif", P, amps, proto, scheme, threads=1, max_spikes=1)
    assert np.all(np.diff(r.n_in_step) >= 0), (p, amps, r.n_in_step)
    assert np.all(np.diff(r.counts) >= 0), (p, amps, r.counts)


# Regression tests: V >= cut at the start of a step (Vr or EL >= Vth, AdEx resolved with
# Vr >= VT + 5 DeltaT) once gave theta > 1 (spike times outside their step) and spikes while
# refractory.


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
def test_lif_reset_above_threshold_times_stay_in_their_step(scheme):
    """Vr > Vth, t_ref = 0: the neuron may fire every step, but each spike time must lie in
    its own step: non-decreasing and before t_stop."""
    proto = StepProtocol(**SHORT)
    p = np.array([[20.0, 2.0, -80.0, -60.0, -45.0, 0.0]])
    r = simulate_batch("lif", p, [41.0], proto, scheme, threads=1, max_spikes=proto.n_steps)
    t = r.spike_times(0)
    assert len(t) > 0
    assert np.all(np.diff(t) >= 0) and t.max() < proto.t_stop_ms


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
def test_lif_reset_above_threshold_no_spikes_while_refractory(scheme):
    """Vr > Vth, t_ref = 2 ms: V is held at Vr while refractory, so ISIs are >= t_ref."""
    proto = StepProtocol(**SHORT)
    p = np.array([[20.0, 2.0, -80.0, -60.0, -45.0, 2.0]])
    r = simulate_batch("lif", p, [41.0], proto, scheme, threads=1, max_spikes=proto.n_steps)
    t = r.spike_times(0)
    assert len(t) > 1
    assert np.all(np.diff(t) >= 2.0 - proto.dt_ms)


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
def test_lif_start_above_threshold_fires_in_first_step(scheme):
    """EL > Vth (spontaneous): V starts above threshold, so the first spike is in step 0."""
    proto = StepProtocol(holding_pA=-50.0, **SHORT)
    p = np.array([[20.0, 40.0, -50.0, -60.0, -75.0, 0.0]])
    r = simulate_batch("lif", p, [0.0], proto, scheme, threads=1, max_spikes=proto.n_steps)
    t = r.spike_times(0)
    assert len(t) > 0 and t[0] < proto.dt_ms and np.all(np.diff(t) >= 0)


def test_adex_resolved_reset_above_cut_times_in_order():
    proto = StepProtocol(**SHORT)
    spec = get_model("adex").spec
    p = spec.vector(dict(C=50, gL=2, EL=-80, VT=-46.25, DeltaT=0.5, a=-15, tau_w=10, b=200,
                         Vr=-41.875, Vpeak=-20))
    r = simulate_batch("adex", p[None, :], [1.0], proto, "resolved", threads=1,
                       max_spikes=proto.n_steps)
    t = r.spike_times(0)
    assert len(t) > 10
    assert np.all(np.diff(t) >= 0)
