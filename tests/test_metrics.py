"""Tests for snnfit.metrics.

References used: hand-computed cases (arithmetic in the comments), naive O(n m) / brute-force
implementations written here, scipy's maximum bipartite matching, numerical integration, and
elephant's spike_train_dissimilarity (test-only dependency).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from snnfit import metrics as M
from snnfit.errors import UserError

# ---------------------------------------------------------------------------------------------
# Naive references and strategies
# ---------------------------------------------------------------------------------------------


def naive_max_coincidences(model, data, delta):
    """Maximum one-to-one matching with |m - d| <= delta, by a general assignment solver."""
    model, data = np.asarray(model, float), np.asarray(data, float)
    if model.size == 0 or data.size == 0:
        return 0
    ok = np.abs(model[:, None] - data[None, :]) <= delta
    rows, cols = linear_sum_assignment(ok.astype(float), maximize=True)
    return int(ok[rows, cols].sum())


def naive_van_rossum(a, b, tau):
    """D^2 = sum_ij e^{-|ai-aj|/tau} + sum_ij e^{-|bi-bj|/tau} - 2 sum_ij e^{-|ai-bj|/tau}."""
    a, b = np.asarray(a, float), np.asarray(b, float)

    def s(x, y):
        return np.exp(-np.abs(x[:, None] - y[None, :]) / tau).sum()

    return math.sqrt(max(s(a, a) + s(b, b) - 2 * s(a, b), 0.0))


def naive_victor_purpura(a, b, q):
    """Full-matrix dynamic programme, straight from Victor & Purpura (1996)."""
    a, b = sorted(a), sorted(b)
    g = np.zeros((len(a) + 1, len(b) + 1))
    g[:, 0] = np.arange(len(a) + 1)
    g[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            g[i, j] = min(
                g[i - 1, j] + 1, g[i, j - 1] + 1, g[i - 1, j - 1] + q * abs(a[i - 1] - b[j - 1])
            )
    return g[-1, -1]


def poisson_train(rng, rate_hz, t_stop_ms):
    n = rng.poisson(rate_hz * t_stop_ms / 1000.0)
    return np.sort(rng.uniform(0.0, t_stop_ms, n))


times = st.floats(0.0, 500.0, allow_nan=False, allow_infinity=False)
trains = st.lists(times, max_size=25).map(lambda x: np.array(sorted(x)))
# integer grid (ms) so that |t_model - t_data| == delta happens exactly
grid_trains = st.lists(st.integers(0, 60), max_size=20).map(lambda x: np.array(sorted(x), float))


def elephant_pair(a, b, t_stop=1000.0):
    neo = pytest.importorskip("neo")
    pq = pytest.importorskip("quantities")
    sa = neo.SpikeTrain(np.asarray(a, float), units="ms", t_stop=t_stop)
    sb = neo.SpikeTrain(np.asarray(b, float), units="ms", t_stop=t_stop)
    return sa, sb, pq


# ---------------------------------------------------------------------------------------------
# Coincidences and Gamma
# ---------------------------------------------------------------------------------------------


def test_coincidences_one_to_one_hand_case():
    # data 10, 11 ; model 10.5: both data spikes are within 2 ms of the one model spike,
    # but a model spike counts once -> 1 coincidence (not 2).
    assert M.coincidence_count([10.5], [10.0, 11.0], 2.0) == 1
    # window boundary is inclusive: |12 - 10| = 2 <= 2; |12.5 - 10| = 2.5 > 2
    assert M.coincidence_count([12.0], [10.0], 2.0) == 1
    assert M.coincidence_count([12.5], [10.0], 2.0) == 0
    # a greedy that paired data 10 with model 11.5 (nearest) would still find 2 here; the
    # in-order sweep pairs 10-9 and 12-11.5 -> 2
    assert M.coincidence_count([9.0, 11.5], [10.0, 12.0], 2.0) == 2


@settings(max_examples=300, deadline=None)
@given(grid_trains, grid_trains, st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.0]))
def test_greedy_matching_is_maximum(model, data, delta):
    assert M.coincidence_count(model, data, delta) == naive_max_coincidences(model, data, delta)


def test_gamma_hand_case():
    # model 10, 20, 30 ; data 12, 24, 30 ; T = 1000 ms ; delta = 2 ms
    # coincidences: |10-12| = 2 <= 2 yes, |20-24| = 4 no, |30-30| = 0 yes -> N_coinc = 2
    # nu = N_model / T = 3 / 1000 = 0.003 /ms
    # <N_coinc> = 2 nu delta N_data = 2 * 0.003 * 2 * 3 = 0.036
    # norm = 1 - 2 nu delta = 1 - 0.012 = 0.988
    # Gamma = (2 - 0.036) / (0.5 * 0.988 * (3 + 3)) = 1.964 / 2.964 = 0.662618083...
    g = M.gamma_factor([10.0, 20.0, 30.0], [12.0, 24.0, 30.0], 1000.0, 2.0)
    assert g == pytest.approx(1.964 / 2.964, rel=1e-12)


def test_gamma_uses_model_rate_hand_case():
    # model 100 (1 spike) ; data 100, 300 (2 spikes) ; T = 500 ms ; delta = 2 ms
    # N_coinc = 1 ; nu = 1/500 = 0.002 /ms (model rate; the data rate would be 0.004)
    # <N_coinc> = 2 * 0.002 * 2 * 2 = 0.016 ; norm = 1 - 2*0.002*2 = 0.992
    # Gamma = (1 - 0.016) / (0.5 * 0.992 * 3) = 0.984 / 1.488 = 0.661290...
    g = M.gamma_factor([100.0], [100.0, 300.0], 500.0)
    assert g == pytest.approx(0.984 / 1.488, rel=1e-12)
    # swapping model and data changes nu: nu = 2/500 = 0.004, <N_coinc> = 2*0.004*2*1 = 0.016,
    # norm = 1 - 0.016 = 0.984, Gamma = (1 - 0.016) / (0.5 * 0.984 * 3) = 0.984 / 1.476
    g2 = M.gamma_factor([100.0, 300.0], [100.0], 500.0)
    assert g2 == pytest.approx(0.984 / 1.476, rel=1e-12)


def test_gamma_pooled_sweeps_hand_case():
    # sweep 1: model [10, 50], data [11], T1 = 100 ; sweep 2: model [], data [20, 40], T2 = 300
    # N_model = 2, N_data = 3, N_coinc = 1 (10~11), T = 400 ms, nu = 2/400 = 0.005 /ms
    # <N_coinc> = 2 * 0.005 * 2 * 3 = 0.06 ; norm = 1 - 2*0.005*2 = 0.98
    # Gamma = (1 - 0.06) / (0.5 * 0.98 * 5) = 0.94 / 2.45
    g = M.gamma_factor([[10.0, 50.0], []], [[11.0], [20.0, 40.0]], [100.0, 300.0])
    assert g == pytest.approx(0.94 / 2.45, rel=1e-12)
    # scalar t_stop broadcast: T = 2 * 200 = 400, same answer
    g_scalar = M.gamma_factor([[10.0, 50.0], []], [[11.0], [20.0, 40.0]], 200.0)
    assert g_scalar == pytest.approx(0.94 / 2.45, rel=1e-12)


def test_gamma_pooling_equals_concatenation_when_sweeps_are_far_apart():
    rng = np.random.default_rng(7)
    t_stops = [800.0, 1200.0, 500.0]
    ms = [poisson_train(rng, 20, t) for t in t_stops]
    ds = [np.sort(np.clip(m + rng.normal(0, 2, m.size), 0, t)) for m, t in zip(ms, t_stops)]
    # concatenate with 100 ms gaps of silence, far more than delta: no cross-sweep coincidences
    offsets = np.cumsum([0.0] + [t + 100.0 for t in t_stops[:-1]])
    cat_m = np.concatenate([m + o for m, o in zip(ms, offsets)])
    cat_d = np.concatenate([d + o for d, o in zip(ds, offsets)])
    # the gaps add duration, so give the concatenation the same total T as the pooled sweeps
    g_pooled = M.gamma_factor(ms, ds, t_stops)
    g_cat = M.gamma_factor(cat_m, cat_d, sum(t_stops))
    assert g_pooled == pytest.approx(g_cat, rel=1e-12)
    assert 0.0 < g_pooled < 1.0


@settings(max_examples=100, deadline=None)
@given(trains.filter(lambda x: x.size > 0), st.sampled_from([0.5, 2.0, 4.0]))
def test_gamma_identical_trains_is_one(train, delta):
    t_stop = 5000.0  # 25 spikes in 5 s at most: 2 nu delta <= 0.04 < 1
    assert M.gamma_factor(train, train, t_stop, delta) == pytest.approx(1.0, abs=1e-12)


def test_gamma_empty_cases():
    assert M.gamma_factor([], [], 1000.0) == 1.0
    assert M.gamma_factor([[], []], [[], []], [100.0, 100.0]) == 1.0
    assert M.gamma_factor([], [10.0, 20.0], 1000.0) == 0.0
    assert M.gamma_factor([10.0, 20.0], [], 1000.0) == 0.0


def test_gamma_is_none_when_model_rate_exceeds_window():
    # 300 model spikes in 1000 ms: 2 nu delta = 2 * 0.3 * 2 = 1.2 >= 1 -> undefined
    model = np.linspace(0, 999, 300)
    assert M.gamma_factor(model, [500.0], 1000.0, 2.0) is None
    # exactly at the boundary: 250 spikes, 2 * 0.25 * 2 = 1 -> None as well
    assert M.gamma_factor(np.linspace(0, 999, 250), [500.0], 1000.0, 2.0) is None


def test_gamma_independent_poisson_pairs_average_near_zero():
    # 20 Hz Poisson pairs over 10 s: N ~ 200 each, <N_coinc> ~ 16, one pair's Gamma has a
    # standard deviation of about 4 / 184 ~ 0.02; the mean of 60 pairs ~ 0.003.
    rng = np.random.default_rng(12345)
    gs = [
        M.gamma_factor(poisson_train(rng, 20, 10_000), poisson_train(rng, 20, 10_000), 10_000)
        for _ in range(60)
    ]
    assert abs(np.mean(gs)) < 0.015
    assert np.std(gs) < 0.05
    # and a jittered copy of the data is far from 0
    d = poisson_train(rng, 20, 10_000)
    assert M.gamma_factor(d + rng.normal(0, 0.5, d.size), d, 10_000) > 0.9


def test_gamma_bad_input():
    with pytest.raises(UserError, match="t_stop_ms"):
        M.gamma_factor([1.0], [1.0], 0.0)
    with pytest.raises(UserError, match="t_stop_ms"):
        M.gamma_factor([[1.0], [2.0]], [[1.0], [2.0]], [100.0])
    with pytest.raises(UserError, match="same number of sweeps"):
        M.gamma_factor([[1.0], [2.0]], [[1.0]], 100.0)
    with pytest.raises(UserError, match="model"):
        M.gamma_factor([1.0, float("nan")], [1.0], 100.0)
    with pytest.raises(UserError, match="delta_ms"):
        M.gamma_factor([1.0], [1.0], 100.0, delta_ms=0.0)
    with pytest.raises(UserError, match="one list of sweeps each"):
        M.gamma_factor([1.0, 2.0], [[1.0], [2.0]], 100.0)


# ---------------------------------------------------------------------------------------------
# Matched RMSE
# ---------------------------------------------------------------------------------------------


def test_matched_rmse_hand_cases():
    # model 10, 20, 30 vs data 12, 24, 30: diffs -2, -4, 0 -> mean sq = (4 + 16 + 0)/3 = 20/3
    rmse, dn = M.matched_rmse([10.0, 20.0, 30.0], [12.0, 24.0, 30.0])
    assert rmse == pytest.approx(math.sqrt(20 / 3), rel=1e-12)
    assert dn == 0
    # unsorted input is sorted first; extra model spike: pairs (5,6), (15,13) -> sq 1 + 4,
    # rmse = sqrt(5/2), count diff = 3 - 2 = +1
    rmse, dn = M.matched_rmse([15.0, 5.0, 40.0], [6.0, 13.0])
    assert rmse == pytest.approx(math.sqrt(2.5), rel=1e-12)
    assert dn == 1


def test_matched_rmse_pools_pairs_over_sweeps():
    # sweep 1: (10 vs 13) -> sq 9, model has 1 spike, data 2 -> diff -1
    # sweep 2: (5 vs 4), (8 vs 8) -> sq 1 + 0, model 3 spikes, data 2 -> diff +1
    # pooled: sqrt((9 + 1 + 0) / 3), signed count diff -1 + 1 = 0
    rmse, dn = M.matched_rmse([[10.0], [5.0, 8.0, 9.0]], [[13.0, 20.0], [4.0, 8.0]])
    assert rmse == pytest.approx(math.sqrt(10 / 3), rel=1e-12)
    assert dn == 0


def test_matched_rmse_no_pair_is_none():
    assert M.matched_rmse([], []) == (None, 0)
    assert M.matched_rmse([], [1.0, 2.0]) == (None, -2)
    assert M.matched_rmse([[1.0], []], [[], [3.0]]) == (None, 0)


# ---------------------------------------------------------------------------------------------
# van Rossum
# ---------------------------------------------------------------------------------------------


def test_van_rossum_hand_cases():
    # one spike vs nothing: D^2 = 1 (elephant normalisation)
    assert M.van_rossum([50.0], [], 10.0) == pytest.approx(1.0, rel=1e-12)
    assert M.van_rossum([], [], 10.0) == 0.0
    # one spike each, s apart: D^2 = 1 + 1 - 2 e^{-s/tau}; s = 10, tau = 10 -> 2 - 2/e
    assert M.van_rossum([50.0], [60.0], 10.0) == pytest.approx(math.sqrt(2 - 2 / math.e), rel=1e-12)
    # two spikes 5 ms apart vs nothing: D^2 = 2 + 2 e^{-5/10}
    assert M.van_rossum([0.0, 5.0], [], 10.0) == pytest.approx(math.sqrt(2 + 2 * math.exp(-0.5)))
    # identical trains (with a duplicated spike time)
    assert M.van_rossum([1.0, 1.0, 7.0], [1.0, 1.0, 7.0], 3.0) == pytest.approx(0.0, abs=1e-7)


def test_van_rossum_matches_naive_pairwise_sum():
    rng = np.random.default_rng(3)
    for _ in range(30):
        a = np.sort(rng.uniform(0, 1000, rng.integers(0, 60)))
        b = np.sort(rng.uniform(0, 1000, rng.integers(0, 60)))
        tau = rng.choice([0.5, 5.0, 10.0, 100.0, 1000.0])
        assert M.van_rossum(a, b, tau) == pytest.approx(naive_van_rossum(a, b, tau), abs=1e-9)


def test_van_rossum_matches_elephant():
    elephant = pytest.importorskip("elephant.spike_train_dissimilarity")
    rng = np.random.default_rng(2024)
    for k in range(12):
        a = np.sort(rng.uniform(0, 1000, rng.integers(0, 40)))
        if k % 3 == 0:  # jittered copy: small distances, where cancellation is worst
            b = np.sort(np.clip(a + rng.normal(0, 1.0, a.size), 0, 1000))
        else:
            b = np.sort(rng.uniform(0, 1000, rng.integers(0, 40)))
        for tau in (2.0, 10.0, 50.0):
            sa, sb, pq = elephant_pair(a, b)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = elephant.van_rossum_distance([sa, sb], time_constant=tau * pq.ms)[0, 1]
            assert M.van_rossum(a, b, tau) == pytest.approx(float(ref), rel=1e-9, abs=1e-9)


def test_van_rossum_truncated_matches_numerical_integral():
    # D^2 = (2/tau) * int_0^T (f - g)^2 dt with causal exponential kernels; integrate on a fine
    # grid (trapezoid, dt = 0.001 ms) and compare with the closed form.
    rng = np.random.default_rng(11)
    tau, t_stop = 8.0, 120.0
    a = np.sort(rng.uniform(0, 140, 6))  # some spikes after t_stop: they must be ignored
    b = np.sort(rng.uniform(0, 140, 4))
    t = np.linspace(0, t_stop, 120_001)

    def filt(x):
        d = t[:, None] - x[None, :]
        return np.where(d >= 0, np.exp(-np.clip(d, 0, None) / tau), 0.0).sum(axis=1)

    ref = math.sqrt(2 / tau * np.trapezoid((filt(a) - filt(b)) ** 2, t))
    assert M.van_rossum(a, b, tau, t_stop_ms=t_stop) == pytest.approx(ref, rel=1e-4)
    # and with T far beyond the last spike the truncation vanishes
    assert M.van_rossum(a, b, tau, t_stop_ms=1e4) == pytest.approx(M.van_rossum(a, b, tau))


@settings(max_examples=150, deadline=None)
@given(trains, trains, trains, st.sampled_from([1.0, 10.0, 100.0]))
def test_van_rossum_is_a_metric(a, b, c, tau):
    dab, dba = M.van_rossum(a, b, tau), M.van_rossum(b, a, tau)
    assert dab >= 0.0
    assert dab == pytest.approx(dba, abs=1e-6)
    assert M.van_rossum(a, c, tau) <= dab + M.van_rossum(b, c, tau) + 1e-6
    # each self sum is at most n^2 and the cross sum is >= 0, so D^2 <= n_a^2 + n_b^2
    assert dab**2 <= a.size**2 + b.size**2 + 1e-9


# ---------------------------------------------------------------------------------------------
# Victor-Purpura
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shift, q", [(1.0, 0.1), (5.0, 0.1), (19.0, 0.1), (25.0, 0.1), (3.0, 1.0)])
def test_victor_purpura_one_shifted_spike_costs_min_qs_2(shift, q):
    assert M.victor_purpura([100.0], [100.0 + shift], q) == pytest.approx(min(q * shift, 2.0))


def test_victor_purpura_hand_cases():
    assert M.victor_purpura([10.0, 20.0], [10.0], 0.1) == pytest.approx(1.0)  # delete one
    assert M.victor_purpura([], [1.0, 2.0, 3.0], 0.1) == pytest.approx(3.0)  # insert three
    assert M.victor_purpura([], [], 0.1) == 0.0
    # q = 0: only the count matters
    assert M.victor_purpura([1.0, 500.0], [7.0, 8.0, 900.0], 0.0) == pytest.approx(1.0)
    # elephant's docstring example: 10,20,30 vs 12,24,30 at q = 1/(10 ms):
    # shifts 2 and 4 ms -> 0.2 + 0.4 = 0.6
    assert M.victor_purpura([10.0, 20.0, 30.0], [12.0, 24.0, 30.0], 0.1) == pytest.approx(0.6)


def test_victor_purpura_matches_elephant():
    elephant = pytest.importorskip("elephant.spike_train_dissimilarity")
    rng = np.random.default_rng(99)
    for k in range(10):
        a = np.sort(rng.uniform(0, 500, rng.integers(0, 25)))
        if k % 3 == 0:
            b = np.sort(np.clip(a + rng.normal(0, 5.0, a.size), 0, 500))
        else:
            b = np.sort(rng.uniform(0, 500, rng.integers(0, 25)))
        for q in (0.01, 0.1, 1.0):
            sa, sb, pq = elephant_pair(a, b)
            ref = elephant.victor_purpura_distance([sa, sb], cost_factor=q / pq.ms)[0, 1]
            assert M.victor_purpura(a, b, q) == pytest.approx(float(ref), rel=1e-9, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(trains, trains, trains, st.sampled_from([0.0, 0.05, 0.1, 1.0]))
def test_victor_purpura_is_a_metric_and_matches_naive_dp(a, b, c, q):
    dab = M.victor_purpura(a, b, q)
    assert dab == pytest.approx(naive_victor_purpura(a, b, q), abs=1e-9)
    assert dab == pytest.approx(M.victor_purpura(b, a, q), abs=1e-9)
    assert abs(a.size - b.size) - 1e-9 <= dab <= a.size + b.size + 1e-9
    assert M.victor_purpura(a, c, q) <= dab + M.victor_purpura(b, c, q) + 1e-9
    assert M.victor_purpura(a, a, q) == 0.0


# ---------------------------------------------------------------------------------------------
# Latency and ISI errors
# ---------------------------------------------------------------------------------------------


def test_latency_error_hand_cases():
    # onset 100: first model spike at/after onset 112 (the 50 is spontaneous), data 105 -> 7
    assert M.latency_error_ms([50.0, 112.0, 130.0], [105.0], 100.0) == pytest.approx(7.0)
    # neither responds -> 0
    assert M.latency_error_ms([50.0], [], 100.0) == 0.0
    # model silent after onset: penalty with t_stop = 600 -> 600 - 105 = 495; without -> None
    assert M.latency_error_ms([], [105.0], 100.0, t_stop_ms=600.0) == pytest.approx(495.0)
    assert M.latency_error_ms([], [105.0], 100.0) is None
    assert M.latency_error_ms([300.0], [], 100.0, t_stop_ms=600.0) == pytest.approx(300.0)


def test_isi_error_hand_cases():
    # model ISIs 10, 20 ; data ISIs 12, 15, 30 -> pairs |10-12| = 2, |20-15| = 5 -> mean 3.5
    assert M.isi_error_ms([0.0, 10.0, 30.0], [5.0, 17.0, 32.0, 62.0]) == pytest.approx(3.5)
    assert M.isi_error_ms([1.0], [1.0, 5.0]) is None  # model has no interval
    assert M.isi_error_ms([], []) is None
    # sweeps pooled: sweep 1 one pair |10 - 14| = 4, sweep 2 two pairs |5-5| = 0, |5-8| = 3
    # -> (4 + 0 + 3) / 3
    v = M.isi_error_ms([[0.0, 10.0], [0.0, 5.0, 10.0]], [[0.0, 14.0], [1.0, 6.0, 14.0]])
    assert v == pytest.approx(7 / 3)


# ---------------------------------------------------------------------------------------------
# all_metrics
# ---------------------------------------------------------------------------------------------

KEYS = {
    "gamma",
    "spike_time_rmse_ms",
    "count_error",
    "van_rossum",
    "victor_purpura",
    "latency_error_ms",
    "isi_error_ms",
}


def test_all_metrics_hand_case():
    model = [np.array([10.0, 20.0, 30.0]), np.array([])]
    data = [np.array([12.0, 24.0, 30.0]), np.array([105.0])]
    out = M.all_metrics(model, data, [1000.0, 600.0], [5.0, 100.0])
    assert set(out) == KEYS
    # gamma: N_model 3, N_data 4, N_coinc 2, T = 1600, nu = 3/1600
    nu = 3 / 1600
    assert out["gamma"] == pytest.approx((2 - 2 * nu * 2 * 4) / (0.5 * (1 - 4 * nu) * 7))
    assert out["spike_time_rmse_ms"] == pytest.approx(math.sqrt(20 / 3))
    assert out["count_error"] == 1
    # VR: sweep 1 by the naive formula, sweep 2 one spike vs none = 1; mean of the two
    vr1 = naive_van_rossum([10.0, 20.0, 30.0], [12.0, 24.0, 30.0], 10.0)
    assert out["van_rossum"] == pytest.approx((vr1 + 1.0) / 2)
    assert out["victor_purpura"] == pytest.approx((0.6 + 1.0) / 2)
    # latency: sweep 1 |10 - 12| = 2, sweep 2 model silent -> 600 - 105 = 495; mean 248.5
    assert out["latency_error_ms"] == pytest.approx(248.5)
    # ISI: model 10, 10 vs data 12, 6 -> (2 + 4)/2 = 3; sweep 2 has no intervals
    assert out["isi_error_ms"] == pytest.approx(3.0)
    json.dumps(out, allow_nan=False)


def test_all_metrics_all_silent():
    out = M.all_metrics([[], []], [[], []], 1000.0, 100.0)
    assert out == {
        "gamma": 1.0,
        "spike_time_rmse_ms": None,
        "count_error": 0,
        "van_rossum": 0.0,
        "victor_purpura": 0.0,
        "latency_error_ms": None,
        "isi_error_ms": None,
    }


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda n: st.tuples(
            st.lists(trains, min_size=n, max_size=n), st.lists(trains, min_size=n, max_size=n)
        )
    ),
    st.floats(0.0, 200.0),
)
def test_all_metrics_is_json_safe(sweeps, onset):
    model, data = sweeps
    out = M.all_metrics(model, data, 500.0, onset)
    assert set(out) == KEYS
    text = json.dumps(out, allow_nan=False)  # raises on NaN / inf
    back = json.loads(text)
    for key, value in back.items():
        assert value is None or (isinstance(value, (int, float)) and math.isfinite(value)), key
    assert isinstance(out["count_error"], int)
    assert out["count_error"] == sum(abs(m.size - d.size) for m, d in zip(model, data))


def test_all_metrics_bad_input():
    with pytest.raises(UserError, match="lists of spike trains"):
        M.all_metrics(np.array([1.0, 2.0]), np.array([1.0]), 100.0, 0.0)
    with pytest.raises(UserError, match="onset_ms_list"):
        M.all_metrics([[1.0], [2.0]], [[1.0], [2.0]], 100.0, [0.0, 1.0, 2.0])
    with pytest.raises(UserError, match=r"data\[1\]"):
        M.all_metrics([[1.0], [2.0]], [[1.0], [[2.0, 3.0]]], 100.0, 0.0)
    with pytest.raises(UserError, match="cost_per_ms"):
        M.all_metrics([[1.0]], [[1.0]], 100.0, 0.0, cost_per_ms=-1.0)
