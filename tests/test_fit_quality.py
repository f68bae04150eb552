"""Issue 12's fit machinery: the pattern stage's batch terms against the study's pattern score,
log-scaled boxes, the frozen prior box, at_bound, the fit's own dt, the sweep-quality rule in
the engine, the staged loss's stages and accounting, BIPOP restarts and the portfolio start."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from snnfit.cli import main
from snnfit.data.targets import (Sweep, load_target, preset_target, prior_target, write_target)
from snnfit.errors import UserError
from snnfit.fit import FitSettings, run_fit
from snnfit.fit.optimizers.cmaes import CMAESSettings
from snnfit.fit.record import AT_BOUND_FRACTION, FitResult, at_bound
from snnfit.fit.space import build_space
from snnfit.fit.stages import PATTERN, TIMES, StageSettings, pattern_loss
from snnfit.loss import batch_pattern_terms
from snnfit.metrics import pattern_terms
from snnfit.sim.models import get_model, resolve_preset
from snnfit.sim.params import to_physical, to_unit, unit_derivative
from snnfit.sim.protocol import StepProtocol
from snnfit.sim.simulate import simulate, simulate_batch

MODELS = ("lif", "adex", "izhikevich")


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    d = tmp_path_factory.mktemp("fq")
    out = {}
    for name, preset in (("adapting", "naud2008:adapting"), ("rs", "izhikevich2007:RS")):
        out[name] = d / f"{name}.json"
        write_target(out[name], preset_target(preset, scheme="resolved"))
    return out


# ------------------------------------------------------------------ the pattern stage's terms


def _naive_stored(trains, smax):
    T = np.full((len(trains), smax), np.nan)
    for b, m in enumerate(trains):
        T[b, :min(len(m), smax)] = m[:smax]
    return T


def test_batch_pattern_terms_equal_the_pattern_score_terms():
    """Random trains (spikes before, inside and after the window, bursts, silence): the batch
    terms equal metrics.pattern_terms wherever the stored times hold what the terms need."""
    rng = np.random.default_rng(12)
    on, off = 100.0, 1100.0
    checked = 0
    for _ in range(400):
        nd = int(rng.integers(0, 9))
        d = np.sort(rng.uniform(on - 60, off + 60, nd))
        if nd and rng.random() < 0.3:  # a burst
            d = np.unique(np.concatenate([d, d[:1] + np.array([2.0, 4.5, 7.5])]))
        trains = []
        for _b in range(6):
            m = np.sort(rng.uniform(on - 60, off + 60, int(rng.integers(0, 12))))
            trains.append(np.unique(m))
        smax = int(rng.integers(1, 16))
        n_in = np.array([np.sum((m >= on) & (m < off)) for m in trains])
        got = batch_pattern_terms(_naive_stored(trains, smax), n_in, d, on, off)
        dd = d[(d >= on) & (d < off)]
        for b, m in enumerate(trains):
            if np.sum(m < on) + min(n_in[b], dd.size) > smax and len(m) > smax:
                continue  # the stored times miss a needed spike (documented)
            ref = pattern_terms(m, d, on, off)
            np.testing.assert_allclose(got[b], [ref["count"], ref["isi"], ref["latency"]],
                                       rtol=0, atol=1e-12)
            checked += 1
    assert checked > 1500


def test_pattern_loss_of_a_simulated_batch_is_the_pattern_score():
    """Simulated trains (the kernel's stored times and in-step counts) against a preset's
    train: the stage loss with equal weights is the mean of pattern_terms."""
    name, preset = resolve_preset("naud2008:regular_bursting")
    spec = get_model(name).spec
    proto = StepProtocol()
    target = simulate(name, preset.params, preset.amplitude_pA, proto, scheme="resolved")
    rng = np.random.default_rng(3)
    P = spec.lower() + rng.random((32, len(spec.names))) * (spec.upper() - spec.lower())
    P[0] = spec.vector(preset.params)
    amps = np.full(32, preset.amplitude_pA)
    n_t = len(target.spike_times_ms)
    r = simulate_batch(name, P, amps, proto, "resolved", 1, max_spikes=n_t + 1, check=False)
    got = pattern_loss(r.times, r.n_in_step, target.spike_times_ms, proto, StageSettings())
    assert got[0] == 0.0
    for b in range(32):
        if r.status[b] != 0 or r.counts[b] > n_t + 1:
            continue
        full = simulate_batch(name, P[b:b + 1], amps[b:b + 1], proto, "resolved", 1,
                              max_spikes=400, check=False).spike_times(0)
        t = pattern_terms(full, target.spike_times_ms, proto.delay_ms, proto.stim_end_ms)
        assert got[b] == pytest.approx((t["count"] + t["isi"] + t["latency"]) / 3, abs=1e-12)


# ------------------------------------------------------------------ boxes


def test_log_scale_maps_round_trip_and_derivative():
    lo = np.array([20.0, -80.0, 0.5, 1.0])
    hi = np.array([1500.0, -40.0, 8.0, 1.0])  # the last one fixed
    log = np.array([True, True, True, True])  # a negative box stays linear
    rng = np.random.default_rng(0)
    U = rng.random((50, 4))
    P = to_physical(U, lo, hi, log)
    np.testing.assert_allclose(P[:, 0], 20.0 * 75.0 ** U[:, 0], rtol=1e-12)
    np.testing.assert_allclose(P[:, 1], -80.0 + 40.0 * U[:, 1], rtol=1e-12)
    assert np.all(P[:, 3] == 1.0)
    back = to_unit(P, lo, hi, log)
    np.testing.assert_allclose(back[:, :3], U[:, :3], atol=1e-12)
    h = 1e-6
    fd = (to_physical(U + h, lo, hi, log) - to_physical(U - h, lo, hi, log)) / (2 * h)
    inner = (U > 2 * h) & (U < 1 - 2 * h)
    np.testing.assert_allclose(unit_derivative(U, lo, hi, log)[inner], fd[inner], rtol=1e-6)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dim", ["full", "random:3"])
def test_space_jacobian_with_log_boxes_matches_fd(model, dim):
    space = build_space(model, dim, "resolved", "recorded", box="cells")
    assert space.log_mask.any()  # the cells boxes have log-scaled parameters
    rng = np.random.default_rng(1)
    Z = rng.uniform(0.1, 0.9, (5, space.k))
    J = space.jacobian(Z)
    h = 1e-6
    for j in range(space.k):
        e = np.zeros(space.k)
        e[j] = h
        fd = (space.to_params(Z + e) - space.to_params(Z - e)) / (2 * h)
        np.testing.assert_allclose(J[:, :, j], fd, rtol=1e-5, atol=1e-9)
    if dim == "full":
        np.testing.assert_allclose(space.to_reduced(space.to_params(Z)), Z, atol=1e-12)
    # the gradient optimisers' one-pass map equals the two separate ones, bit for bit (also
    # for points outside the unit box, which the projections clip)
    Zw = np.vstack([Z, rng.uniform(-0.2, 1.2, (3, space.k))])
    P2, J2 = space.params_and_jacobian(Zw)
    assert np.array_equal(P2, space.to_params(Zw)) and np.array_equal(J2, space.jacobian(Zw))


@pytest.mark.parametrize("model", MODELS)
def test_cells_box_contains_every_published_preset(model):
    """Every preset in the model's own units (the default box, today's, does not hold
    them all: brette2005 Vr = -70.6 mV); the Izhikevich 2003 presets are the dimensionless
    model (C = 1 pF, k = 0.04 nS/mV: a current scale of 1 pA) and are documented apart
    (docs/fit.md). The cells box contains the default box, which is the frozen prior box."""
    m = get_model(model)
    spec = m.spec
    lower, upper, _ = spec.box("cells")
    unused = set(m.scheme("resolved").unused)
    for name, preset in spec.presets.items():
        if name.startswith("izhikevich2003:"):
            continue
        p = spec.vector(preset.params)
        for i, n in enumerate(spec.names):
            if n in unused:
                continue
            assert lower[i] <= p[i] <= upper[i], (name, n, p[i])
    prior_lo, prior_hi = spec.prior_lower(), spec.prior_upper()
    assert np.all(lower <= prior_lo) and np.all(prior_hi <= upper)
    d_lo, d_hi, d_log = spec.box("default")
    assert np.array_equal(prior_lo, d_lo) and np.array_equal(prior_hi, d_hi) and d_log is None


def test_cells_box_maps_log_scaled_parameters_geometrically():
    """--box cells: C spans 10..3000 pF on a log scale (the middle of the unit box is the
    geometric mean), EL linearly; an unknown box is a one-line error."""
    space = build_space("adex", "C,EL", "resolved", "recorded", box="cells")
    P = space.to_params(np.array([[0.5, 0.5]]))[0]
    assert P[space.names.index("C")] == pytest.approx((10.0 * 3000.0) ** 0.5, rel=1e-12)
    assert P[space.names.index("EL")] == pytest.approx(-65.0, rel=1e-12)
    assert space.describe()["fit_box"] == "cells"
    with pytest.raises(UserError, match="--box"):
        build_space("adex", "C", box="nope")
    with pytest.raises(UserError, match="--box"):
        FitSettings("adex", box="nope").check()


def test_prior_targets_keep_their_truths(root):
    """The prior box is frozen: prior targets made before the fit boxes changed (c2792a7,
    tests/data) are drawn again, truth and spike times, exactly."""
    ref = json.loads((root / "tests" / "data" / "prior_targets_c2792a7.json").read_text())
    for key, want in ref["targets"].items():
        model, seed = key.split(":")
        t = prior_target(model, int(seed), "resolved")
        assert t.truth["params"] == want["params"], key
        assert t.provenance["rejected_draws"] == want["rejected_draws"], key
        assert [float(x) for x in t.sweeps[0].spike_times_ms] == want["spike_times_ms"], key


def test_at_bound_in_unit_coordinates():
    assert at_bound(["a", "b", "c", "d"], {"a": 0.0, "b": 0.5, "c": 0.995, "d": 0.0101}) == \
        ["a", "c"]
    assert AT_BOUND_FRACTION == 0.01


def test_fit_reports_parameters_at_a_bound(targets, tmp_path, capsys):
    """A box whose upper bound of tau_w sits below the truth (300 ms): the fit presses
    against it; the record lists it and the command prints one notice of it."""
    out = tmp_path / "fit.json"
    assert main(["fit", "--target", str(targets["adapting"]), "--model", "adex",
                 "--current", "recorded", "--budget", "600", "--bounds", "tau_w=20:60",
                 "--loss", "times", "--no-progress", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert "tau_w" in rec["at_bound"]
    unit = (rec["params"]["tau_w"] - 20.0) / 40.0  # linear: the box is set by --bounds
    assert min(unit, 1 - unit) <= 0.01
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "notice" in ln and "bound of the fit box" in ln]
    assert len(lines) == 1 and "tau_w" in lines[0] and "--bounds" in lines[0]


def test_old_records_read_with_the_new_keys_defaulted(targets, tmp_path):
    r = run_fit(str(targets["adapting"]), FitSettings("adex", current="recorded", budget=100))
    d = r.to_json()
    del d["at_bound"], d["loss_name"]
    back = FitResult.from_json(d)
    assert back.at_bound == [] and back.loss_name == "times"


# ------------------------------------------------------------------ dt, quality


def _with_dt(path, dt, tmp_path, name):
    t = load_target(path)
    t.sweeps = [replace(s, protocol=replace(s.protocol, dt_ms=dt)) for s in t.sweeps]
    p = tmp_path / name
    write_target(p, t)
    return p


def test_the_fit_simulates_at_its_own_dt(targets, tmp_path):
    """A target stored with dt 0.25 ms (a recording's sampling interval): the fit simulates
    at FitSettings.dt_ms, and its spikes are those of simulate() at that step."""
    p = _with_dt(targets["adapting"], 0.25, tmp_path, "dt025.json")
    for dt in (0.1, 0.05):
        r = run_fit(str(p), FitSettings("adex", current="recorded", budget=60, dt_ms=dt))
        assert r.protocols[0]["dt_ms"] == dt
        again = simulate("adex", r.params, r.amplitude_pA[0],
                         StepProtocol.from_dict(r.protocols[0]), scheme="resolved")
        assert r.spike_times_ms[0] == [float(t) for t in again.spike_times_ms]
    assert load_target(p).sweeps[0].protocol.dt_ms == 0.25  # the target is untouched


@pytest.mark.parametrize("bad", ["0", "-0.1", "2", "nan", "x"])
def test_bad_dt_is_one_line_exit_2(targets, tmp_path, capsys, bad):
    out = tmp_path / "f.json"
    assert main(["fit", "--target", str(targets["adapting"]), "--model", "adex",
                 "--budget", "50", "--dt", bad, "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--dt" in err and "\n" not in err and not out.exists()


def test_engine_leaves_out_sweeps_that_are_not_ok(targets, tmp_path, capsys):
    t = load_target(targets["adapting"])
    s0 = t.sweeps[0]
    t.sweeps = [replace(s0, quality="ok"), replace(s0, id="1", quality="plateau"),
                replace(s0, id="2")]  # no quality: counts as ok
    p = tmp_path / "q.json"
    write_target(p, t)
    assert json.loads(p.read_text())["sweeps"][1]["quality"] == "plateau"
    r = run_fit(str(p), FitSettings("adex", current="recorded", budget=60))
    assert r.sweep_ids == ["0", "2"]
    assert "sweep 1 left out (quality plateau" in capsys.readouterr().err
    t.sweeps = [replace(s0, quality="plateau;spikes_outside_stim")]
    write_target(p, t)
    with pytest.raises(UserError, match="no sweep of quality 'ok'"):
        run_fit(str(p), FitSettings("adex", current="recorded", budget=60))


def test_recording_targets_carry_the_quality_column(tmp_path):
    spikes = tmp_path / "spikes.csv"
    spikes.write_text("cell_id,sweep,amplitude_pA,stim_start_ms,stim_end_ms,spike_time_ms\n"
                      "c,1,100,100,600,150\nc,2,200,100,600,160\n")
    (tmp_path / "sweeps.csv").write_text(
        "cell_id,sweep,amplitude_pA,holding_pA,stim_start_ms,stim_end_ms,sweep_duration_ms,"
        "dt_ms,quality\nc,1,100,0,100,600,700,0.25,ok\nc,2,200,0,100,600,700,0.25,plateau\n")
    from snnfit.data.targets import recording_target

    t = recording_target(spikes, notice=open("/dev/null", "w"))
    assert [(s.id, s.quality) for s in t.sweeps] == [("1", "ok")]


# ------------------------------------------------------------------ stages, restarts


def test_staged_loss_stages_and_accounting(targets):
    budget = 1200
    st = StageSettings(pattern_fraction=0.4)
    r = run_fit(str(targets["adapting"]), FitSettings("adex", current="recorded", budget=budget,
                                                      loss="staged", stage_settings=st))
    assert r.loss_name == "staged"
    stages = [h["stage"] for h in r.history]
    first_times = stages.index(TIMES)
    assert set(stages[:first_times]) == {PATTERN} and set(stages[first_times:]) == {TIMES}
    switch = r.history[first_times - 1]["simulations"]
    assert 0.4 * budget <= switch < 0.4 * budget + 40  # one population (+ its re-simulations)
    info = r.optimizer_info["stages"]
    assert [s["stage"] for s in info] == [PATTERN, TIMES]
    assert info[0]["simulations"] + info[1]["simulations"] == r.forward_equivalents - 1
    assert budget <= r.forward_equivalents < budget + 40
    assert 0.0 <= info[0]["best_loss"] <= 1.0
    # the result is the times stage's best: its loss is the spike-time loss of its spikes
    from snnfit.loss import spike_time_loss

    assert r.loss == pytest.approx(spike_time_loss(r.spike_times_ms, r.target_spike_times_ms),
                                   rel=1e-9, abs=1e-9)


def test_staged_loss_leaves_refine_its_share_of_the_budget(targets):
    """--loss staged with --refine: the stages spend the optimiser's share
    (floor(budget * 0.95)), the refinement the rest; the total stays at the budget."""
    budget = 2000
    r = run_fit(str(targets["adapting"]), FitSettings("adex", current="recorded", budget=budget,
                                                      loss="staged", refine=True))
    ri = r.optimizer_info["refine"]
    opt_share = int(budget * 0.95)
    assert opt_share <= ri["start_forward_equivalents"] < opt_share + 40
    assert ri["status"] != "skipped" and ri["forward_equivalents"] > 0
    assert r.forward_equivalents <= budget + 40
    assert r.forward_equivalents == ri["start_forward_equivalents"] + ri["forward_equivalents"] \
        + len(r.sweep_ids)  # + the final replay


def test_times_loss_has_one_stage(targets):
    r = run_fit(str(targets["adapting"]), FitSettings("adex", current="recorded", budget=300,
                                                      loss="times"))
    assert r.loss_name == "times" and {h["stage"] for h in r.history} == {TIMES}
    g = run_fit(str(targets["adapting"]), FitSettings("adex", current="recorded", budget=200,
                                                      loss="staged", optimizer="direct"))
    assert g.loss_name == "times"  # the gradient optimisers minimise the spike-time loss


def test_bipop_runs_small_and_large_regimes(targets):
    s = CMAESSettings(restarts="bipop")
    r = run_fit(str(targets["rs"]), FitSettings("izhikevich", current="recorded", budget=6000,
                                                loss="times", optimizer_settings=s, seed=3))
    runs = r.optimizer_info["runs"]
    regimes = [x["regime"] for x in runs]
    assert regimes[0] == "small" and "large" in regimes
    p0 = runs[0]["popsize"]
    large = [x["popsize"] for x in runs if x["regime"] == "large"]
    assert large == [p0 * 2 ** (i + 1) for i in range(len(large))]
    for x in runs[1:]:
        if x["regime"] == "small":
            assert x["popsize"] <= p0 * 2 ** max(len(large), 1)
            assert x["sigma0"] <= s.sigma0
    assert 6000 <= r.forward_equivalents < 6000 + 2 * max(large or [p0])


def test_popsize_sets_the_first_run_and_ipop_doubles_it(targets):
    base = FitSettings("izhikevich", current="recorded", budget=3000, loss="times", seed=3)
    r = run_fit(str(targets["rs"]), replace(base, optimizer_settings=CMAESSettings(popsize=16)))
    pops = [x["popsize"] for x in r.optimizer_info["runs"]]
    assert pops == [16 * 2 ** i for i in range(len(pops))]
    default = run_fit(str(targets["rs"]), base)
    k = 9  # Izhikevich's free parameters: pycma's default 4 + floor(3 ln 9) = 10
    assert default.optimizer_info["runs"][0]["popsize"] == 4 + int(3 * np.log(k)) == 10
    # popsize=0 is the default, bit for bit
    zero = run_fit(str(targets["rs"]), replace(base, optimizer_settings=CMAESSettings(popsize=0)))
    assert zero.loss == default.loss and zero.spike_times_ms == default.spike_times_ms
    for bad in (1, -2, 2.5):
        with pytest.raises(UserError, match="popsize"):
            CMAESSettings(popsize=bad).check()


def test_portfolio_start_screens_and_charges(targets):
    base = FitSettings("izhikevich", current="recorded", budget=200, loss="times", seed=2)
    r = run_fit(str(targets["rs"]), replace(base, optimizer_settings=CMAESSettings(screen=64)))
    assert r.optimizer_info["screened"] == 65
    first = r.history[0]
    assert first["simulations"] >= 65  # the screen is one batch, charged
    plain = run_fit(str(targets["rs"]), base)
    assert plain.history[0]["simulations"] < 65


@pytest.mark.parametrize("flag,value", [("--restarts", "xpop"), ("--screen", "-1"),
                                        ("--loss", "gamma")])
def test_bad_fit_options_are_one_line(targets, tmp_path, capsys, flag, value):
    out = tmp_path / "f.json"
    assert main(["fit", "--target", str(targets["adapting"]), "--model", "adex", flag, value,
                 "--budget", "50", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert flag.strip("-") in err and "\n" not in err and not out.exists()


class _Sphere:
    """A stand-in fit problem for the optimiser alone: f(x) = |x - 0.3|^2 in the unit box,
    a budget of candidates (what :func:`cmaes.run` reads of a FitProblem)."""

    def __init__(self, k=4, budget=3000, seed=0):
        self.k, self.budget, self.candidates = k, budget, 0
        self.rng = np.random.default_rng(seed)

    def start_point(self):
        return np.full(self.k, 0.8)

    @property
    def exhausted(self):
        return self.candidates >= self.budget

    def evaluate(self, X):
        X = np.atleast_2d(X)
        self.candidates += len(X)
        return np.sum((X - 0.3) ** 2, axis=1)


def test_stagnation_restart_waits_for_a_stall():
    """patience > 0 stops a run only after `patience` generations without relative progress
    (a run that improves every generation goes on: the first generation counts as progress,
    not as inf - x * inf = nan, which stopped every run after `patience` generations)."""
    from snnfit.fit.optimizers import cmaes

    p = _Sphere()
    info = cmaes.run(p, CMAESSettings(patience=5, stall_rel=1e-3))
    first = info["runs"][0]
    assert first["iterations"] > 3 * 5  # the sphere improves for many generations
    # runs that did not run out of budget ran past the patience
    assert all(r["iterations"] > 5 for r in info["runs"][:-1])
    q = _Sphere()
    plain = cmaes.run(q, CMAESSettings())
    assert plain["runs"][0]["iterations"] > 5 * 5
