"""The optional stages of a fit (alignment, interval distribution, next-stage patience). The
alignment loss (snnfit.loss.batch_align_loss) against independent references: a
brute-force minimum over every order-preserving partial matching, the ordered spike-time loss
where the two must agree, and the cases worked by hand."""

from itertools import combinations

import numpy as np
import pytest

from snnfit.fit.stages import ALIGN, TIMES, VR, StageSettings, plan
from snnfit.errors import UserError
from snnfit.loss import _align_kernel_py, batch_align_loss, batch_loss


def brute_force(M, T, c):
    """Minimum over every order-preserving matching (pairs chosen as equal-size subsets of
    both trains, matched in order) of squared errors plus c per unmatched spike."""
    best = np.inf
    for k in range(min(len(M), len(T)) + 1):
        for im in combinations(range(len(M)), k):
            for it in combinations(range(len(T)), k):
                cost = sum((M[i] - T[j]) ** 2 for i, j in zip(im, it))
                cost += c * (len(M) - k + len(T) - k)
                best = min(best, cost)
    return best / max(len(T), 1)


def padded(trains, width):
    out = np.full((len(trains), width), np.nan)
    for b, m in enumerate(trains):
        out[b, :len(m)] = m
    return out


def test_equals_brute_force_on_random_trains():
    rng = np.random.default_rng(3)
    for _ in range(40):
        T = np.sort(rng.uniform(0, 200, rng.integers(0, 6)))
        trains = [np.sort(rng.uniform(0, 200, rng.integers(0, 6))) for _ in range(4)]
        c = float(rng.uniform(5, 60)) ** 2
        got = batch_align_loss(padded(trains, 8), [len(m) for m in trains], T, np.sqrt(c))
        want = [brute_force(m, T, c) for m in trains]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_compiled_equals_plain_loop():
    rng = np.random.default_rng(4)
    T = np.sort(rng.uniform(0, 1000, 40))
    times = np.sort(rng.uniform(0, 1000, (16, 81)), axis=1)
    counts = rng.integers(0, 90, 16)
    for b in range(16):
        times[b, counts[b]:] = np.nan
    np.testing.assert_allclose(batch_align_loss(times, counts, T, 50.0),
                               _align_kernel_py(times, counts, T, 2500.0), rtol=1e-13)


def test_equals_the_ordered_loss_when_every_pair_is_close():
    rng = np.random.default_rng(5)
    T = np.cumsum(rng.uniform(20, 60, 30))
    M = T[None, :] + rng.normal(0, 2.0, (8, 30))
    counts = np.full(8, 30)
    np.testing.assert_allclose(batch_align_loss(M, counts, T, 50.0),
                               batch_loss(M, counts[:, None], [T], 50.0), rtol=1e-12)


def test_a_burst_one_spike_short_costs_one_unmatched_spike():
    # two bursts of four spikes 200 ms apart; the model's first burst has three
    T = np.array([10.0, 12, 14, 16, 210, 212, 214, 216])
    M = np.array([[10.0, 12, 14, 210, 212, 214, 216, np.nan]])
    got = batch_align_loss(M, [7], T, 50.0)[0]
    assert got == pytest.approx(2500.0 / 8)  # the 16-ms spike unmatched, the rest exact
    ordered = batch_loss(M, np.array([[7]]), [T], 50.0)[0]
    assert ordered > 20 * got  # ordered pairing: a 194-ms pair, and every later pair shifted


def test_spikes_not_stored_count_as_unmatched():
    T = np.array([10.0, 20.0])
    M = np.array([[10.0, 20.0, 30.0]])
    assert batch_align_loss(M, [5], T, 10.0)[0] == pytest.approx(3 * 100.0 / 2)


def test_plan_and_settings():
    s = StageSettings(vr_fraction=0.3, align_fraction=0.4)
    st = plan("vr", s, has_core=False)
    assert [x.objective for x in st] == [VR, ALIGN, TIMES]
    assert sum(x.fraction for x in st) == pytest.approx(1.0)
    assert [x.objective for x in plan("vr", StageSettings(), False)] == [VR, TIMES]
    with pytest.raises(UserError, match="align_fraction"):
        StageSettings(vr_fraction=0.6, align_fraction=0.5).check()
    with pytest.raises(UserError, match="align_unmatched_ms"):
        StageSettings(align_unmatched_ms=0.0).check()


