"""Exact spike-time gradients of the resolved map, checked against central finite differences.

Criterion (the issue's): step ``h = 1e-8 max(1, |value|)``; ``|g - fd| <= 1e-4 max(|fd|, 1e-3)``
(ms per unit), fd Richardson-extrapolated from the central differences with h and h/2. Pairs
whose finite difference changes (beyond that tolerance) when the step is halved, or whose
perturbation changes the spike count, straddle a kink of the map: excluded and counted; so are
pairs whose tolerance is below the difference quotient's round-off floor (64 ulps of the spike
time over 2h). The excluded share is bounded.
"""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.sim.grad import (loss_and_grad, prediction_errors, spike_times_and_jacobian,
                         spike_times_torch)
from snnfit.loss import batch_loss, batch_loss_grad, spike_time_loss
from snnfit.sim.models import get_spec, resolve_preset
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import simulate_batch

NAUD = ["tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
        "delayed_regular_bursting", "transient"]
PRESETS = [f"naud2008:{n}" for n in NAUD] + [f"izhikevich2007:{n}" for n in ("RS", "IB", "CH")] \
    + ["lif:default"]
PROT = StepProtocol()
S = 128


def preset_batch(names):
    model = resolve_preset(names[0])[0]
    spec = get_spec(model)
    P = np.array([spec.vector(resolve_preset(n)[1].params) for n in names])
    A = np.array([resolve_preset(n)[1].amplitude_pA for n in names])
    return model, P, A


def random_firing_sets(model, n_sets, seed, lo_spikes=3, hi_spikes=60, scheme="resolved"):
    """Sets drawn uniformly from the spec box (amplitude uniform in [50, 1000] pA) that fire
    lo..hi spikes with status ok under the scheme."""
    spec = get_spec(model)
    rng = np.random.default_rng(seed)
    lo, hi = spec.lower(), spec.upper()
    P = lo + rng.uniform(size=(600, len(lo))) * (hi - lo)
    A = rng.uniform(50.0, 1000.0, 600)
    r = simulate_batch(model, P, A, PROT, scheme, threads=1, max_spikes=S)
    ok = (r.status == 0) & (r.counts >= lo_spikes) & (r.counts <= hi_spikes)
    idx = np.flatnonzero(ok)[:n_sets]
    assert len(idx) == n_sets, f"only {len(idx)} firing sets for {model}"
    return P[idx], A[idx]


def fd_check(model, P, A, prot=PROT, scheme="resolved", ulps=64.0):
    """(n_checked, n_excluded, worst violation ratio, failures) for every (set, spike, column)."""
    B, n_p = P.shape
    t, c, _, st, J = spike_times_and_jacobian(model, P, A, prot, threads=1, max_spikes=S,
                                              scheme=scheme)
    X = np.concatenate([P, A[:, None]], axis=1)
    h = 1e-8 * np.maximum(1.0, np.abs(X))
    rows = []
    for b in range(B):
        for p in range(n_p + 1):
            for f in (1.0, -1.0, 0.5, -0.5):
                x = X[b].copy()
                x[p] += f * h[b, p]
                rows.append(x)
    R = np.array(rows)
    r = simulate_batch(model, R[:, :n_p], R[:, n_p], prot, scheme, threads=1,
                       max_spikes=S, check=False)
    tt = r.times.reshape(B, n_p + 1, 4, S)
    cc = r.counts.reshape(B, n_p + 1, 4)
    checked = excluded = 0
    worst = 0.0
    fails = []
    for b in range(B):
        n = min(int(c[b]), S)
        for p in range(n_p + 1):
            if np.any(cc[b, p] != c[b]):
                excluded += n
                continue
            fd1 = (tt[b, p, 0, :n] - tt[b, p, 1, :n]) / (2 * h[b, p])
            fd2 = (tt[b, p, 2, :n] - tt[b, p, 3, :n]) / h[b, p]
            tol = 1e-4 * np.maximum(np.abs(fd1), 1e-3)
            # 64 ulps of the spike time over 2h (the map accumulates ~10 ulps of rounding, and
            # Richardson amplifies it ~3x): below that the difference quotient is
            # round-off (at T ~ 1000 ms, h ~ 1e-6: ~5e-6 ms per unit), not the derivative
            noise = ulps * np.spacing(np.abs(t[b, :n])) / (2 * h[b, p])
            kink = (np.abs(fd1 - fd2) > tol) | (tol < noise)
            excluded += int(kink.sum())
            g = J[b, :n, p]
            # reference: Richardson's extrapolation of the two central differences (O(h^4));
            # near a bifurcation the O(h^2) error of fd1 alone can reach the tolerance
            fd = (4.0 * fd2 - fd1) / 3.0
            ratio = np.abs(g - fd)[~kink] / tol[~kink]
            checked += int((~kink).sum())
            if ratio.size:
                worst = max(worst, float(ratio.max()))
                for s in np.flatnonzero(~kink)[ratio > 1.0]:
                    fails.append((b, int(s), p, g[s], fd[s]))
    return checked, excluded, worst, fails


