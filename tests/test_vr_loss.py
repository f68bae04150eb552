"""The van Rossum loss (``--loss vr``): the batched distance against the exact one and against
a naive time-grid integration, its continuity where the spike-time loss steps, and the stages
of a fit that uses it."""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.data.targets import preset_target, write_target
from snnfit.errors import UserError
from snnfit.fit import FitSettings, run_fit
from snnfit.fit.stages import TIMES, VR, VR_FINE, StageSettings, plan
from snnfit.loss import batch_loss, batch_van_rossum_sq
from snnfit.metrics import van_rossum


def _stored(trains, smax):
    T = np.full((len(trains), smax), np.nan)
    for b, m in enumerate(trains):
        T[b, :min(len(m), smax)] = m[:smax]
    return T


def _grid_d2(a, b, tau, t_stop, dt=0.002):
    """(2 / tau) * integral over [0, t_stop] of the squared difference of the two filtered
    trains, on a time grid (independent of the recursion)."""
    t = np.arange(0.0, t_stop, dt) + dt / 2

    def trace(x):
        f = np.zeros_like(t)
        for s in x:
            on = t >= s
            f[on] += np.exp(-(t[on] - s) / tau)
        return f

    d = trace(a) - trace(b)
    return 2.0 / tau * float(np.sum(d * d) * dt)


def test_batch_van_rossum_equals_the_exact_distance_and_a_time_grid():
    rng = np.random.default_rng(5)
    t_stop, tau = 300.0, 10.0
    target = np.sort(rng.uniform(0, t_stop, 9))
    trains = [np.sort(rng.uniform(0, t_stop + 40, int(rng.integers(0, 14))))
              for _ in range(30)]
    trains.append(target.copy())
    trains.append(np.sort(np.r_[target[:4], target[4:5] + 0.5, target[4:5] + 2.0]))  # a burst
    smax = 16
    counts = [len(m) for m in trains]
    got = batch_van_rossum_sq(_stored(trains, smax), counts, target, tau, t_stop) * target.size
    for m, g in zip(trains, got):
        exact = van_rossum(m, target, tau, t_stop_ms=t_stop) ** 2
        assert g == pytest.approx(exact, rel=1e-10, abs=1e-10)
    for m, g in list(zip(trains, got))[:8]:
        assert g == pytest.approx(_grid_d2(m[m <= t_stop], target, tau, t_stop), rel=2e-3,
                                  abs=2e-3)
    assert got[-2] == pytest.approx(0.0, abs=1e-12)


def test_unstored_spikes_add_one_each():
    target = np.array([10.0, 50.0, 90.0])
    train = np.array([10.0, 50.0, 90.0, 120.0, 150.0, 180.0])
    full = batch_van_rossum_sq(_stored([train], 8), [6], target, 5.0, 400.0)[0]
    cut = batch_van_rossum_sq(_stored([train], 4), [6], target, 5.0, 400.0)[0]
    stored_only = van_rossum(train[:4], target, 5.0, t_stop_ms=400.0) ** 2
    assert cut * 3 == pytest.approx(stored_only + 2.0)
    assert full == pytest.approx(cut, rel=0.02)  # the spikes past 90 ms are far apart


def test_van_rossum_loss_is_continuous_where_a_spike_leaves_the_step():
    """A last spike moving out through the step's end: the spike-time loss jumps by the count
    penalty (50 ms squared), the van Rossum loss goes continuously to its value without it."""
    target = np.array([20.0, 60.0, 100.0])
    t_stop = 200.0
    vr, times_loss = [], []
    for last in (199.0, 199.9, 199.999, 200.001):
        m = np.array([20.0, 60.0, 100.0, last])
        n = int(np.sum(m < t_stop))  # the simulator's spikes inside the sweep
        vr.append(batch_van_rossum_sq(_stored([m[:n]], 5), [n], target, 10.0, t_stop)[0])
        times_loss.append(batch_loss(_stored([m[:n]], 5), [n], [target])[0])
    assert vr[0] > vr[1] > vr[2] > vr[3] == 0.0 and vr[2] < 1e-4
    assert times_loss[2] - times_loss[3] == pytest.approx(50.0 ** 2)


