"""Extra stimulus epochs in targets and everything that reads them: ``epochs.csv`` ->
``make-target --recording`` -> the target's protocol (``epochs`` only when present) -> the fit
engine (recorded and searched current), the fit record, ``snnfit simulate --fit``,
``evaluate`` (the held-out evaluation) and ``plot``.

Independent checks: a target simulated from a known truth on a multi-epoch protocol has loss
0 at the truth (and not without the epochs); replays equal a direct simulation of the
protocol with its epochs; bad files give one line naming the file and line, exit 2, nothing
written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snnfit import cli
from snnfit.data.targets import (Sweep, Target, load_target, read_recording,
                                 recording_target, target_from_dict, write_target)
from snnfit.errors import UserError
from snnfit.fit import FitProblem, FitSettings, run_fit
from snnfit.fit.record import evaluate_fit, load_fit_result, replay_fit
from snnfit.fit.space import build_space
from snnfit.sim.models import resolve_preset
from snnfit.sim.protocol import Epoch, StepProtocol
from snnfit.sim.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
KL_ABF = ROOT.parent / "shared" / "data" / "raw" / "pyabf" / "18711001.abf"

SPIKES = "cell_id,sweep,amplitude_pA,stim_start_ms,stim_end_ms,spike_time_ms\n"
SWEEPS = "cell_id,sweep,amplitude_pA,holding_pA,stim_start_ms,stim_end_ms,sweep_duration_ms\n"
EPOCHS = "cell_id,sweep,epoch,start_ms,end_ms,amplitude_pA,main\n"


def run_cli(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def recording(tmp_path: Path, epochs: str | None) -> Path:
    """Cell c, sweep 1 (prepulse, step, second step) and sweep 2 (a single step)."""
    (tmp_path / "spikes.csv").write_text(
        SPIKES + "c,1,200,300,800,350.5\nc,1,200,300,800,420.25\nc,2,150,300,800,500\n")
    (tmp_path / "sweeps.csv").write_text(
        SWEEPS + "c,1,200,-10,300,800,1000\nc,2,150,-10,300,800,1000\n")
    if epochs is not None:
        (tmp_path / "epochs.csv").write_text(EPOCHS + epochs)
    return tmp_path / "spikes.csv"


GOOD = ("c,1,0,50,150,-100,0\nc,1,1,300,800,200,1\nc,1,2,800,900,120,0\n"
        "c,2,0,300,800,150,1\n")


def test_recording_target_simulates_the_extra_epochs(tmp_path, capsys):
    spikes = recording(tmp_path, GOOD)
    rc, out, err = run_cli(["make-target", "--recording", spikes, "--out", tmp_path / "t.json"],
                           capsys)
    assert rc == 0, err
    assert "2 sweep(s), 3 spike(s), 1 with extra stimulus epochs" in out
    raw = json.loads((tmp_path / "t.json").read_text())
    p1, p2 = raw["sweeps"][0]["protocol"], raw["sweeps"][1]["protocol"]
    assert p1["epochs"] == [{"start_ms": 50.0, "end_ms": 150.0, "amplitude_pA": -100.0},
                            {"start_ms": 800.0, "end_ms": 900.0, "amplitude_pA": 120.0}]
    assert (p1["delay_ms"], p1["duration_ms"], p1["holding_pA"]) == (300.0, 500.0, -10.0)
    assert "epochs" not in p2  # a single step keeps its JSON form
    assert str((tmp_path / "epochs.csv").resolve()) in raw["provenance"]["files_sha256"]
    t = load_target(tmp_path / "t.json")
    assert t.sweeps[0].protocol.epochs == (Epoch(50.0, 150.0, -100.0),
                                           Epoch(800.0, 900.0, 120.0))


def test_without_epochs_csv_the_target_is_as_before(tmp_path):
    """No epochs.csv, or only main rows: single steps, the JSON form of before."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with_rows = recording_target(recording(tmp_path / "a", "c,1,0,300,800,200,1\n"
                                                           "c,2,0,300,800,150,1\n"))
    without = recording_target(recording(tmp_path / "b", None))
    for a, b in zip(with_rows.sweeps, without.sweeps):
        assert a.to_dict() == b.to_dict()
        assert list(a.to_dict()["protocol"]) == ["delay_ms", "duration_ms", "t_stop_ms",
                                                 "dt_ms", "holding_pA"]


