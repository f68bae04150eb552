"""The voltage gauge of the point models (ModelSpec.shift_group): a common shift of the
voltage parameters leaves spike trains unchanged, and ReducedSpace.shift_inside uses it to
move a fit's voltages off the bounds of a non-default fit box (docs/fit.md, "Boxes")."""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.fit.record import AT_BOUND_FRACTION
from snnfit.fit.space import build_space
from snnfit.sim.models import get_model, resolve_preset
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import simulate

MODELS = ("lif", "adex", "izhikevich")


@pytest.mark.parametrize("model,preset,amp", [("adex", "naud2008:initial_burst", 400.0),
                                              ("izhikevich", "izhikevich2007:IB", 600.0),
                                              ("lif", None, 400.0)])
@pytest.mark.parametrize("scheme", ["resolved", "euler"])
def test_a_common_voltage_shift_leaves_spike_trains_unchanged(model, preset, amp, scheme):
    """The invariance ReducedSpace.shift_inside relies on, checked by simulation (with a
    holding current, so that the rest state moves too): every member of the model's
    shift_group moved by the same s gives the same spike times."""
    spec = get_model(model).spec
    p = dict(resolve_preset(preset, model)[1].params) if preset else spec.defaults()
    proto = StepProtocol(delay_ms=100.0, duration_ms=600.0, t_stop_ms=800.0, dt_ms=0.1,
                         holding_pA=-40.0)
    ref = simulate(model, p, amp, proto, scheme=scheme).spike_times_ms
    assert len(ref) >= 3
    for s in (-17.3, 9.1):
        q = {k: v + s if k in spec.shift_group else v for k, v in p.items()}
        got = simulate(model, q, amp, proto, scheme=scheme).spike_times_ms
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)
    # not a property of any voltage: shifting only part of the group changes the train
    q = dict(p)
    q[spec.shift_group[0]] += 5.0
    got = simulate(model, q, amp, proto, scheme=scheme).spike_times_ms
    assert len(got) != len(ref) or np.max(np.abs(np.asarray(got) - ref)) > 1e-3


def _margins(space, p, idx):
    lo, hi = space.lower[idx], space.upper[idx]
    return np.minimum(p[idx] - lo, hi - p[idx]) / (hi - lo)


@pytest.mark.parametrize("model", MODELS)
def test_shift_inside_moves_voltages_off_their_bounds(model):
    """A point with one voltage at its lower bound and another near its upper bound: the
    shifted point keeps every difference of the group and every other parameter, and its
    smallest margin is the best over a fine grid of shifts (brute force)."""
    space = build_space(model, "full", "resolved", "recorded", box="cells")
    spec = get_model(model).spec
    unused = set(get_model(model).scheme("resolved").unused)
    idx = [space.names.index(n) for n in spec.shift_group if n not in unused]
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = space.to_params(rng.uniform(0.2, 0.8, (1, space.k)))[0]
        i, j = rng.choice(idx, 2, replace=False)
        p[i] = space.lower[i] + 0.002 * (space.upper[i] - space.lower[i])
        p[j] = space.upper[j] - rng.uniform(0.02, 0.3) * (space.upper[j] - space.lower[j])
        q, s = space.shift_inside(p, AT_BOUND_FRACTION)
        assert s != 0.0
        np.testing.assert_allclose(q[idx] - p[idx], s, atol=1e-12)
        others = [k for k in range(len(p)) if k not in idx]
        assert np.array_equal(q[others], p[others])
        lo, hi = space.lower[idx], space.upper[idx]
        best = max(float(np.min(np.minimum(p[idx] + g - lo, hi - p[idx] - g) / (hi - lo)))
                   for g in np.linspace(-100.0, 100.0, 20001))
        assert np.min(_margins(space, q, idx)) >= best - 1e-9
        assert np.min(_margins(space, q, idx)) > AT_BOUND_FRACTION


def test_shift_inside_leaves_alone_what_it_must():
    """No voltage at a bound, a fixed voltage, a voltage outside a subset, a projection:
    no shift."""
    space = build_space("adex", "full", "resolved", "recorded", box="cells")
    p = space.to_params(np.full((1, space.k), 0.5))[0]
    assert space.shift_inside(p, AT_BOUND_FRACTION) == (pytest.approx(p), 0.0)
    n = space.names
    p[n.index("Vr")] = space.lower[n.index("Vr")]
    assert space.shift_inside(p, AT_BOUND_FRACTION)[1] != 0.0
    for sp in (build_space("adex", "full", "resolved", "recorded", fix=["EL=-70"],
                           box="cells"),
               build_space("adex", "VT,Vr", "resolved", "recorded", box="cells"),
               build_space("adex", "random:3", "resolved", "recorded", box="cells")):
        q = p.copy()
        q[n.index("EL")] = sp.lower[n.index("EL")]
        q[n.index("Vr")] = sp.lower[n.index("Vr")]
        out, s = sp.shift_inside(q, AT_BOUND_FRACTION)
        assert s == 0.0 and np.array_equal(out, q)