def assert_fd(model, P, A, prot=PROT, max_excluded=0.2, scheme="resolved", ulps=64.0):
    checked, excluded, worst, fails = fd_check(model, P, A, prot, scheme, ulps)
    total = checked + excluded
    assert total > 0
    assert not fails, f"{len(fails)} of {checked} pairs outside tolerance, e.g. {fails[:3]}"
    assert excluded <= max_excluded * total, f"{excluded} of {total} pairs excluded (kinks)"
    return checked, excluded


@pytest.mark.parametrize("family", ["naud2008", "izhikevich2007", "lif"])
def test_jacobian_matches_central_fd_on_presets(family):
    names = [n for n in PRESETS if n.startswith(family)]
    model, P, A = preset_batch(names)
    checked, excluded = assert_fd(model, P, A)
    print(f"{family}: {checked} pairs agree, {excluded} excluded")


@pytest.mark.parametrize("model,seed", [("adex", 1), ("izhikevich", 2), ("lif", 3)])
def test_jacobian_matches_central_fd_on_random_firing_sets(model, seed):
    P, A = random_firing_sets(model, 6, seed)
    checked, excluded = assert_fd(model, P, A)
    print(f"{model}: {checked} pairs agree, {excluded} excluded")


@pytest.mark.parametrize("name,holding", [("naud2008:adapting", 40.0),
                                          ("izhikevich2007:RS", 20.0), ("lif:default", 50.0)])
def test_jacobian_with_holding_current(name, holding):
    # the initial state (fixed point under the holding current) moves with the parameters
    prot = StepProtocol(holding_pA=holding)
    model, P, A = preset_batch([name])
    _, _, _, st, _ = spike_times_and_jacobian(model, P, A, prot)
    assert st[0] == 0
    assert_fd(model, P, A, prot)


@pytest.mark.parametrize("model", ["adex", "izhikevich", "lif"])
def test_times_identical_to_forward_kernel(model):
    names = [n for n in PRESETS if resolve_preset(n)[0] == model]
    _, P, A = preset_batch(names)
    P2, A2 = random_firing_sets(model, 20, 7)
    P, A = np.vstack([P, P2]), np.concatenate([A, A2])
    t, c, nw, st, J = spike_times_and_jacobian(model, P, A, PROT, max_spikes=S)
    r = simulate_batch(model, P, A, PROT, "resolved", threads=1, max_spikes=S)
    assert np.array_equal(c, r.counts) and np.array_equal(nw, r.n_in_step)
    assert np.array_equal(st, r.status)
    assert np.array_equal(np.isnan(t), np.isnan(r.times))
    assert np.array_equal(t[~np.isnan(t)], r.times[~np.isnan(r.times)])
    # padding rows of the Jacobian are zero
    pad = np.arange(S)[None, :] >= np.minimum(c, S)[:, None]
    assert np.all(J[pad] == 0.0)


@pytest.mark.parametrize("scheme", ["resolved", "resolved2"])
@pytest.mark.parametrize("model", ["adex", "izhikevich", "lif"])
def test_few_stored_spikes_are_the_first_ones_and_all_are_counted(model, scheme):
    """With room for 3 spike times, the forward and sensitivity kernels store the first 3 of a
    run with room for all (times and Jacobian rows bit for bit) and still count every spike."""
    names = [n for n in PRESETS if resolve_preset(n)[0] == model]
    _, P, A = preset_batch(names)
    big = spike_times_and_jacobian(model, P, A, PROT, max_spikes=1000, scheme=scheme)
    small = spike_times_and_jacobian(model, P, A, PROT, max_spikes=3, scheme=scheme)
    fwd = simulate_batch(model, P, A, PROT, scheme, threads=1, max_spikes=3)
    assert (big[1] > 3).all() if model != "adex" else (big[1] > 3).sum() >= 6
    assert big[1].max() < 1000  # the big run has room for every spike
    for out in (small, (fwd.times, fwd.counts, fwd.n_in_step, fwd.status)):
        assert out[0].tobytes() == big[0][:, :3].tobytes()
        for k in (1, 2, 3):  # counts, n_in_step, status
            assert np.array_equal(out[k], big[k])
    assert small[4].tobytes() == big[4][:, :3].tobytes()


