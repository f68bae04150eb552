"""Current search: re-simulation reproduces the count, every status on a purpose-built case,
the max(1 pA, 1 %) tolerance checked against an independent fine bisection, bracket ends,
independence of batch position and thread count.

What is guaranteed (if the count grows with the amplitude near the threshold ``I_n``, the
smallest amplitude giving ``n`` spikes): the search ends with ``lo < I_n <= hi = amplitude``
and ``hi - lo <= max(1 pA, 1 % lo)``, so ``amplitude - I_n <= max(1 pA, 1 % I_n)`` and every
amplitude at or below ``amplitude / 1.01 - 1 pA`` (<= lo) gives fewer than ``n`` spikes.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.errors import UserError
from snnfit.sim.models import all_presets, get_model
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.search import FOUND, INFEASIBLE, SILENT, SPONTANEOUS, search_current
from snnfit.sim.simulate import simulate_batch

DEFAULT = StepProtocol()
PRESETS = all_presets()


def vec(name, **over):
    m, p = PRESETS[name]
    return m, get_model(m).spec.vector(dict(p.params, **over))


def count(model, P, amps, protocol=DEFAULT):
    """Spike counts in the step window of the full protocol (independent of the search)."""
    P = np.atleast_2d(P)
    amps = np.asarray(amps, dtype=float)
    if P.shape[0] == 1 and amps.size > 1:
        P = np.repeat(P, amps.size, axis=0)
    return simulate_batch(model, P, amps, protocol, threads=1, max_spikes=1).n_in_step


def true_threshold(model, p, n, lo, hi, protocol=DEFAULT):
    """Independent fine bisection of the smallest amplitude with >= n spikes (to 1e-6 pA)."""
    assert count(model, p, [lo])[0] < n <= count(model, p, [hi])[0]
    while hi - lo > 1e-6:
        mid = 0.5 * (lo + hi)
        if count(model, p, [mid])[0] >= n:
            hi = mid
        else:
            lo = mid
    return hi


@pytest.mark.parametrize("name,n", [("naud2008:adapting", 1), ("naud2008:adapting", 5),
                                    ("naud2008:initial_burst", 2), ("izhikevich2007:RS", 3),
                                    ("izhikevich2007:IB", 5), ("lif:default", 20),
                                    ("naud2008:delayed_accelerating", 7)])
def test_found_tolerance_and_bracket(name, n):
    m, p = vec(name)
    r = search_current(m, p[None, :], n, threads=1)
    assert r.status[0] == FOUND, r.status_name(0)
    amp = float(r.amplitude_pA[0])
    lo_b, hi_b = r.bracket_pA[0]
    # re-simulation (full protocol) reproduces the count
    assert count(m, p, [amp])[0] == n == r.n_spikes[0]
    # just below the tolerance band: fewer than n
    assert count(m, p, [amp / 1.01 - 1.0])[0] < n
    # within max(1 pA, 1 %) above the true threshold
    I_n = true_threshold(m, p, n, amp / 1.01 - 1.0, amp)
    assert I_n <= amp <= I_n + max(1.0, 0.01 * I_n) + 1e-9, (I_n, amp)
    # bracket: both ends give exactly n; just above the upper end gives more
    assert lo_b == amp and hi_b >= lo_b
    c = count(m, p, [lo_b, hi_b, hi_b + max(1.0, 0.01 * hi_b)])
    assert c[0] == n and c[1] == n and c[2] > n, c


def test_found_on_random_sets_reproduces_counts():
    """Many sets across the bounds: every 'found' re-simulates to n; bracket ends give n."""
    rng = np.random.default_rng(3)
    n_found = 0
    for model in ("lif", "adex", "izhikevich"):
        spec = get_model(model).spec
        B = 24
        P = spec.lower() + rng.random((B, len(spec.params))) * (spec.upper() - spec.lower())
        n = rng.integers(1, 12, B)
        r = search_current(model, P, n, threads=1)
        ok = r.status == FOUND
        n_found += ok.sum()
        if ok.any():
            amps = np.concatenate([r.amplitude_pA[ok], r.bracket_pA[ok, 1]])
            c = count(model, np.concatenate([P[ok], P[ok]]), amps)
            k = ok.sum()
            assert np.array_equal(c[:k], n[ok]) and np.array_equal(c[k:], n[ok])
            assert np.array_equal(r.n_spikes[ok], n[ok])
        # statuses other than found carry NaN amplitudes
        assert np.all(np.isnan(r.amplitude_pA[~ok]))
        # infeasible means the recorded count is not n
        inf = r.status == INFEASIBLE
        assert np.all(r.n_spikes[inf] != n[inf])
    assert n_found >= 30


def test_n_zero_is_amplitude_zero():
    m, p = vec("naud2008:adapting")
    r = search_current(m, p[None, :], 0, threads=1)
    assert r.status[0] == FOUND and r.amplitude_pA[0] == 0.0
    c = count(m, p, [0.0, r.bracket_pA[0, 1]])
    assert c[0] == 0 and c[1] == 0


def test_infeasible_lif_single_spike():
    """LIF: 1 to 10 spikes in 1 s only occur in an exponentially narrow band just above the
    rheobase (200 pA), far narrower than 1 pA: the count jumps from 0 to 11."""
    m, p = vec("lif:default")
    r = search_current(m, p[None, :], 1, threads=1)
    assert r.status[0] == INFEASIBLE and np.isnan(r.amplitude_pA[0])
    assert r.n_spikes[0] > 1
    # independent scan: no amplitude on a fine grid gives exactly one spike
    amps = np.linspace(199.0, 203.0, 4001)
    c = count(m, p, amps)
    assert not np.any(c == 1) and c[0] == 0 and c[-1] > 1


@pytest.mark.parametrize("case", ["holding_above_rheobase", "EL_above_Vth", "adex_holding",
                                  "izh_holding"])
def test_spontaneous(case):
    proto = DEFAULT
    if case == "holding_above_rheobase":
        m, p = vec("lif:default")
        proto = StepProtocol(holding_pA=250.0)
    elif case == "EL_above_Vth":
        m, p = vec("lif:default", EL=-45.0)
    elif case == "adex_holding":
        m, p = vec("naud2008:adapting")
        proto = StepProtocol(holding_pA=600.0)
    else:
        m, p = vec("izhikevich2007:RS")
        proto = StepProtocol(holding_pA=200.0)
    r = search_current(m, p[None, :], 3, proto, threads=1)
    assert r.status[0] == SPONTANEOUS and np.isnan(r.amplitude_pA[0])
    # independent: without any step it fires (in the window, or before it)
    res = simulate_batch(m, p[None, :], [0.0], proto, threads=1, max_spikes=1)
    assert res.counts[0] > 0


def test_silent():
    m, p = vec("lif:default")
    r = search_current(m, p[None, :], 2, max_amplitude_pA=150.0, threads=1)
    assert r.status[0] == SILENT and np.isnan(r.amplitude_pA[0])
    assert count(m, p, [150.0])[0] < 2
    m, p = vec("izhikevich2007:RS")
    r = search_current(m, p[None, :], 40, max_amplitude_pA=60.0, threads=1)
    assert r.status[0] == SILENT and count(m, p, [60.0])[0] < 40


def test_holding_current_below_rheobase_is_searched():
    """A hyperpolarising holding current shifts the threshold up by about its size (LIF)."""
    m, p = vec("lif:default")
    r0 = search_current(m, p[None, :], 20, threads=1)
    r1 = search_current(m, p[None, :], 20, StepProtocol(holding_pA=-100.0), threads=1)
    assert r0.status[0] == r1.status[0] == FOUND
    assert abs((r1.amplitude_pA[0] - r0.amplitude_pA[0]) - 100.0) <= 2 * max(1.0, 0.01 * 400)
    c = count(m, p, [r1.amplitude_pA[0]], StepProtocol(holding_pA=-100.0))
    assert c[0] == 20


@pytest.mark.parametrize("scheme", ["euler", "resolved"])
def test_independent_of_batch_position_and_threads(scheme):
    rng = np.random.default_rng(7)
    rows, ns = [], []
    for name in ("naud2008:irregular", "naud2008:adapting", "naud2008:regular_bursting",
                 "naud2008:tonic"):
        _, p = vec(name)
        for _ in range(20):
            rows.append(p * (1 + 0.02 * rng.standard_normal(p.size)))
            ns.append(int(rng.integers(1, 9)))
    P = np.array(rows)
    n = np.array(ns)
    ref = search_current("adex", P, n, scheme=scheme, threads=1)
    assert (ref.status == FOUND).sum() > 20
    perm = np.random.default_rng(1).permutation(len(P))
    for threads in (1, 2):
        r = search_current("adex", P[perm], n[perm], scheme=scheme, threads=threads)
        assert r.amplitude_pA.tobytes() == ref.amplitude_pA[perm].tobytes()
        assert r.bracket_pA.tobytes() == ref.bracket_pA[perm].tobytes()
        assert np.array_equal(r.status, ref.status[perm])
        assert np.array_equal(r.n_spikes, ref.n_spikes[perm])
    # a set searched alone gives the same answer as inside the batch
    for i in (0, 21, 79):
        one = search_current("adex", P[i:i + 1], n[i], scheme=scheme, threads=1)
        assert one.amplitude_pA.tobytes() == ref.amplitude_pA[i:i + 1].tobytes()
        assert one.status[0] == ref.status[i]


def test_bad_input():
    m, p = vec("lif:default")
    with pytest.raises(UserError, match="n_spikes"):
        search_current(m, p[None, :], -1)
    with pytest.raises(UserError, match="max_amplitude_pA"):
        search_current(m, p[None, :], 1, max_amplitude_pA=0.0)
    with pytest.raises(UserError, match="C"):
        search_current(m, (p * np.r_[0, np.ones(p.size - 1)])[None, :], 1)


def test_straddling_bracket_is_bisected_until_the_count_is_found():
    # issue 12: the count jumps 5 -> 8 -> 9 inside 0.13 pA (an Euler reference gives 8 spikes on
    # [273.52, 273.65) pA); at the 1 % tolerance the upper end gave 9 and the search said
    # 'infeasible'. It must keep bisecting and find 8, with the extra simulations counted.
    spec = get_model("adex").spec
    p = spec.vector(dict(C=90, gL=9, EL=-68, VT=-48, DeltaT=3, a=6, tau_w=60, b=15, Vr=-52))
    r = search_current("adex", p[None, :], 8, scheme="euler", threads=1)
    assert r.status[0] == FOUND, r.status_name(0)
    amp = float(r.amplitude_pA[0])
    assert 273.52 - 0.01 <= amp < 273.65
    lo_b, hi_b = r.bracket_pA[0]
    c = simulate_batch("adex", np.repeat(p[None, :], 2, 0), np.array([lo_b, hi_b]), DEFAULT,
                       "euler", threads=1, max_spikes=1).n_in_step
    assert list(c) == [8, 8] and hi_b > lo_b
    # the plain bisection to 1 % would have stopped after 8 bisection steps; the extra ones
    # are in the count
    grid = 16
    assert r.n_simulations > grid + 2 * 8


@pytest.mark.parametrize("model", ["adex", "izhikevich", "lif"])
def test_whenever_a_fine_grid_finds_the_count_the_search_does(model):
    """Property (issue 12): on random sets whose step count rises monotonically with the
    amplitude (checked on a fine grid), every count n that some grid amplitude gives is found
    by the search, and its amplitude re-simulates to n."""
    rng = np.random.default_rng({"adex": 11, "izhikevich": 12, "lif": 13}[model])
    spec = get_model(model).spec
    lo, hi = spec.lower(), spec.upper()
    proto = StepProtocol(delay_ms=20.0, duration_ms=300.0, t_stop_ms=340.0)
    top = 1000.0
    levels = np.linspace(0.0, top, 801)
    checked = 0
    tries = 0
    while checked < 6 and tries < 200:
        tries += 1
        p = lo + rng.uniform(size=lo.size) * (hi - lo)
        c = count(model, p, levels, proto)
        if not np.all(np.diff(c) >= 0) or c[0] > 0 or c[-1] < 3:
            continue
        ns = sorted(set(int(x) for x in c if 1 <= x <= 15))
        r = search_current(model, np.repeat(p[None, :], len(ns), 0), np.array(ns), proto,
                           max_amplitude_pA=top, threads=1)
        for j, n in enumerate(ns):
            assert r.status[j] == FOUND, (model, n, r.status_name(j), p)
            assert count(model, p, [r.amplitude_pA[j]], proto)[0] == n
        checked += 1
    assert checked >= 6, f"only {checked} monotone random {model} sets in {tries} draws"
