"""Fits in batches (snnfit.fit.batch, snnfit fit-batch) and the cheaper bookkeeping inside a
fit: each against an independent reference (the single-fit command, pycma's own per-vector
transform and ask/tell, the eager re-simulation of every new best, naive batch cuts)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from snnfit.cli import main
from snnfit.data.targets import preset_target, times_target, write_target

#: fields that measure time, energy or provenance (they differ between any two runs)
VOLATILE = {"wall_s", "cpu_s", "joules", "energy_source", "energy_note", "provenance"}


def _strip(d):
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in VOLATILE}
    if isinstance(d, list):
        return [_strip(x) for x in d]
    return d


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    d = tmp_path_factory.mktemp("targets")
    adapting = d / "adapting.json"
    write_target(adapting, preset_target("naud2008:adapting", scheme="resolved"))
    times = d / "times.json"
    write_target(times, times_target([100, 300, 500, 700], 1000.0))
    return {"adapting": adapting, "times": times}


# ---------------------------------------------------------------- pycma's box, vectorised


def test_population_transform_is_pycmas_bit_for_bit():
    from cma.boundary_handler import BoundTransform

    from snnfit.fit.optimizers.cmaes import linquad_population

    rng = np.random.default_rng(0)
    bt = BoundTransform([0.0, 1.0])
    for n in (1, 3, 10):
        bt.repair(np.full(n, 0.5))  # sizes pycma's per-coordinate bounds
        tf = bt.bounds_tf
        for scale in (0.05, 0.4, 3.0, 1e4):  # inside, near the edges, mirrored, far (shift)
            X = 0.5 + scale * rng.standard_normal((300, n))
            X[0, 0], X[1, 0] = 1.05, -0.05  # on the mirror points
            ref = np.array([bt.repair(x.copy()) for x in X])
            Y, touched = linquad_population(X, tf._lb, tf._ub, tf._al, tf._au)
            assert np.array_equal(ref.view(np.int64), Y.view(np.int64)), (n, scale)
            # untouched rows are the genotype itself (pycma returns it unchanged)
            assert np.array_equal(Y[~touched], X[~touched])
            assert touched.any() if scale >= 0.4 else True


def test_cmaes_with_population_transform_asks_what_pycma_asks():
    """Our ES (population transform) and plain pycma with its default bounds handler, same
    seed, same f-values: the same candidates, bit for bit, for 150 generations. (One after
    the other: pycma draws from numpy's global generator, which its seed option seeds.)"""
    import cma

    from snnfit.fit.optimizers.cmaes import PopulationBoundTransform, _ES

    opts = {"bounds": [0.0, 1.0], "popsize": 10, "seed": 7, "verbose": -9, "verb_log": 0,
            "verb_disp": 0, "verb_filenameprefix": "", "tolfun": 1e-12, "tolx": 1e-12}
    x0 = [0.02, 0.5, 0.97, 0.3, 0.99]  # near the edges: the quadratic parts are used
    target = np.array([0.0, 0.8, 1.0, 0.25, 0.9])

    def run(es):
        asked = []
        for _ in range(150):
            X = np.asarray(es.ask())
            asked.append(X)
            es.tell(list(X), [float(np.sum((x - target) ** 2)) for x in X])
        return np.array(asked), es.mean

    A, mean_a = run(cma.CMAEvolutionStrategy(x0, 0.25, dict(opts)))
    B, mean_b = run(_ES(x0, 0.25, {**opts, "BoundaryHandler": PopulationBoundTransform}))
    assert np.array_equal(A.view(np.int64), B.view(np.int64))
    assert np.array_equal(mean_a, mean_b)
    assert ((A < 0.05) | (A > 0.95)).any()  # the quadratic parts were used


_PYCMA_RUN = """
import sys
import numpy as np
{imports}
opts = {{"bounds": [0.0, 1.0], "popsize": 10, "seed": 7, "verbose": -9, "verb_log": 0,
        "verb_disp": 0, "verb_filenameprefix": ""}}
es = cma.CMAEvolutionStrategy([0.02, 0.5, 0.97, 0.3, 0.99], 0.25, opts)
asked = []
for _ in range(60):
    X = np.asarray(es.ask())
    asked.append(X)
    es.tell(list(X), [float(np.sum((x - 0.4) ** 2)) for x in X])
print(np.array(asked).tobytes().hex())
print(sorted(m for m in ("matplotlib", "matplotlib.pyplot", "scipy.stats") if m in sys.modules))
import matplotlib.pyplot, scipy.stats  # both still import
"""


def test_pycma_is_imported_without_pyplot_and_scipy_stats_and_asks_the_same():
    """A fit process imports pycma (snnfit.fit.optimizers.cmaes) without matplotlib and
    scipy.stats, which pycma imports for plots and surrogate models (about 2.4 s of start-up);
    its ES asks bit for bit what pycma imported in full asks (another process)."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    out = {}
    for name, imports in (("light", "from snnfit.fit.optimizers.cmaes import cma"),
                          ("full", "import matplotlib.pyplot, scipy.stats\nimport cma")):
        r = subprocess.run([sys.executable, "-c", _PYCMA_RUN.format(imports=imports)],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        out[name] = r.stdout.splitlines()
    assert out["light"][1] == "[]"
    assert out["full"][1] == "['matplotlib', 'matplotlib.pyplot', 'scipy.stats']"
    assert len(out["light"][0]) == 2 * 8 * 60 * 10 * 5 and out["light"][0] == out["full"][0]


# ---------------------------------------------------------------- Gamma of the bests


def test_gamma_history_equals_eager_resimulation(targets):
    """History Gammas (scored later, in one batch) equal the old way: each new best
    re-simulated alone at full length right away; one simulation per sweep is charged per
    new best either way."""
    from snnfit.data.targets import load_target
    from snnfit.fit import FitProblem, FitSettings
    from snnfit.fit.space import build_space
    from snnfit.metrics import gamma_factor
    from snnfit.sim.simulate import simulate_batch

    settings = FitSettings(model="adex", current="recorded", budget=10**6)
    space = build_space("adex", "pca:3", current="recorded")  # matrix map: row by row
    problem = FitProblem(space, load_target(targets["adapting"]), settings)
    rng = np.random.default_rng(3)
    eager, fe_expected, best = [], 0, math.inf
    for _ in range(12):
        Z = rng.uniform(0.0, 1.0, (int(rng.integers(1, 9)), space.k))
        losses = problem.evaluate(Z)
        fe_expected += Z.shape[0]
        i = int(np.argmin(losses))
        if losses[i] < best:
            best = float(losses[i])
            fe_expected += 1
            P = space.to_params(Z[i][None, :])
            sw = problem.sweeps[0]
            r = simulate_batch("adex", P, np.array([sw.amplitude_pA]), sw.protocol,
                               "resolved", 1, check=False)
            g = gamma_factor([r.spike_times(0)], [sw.times], [sw.protocol.t_stop_ms])
        eager.append(g)
        assert problem.forward_equivalents == fe_expected
    assert [h["gamma_at_best"] for h in problem.history] == eager
    assert problem.best_gamma == eager[-1]


# ---------------------------------------------------------------- batches = single fits

FITS = [  # (name, args of snnfit fit, held-out sweeps or None)
    ("cmaes", ["--model", "adex", "--optimizer", "cmaes", "--budget", "300",
               "--current", "recorded", "--seed", "1"], ["0"]),
    ("random", ["--model", "lif", "--optimizer", "random", "--budget", "200",
                "--current", "recorded", "--seed", "2", "--dim", "C,gL,Vth"], None),
    ("direct", ["--model", "adex", "--optimizer", "direct", "--budget", "200",
                "--current", "recorded", "--seed", "3", "--dim", "a,b,tau_w"], None),
    ("search", ["--model", "izhikevich", "--optimizer", "cmaes", "--budget", "400",
                "--current", "search", "--seed", "4"], None),
]


def _settings(args):
    keys = {"--model": "model", "--optimizer": "optimizer", "--budget": "budget",
            "--current": "current", "--seed": "seed", "--dim": "dim"}
    s = {keys[k]: v for k, v in zip(args[::2], args[1::2])}
    for k in ("budget", "seed"):
        s[k] = int(s[k])
    return s


def _plan(tmp: Path, targets, cache=None) -> Path:
    fits = []
    for name, args, held in FITS:
        tgt = str(targets["times" if name == "search" else "adapting"])
        fits.append({"target": tgt, "out": str(tmp / "batch" / f"{name}.json"),
                     "settings": _settings(args),
                     "heldout": None if held is None else
                     {"target": tgt, "sweeps": held, "out": str(tmp / "batch" / f"{name}.h.json")}})
    plan = tmp / "plan.json"
    plan.write_text(json.dumps({"cache": cache, "fits": fits}))
    return plan


def test_batch_files_equal_single_fit_commands(tmp_path, targets):
    assert main(["fit-batch", "--plan", str(_plan(tmp_path, targets))]) == 0
    for name, args, held in FITS:
        tgt = str(targets["times" if name == "search" else "adapting"])
        single = tmp_path / f"{name}.json"
        assert main(["fit", "--target", tgt, *args, "--out", str(single)]) == 0
        a = json.loads(single.read_text())
        b = json.loads((tmp_path / "batch" / f"{name}.json").read_text())
        assert _strip(a) == _strip(b), name
        assert list(a) == list(b)  # same keys, same order
        if held is not None:
            ev = tmp_path / f"{name}.h.json"
            assert main(["evaluate", "--fit", str(single), "--target", tgt, "--sweeps",
                         ",".join(held), "--out", str(ev)]) == 0
            ea = json.loads(ev.read_text())
            eb = json.loads((tmp_path / "batch" / f"{name}.h.json").read_text())
            assert {k: v for k, v in ea.items() if k != "fit"} == \
                {k: v for k, v in eb.items() if k != "fit"}


def test_interrupted_batch_resumes_with_only_its_unfinished_fits(tmp_path, targets):
    cache = tmp_path / "cache"
    plan = _plan(tmp_path, targets, cache=str(cache))
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "snnfit", "fit-batch", "--plan", str(plan)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(cache.glob("*.fit.json"))) < 2 and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(cache.glob("*.fit.json"))
    assert 2 <= len(done) < len(FITS), "the kill was not mid-batch"
    mtimes = {p: p.stat().st_mtime_ns for p in done}
    outs = sorted((tmp_path / "batch").glob("*.json"))
    for p in outs:
        json.loads(p.read_text())  # nothing half-written
    # the same batch again: the finished fits come from the cache, the rest run
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = r.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"snnfit fit-batch: {len(FITS) - len(done)} ran, "
                              f"{len(done)} from the cache, 0 failed"), summary
    assert {p: p.stat().st_mtime_ns for p in done} == mtimes  # not rewritten
    # and the resumed outputs are the uninterrupted batch's
    ref = tmp_path / "ref"
    ref.mkdir()
    assert main(["fit-batch", "--plan", str(_plan(ref, targets))]) == 0
    for name, _, _ in FITS:
        a = json.loads((ref / "batch" / f"{name}.json").read_text())
        b = json.loads((tmp_path / "batch" / f"{name}.json").read_text())
        assert _strip(a) == _strip(b), name


def test_failing_fit_is_reported_the_others_written(tmp_path, targets, capsys):
    plan = tmp_path / "plan.json"
    ok = {"target": str(targets["adapting"]), "out": str(tmp_path / "ok.json"),
          "settings": {"model": "lif", "budget": 100, "current": "recorded"}}
    bad = {"target": str(tmp_path / "missing.json"), "out": str(tmp_path / "bad.json"),
           "settings": {"model": "lif", "budget": 100, "current": "recorded"}}
    plan.write_text(json.dumps({"fits": [bad, ok]}))
    assert main(["fit-batch", "--plan", str(plan)]) == 1
    err = capsys.readouterr().err
    assert "missing.json: file not found" in err and "1 ran, 0 from the cache, 1 failed" in err
    assert (tmp_path / "ok.json").exists() and not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize("plan,needle", [
    ("[]", "expected an object with a list 'fits'"),
    ('{"fits": [{"out": "a.json", "settings": {"model": "lif"}}]}', "fits[0]: missing key 'target'"),
    ('{"fits": [{"target": "t.json", "out": "a.json", "settings": {"model": "lif", "budgte": 3}}]}',
     "fits[0]: settings: unknown key 'budgte'"),
    ('{"fits": [{"target": "t.json", "out": "a.json", "settings": {"model": "lif"}},'
     ' {"target": "t.json", "out": "a.json", "settings": {"model": "lif"}}]}',
     "fits[1]: output a.json appears twice"),
    ('{"fits": [{"target": "t.json", "out": "a.json", "settings": {"model": "lif"},'
     ' "heldout": {"target": 3}}]}', "fits[0]: heldout: expected"),
    ('{"fits": [', "not valid JSON"),
])
def test_bad_plan_is_one_line_exit_2_nothing_written(tmp_path, capsys, plan, needle):
    p = tmp_path / "plan.json"
    p.write_text(plan)
    assert main(["fit-batch", "--plan", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and str(p) in err
    assert not (tmp_path / "a.json").exists()


def test_cache_key_follows_what_changes_the_numbers(tmp_path, targets):
    from dataclasses import replace

    from snnfit.fit import FitSettings
    from snnfit.fit.batch import BatchFit, fit_key

    t = tmp_path / "t.json"
    t.write_bytes(targets["adapting"].read_bytes())
    f = BatchFit(str(t), "out.json", FitSettings(model="adex", budget=300))
    k = fit_key(f)
    assert fit_key(replace(f, settings=replace(f.settings, threads=2))) == k
    assert fit_key(replace(f, out="elsewhere.json")) == k
    assert fit_key(replace(f, settings=replace(f.settings, budget=301))) != k
    assert fit_key(replace(f, settings=replace(f.settings, seed=1))) != k
    t.write_text(t.read_text() + "\n")  # the same target, other bytes
    assert fit_key(f) != k


# ---------------------------------------------------------------- cutting a study


def test_plan_batches_cuts_the_sorted_fits_into_balanced_contiguous_batches():
    from snnfit.fit.batch import plan_batches

    rng = np.random.default_rng(0)
    rows = [{"target": f"t{rng.integers(6)}", "model": str(rng.choice(["lif", "adex"])),
             "budget": int(rng.choice([300, 1500, 5000])), "i": i} for i in range(101)]
    order = sorted(rows, key=lambda r: (r["target"], r["model"]))  # stable: i ascending
    # (no "optimizer" key: it sorts as "" in BATCH_ORDER)
    for size, at_least in [(24, 2), (7, 1), (1000, 2), (1000, 1), (1, 1), (30, 9)]:
        batches = plan_batches(rows, size, at_least)
        assert [r["i"] for b in batches for r in b] == [r["i"] for r in order]
        assert len(batches) == max(math.ceil(len(rows) / size), min(at_least, len(rows)))
        assert all(1 <= len(b) <= size for b in batches)
    # equal weights: sizes differ by at most one
    flat = [{"target": "t", "model": "m", "budget": 1} for _ in range(23)]
    sizes = [len(b) for b in plan_batches(flat, 100, 4)]
    assert sum(sizes) == 23 and max(sizes) - min(sizes) <= 1
    # weights decide the cuts: one heavy fit gets a batch of its own
    heavy = [{"target": "t", "model": "m", "budget": b} for b in (9000, 1, 1, 1, 1, 1)]
    assert [len(b) for b in plan_batches(heavy, 100, 2)] == [1, 5]
    assert plan_batches([], 5, 2) == []


def test_plan_batches_keeps_each_optimizers_fits_together():
    """BATCH_ORDER puts the optimizer first: the few gradient fits of a study (each batch
    holding one pays torch/Norse's import and the sensitivity kernels' load) are contiguous:
    10 of them fall in at most two batches (one cut may pass through them), wherever their
    targets sort."""
    from snnfit.fit.batch import BATCH_ORDER, plan_batches

    assert BATCH_ORDER[0] == "optimizer"
    rows = [{"target": f"t{t:02d}", "model": m, "optimizer": "cmaes", "budget": 16000}
            for t in range(40) for m in ("lif", "adex", "izhikevich")]
    rows += [{"target": f"t{t:02d}", "model": "adex", "optimizer": o, "budget": 16000}
             for t in range(0, 40, 4) for o in ("direct", "random", "snn")]
    batches = plan_batches(rows, 24, 2)
    for opt in ("direct", "snn"):
        holding = [b for b in batches if any(r["optimizer"] == opt for r in b)]
        assert len(holding) <= 2, (opt, [len(b) for b in holding])
    # a target-first order (the one before) spreads them over most batches
    spread = plan_batches(rows, 24, 2, group=("target", "model"))
    assert sum(any(r["optimizer"] == "snn" for r in b) for b in spread) >= 4


def test_cache_none_means_no_cache(tmp_path, targets, monkeypatch):
    """``--cache none`` overrides the plan's cache: nothing cached, no directory called
    "none" (it used to be taken as a directory name, so a second run copied the first's
    fits instead of running them)."""
    cache = tmp_path / "cache"
    plan = _plan(tmp_path, targets, cache=str(cache))
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["fit-batch", "--plan", str(plan), "--cache", "none"]) == 0
    assert not (tmp_path / "none").exists() and not cache.exists()
    assert main(["fit-batch", "--plan", str(plan)]) == 0  # the plan's cache, when not overridden
    assert len(list(cache.glob("*.fit.json"))) == len(FITS)
