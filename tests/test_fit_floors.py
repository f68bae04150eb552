"""Regression floors of the fit engine, weaker than the acceptance benchmarks.

The acceptance figures are measured by ``benchmarks/fits.py`` (``docs/fit_benchmarks.md``).
Each floor below was measured over seeds 0-2 at the budget used here and holds for all three
(the test runs seed 0); the measured values are in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnfit.fit import FitSettings, run_fit
from snnfit.fit.record import evaluate_fit
from snnfit.metrics import gamma_factor
from snnfit.data.targets import load_target, preset_target, recording_target, write_target

CA1_CELL = "001_150303_A2_CA1py_MPG"


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    d = tmp_path_factory.mktemp("floors")
    out = {}
    for name in ("naud2008:tonic", "naud2008:initial_burst", "naud2008:delayed_accelerating",
                 "izhikevich2007:IB"):
        p = d / f"{name.replace(':', '_')}.json"
        write_target(p, preset_target(name, scheme="resolved"))
        out[name] = p
    return out


def _fit(target, model="adex", **kw):
    kw.setdefault("current", "recorded")
    kw.setdefault("threads", 1)
    return run_fit(str(target), FitSettings(model=model, **kw))


@pytest.mark.parametrize("name", ["naud2008:tonic", "naud2008:initial_burst"])
def test_selfcons_floor_budget_3000(targets, name):
    # acceptance: Gamma >= 0.9 at budget 20,000 (measured 1.000 for both, seeds 0-2);
    # at budget 3,000 measured tonic 1.000/1.000/1.000, initial_burst 0.941/0.941/1.000
    rec = _fit(targets[name], optimizer="cmaes", budget=3000, seed=0)
    assert rec.count_error == 0
    assert rec.gamma >= 0.8
    # the record's Gamma is the Gamma of its spike times (independent recomputation)
    tgt = load_target(targets[name]).sweeps[0]
    g = gamma_factor([np.array(rec.spike_times_ms[0])], [tgt.spike_times_ms],
                     [tgt.protocol.t_stop_ms])
    assert rec.gamma == pytest.approx(g, abs=1e-12)


def test_cmaes_beats_random_paired(targets):
    # acceptance: 29/30 pairs at budget 20,000, Wilcoxon p = 1.2e-6; at budget 2,000 CMA-ES
    # had the lower loss on these 4 targets for every seed 0-2 (12/12)
    wins = []
    for name, model in (("naud2008:tonic", "adex"), ("naud2008:initial_burst", "adex"),
                        ("naud2008:delayed_accelerating", "adex"),
                        ("izhikevich2007:IB", "izhikevich")):
        cm = _fit(targets[name], model, optimizer="cmaes", budget=2000, seed=0)
        rs = _fit(targets[name], model, optimizer="random", budget=2000, seed=0)
        assert abs(cm.forward_equivalents - rs.forward_equivalents) < 100  # equal budget, both spent
        wins.append(cm.loss < rs.loss)
    assert all(wins), wins


@pytest.fixture(scope="module")
def ca1_target(ca1_dir, tmp_path_factory):
    p = tmp_path_factory.mktemp("ca1") / "cell.json"
    write_target(p, recording_target(ca1_dir / "spikes.csv", CA1_CELL))
    return p


def _finite_metrics(m):
    for key in ("gamma", "spike_time_rmse_ms", "van_rossum", "latency_error_ms",
                "isi_error_ms"):
        assert m[key] is None or math.isfinite(m[key]), key
    assert isinstance(m["count_error"], int) and m["count_error"] >= 0


def test_ca1_fit_and_heldout(ca1_target, tmp_path):
    import json

    t = load_target(ca1_target)
    assert len(t.ids) == 2
    fit_id, held_id = t.ids
    rec = _fit(ca1_target, optimizer="cmaes", budget=600, seed=0, sweeps=[fit_id])
    assert rec.status == "ok" and rec.sweep_ids == [fit_id]
    assert rec.amplitude_pA == [t.sweeps[0].amplitude_pA]  # recorded current
    _finite_metrics(rec.to_json())
    f = tmp_path / "fit.json"
    f.write_text(json.dumps(rec.to_json()))
    # replaying the fit on its own sweep reproduces the record
    own = evaluate_fit(f, ca1_target, [fit_id])
    assert own["spike_times_ms"] == rec.spike_times_ms
    assert own["count_error"] == rec.count_error
    # the held-out sweep: its own amplitude, finite metrics, count error from the spike times
    ho = evaluate_fit(f, ca1_target, [held_id])
    assert ho["sweep_ids"] == [held_id]
    assert ho["amplitude_pA"] == [t.sweeps[1].amplitude_pA]
    _finite_metrics(ho)
    assert ho["count_error"] == abs(len(ho["spike_times_ms"][0]) -
                                    len(t.sweeps[1].spike_times_ms))


def test_budget_5000_is_spent_and_timed(tmp_path):
    # the speed goal (wall < 5 s) is measured by benchmarks/fits.py --part timing, not asserted
    # here (a shared machine makes wall-clock assertions flaky); here: the budget is spent and
    # the record carries its own timing and energy
    p = tmp_path / "adapting.json"
    write_target(p, preset_target("naud2008:adapting", scheme="resolved"))
    rec = _fit(p, optimizer="cmaes", budget=5000, seed=0)
    assert rec.forward_equivalents >= 5000
    assert rec.cpu_s > 0 and rec.wall_s > 0 and rec.joules > 0
