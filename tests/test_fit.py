"""The fit engine: contract of the fit record, determinism, budget, baselines, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnfit.cli import main
from snnfit.fit import FitSettings, run_fit
from snnfit.loss import spike_time_loss
from snnfit.data.targets import preset_target, times_target, write_target

FIT_KEYS = {"target", "model", "scheme", "dim", "k", "optimizer", "seed", "current", "status",
            "params", "amplitude_pA", "spike_times_ms", "gamma", "spike_time_rmse_ms",
            "count_error", "van_rossum", "latency_error_ms", "isi_error_ms", "param_error",
            "evaluations", "wall_s", "cpu_s", "joules", "energy_source", "history",
            "provenance"}
HISTORY_KEYS = {"simulations", "wall_s", "cpu_s", "joules", "best_loss", "gamma_at_best"}


@pytest.fixture(scope="module")
def adapting(tmp_path_factory):
    p = tmp_path_factory.mktemp("t") / "adapting.json"
    write_target(p, preset_target("naud2008:adapting", scheme="resolved"))
    return p


@pytest.fixture(scope="module")
def izh_rs(tmp_path_factory):
    p = tmp_path_factory.mktemp("t") / "rs.json"
    write_target(p, preset_target("izhikevich2007:RS", scheme="resolved"))
    return p


def _fit(target, **kw):
    kw.setdefault("model", "adex")
    kw.setdefault("current", "recorded")
    return run_fit(str(target), FitSettings(**kw))


def test_record_contract_and_accounting(adapting):
    result = _fit(adapting, optimizer="cmaes", budget=600, seed=1)
    rec = result.to_json()
    assert FIT_KEYS <= set(rec)
    assert all(HISTORY_KEYS <= set(h) for h in rec["history"])
    json.dumps(rec, allow_nan=False)  # JSON-safe
    # budget: spent, overshoot below one population (+ re-simulations of improvements)
    assert 600 <= rec["evaluations"] < 600 + 64
    sims = [h["simulations"] for h in rec["history"]]
    assert sims == sorted(sims)
    # best-so-far within each stage (the default loss has a van Rossum stage first)
    for stage in {h["stage"] for h in rec["history"]}:
        best = [h["best_loss"] for h in rec["history"] if h["stage"] == stage]
        assert all(b2 <= b1 for b1, b2 in zip(best, best[1:]))
    assert rec["history"][-1]["stage"] == "times"
    assert rec["energy_source"] in ("rapl", "estimate")
    assert rec["joules"] > 0 and rec["cpu_s"] > 0 and rec["wall_s"] > 0
    if rec["energy_source"] == "estimate":
        assert rec["joules"] == pytest.approx(rec["cpu_s"] * FitSettings("adex").watts_per_core,
                                              rel=1e-6)
    # the recorded loss is the loss of the reported spike times (independent recomputation)
    target = json.loads(adapting.read_text())["sweeps"][0]["spike_times_ms"]
    assert rec["loss"] == pytest.approx(spike_time_loss(rec["spike_times_ms"], [target]),
                                        rel=1e-9, abs=1e-9)
    assert set(rec["param_error"]) == {"C", "gL", "EL", "VT", "DeltaT", "a", "tau_w", "b", "Vr"}


def test_deterministic_across_threads(adapting):
    a = _fit(adapting, optimizer="cmaes", budget=300, seed=4, threads=1)
    b = _fit(adapting, optimizer="cmaes", budget=300, seed=4, threads=2)
    assert a.params == b.params
    assert a.spike_times_ms == b.spike_times_ms
    c = _fit(adapting, optimizer="cmaes", budget=300, seed=5)
    assert c.params != a.params


def test_cmaes_regression_floor(adapting, izh_rs):
    # acceptance (benchmarks/fits.py) asks Gamma >= 0.9 at budget 20,000; floor here
    rec = _fit(adapting, optimizer="cmaes", budget=4000, seed=0)
    assert rec.gamma >= 0.9
    rec = _fit(izh_rs, model="izhikevich", optimizer="cmaes", budget=4000, seed=0)
    assert rec.gamma >= 0.8


def test_cmaes_beats_random(adapting):
    cm = [_fit(adapting, optimizer="cmaes", budget=1500, seed=s).loss for s in range(3)]
    rs = [_fit(adapting, optimizer="random", budget=1500, seed=s).loss for s in range(3)]
    assert np.median(cm) < np.median(rs)


def test_search_current_times_target(tmp_path):
    t = tmp_path / "times.json"
    write_target(t, times_target([100, 300, 500, 700], 1000.0))
    rec = _fit(t, optimizer="cmaes", budget=800, current="search", seed=0)
    assert rec.amplitude_pA[0] > 0
    assert rec.count_error == 0  # the current search enforces the count
    assert "C" not in rec.space["free"]
    assert rec.param_error is None  # no ground truth


def test_search_mode_param_error_ratios(adapting):
    rec = _fit(adapting, optimizer="random", budget=300, current="search", seed=0)
    pe = rec.param_error
    assert "tau_m" in pe and "gL/C" in pe and "b/C" in pe and "C" not in pe


def test_cli_fit_evaluate_replay(tmp_path, adapting, capsys):
    out = tmp_path / "fit.json"
    assert main(["fit", "--target", str(adapting), "--model", "adex", "--current", "recorded",
                 "--budget", "200", "--optimizer", "random", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    capsys.readouterr()
    assert main(["simulate", "--fit", str(out)]) == 0
    replay = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(replay["sweeps"][0]["spike_times_ms"], rec["spike_times_ms"][0],
                               atol=1e-5)
    ev = tmp_path / "ev.json"
    assert main(["evaluate", "--fit", str(out), "--target", str(adapting), "--out", str(ev)]) == 0
    e = json.loads(ev.read_text())
    assert e["gamma"] == pytest.approx(rec["gamma"])
    png = tmp_path / "fit.png"
    assert main(["plot", str(out), "--out", str(png)]) == 0
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("args,field", [
    (["--current", "recorded"], "--current recorded"),  # times target has no amplitude
    (["--optimizer", "nope"], "--optimizer"),
    (["--budget", "0"], "--budget"),
    (["--dim", "random:99"], "--dim"),
    (["--model", "hh"], "model"),
    (["--sweeps", "7"], "--sweeps"),
])
def test_cli_fit_bad_input(tmp_path, capsys, args, field):
    t = tmp_path / "times.json"
    write_target(t, times_target([100, 300], 1000.0))
    out = tmp_path / "f.json"
    base = {"--model": "adex", "--budget": "50", "--current": "search"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["fit", "--target", str(t), "--out", str(out)]
    for flag, value in base.items():
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]
    assert not out.exists()


def test_cli_fit_bad_target_file(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = tmp_path / "f.json"
    assert main(["fit", "--target", str(bad), "--model", "adex", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json" in err[0]
    assert not out.exists()


def _golden_reference(f, lo: float, hi: float, n_it: int):
    """Scalar golden-section search of ``f`` on ``[lo, hi]`` with ``n_it`` evaluations; the
    first evaluated point with the smallest value, as ``(value, x)``."""
    g = (5 ** 0.5 - 1) / 2
    seen = []

    def ev(x):
        seen.append((f(x), x))
        return seen[-1][0]

    if n_it == 1:
        ev(lo)
    else:
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        f1, f2 = ev(x1), ev(x2)
        for _ in range(n_it - 2):
            if f1 <= f2:  # the minimum is in [lo, x2]
                hi, x2, f2 = x2, x1, f1
                x1 = hi - g * (hi - lo)
                f1 = ev(x1)
            else:
                lo, x1, f1 = x1, x2, f2
                x2 = lo + g * (hi - lo)
                f2 = ev(x2)
    best = min(v for v, _ in seen)
    return next((v, x) for v, x in seen if v == best)


@pytest.mark.parametrize("amp_iters", [1, 2, 5])
def test_searched_current_losses_match_a_scalar_reference(amp_iters):
    """Searched current: each set's loss and amplitude are the golden-section optimum inside
    the bracket of the current search (failed searches: the failure loss of the count
    distance), recomputed set by set with a scalar golden-section search; the account holds
    the search's simulations plus ``amp_iters`` per found set. ``loss_and_grad`` uses the
    same amplitudes (its loss agrees on the found sets)."""
    from snnfit.fit import FitProblem
    from snnfit.fit.space import build_space
    from snnfit.loss import batch_loss, fail_loss
    from snnfit.sim.search import FOUND, SPONTANEOUS, search_current
    from snnfit.sim.simulate import STATUS_OK, simulate_batch

    target = times_target([100, 300, 500, 700], 1000.0)
    settings = FitSettings(model="adex", current="search", budget=10**9, amp_iters=amp_iters,
                           max_amplitude_pA=300.0)
    space = build_space("adex", "full", current="search")
    problem = FitProblem(space, target, settings)
    Z = np.random.default_rng(0).uniform(0.0, 1.0, (24, space.k))
    P = space.to_params(Z)
    sw = problem.sweeps[0]
    pen = settings.count_penalty_ms
    sr = search_current("adex", P, sw.n_step, sw.protocol, "resolved", 300.0, threads=1)
    assert set(np.unique(sr.status)) == {0, 1, 2, 3}  # found, infeasible, spontaneous, silent

    def loss_at(p, amp):
        r = simulate_batch("adex", p[None], np.array([amp]), sw.protocol, "resolved", 1,
                           max_spikes=sw.times.size + 1)
        if r.status[0] != STATUS_OK:
            return float(fail_loss(abs(r.counts[0] - sw.times.size), pen))
        return float(batch_loss(r.times, r.counts, [sw.times], pen)[0])

    ref_loss, ref_amp = [], []
    for i in range(P.shape[0]):
        if sr.status[i] == FOUND:
            v, x = _golden_reference(lambda a: loss_at(P[i], a), *sr.bracket_pA[i], amp_iters)
        else:
            d = sw.n_step + 1 if sr.status[i] == SPONTANEOUS else abs(sr.n_spikes[i] - sw.n_step)
            v, x = float(fail_loss(d, pen)), 0.0
        ref_loss.append(v)
        ref_amp.append(x)
    losses, amps = problem.losses(P)
    assert losses.tolist() == ref_loss
    assert amps[:, 0].tolist() == ref_amp
    n_found = int(np.sum(sr.status == FOUND))
    assert problem.forward_equivalents == sr.n_simulations + amp_iters * n_found
    assert problem.candidates == P.shape[0]

    loss_g, _ = problem.loss_and_grad(Z)
    found = sr.status == FOUND
    np.testing.assert_allclose(loss_g[found], losses[found], rtol=1e-9)


def test_progress_hook_sees_every_charge_and_the_best(adapting):
    from snnfit.data.targets import load_target
    from snnfit.fit import FitProblem
    from snnfit.fit.space import build_space

    calls = []
    settings = FitSettings(model="adex", current="recorded", budget=10**6)
    problem = FitProblem(build_space("adex", "full", current="recorded"), load_target(adapting),
                         settings,
                         progress=lambda p: calls.append((p.forward_equivalents, p.best_loss)))
    Z = np.random.default_rng(0).uniform(0.0, 1.0, (3, problem.k))
    losses = problem.evaluate(Z)
    # 3 simulations; the new best, re-simulated to score its Gamma; the history entry
    best = float(losses.min())
    assert calls == [(3, np.inf), (4, best), (4, best)]


def test_optimizer_settings_are_passed_and_checked(adapting):
    from snnfit.fit.optimizers.direct import DirectSettings
    from snnfit.fit.optimizers.random_search import RandomSettings

    rec = _fit(adapting, optimizer="random", budget=64, seed=0, loss="times",
               optimizer_settings=RandomSettings(batch=16))
    info = rec.optimizer_info
    assert info["batch_size"] == 16 and info["batches"] >= 4  # one batch of 64 by default
    assert rec.candidates <= 16 * info["batches"]
    with pytest.raises(TypeError, match="RandomSettings"):
        _fit(adapting, optimizer="random", budget=64, optimizer_settings=DirectSettings())


def test_merged_sweeps_equal_one_call_per_sweep():
    """Recorded current: the sweeps that share a protocol are simulated in one kernel call;
    each sweep's loss (its own spike cap, its rows) and the total equal a reference that
    simulates and scores each sweep alone, bit for bit, also when the protocols interleave."""
    from snnfit.data.targets import target_from_dict
    from snnfit.fit import FitProblem
    from snnfit.fit.space import build_space
    from snnfit.loss import batch_loss, fail_loss
    from snnfit.sim.simulate import STATUS_OK, simulate_batch

    p_a = {"delay_ms": 100.0, "duration_ms": 500.0, "t_stop_ms": 700.0, "dt_ms": 0.1,
           "holding_pA": 0.0}
    p_b = {"delay_ms": 50.0, "duration_ms": 300.0, "t_stop_ms": 400.0, "dt_ms": 0.1,
           "holding_pA": 0.0}
    sweeps = [dict(id="s1", protocol=p_a, amplitude_pA=300.0, spike_times_ms=[120.0, 180.0]),
              dict(id="s2", protocol=p_b, amplitude_pA=500.0,
                   spike_times_ms=[60.0, 90.0, 130.0, 200.0]),
              dict(id="s3", protocol=p_a, amplitude_pA=600.0,
                   spike_times_ms=[110.0, 140.0, 170.0, 230.0, 300.0, 380.0]),
              dict(id="s4", protocol=p_b, amplitude_pA=200.0, spike_times_ms=[])]
    target = target_from_dict({"schema_version": 1, "kind": "recording", "provenance": {},
                               "truth": None, "sweeps": sweeps})
    settings = FitSettings(model="adex", current="recorded", budget=10**9, loss="times")
    space = build_space("adex", "full", current="recorded")
    problem = FitProblem(space, target, settings)
    assert problem._protocol_groups() == [[0, 2], [1, 3]]
    P = space.to_params(np.random.default_rng(3).uniform(0.0, 1.0, (13, space.k)))
    pen = settings.count_penalty_ms
    total = np.zeros(P.shape[0])
    for sw in problem.sweeps:
        r = simulate_batch("adex", P, np.full(P.shape[0], sw.amplitude_pA), sw.protocol,
                           "resolved", 1, max_spikes=sw.times.size + 1)
        loss = batch_loss(r.times, r.counts, [sw.times], pen)
        bad = r.status != STATUS_OK
        loss[bad] = fail_loss(np.abs(r.counts[bad] - sw.times.size), pen)
        total += loss
    losses, amps = problem.losses(P)
    assert np.array_equal(losses, total / 4)
    assert amps.tolist() == [[300.0, 500.0, 600.0, 200.0]] * 13
    assert problem.forward_equivalents == 4 * 13