@pytest.mark.parametrize("rows,needle", [
    ("c,1,0,50,150,-100,1\nc,1,1,300,800,200,1\n",
     "cell c sweep 1: 2 rows with main = 1 (lines 2, 3); expected exactly one"),
    ("c,1,0,50,150,-100,0\n", "cell c sweep 1: 0 rows with main = 1 (lines 2)"),
    ("c,1,0,300,800,250,1\n", "line 2: main epoch [300, 800) ms, 250 pA differs from the step "
                              "of cell c sweep 1 ([300, 800) ms, 200 pA)"),
    ("c,1,0,250,350,50,0\nc,1,1,300,800,200,1\n",
     "cell c sweep 1: epochs[0] [250, 350) ms: overlaps the main step [300, 800) ms"),
    ("c,1,0,900,1100,50,0\nc,1,1,300,800,200,1\n",
     "cell c sweep 1: epochs[0] [900, 1100) ms: ends after the sweep (t_stop_ms 1000)"),
    ("c,1,0,50,40,-100,0\n", "line 2: end_ms 40 is not after start_ms 50"),
    ("c,1,0,50,150,-100,yes\n", "line 2: main 'yes' (expected 1 for the sweep's main step"),
    ("c,1,0,50,150,abc,0\n", "line 2: amplitude_pA 'abc' is not a number"),
    ("c,1,0,-5,150,-100,0\n", "line 2: start_ms -5 is negative"),
])
def test_bad_epochs_csv_is_one_line_exit_2_nothing_written(tmp_path, capsys, rows, needle):
    spikes = recording(tmp_path, rows)
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--recording", spikes, "--out", out], capsys)
    assert rc == 2 and not out.exists()
    line = err.strip().splitlines()[-1]
    assert str(tmp_path / "epochs.csv") in line and needle in line, line


def test_epochs_csv_missing_column(tmp_path, capsys):
    spikes = recording(tmp_path, None)
    (tmp_path / "epochs.csv").write_text("cell_id,sweep,start_ms,end_ms,amplitude_pA\n"
                                         "c,1,50,150,-100\n")
    rc, _, err = run_cli(["make-target", "--recording", spikes, "--out", tmp_path / "t.json"],
                         capsys)
    assert rc == 2 and "missing column(s) epoch, main" in err


def test_epochs_csv_option_names_another_file(tmp_path, capsys):
    spikes = recording(tmp_path, None)
    other = tmp_path / "elsewhere.csv"
    other.write_text(EPOCHS + GOOD)
    rc, _, err = run_cli(["make-target", "--recording", spikes, "--epochs-csv", other, "--out",
                          tmp_path / "t.json"], capsys)
    assert rc == 0, err
    assert load_target(tmp_path / "t.json").sweeps[0].protocol.epochs
    rc, _, err = run_cli(["make-target", "--preset", "lif:default", "--epochs-csv", other,
                          "--out", tmp_path / "u.json"], capsys)
    assert rc == 2 and "--epochs-csv does not apply to --preset" in err


@pytest.mark.parametrize("epochs,needle", [
    ([{"start_ms": 50, "end_ms": 150}],
     "t.json: sweeps[0].protocol.epochs[0]: missing field(s) amplitude_pA"),
    ([{"start_ms": 50, "end_ms": 350, "amplitude_pA": 3}],
     "t.json: sweeps[0].protocol.epochs[0] [50, 350) ms: overlaps the main step"),
    ("none", "t.json: sweeps[0].protocol.epochs: expected a list"),
])
def test_bad_epochs_in_a_target_file(tmp_path, epochs, needle):
    d = Target("recording", {}, None, [Sweep("1", StepProtocol(300.0, 500.0, 1000.0), 200.0,
                                             np.array([400.0]))]).to_dict()
    d["sweeps"][0]["protocol"]["epochs"] = epochs
    with pytest.raises(UserError) as e:
        target_from_dict(d, "t.json")
    assert needle in str(e.value)


# --------------------------------------------------------------------------- the fit engine

#: a known truth on a multi-epoch protocol (a -150 pA prepulse, a test pulse, a second step)
PROTO = StepProtocol(delay_ms=300.0, duration_ms=500.0, t_stop_ms=1100.0,
                     epochs=(Epoch(20.0, 180.0, -150.0), Epoch(220.0, 260.0, 300.0),
                             Epoch(850.0, 1000.0, 250.0)))


@pytest.fixture(scope="module")
def truth_target(tmp_path_factory):
    model, preset = resolve_preset("naud2008:adapting")
    sweeps = []
    for sid, amp in (("a", 400.0), ("b", 500.0)):
        t = simulate(model, preset.params, amp, PROTO, scheme="resolved").spike_times_ms
        sweeps.append(Sweep(sid, PROTO, amp, np.asarray(t)))
    truth = {"model": model, "scheme": "resolved", "params": dict(preset.params)}
    tgt = Target("preset", {"command": None}, truth, sweeps)
    path = tmp_path_factory.mktemp("ep") / "truth.json"
    write_target(path, tgt)
    return path


def _truth_point(space):
    from snnfit.sim.models import get_spec

    model, preset = resolve_preset("naud2008:adapting")
    return get_spec(model).vector(preset.params)[None, :]