def test_a_fit_with_an_alignment_stage(tmp_path):
    """The engine's alignment stage: its place among the stages, its share of the budget,
    and its loss: an alignment-only fit's loss is brute force's value on its own spikes."""
    from snnfit.data.targets import load_target, preset_target, write_target
    from snnfit.fit import FitSettings, run_fit

    p = tmp_path / "adapting.json"
    write_target(p, preset_target("naud2008:adapting", scheme="resolved"))
    budget = 1000
    r = run_fit(str(p), FitSettings("adex", current="recorded", budget=budget, loss="vr",
                                    stage_settings=StageSettings(vr_fraction=0.3,
                                                                 align_fraction=0.4)))
    info = r.optimizer_info["stages"]
    assert [s["stage"] for s in info] == [VR, ALIGN, TIMES]
    assert 0.4 * budget - 40 <= info[1]["simulations"] < 0.4 * budget + 40
    stages = [h["stage"] for h in r.history]
    assert stages.index(ALIGN) < stages.index(TIMES)
    only = run_fit(str(p), FitSettings("adex", current="recorded", budget=300, loss="vr",
                                       stage_settings=StageSettings(vr_fraction=0.3,
                                                                    align_fraction=0.7)))
    assert only.history[-1]["stage"] == ALIGN
    T = np.asarray(load_target(str(p)).sweeps[0].spike_times_ms)
    M = np.asarray(only.spike_times_ms[0])
    want = _align_kernel_py(M[None, :], np.array([M.size]), T, 2500.0)[0]
    assert only.loss == pytest.approx(want, rel=1e-9)


def isi_quantile_reference(M, T, on, off):
    """batch_isi_quantile_loss written with numpy's own quantile (method inverted_cdf)."""
    M = M[(M >= on) & (M < off)]
    T = T[(T >= on) & (T < off)]
    c = abs(M.size - T.size) / max(M.size, T.size, 1)
    if M.size < 2 or T.size < 2:
        return c + (0.0 if (M.size < 2 and T.size < 2) else 1.0)
    it = np.sort(np.diff(T))
    p = (np.arange(it.size) + 0.5) / it.size
    qm = np.quantile(np.diff(M), p, method="inverted_cdf")
    d = np.mean(np.abs(np.log(qm) - np.log(it)))
    return c + d / (1 + d)


def test_isi_quantile_loss_equals_numpys_quantiles():
    from snnfit.loss import batch_isi_quantile_loss

    rng = np.random.default_rng(6)
    for _ in range(30):
        T = np.sort(rng.uniform(0, 1200, rng.integers(0, 30)))
        trains = [np.sort(rng.uniform(0, 1200, rng.integers(0, 40))) for _ in range(5)]
        got = batch_isi_quantile_loss(padded(trains, 45), [len(m) for m in trains], T,
                                      100.0, 1100.0)
        want = [isi_quantile_reference(m, T, 100.0, 1100.0) for m in trains]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_isi_quantile_loss_tells_bursts_from_a_tonic_train_of_the_same_count():
    from snnfit.loss import batch_isi_quantile_loss

    burst = np.concatenate([t0 + np.arange(4) * 3.0 for t0 in (200.0, 450.0, 700.0, 950.0)])
    tonic = 200.0 + np.arange(16) * 50.0
    shuffled = np.sort(np.concatenate([burst[4:], burst[:4] + 5.0]))  # bursts moved in time
    got = batch_isi_quantile_loss(padded([tonic, shuffled, burst], 16), [16, 16, 16], burst,
                                  100.0, 1100.0)
    assert got[2] == 0.0 and got[1] < 0.05 < 0.5 < got[0]


def test_isiq_stage_in_the_plan():
    from snnfit.fit.stages import ISIQ

    st = plan("vr", StageSettings(isiq_fraction=0.3, align_fraction=0.1), has_core=False)
    assert [x.objective for x in st] == [VR, ISIQ, ALIGN, TIMES]
    assert sum(x.fraction for x in st) == pytest.approx(1.0)
    with pytest.raises(UserError, match="isiq_fraction"):
        StageSettings(isiq_fraction=-0.1).check()


def test_next_patience_reaches_only_the_later_stages():
    from snnfit.fit.optimizers.cmaes import CMAESSettings
    from snnfit.fit.stages import _next_settings

    first = CMAESSettings()
    later = _next_settings(first, StageSettings(next_patience=30))
    assert first.patience == 0 and later.patience == 30 and later.restart_from == "start"
    assert _next_settings(CMAESSettings(patience=7), StageSettings()).patience == 7
    with pytest.raises(UserError, match="next_patience"):
        StageSettings(next_patience=-1).check()


def _record(model, target, gamma, count_error=0):
    from types import SimpleNamespace

    proto = {"delay_ms": 100.0, "duration_ms": 1000.0, "t_stop_ms": 1200.0}
    return SimpleNamespace(gamma=gamma, count_error=count_error, spike_times_ms=[model],
                           target_spike_times_ms=[target], protocols=[proto])


def test_pattern_notice_names_a_tonic_fit_of_a_burster_and_nothing_else():
    from snnfit.commands.fit import pattern_notice

    bursts = list(np.concatenate([t0 + np.arange(4) * 3.0 for t0 in (200.0, 450.0, 700.0,
                                                                      950.0)]))
    tonic = list(200.0 + np.arange(16) * 50.0)
    note = pattern_notice(_record(tonic, bursts, gamma=0.05))
    assert note and "another pattern" in note and "Gamma 0.05" in note
    shifted = [t + 4.0 for t in bursts]  # the right pattern, every spike late: a timing miss
    assert pattern_notice(_record(shifted, bursts, gamma=0.2)) is None
    assert pattern_notice(_record(tonic, bursts, gamma=0.9)) is None  # a good fit
    assert pattern_notice(_record(tonic[:-1], bursts, gamma=0.05, count_error=1)) is None
