"""The held-out firing-pattern score (snnfit.metrics.pattern_terms / pattern_score): hand cases
computed on paper, and the property the study needs from it: a drifting but correct train
scores better than a train with the wrong count, where Gamma ranks them the other way."""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.errors import UserError
from snnfit.metrics import PATTERN_LATENCY_SCALE_MS, gamma_factor, pattern_score, pattern_terms


def test_hand_case():
    # window [100, 200): data 110, 130, 160; model 112, 132 (and 250, outside the window)
    t = pattern_terms([112.0, 132.0, 250.0], [110.0, 130.0, 160.0], 100.0, 200.0)
    assert t["count"] == pytest.approx(1 / 3)  # |2 - 3| / 3
    assert t["isi"] == pytest.approx(0.0)  # one pair: 20 vs 20
    assert t["latency"] == pytest.approx(2 / (2 + PATTERN_LATENCY_SCALE_MS))
    s = pattern_score([[112.0, 132.0, 250.0]], [[110.0, 130.0, 160.0]], 100.0, 200.0)
    assert s == pytest.approx((1 / 3 + 0 + 2 / 12) / 3)


def test_isi_term_by_hand():
    # intervals model 10, 30; data 20, 10: |10-20|/30 and |30-10|/40, mean = (1/3 + 1/2)/2
    t = pattern_terms([0.0, 10.0, 40.0], [0.0, 20.0, 30.0], 0.0, 100.0)
    assert t["isi"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert t["count"] == 0.0 and t["latency"] == 0.0


def test_identical_zero_silent_one_symmetric():
    d = [105.0, 150.0, 190.0, 260.0]
    assert pattern_score([d], [d], 100.0, 1100.0) == 0.0
    assert pattern_score([[]], [d], 100.0, 1100.0) == 1.0  # silent model: every term 1
    assert pattern_score([[]], [[]], 100.0, 1100.0) == 0.0  # both silent: same pattern
    one = pattern_terms([120.0], d, 100.0, 1100.0)
    assert one["isi"] == 1.0 and one["count"] == pytest.approx(3 / 4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = np.sort(rng.uniform(100, 1100, rng.integers(0, 30)))
        b = np.sort(rng.uniform(100, 1100, rng.integers(0, 30)))
        ta, tb = pattern_terms(a, b, 100.0, 1100.0), pattern_terms(b, a, 100.0, 1100.0)
        assert ta == pytest.approx(tb)
        assert all(0.0 <= v <= 1.0 for v in ta.values())


def test_drifting_correct_train_beats_wrong_count_where_gamma_does_not():
    # the truth fires 47 spikes every 20 ms; a correct model drifts by 0.2 ms per interval;
    # a wrong one fires every 23.5 ms (fewer spikes); Gamma prefers neither reliably, the
    # pattern score ranks the drifting train clearly first
    onset, offset, t_stop = 100.0, 1100.0, 1200.0
    truth = 105.0 + 20.0 * np.arange(47)
    drift = 105.0 + 20.2 * np.arange(47)
    wrong = 105.0 + 23.5 * np.arange(41)
    g_drift = gamma_factor([drift], [truth], [t_stop])
    s_drift = pattern_score([drift], [truth], onset, offset)
    s_wrong = pattern_score([wrong], [truth], onset, offset)
    assert s_drift < 0.01
    assert s_wrong > 10 * s_drift
    assert g_drift < 0.5  # the drift destroys coincidences: Gamma cannot see it is correct


def test_several_sweeps_mean_and_bad_input():
    a = pattern_score([[110.0], [120.0, 140.0]], [[110.0], [120.0, 140.0]], 100.0, 200.0)
    assert a == 0.0
    b = pattern_score([[110.0], []], [[110.0], [120.0, 140.0]], [100.0, 100.0], [200.0, 200.0])
    assert b == pytest.approx(0.5)  # sweep 1: 0, sweep 2: 1
    with pytest.raises(UserError):
        pattern_terms([1.0], [1.0], 200.0, 100.0)
    with pytest.raises(UserError):
        pattern_score([1.0, 2.0], [[1.0]], 0.0, 10.0)