def test_vpeak_column_is_zero_and_batch_position_irrelevant():
    model, P, A = preset_batch([f"naud2008:{n}" for n in NAUD])
    _, _, _, _, J = spike_times_and_jacobian(model, P, A, PROT, max_spikes=S)
    assert np.all(J[:, :, get_spec("adex").index("Vpeak")] == 0.0)
    _, _, _, _, J1 = spike_times_and_jacobian(model, P[3:4], A[3:4], PROT, max_spikes=S)
    assert np.array_equal(J1[0], J[3])


def test_usefulness_on_naud_presets():
    meds = []
    for n in NAUD:
        model, P, A = preset_batch([f"naud2008:{n}"])
        errs, n_pairs, skipped = prediction_errors(model, P[0], A[0], PROT)
        assert n_pairs > 0
        meds.append(np.median(errs))
    assert np.median(meds) < 0.30, meds


# ---------------------------------------------------------------- torch
def test_torch_backward_is_vjp_of_numpy_jacobian():
    torch = pytest.importorskip("torch")
    model, P, A = preset_batch(["izhikevich2007:RS", "izhikevich2007:CH"])
    t, c, _, _, J = spike_times_and_jacobian(model, P, A, PROT, max_spikes=64)
    pt = torch.tensor(P, requires_grad=True)
    at = torch.tensor(A, requires_grad=True)
    times, mask = spike_times_torch(pt, at, model, PROT, 64)
    assert times.dtype == torch.float64 and mask.dtype == torch.bool
    m = mask.numpy()
    assert np.array_equal(m, ~np.isnan(t))
    assert np.array_equal(times.detach().numpy()[m], t[m])
    assert np.all(times.detach().numpy()[~m] == 0.0)
    v = np.random.default_rng(0).normal(size=t.shape)
    (times * torch.tensor(v)).sum().backward()
    ref = np.einsum("bs,bsp->bp", v * m, J)
    np.testing.assert_allclose(pt.grad.numpy(), ref[:, :-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(at.grad.numpy(), ref[:, -1], rtol=1e-12, atol=1e-12)


def test_torch_gradcheck_short_lif():
    torch = pytest.importorskip("torch")
    prot = StepProtocol(delay_ms=10.0, duration_ms=100.0, t_stop_ms=120.0)
    _, P, A = preset_batch(["lif:default"])
    pt = torch.tensor(P, requires_grad=True)
    at = torch.tensor(A, requires_grad=True)

    def f(p, a):
        return spike_times_torch(p, a, "lif", prot, 8)[0]

    assert torch.autograd.gradcheck(f, (pt, at), eps=1e-6, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- loss
def test_spike_time_loss_hand_case():
    M = [np.array([1.0, 2.0, 3.0]), np.array([]), np.array([5.0])]
    T = [np.array([1.5, 2.0]), np.array([]), np.array([4.0, 9.0])]
    lam = 50.0**2
    expect = ((0.25 + 0.0) / 2 + lam * 1 + 0.0 + 1.0 + lam * 1) / 3
    assert spike_time_loss(M, T) == pytest.approx(expect, rel=1e-15)
    assert spike_time_loss(M, T, count_penalty_ms=0.0) == pytest.approx((0.125 + 1.0) / 3)


def test_batch_loss_matches_per_set_loss_and_grad_matches_fd():
    rng = np.random.default_rng(4)
    B, n_sw, smax = 6, 2, 10
    targets = [np.sort(rng.uniform(0, 100, 6)), np.sort(rng.uniform(0, 100, 4))]
    counts = rng.integers(0, 14, (B, n_sw))
    counts[0] = [6, 4]
    times = np.full((B, n_sw, smax), np.nan)
    for b in range(B):
        for s in range(n_sw):
            k = min(counts[b, s], smax)
            times[b, s, :k] = np.sort(rng.uniform(0, 100, k))
    L = batch_loss(times, counts, targets)
    for b in range(B):
        # model spikes past smax are not stored, but only the count enters for them
        Ms = [np.concatenate([times[b, s, :min(counts[b, s], smax)],
                              np.full(max(counts[b, s] - smax, 0), 1e9)]) for s in range(n_sw)]
        assert L[b] == pytest.approx(spike_time_loss(Ms, targets), rel=1e-13)
    # exact time-term gradient (counts fixed) against central differences in the times
    _, g = batch_loss_grad(np.nan_to_num(times), counts, targets, count_surrogate=False)
    b = 0
    for s in range(n_sw):
        for i in range(counts[b, s]):
            tp = np.nan_to_num(times).copy()
            tm = tp.copy()
            tp[b, s, i] += 1e-6
            tm[b, s, i] -= 1e-6
            fd = (batch_loss(tp, counts, targets, 0.0)[b]
                  - batch_loss(tm, counts, targets, 0.0)[b]) / 2e-6
            assert g[b, s, i] == pytest.approx(fd, rel=1e-6, abs=1e-6)  # loss ~1e3 ms^2


def test_count_surrogate_directions():
    T = [np.array([10.0, 20.0, 30.0, 40.0])]
    few = np.array([[[10.0, 20.0, 0, 0, 0]]])
    many = np.array([[[10.0, 20.0, 30.0, 40.0, 50.0]]])
    _, g_few = batch_loss_grad(few, np.array([[2]]), T)
    _, g_few0 = batch_loss_grad(few, np.array([[2]]), T, count_surrogate=False)
    assert g_few[0, 0, 1] - g_few0[0, 0, 1] == pytest.approx(2500.0 / 10.0)  # pull earlier
    _, g_many = batch_loss_grad(many, np.array([[5]]), T)
    assert g_many[0, 0, 4] == pytest.approx(-2500.0 / 10.0)  # push the excess spike later
    _, g_none = batch_loss_grad(np.zeros((1, 1, 5)), np.array([[0]]), T)
    assert np.all(g_none == 0.0)


def test_loss_and_grad_matches_fd_of_the_loss():
    model, P, _ = preset_batch(["naud2008:adapting"])
    amps = np.array([500.0, 450.0])
    prots = [PROT, PROT]
    t0 = [spike_times_and_jacobian(model, P, a, PROT)[0][0] for a in amps]
    rng = np.random.default_rng(5)
    targets = [tt[~np.isnan(tt)] + rng.normal(0, 2.0, (~np.isnan(tt)).sum()) for tt in t0]
    L, gP, gA = loss_and_grad(model, P[0], amps, prots, targets)
    assert L > 0 and L < 2500.0  # counts match
    x = np.concatenate([P[0], amps])
    n_p = P.shape[1]
    g = np.concatenate([gP, gA])
    for p in range(len(x)):
        h = 1e-8 * max(1.0, abs(x[p]))
        xp, xm = x.copy(), x.copy()
        xp[p] += h
        xm[p] -= h
        Lp = loss_and_grad(model, xp[:n_p], xp[n_p:], prots, targets)[0]
        Lm = loss_and_grad(model, xm[:n_p], xm[n_p:], prots, targets)[0]
        fd = (Lp - Lm) / (2 * h)
        assert abs(g[p] - fd) <= 1e-4 * max(abs(fd), 1e-2), (p, g[p], fd)


def test_loss_and_grad_merges_same_protocol_sweeps_bit_for_bit():
    """Sweeps that share a protocol go through one sensitivity pass (their rows stacked):
    loss and gradients equal one pass per sweep, bit for bit, with interleaved protocols."""
    from snnfit import loss as L
    from snnfit.sim.grad import loss_and_grad, spike_times_and_jacobian
    from snnfit.sim.models import get_model
    from snnfit.sim.protocol import StepProtocol

    pa = StepProtocol(delay_ms=20.0, duration_ms=150.0, t_stop_ms=200.0, dt_ms=0.1)
    pb = StepProtocol(delay_ms=10.0, duration_ms=100.0, t_stop_ms=150.0, dt_ms=0.1)
    protos = [pa, pb, pa]
    targets = [np.array([40.0, 80.0, 120.0]), np.array([30.0, 60.0]),
               np.array([35.0, 60.0, 90.0, 120.0, 150.0])]
    spec = get_model("adex").spec
    rng = np.random.default_rng(5)
    P = spec.vector({})[None, :] * rng.uniform(0.9, 1.1, (3, len(spec.params)))
    amps = rng.uniform(300.0, 700.0, (3, 3))
    loss, gP, gA = loss_and_grad("adex", P, amps, protos, targets, 50.0)
    smax = max(len(T) for T in targets) + 1
    times = np.zeros((3, 3, smax))
    counts = np.zeros((3, 3), np.int64)
    jacs = []
    for s in range(3):  # the reference: one pass per sweep
        t, c, _, _, J = spike_times_and_jacobian("adex", P, amps[:, s], protos[s], threads=1,
                                                 max_spikes=smax, scheme="resolved")
        times[:, s] = np.nan_to_num(t, nan=0.0)
        counts[:, s] = c
        jacs.append(J)
    ref, g = L.batch_loss_grad(times, counts, targets, 50.0, True)
    assert counts.sum() > 6  # the sets spike
    assert np.array_equal(loss, ref)
    ref_gP = sum(np.einsum("bt,btp->bp", g[:, s], jacs[s])[:, :-1] for s in range(3))
    assert np.array_equal(gP, ref_gP)
    for s in range(3):
        assert np.array_equal(gA[:, s], np.einsum("bt,btp->bp", g[:, s], jacs[s])[:, -1])