def test_engine_scores_the_truth_zero_with_its_epochs_only(truth_target):
    target = load_target(truth_target)
    assert any(t < 300.0 for t in target.sweeps[0].spike_times_ms)  # the test pulse fires
    settings = FitSettings(model="adex", current="recorded", budget=10**6)
    space = build_space("adex", "full", current="recorded")
    loss, amps = FitProblem(space, target, settings).losses(_truth_point(space))
    assert loss[0] == 0.0 and amps[0].tolist() == [400.0, 500.0]
    bare = Target(target.kind, target.provenance, target.truth, [
        Sweep(s.id, StepProtocol(300.0, 500.0, 1100.0), s.amplitude_pA, s.spike_times_ms)
        for s in target.sweeps])
    loss0, _ = FitProblem(space, bare, settings).losses(_truth_point(space))
    assert loss0[0] > 100.0


def test_engine_search_keeps_the_epochs(truth_target):
    """Searched current: the truth's own amplitude lies in the bracket the search finds on
    the multi-epoch protocol, and the loss there is small."""
    target = load_target(truth_target)
    settings = FitSettings(model="adex", current="search", budget=10**6, amp_iters=12)
    space = build_space("adex", "full", current="search")
    problem = FitProblem(space, target, settings)
    r = problem.search_amplitudes(_truth_point(space), problem.sweeps[0])
    assert r.found.tolist() == [0]
    assert r.lo[0] <= 400.0 < r.hi[0]
    assert r.loss[0] < 5.0  # ms^2 (golden section inside the bracket)


def test_fit_record_replay_and_evaluate_honour_the_epochs(truth_target, tmp_path, capsys):
    rec = run_fit(str(truth_target), FitSettings(model="adex", current="recorded", budget=60,
                                                 sweeps=["a"]))
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(rec.to_json()))
    assert rec.protocols[0] == PROTO.to_dict() and "epochs" in rec.protocols[0]
    fit = load_fit_result(path)
    direct = simulate("adex", fit.params, fit.amplitude_pA[0], PROTO, scheme="resolved")
    bare = simulate("adex", fit.params, fit.amplitude_pA[0], StepProtocol(300.0, 500.0, 1100.0),
                    scheme="resolved")
    np.testing.assert_array_equal(rec.spike_times_ms[0], direct.spike_times_ms)
    assert len(bare.spike_times_ms) != len(direct.spike_times_ms) or \
        np.abs(bare.spike_times_ms - direct.spike_times_ms).max() > 0.5
    rep = replay_fit(path)
    assert rep["sweeps"][0]["protocol"] == PROTO.to_dict()
    np.testing.assert_allclose(rep["sweeps"][0]["spike_times_ms"], direct.spike_times_ms,
                               atol=1e-6, rtol=0)
    # held-out evaluation on sweep b: the metrics of the direct simulation with the epochs
    from snnfit.metrics import all_metrics

    ev = evaluate_fit(path, truth_target, sweeps=["b"])
    sb = load_target(truth_target).sweeps[1]
    pred = simulate("adex", fit.params, 500.0, PROTO, scheme="resolved").spike_times_ms
    m = all_metrics([pred], [sb.spike_times_ms], [PROTO.t_stop_ms], [PROTO.delay_ms])
    assert ev["gamma"] == pytest.approx(m["gamma"], abs=0, rel=1e-12)
    rc, _, err = run_cli(["plot", path, "--out", tmp_path / "fit.png"], capsys)
    assert rc == 0 and (tmp_path / "fit.png").stat().st_size > 10_000, err


@pytest.mark.skipif(not KL_ABF.exists(), reason=f"ABF fixture not found at {KL_ABF}")
def test_abf_prepulse_reaches_the_target(tmp_path, capsys):
    """18711001.abf: every sweep has a -100 pA prepulse (23.4 to 323.4 ms) before the test
    step; ingest -> make-target keeps it as the protocol's extra epoch."""
    out = tmp_path / "kl"
    assert run_cli(["ingest", KL_ABF, "--out", out], capsys)[0] == 0
    rc, _, err = run_cli(["make-target", "--recording", out / "spikes.csv", "--out",
                          tmp_path / "t.json"], capsys)
    assert rc == 0, err
    t = load_target(tmp_path / "t.json")
    s7 = t.sweeps[t.ids.index("7")]
    assert s7.protocol.delay_ms == pytest.approx(823.4) and s7.amplitude_pA == 70.0
    assert s7.protocol.epochs == (Epoch(23.4, 323.4, -100.0),)
    s0 = t.sweeps[t.ids.index("0")]  # only the prepulse: it is the main step, no extra epoch
    assert s0.protocol.epochs == () and s0.amplitude_pA == -100.0
    cells = read_recording(out / "spikes.csv")
    assert set(cells) == {"18711001"}
