"""The exact-gradient finish (:mod:`snnfit.fit.refine`): convergence to the truth's spike times
from a perturbed truth, its accounting against counted kernel calls, count changes never
accepted, the box, searched current, and ``run_fit`` / ``snnfit fit --refine``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from snnfit.cli import main
from snnfit.data.targets import load_target, preset_target, write_target
from snnfit.fit import FitSettings, engine, refine, run_fit
from snnfit.fit.engine import FitProblem
from snnfit.fit.refine import RefineSettings
from snnfit.fit.space import build_space
from snnfit.loss import spike_time_loss
from snnfit.metrics import matched_rmse
from snnfit.sim import grad
from snnfit.sim.models import get_model
from snnfit.sim.simulate import simulate


def _target(tmp_path_factory, preset, scheme):
    p = tmp_path_factory.mktemp("t") / f"{preset.replace(':', '_')}_{scheme}.json"
    write_target(p, preset_target(preset, scheme=scheme))
    return p


#: the self-consistent targets of these tests: preset and the scheme they are simulated with
TARGETS = {"lif": ("lif:default", "resolved"), "adex": ("naud2008:adapting", "resolved"),
           "adex_r2": ("naud2008:adapting", "resolved2"),
           "izh_rs": ("izhikevich2007:RS", "resolved")}


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """``target(name)``: the target file of ``TARGETS[name]`` (written once per module)."""
    made = {}

    def get(name):
        if name not in made:
            made[name] = _target(tmp_path_factory, *TARGETS[name])
        return made[name]

    return get


def _problem(path, scheme="resolved", current="recorded", budget=3000, rs=None, bounds=()):
    target = load_target(path)
    model = target.truth["model"]
    settings = FitSettings(model=model, scheme=scheme, current=current, budget=budget,
                           refine=rs or True, bounds=list(bounds))
    settings.check()
    space = build_space(model, "full", scheme, current, settings.bounds)
    return FitProblem(space, target, settings), settings


def _truth(problem):
    spec = get_model(problem.model).spec
    return spec.vector(problem.target.truth["params"])


def _trains(problem, z, amps):
    P = problem.space.to_params(np.asarray(z)[None])[0]
    return [simulate(problem.model, dict(zip(problem.space.names, P)), a, sw.protocol,
                     scheme=problem.settings.scheme).spike_times_ms
            for sw, a in zip(problem.sweeps, amps)]


def _start(problem, P, amps=None, seed=0, size=0.01):
    """Make the best point the truth moved by ``size`` (unit box, max norm) in a seeded random
    direction, halved until every sweep keeps the target's count; its loss from
    :func:`spike_time_loss` (not charged)."""
    z_true = problem.space.to_reduced(P[None])[0]
    amps = [sw.amplitude_pA for sw in problem.sweeps] if amps is None else amps
    d = np.random.default_rng(seed).standard_normal(z_true.size)
    d *= size / np.max(np.abs(d))
    for _ in range(20):
        z = np.clip(z_true + d, 0.0, 1.0)
        trains = _trains(problem, z, amps)
        if all(len(t) == sw.times.size for t, sw in zip(trains, problem.sweeps)):
            break
        d /= 2
    problem.best_z = z
    problem.best_amps = [float(a) for a in amps]
    problem.best_loss = spike_time_loss(trains, [sw.times for sw in problem.sweeps],
                                        problem.settings.count_penalty_ms)
    return z


def _rmse_of_best(problem):
    """Spike-time RMSE of the best point against the target, from a fresh simulation."""
    trains = _trains(problem, problem.best_z, problem.best_amps)
    assert all(len(t) == sw.times.size for t, sw in zip(trains, problem.sweeps))
    return matched_rmse(trains, [sw.times for sw in problem.sweeps])[0]


class _Counter:
    """Counts the parameter sets of the forward and sensitivity passes (wrapped kernels)."""

    def __init__(self, monkeypatch):
        self.forward = 0
        self.sens = {}
        fwd, sens = refine.simulate_batch, grad.spike_times_and_jacobian

        def counted_forward(model, P, *a, **k):
            self.forward += np.atleast_2d(P).shape[0]
            return fwd(model, P, *a, **k)

        def counted_sens(model, P, *a, scheme="resolved", **k):
            self.sens[scheme] = self.sens.get(scheme, 0) + np.atleast_2d(P).shape[0]
            return sens(model, P, *a, scheme=scheme, **k)

        monkeypatch.setattr(refine, "simulate_batch", counted_forward)
        monkeypatch.setattr(engine, "simulate_batch", counted_forward)
        monkeypatch.setattr(grad, "spike_times_and_jacobian", counted_sens)

    def expected(self, model):
        return self.forward + sum(n * grad.sensitivity_cost(model, s)
                                  for s, n in self.sens.items())


@pytest.mark.parametrize("case", ["lif", "adex_r2", "adex", "izh_rs"])
def test_converges_to_the_truths_spike_times_and_charges_its_cost(case, target, monkeypatch):
    path = target(case)
    scheme = TARGETS[case][1]
    problem, settings = _problem(path, scheme=scheme)
    _start(problem, _truth(problem), seed=1, size=0.01)
    start_rmse = _rmse_of_best(problem)
    fe0 = problem.forward_equivalents
    counter = _Counter(monkeypatch)
    info = refine.run(problem, settings)
    assert info["status"] == "ok"
    # exact unless AdEx resolved (the resolved2 map's Jacobian for resolved's residuals)
    assert info["jacobian_exact"] == (case != "adex")
    assert start_rmse > 0.05  # the perturbation is visible
    # the truth's own spike times (the target), from an independent simulation of the result
    assert _rmse_of_best(problem) < 0.01
    assert info["final_rmse_ms"] == pytest.approx(_rmse_of_best(problem), rel=1e-9, abs=1e-12)
    # every forward simulation and sensitivity pass charged, at the registry's cost
    spent = problem.forward_equivalents - fe0
    assert spent == counter.expected(problem.model) == info["forward_equivalents"]
    assert counter.sens and counter.forward
    assert spent <= settings.budget
    # its iterations are in the history, with the engine's keys and the refinement's
    rows = [h for h in problem.history if "refine_iteration" in h]
    assert len(rows) == info["iterations"] + 1
    assert all({"simulations", "best_loss", "gamma_at_best", "refine_rmse_ms",
                "refine_damping", "refine_accepted"} <= set(h) for h in rows)
    assert [h["simulations"] for h in rows] == sorted(h["simulations"] for h in rows)


def test_count_change_never_accepted_and_raises_the_damping(target, monkeypatch):
    # an undamped start far from the truth: Gauss-Newton steps that change the count
    rs = RefineSettings(damping=1e-9, max_iterations=60)
    problem, settings = _problem(target("izh_rs"), rs=rs)
    _start(problem, _truth(problem), seed=3, size=0.08)
    seen = []
    record = problem.record

    def spy(Z, losses, amps):
        seen.append((np.array(Z[0]), float(losses[0]), np.array(amps[0])))
        return record(Z, losses, amps)

    monkeypatch.setattr(problem, "record", spy)
    info = refine.run(problem, settings)
    assert info["rejected_count"] > 0  # some trials did change the count
    rows = [h for h in problem.history if "refine_iteration" in h]
    for (z, loss, amps), h in zip(seen, rows):
        if not h["refine_accepted"]:
            assert loss == math.inf  # a rejected trial never becomes the best
            continue
        P = problem.space.to_params(z[None])[0]
        for sw, a in zip(problem.sweeps, amps):
            r = simulate(problem.model, dict(zip(problem.space.names, P)), a, sw.protocol,
                         scheme=problem.settings.scheme)
            assert len(r.spike_times_ms) == sw.times.size
    # after every rejection the damping rose
    damp = [h["refine_damping"] for h in rows]
    for prev, h, now in zip(damp, rows[1:], damp[1:]):
        assert (now > prev) != h["refine_accepted"]


def test_box_is_respected_with_the_truth_on_a_bound(target, monkeypatch):
    # the truth's Vr (-60 mV) and t_ref (2 ms) are the lower bounds of this box
    problem, settings = _problem(target("lif"), bounds=("Vr=-60:-45", "t_ref=2:10"))
    P = _truth(problem)
    z_true = problem.space.to_reduced(P[None])[0]
    free = problem.space.free_names
    on_bound = [free.index("Vr"), free.index("t_ref")]
    assert np.all(z_true[on_bound] == 0.0)
    seen = []
    evaluate = refine._Residuals.evaluate

    def spy(self, x):
        seen.append(np.array(x))
        return evaluate(self, x)

    monkeypatch.setattr(refine._Residuals, "evaluate", spy)
    _start(problem, P, seed=2, size=0.01)
    info = refine.run(problem, settings)
    X = np.array(seen)
    assert np.all((X >= 0.0) & (X <= 1.0))
    assert np.any(X[:, on_bound] == 0.0)  # a step was held on the bound, not clipped away
    assert info["status"] == "ok"
    assert _rmse_of_best(problem) < 0.01


def test_searched_current_refines_the_amplitude(target):
    problem, settings = _problem(target("lif"), current="search")
    P = _truth(problem)
    amp_true = problem.sweeps[0].amplitude_pA
    start_amp = amp_true * 1.002
    _start(problem, P, amps=[start_amp], seed=4, size=0.005)
    info = refine.run(problem, settings)
    assert info["amplitude"] == "free per sweep"
    assert info["status"] == "ok"
    assert problem.best_amps[0] != start_amp
    assert _rmse_of_best(problem) < 0.01


def test_skipped_when_the_count_differs(target):
    problem, settings = _problem(target("lif"))
    P = _truth(problem)
    P[problem.space.names.index("Vth")] += 5.0  # higher threshold: fewer spikes
    z = problem.space.to_reduced(P[None])[0]
    problem.evaluate(z[None])
    best = (problem.best_z.copy(), problem.best_loss)
    n_hist = len(problem.history)
    info = refine.run(problem, settings)
    assert info["status"] == "skipped"
    assert np.array_equal(problem.best_z, best[0]) and problem.best_loss == best[1]
    assert len(problem.history) == n_hist


def test_run_fit_refines_the_optimizers_best(target):
    lif = target("lif")
    budget = 300
    res = run_fit(str(lif), FitSettings(model="lif", current="recorded", budget=budget,
                                        seed=0, refine=RefineSettings(share=0.2)))
    info = res.optimizer_info["refine"]
    # the optimiser stopped before the reserved share; the refinement spent what was left
    assert info["start_forward_equivalents"] <= int(budget * 0.8) + 2 * 10
    assert res.forward_equivalents <= budget + len(res.sweep_ids)
    assert info["status"] == "ok"
    assert res.loss <= info["start_loss"]
    # the record's point, spikes and metrics are the refined ones (recomputed independently)
    target = load_target(lif)
    T = [np.asarray(s.spike_times_ms) for s in target.sweeps]
    M = [np.asarray(t) for t in res.spike_times_ms]
    assert res.loss == pytest.approx(spike_time_loss(M, T), rel=1e-9, abs=1e-12)
    assert res.spike_time_rmse_ms == pytest.approx(info["final_rmse_ms"], rel=1e-9, abs=1e-12)
    r = simulate("lif", res.params, res.amplitude_pA[0], target.sweeps[0].protocol,
                 scheme=res.scheme)
    assert np.array_equal(r.spike_times_ms, M[0])
    assert any("refine_iteration" in h for h in res.history)


def test_no_refine_is_the_plain_fit(target):
    lif = target("lif")
    a = run_fit(str(lif), FitSettings(model="lif", current="recorded", budget=200, seed=3))
    b = run_fit(str(lif), FitSettings(model="lif", current="recorded", budget=200, seed=3,
                                      refine=False))
    assert "refine" not in a.optimizer_info
    assert a.params == b.params and a.forward_equivalents == b.forward_equivalents


def test_cli_fit_refine(tmp_path, target):
    lif = target("lif")
    out = tmp_path / "fit.json"
    rc = main(["fit", "--target", str(lif), "--model", "lif", "--current", "recorded",
               "--budget", "300", "--refine", "--refine-share", "0.2", "--out", str(out)])
    assert rc == 0
    rec = json.loads(out.read_text())
    assert rec["optimizer_info"]["refine"]["settings"]["share"] == 0.2
    assert rec["optimizer_info"]["refine"]["status"] == "ok"


@pytest.mark.parametrize("args, field", [
    (["--refine", "--refine-share", "1.5"], "--refine-share"),
    (["--refine", "--refine-share", "x"], "--refine-share"),
    (["--refine-share", "0.1"], "--refine-share"),
])
def test_cli_fit_refine_bad_input(tmp_path, target, capsys, args, field):
    lif = target("lif")
    out = tmp_path / "fit.json"
    rc = main(["fit", "--target", str(lif), "--model", "lif", "--current", "recorded",
               "--budget", "100", *args, "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and field in err[0]
    assert not out.exists()


def test_settings_are_checked():
    with pytest.raises(TypeError):
        FitSettings(model="lif", refine="yes").check()
    from snnfit.errors import UserError

    with pytest.raises(UserError):
        FitSettings(model="lif", refine=RefineSettings(down=2.0)).check()
    with pytest.raises(UserError, match="jacobian"):
        FitSettings(model="lif", refine=RefineSettings(jacobian="exact")).check()
    s = refine.optimizer_settings(FitSettings(model="lif", budget=1000, refine=True))
    assert s.budget == 950
    s0 = FitSettings(model="lif", budget=1000)
    assert refine.optimizer_settings(s0) is s0


def test_run_fit_refines_sweeps_of_different_counts(tmp_path):
    """A target whose fitted sweeps have different spike counts (the study's synthetic
    targets: the truth at 1x and 2x its amplitude): the refinement runs (it stacked the
    sweeps' trains into one array and failed on unequal lengths) and its record is
    consistent with an independent recomputation of the loss."""
    from snnfit.data.truth import truth_at_factors

    p = tmp_path / "lif_x1_x2.json"
    write_target(p, truth_at_factors(preset_target("lif:default", scheme="resolved"),
                                     [1.0, 2.0]))
    t = load_target(p)
    counts = [len(s.spike_times_ms) for s in t.sweeps]
    assert len(counts) == 2 and counts[0] != counts[1]
    res = run_fit(str(p), FitSettings(model="lif", current="recorded", budget=3000, seed=0,
                                      refine=RefineSettings(share=0.3)))
    info = res.optimizer_info["refine"]
    assert info["status"] != "skipped"  # the optimiser found the counts: refinement ran
    assert res.loss <= info["start_loss"] + 1e-12
    T = [np.asarray(s.spike_times_ms) for s in t.sweeps]
    M = [np.asarray(m) for m in res.spike_times_ms]
    assert res.loss == pytest.approx(spike_time_loss(M, T), rel=1e-9, abs=1e-12)
