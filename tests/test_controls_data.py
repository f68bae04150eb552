"""The data behind the study's controls: model variants without adaptation, prior kinds
(adapting, nonadapting, subspace) and synthetic targets at several amplitudes with their
train/held-out split. Checked against direct simulation and the variants' defining property
(the switched-off parameters really have no effect)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from snnfit.data.priors import ADAPTING_BOX, MIN_ISI_RATIO
from snnfit.data.targets import prior_target
from snnfit.data.truth import factor_id, synthetic_split, truth_at_factors
from snnfit.errors import UserError
from snnfit.sim.models import get_model
from snnfit.sim.models.variants import VARIANTS, variant_values
from snnfit.sim.simulate import simulate


@pytest.mark.parametrize("model,idle", [("adex", "tau_w"), ("izhikevich", "a")])
def test_nonadapting_variant_has_no_adaptation_left(model, idle):
    # with the variant's values, the held parameter has no role: moving it leaves the spike
    # times unchanged; switching adaptation back on changes them
    spec = get_model(model).spec
    base = dict(spec.defaults(), **variant_values(model, "nonadapting"))
    amp = 300.0
    t0 = simulate(model, base, amp, scheme="resolved").spike_times_ms
    moved = dict(base, **{idle: spec.spec(idle).upper})
    assert np.array_equal(simulate(model, moved, amp, scheme="resolved").spike_times_ms, t0)
    # no adaptation: a regular train (intervals equal up to the time grid's phase)
    step = t0[(t0 >= 100.0) & (t0 < 1100.0)]
    isi = np.diff(step)
    assert step.size >= 3 and np.allclose(isi[1:], np.median(isi), atol=0.02)
    on = dict(base, **{"b" if model == "adex" else "d": 80.0})
    assert not np.array_equal(simulate(model, on, amp, scheme="resolved").spike_times_ms, t0)


def test_variant_errors():
    assert variant_values("adex", None) == {}
    with pytest.raises(UserError, match="no nonadapting variant"):
        variant_values("lif", "nonadapting")
    with pytest.raises(UserError, match="unknown variant"):
        variant_values("adex", "slow")
    assert set(VARIANTS["nonadapting"]) == {"adex", "izhikevich"}


def test_prior_kind_any_is_the_plain_prior():
    a = prior_target("adex", seed=5)
    b = prior_target("adex", seed=5, kind="any")
    assert a.truth == b.truth
    assert np.array_equal(a.sweeps[0].spike_times_ms, b.sweeps[0].spike_times_ms)


@pytest.mark.parametrize("model", ["adex", "izhikevich"])
def test_adapting_prior_draws_adapt(model):
    for seed in (1, 2, 3):
        t = prior_target(model, seed=seed, kind="adapting")
        p = t.truth["params"]
        for name, (lo, hi) in ADAPTING_BOX[model].items():
            assert lo <= p[name] <= hi
        isi = np.diff(t.sweeps[0].spike_times_ms)
        assert isi[-1] >= MIN_ISI_RATIO * isi[0]
        assert t.provenance["prior_kind"] == "adapting"


def test_nonadapting_and_subspace_prior_draws():
    t = prior_target("adex", seed=2, kind="nonadapting")
    assert t.truth["params"]["a"] == 0.0 and t.truth["params"]["b"] == 0.0
    t = prior_target("izhikevich", seed=2, kind="nonadapting")
    assert t.truth["params"]["b"] == 0.0 and t.truth["params"]["d"] == 0.0
    names = ["a", "b", "tau_w", "VT"]
    t = prior_target("adex", seed=4, kind="subspace:" + ",".join(names))
    d = get_model("adex").spec.defaults()
    for k, v in t.truth["params"].items():
        if k not in names:
            assert v == d[k]
    assert sum(t.truth["params"][k] != d[k] for k in names) == len(names)
    with pytest.raises(UserError, match="prior-kind"):
        prior_target("adex", seed=1, kind="weird")
    with pytest.raises(UserError, match="no adaptation"):
        prior_target("lif", seed=1, kind="adapting")


def test_truth_at_factors_and_split(tmp_path):
    t = prior_target("adex", seed=1, kind="adapting")
    many = truth_at_factors(t, [2.0, 1.0, 2.5, 1.5])
    assert [s.id for s in many.sweeps] == ["x1", "x1.5", "x2", "x2.5"]
    amp0 = t.sweeps[0].amplitude_pA
    for s, f in zip(many.sweeps, (1.0, 1.5, 2.0, 2.5)):
        assert s.amplitude_pA == pytest.approx(f * amp0)
        ref = simulate("adex", t.truth["params"], f * amp0, s.protocol,
                       scheme=t.truth["scheme"]).spike_times_ms
        assert np.array_equal(s.spike_times_ms, ref)
    assert np.array_equal(many.sweeps[0].spike_times_ms, t.sweeps[0].spike_times_ms)
    # more current, more spikes: the f-I curve the held-out sweeps test
    assert [len(s.spike_times_ms) for s in many.sweeps] == sorted(
        len(s.spike_times_ms) for s in many.sweeps)
    train, held, role = synthetic_split([1, 1.5, 2, 2.5], [1, 2])
    assert train == ["x1", "x2"] and held == ["x1.5", "x2.5"]
    assert role["x1.5"] == "interpolated" and role["x2.5"] == "extrapolated"
    assert factor_id(1.0) == "x1" and factor_id(2.5) == "x2.5"
    with pytest.raises(UserError):
        synthetic_split([1, 2], [1, 2])
    with pytest.raises(UserError):
        synthetic_split([1, 2], [3])
    with pytest.raises(UserError):
        synthetic_split([1, -2], [1])


def test_fit_variant_cli(tmp_path):
    target = tmp_path / "t.json"
    subprocess.run([sys.executable, "-m", "snnfit", "make-target", "--prior", "adex", "--seed",
                    "2", "--prior-kind", "nonadapting", "--out", str(target)], check=True,
                   capture_output=True)
    out = tmp_path / "f.json"
    r = subprocess.run([sys.executable, "-m", "snnfit", "fit", "--target", str(target),
                        "--model", "adex", "--variant", "nonadapting", "--current", "recorded",
                        "--budget", "200", "--no-progress", "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["params"]["a"] == 0.0 and d["params"]["b"] == 0.0 and d["k"] == 6
    r = subprocess.run([sys.executable, "-m", "snnfit", "fit", "--target", str(target),
                        "--model", "lif", "--variant", "nonadapting", "--out",
                        str(tmp_path / "g.json")], capture_output=True, text=True)
    assert r.returncode == 2 and "lif has no nonadapting" in r.stderr
    assert not (tmp_path / "g.json").exists()