def test_vr_plan_and_settings():
    st = StageSettings(vr_fraction=0.3)
    assert [(s.objective, s.fraction) for s in plan("vr", st, False)] == [(VR, 0.3),
                                                                          (TIMES, 0.7)]
    assert [s.objective for s in plan("vr", StageSettings(vr_fraction=1.0), False)] == [VR]
    fine = plan("vr", StageSettings(vr_fraction=0.3, vr_fine_fraction=0.2), False)
    assert [(s.objective, s.fraction) for s in fine] == [(VR, 0.3), (VR_FINE, 0.2),
                                                         (TIMES, pytest.approx(0.5))]
    for bad in (dict(vr_fraction=0.0), dict(vr_fraction=1.5), dict(vr_tau_ms=0.0),
                dict(vr_fraction=0.8, vr_fine_fraction=0.3), dict(vr_fine_tau_ms=0.0)):
        with pytest.raises(UserError):
            StageSettings(**bad).check()


@pytest.fixture(scope="module")
def adapting(tmp_path_factory):
    p = tmp_path_factory.mktemp("vr") / "adapting.json"
    write_target(p, preset_target("naud2008:adapting", scheme="resolved"))
    return str(p)


def test_vr_loss_stages_and_accounting(adapting):
    budget = 1000
    r = run_fit(adapting, FitSettings("adex", current="recorded", budget=budget, loss="vr",
                                      stage_settings=StageSettings(vr_fraction=0.4)))
    assert r.loss_name == "vr"
    stages = [h["stage"] for h in r.history]
    first = stages.index(TIMES)
    assert set(stages[:first]) == {VR} and set(stages[first:]) == {TIMES}
    info = r.optimizer_info["stages"]
    assert [s["stage"] for s in info] == [VR, TIMES]
    assert 0.4 * budget <= info[0]["simulations"] < 0.4 * budget + 40
    assert budget <= r.forward_equivalents < budget + 40
    only = run_fit(adapting, FitSettings("adex", current="recorded", budget=400, loss="vr",
                                         stage_settings=StageSettings(vr_fraction=1.0)))
    assert {h["stage"] for h in only.history} == {VR}
    # the result's loss is the van Rossum loss of its own spikes (one sweep, tails cut)
    from snnfit.data.targets import load_target

    sw = load_target(adapting).sweeps[0]
    t_end = sw.protocol.stim_end_ms
    m = np.asarray(only.spike_times_ms[0])
    tau = StageSettings().vr_tau_ms
    want = van_rossum(m, np.asarray(sw.spike_times_ms), tau, t_stop_ms=t_end) ** 2 / max(
        int(np.sum(np.asarray(sw.spike_times_ms) <= t_end)), 1)
    assert only.loss == pytest.approx(want, rel=1e-6, abs=1e-9)


def test_a_budget_of_one_generation_still_gives_a_times_result(tmp_path):
    """--current search costs ~40 forward-equivalents per candidate: the van Rossum stage's
    first population spends the whole budget, and the times stage scores its start point
    (the van Rossum stage's best) instead of ending with no candidate."""
    from snnfit.data.targets import times_target
    from snnfit.loss import spike_time_loss

    p = tmp_path / "times.json"
    write_target(p, times_target([100, 300, 500, 700], 1000.0))
    r = run_fit(str(p), FitSettings("izhikevich", optimizer="cmaes", budget=400,
                                    current="search", seed=4, loss="vr"))
    assert [h["stage"] for h in r.history][-1] == TIMES
    assert r.optimizer_info["stages"][1].get("start_only") is True
    assert r.loss == pytest.approx(spike_time_loss(r.spike_times_ms, r.target_spike_times_ms),
                                   rel=1e-9, abs=1e-9)


def test_random_search_and_gradient_optimisers_take_no_stages(adapting):
    """Random search samples afresh in every stage: it minimises the spike-time loss
    throughout, like the gradient optimisers, so CMA-ES and random search compare at equal
    budgets on the same final objective."""
    for opt in ("random", "direct"):
        r = run_fit(adapting, FitSettings("adex", current="recorded", budget=200, loss="vr",
                                          optimizer=opt, seed=2))
        assert r.loss_name == "times" and {h["stage"] for h in r.history} == {TIMES}
