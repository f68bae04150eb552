"""Target files: format round trip, the CA1 recordings, --times storage, validation errors
(through the CLI: exit 2, one line naming the thing, nothing written), presets and priors
against the simulator."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from snnfit import cli
from snnfit.errors import UserError
from snnfit.sim.protocol import StepProtocol
from snnfit.data.targets import (
    TARGET_CLASSES,
    Sweep,
    Target,
    class_of,
    load_target,
    preset_target,
    recording_sweeps,
    recording_target,
    subset_sweeps,
    target_class,
    target_from_dict,
    times_target,
)
from snnfit.data.truth import add_truth_sweeps

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT.parent / "shared" / "data" / "recordings"
CA1 = RECORDINGS / "ca1_pyramidal"
SSCX = RECORDINGS / "sscx_l5pc"
needs_ca1 = pytest.mark.skipif(not (CA1 / "spikes.csv").exists(),
                               reason=f"CA1 recordings not found at {CA1}")
needs_sscx = pytest.mark.skipif(not (SSCX / "spikes.csv").exists(),
                                reason=f"SSCx recordings not found at {SSCX}")

HEADER = "cell_id,sweep,amplitude_pA,stim_start_ms,stim_end_ms,spike_time_ms\n"


def run_cli(argv, capsys):
    rc = cli.main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def small_recording(tmp_path: Path, rows: str, sweeps: str | None = None) -> Path:
    p = write(tmp_path / "spikes.csv", HEADER + rows)
    if sweeps is not None:
        write(tmp_path / "sweeps.csv", sweeps)
    return p


# --------------------------------------------------------------------------- round trip


def test_round_trip_and_subset(tmp_path, capsys):
    proto_a = StepProtocol(delay_ms=50.0, duration_ms=500.0, t_stop_ms=700.0, dt_ms=0.05,
                           holding_pA=-20.0)
    tgt = Target("recording", {"command": "x", "seed": None}, None, [
        Sweep("7", proto_a, 120.5, np.array([60.25, 80.0, 400.125])),
        Sweep("8", StepProtocol(), None, np.array([150.0])),
    ])
    path = tmp_path / "t.json"
    from snnfit.data.targets import write_target
    write_target(path, tgt)
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1 and raw["kind"] == "recording" and raw["truth"] is None
    assert raw["sweeps"][0]["protocol"] == {"delay_ms": 50.0, "duration_ms": 500.0,
                                            "t_stop_ms": 700.0, "dt_ms": 0.05,
                                            "holding_pA": -20.0}
    back = load_target(path)
    assert back.to_dict() == tgt.to_dict() == raw
    assert back.sweeps[0].protocol == proto_a
    np.testing.assert_array_equal(back.sweeps[0].spike_times_ms, [60.25, 80.0, 400.125])
    assert back.sweeps[1].amplitude_pA is None

    sub = subset_sweeps(back, [8])
    assert sub.ids == ["8"] and sub.n_spikes == 1 and back.ids == ["7", "8"]
    assert sub.provenance["subset"] == ["8"]
    with pytest.raises(UserError, match="sweep '9' not in target.*available: 7, 8"):
        subset_sweeps(back, ["9"])


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(schema_version=2), "schema_version"),
    (lambda d: d.pop("sweeps"), "sweeps"),
    (lambda d: d.update(kind="movie"), "kind"),
    (lambda d: d.update(sweeps=[]), "sweeps"),
    (lambda d: d["sweeps"][0].update(id=3), r"sweeps\[0\]\.id"),
    (lambda d: d["sweeps"][0]["protocol"].pop("dt_ms"),
     r"sweeps\[0\]\.protocol: missing field.*dt_ms"),
    (lambda d: d["sweeps"][0]["protocol"].update(dt_ms="0.1"), r"sweeps\[0\]\.protocol\.dt_ms"),
    (lambda d: d["sweeps"][0].update(amplitude_pA="big"), r"sweeps\[0\]\.amplitude_pA"),
    (lambda d: d["sweeps"][0].update(spike_times_ms=[300.0, 200.0]),
     r"sweeps\[0\].spike_times_ms\[1\]"),
    (lambda d: d["sweeps"][0].update(spike_times_ms=[300.0, "x"]),
     r"sweeps\[0\].spike_times_ms\[1\]"),
    (lambda d: d["sweeps"][0].update(spike_times_ms=[1300.0]),
     r"sweeps\[0\].spike_times_ms\[0\].*outside"),
    (lambda d: d["sweeps"][0].update(spike_times_ms=[]), "empty target"),
    (lambda d: d.update(kind="preset"), "truth"),
    (lambda d: d.update(truth={"model": "adex", "scheme": "rk4", "params": {"C": 1.0}}),
     "truth.scheme"),
])
def test_load_target_rejects(tmp_path, mutate, field):
    d = times_target([100.0, 300.0], 1000.0).to_dict()
    target_from_dict(json.loads(json.dumps(d)))  # the unmutated one is valid
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(UserError) as ei:
        load_target(p)
    msg = str(ei.value)
    assert str(p) in msg and "\n" not in msg
    assert re.search(field, msg), msg


def test_load_target_not_json_or_missing(tmp_path):
    p = write(tmp_path / "t.json", "{not json")
    with pytest.raises(UserError, match=r"t.json: not valid JSON \(line 1"):
        load_target(p)
    with pytest.raises(UserError, match="nope.json: file not found"):
        load_target(tmp_path / "nope.json")


# --------------------------------------------------------------------------- --times


def test_times_storage(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--times", "100,300,500,700", "--duration", "1000",
                          "--out", str(out)], capsys)
    assert rc == 0, err
    t = load_target(out)
    assert t.kind == "times" and t.truth is None and len(t.sweeps) == 1
    s = t.sweeps[0]
    assert s.amplitude_pA is None
    # stored from the sweep start: delay 100 + times; t_stop = delay + duration + 100
    np.testing.assert_array_equal(s.spike_times_ms, [200.0, 400.0, 600.0, 800.0])
    assert s.protocol == StepProtocol(100.0, 1000.0, 1200.0, 0.1, 0.0)
    assert "--times 100,300,500,700" in t.provenance["command"]


@pytest.mark.parametrize("times, duration, expect", [
    ("100,x,500", "1000", "--times: item 2 'x' is not a number"),
    ("100,nan", "1000", "--times: item 2 'nan' is not a finite number"),
    ("300,100", "1000", "--times: not strictly increasing at item 2"),
    ("100,1000", "1000", r"--times: item 2 \(1000 ms\) is outside the step \[0, 1000\)"),
    ("-5,100", "1000", r"--times: item 1 \(-5 ms\) is outside"),
    ("", "1000", "--times: no spike times given"),
    ("100", "0", "--duration: expected a positive number"),
])
def test_times_errors(tmp_path, capsys, times, duration, expect):
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", f"--times={times}", "--duration", duration,
                          "--out", str(out)], capsys)
    assert rc == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(expect, err), err
    assert not out.exists()


def test_times_needs_duration(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--times", "100", "--out", str(out)], capsys)
    assert rc == 2 and "--times needs --duration" in err and not out.exists()


# --------------------------------------------------------------------------- CA1 recordings


def _reference_ca1():
    """Independent read of the CA1 files with the csv module: per (cell, sweep) the spike
    times, and the sweeps.csv rows."""
    spikes: dict[tuple[str, str], list[float]] = {}
    with open(CA1 / "spikes.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            spikes.setdefault((row["cell_id"], row["sweep"]), []).append(
                float(row["spike_time_ms"]))
    with open(CA1 / "sweeps.csv", newline="") as fh:
        sweeps = {(r["cell_id"], r["sweep"]): r for r in csv.DictReader(fh)}
    return spikes, sweeps


@needs_ca1
def test_ca1_recordings(tmp_path, capsys):
    spikes, sweeps = _reference_ca1()
    cells = sorted({c for c, _ in sweeps})
    assert len(cells) == 4
    total_spikes, total_sweeps = 0, 0
    for cell in cells:
        out = tmp_path / f"{cell}.json"
        rc, _, err = run_cli(["make-target", "--recording", str(CA1 / "spikes.csv"),
                              "--cell", cell, "--out", str(out)], capsys)
        assert rc == 0, err
        assert "notice" not in err  # sweeps.csv is present
        t = load_target(out)
        assert t.kind == "recording" and t.truth is None
        assert "BluePyEfe" in t.provenance["citation"]
        assert t.provenance["cell_id"] == cell
        assert t.ids == [s for c, s in sweeps if c == cell]
        assert len(t.sweeps) == 2
        for s in t.sweeps:
            ref = sweeps[(cell, s.id)]
            np.testing.assert_array_equal(s.spike_times_ms, spikes[(cell, s.id)])
            assert len(s.spike_times_ms) == int(ref["n_spikes_thr-20mV"])
            assert s.protocol.holding_pA == float(ref["holding_pA"])
            assert s.protocol.holding_pA < 0
            assert s.protocol.t_stop_ms == 3500.0 and s.protocol.dt_ms == 0.1
            assert s.protocol.delay_ms == float(ref["stim_start_ms"])
            assert math.isclose(s.protocol.stim_end_ms, float(ref["stim_end_ms"]))
            assert s.amplitude_pA == float(ref["amplitude_pA"])
            total_spikes += len(s.spike_times_ms)
            total_sweeps += 1
    assert total_sweeps == 8
    assert total_spikes == 335  # README: 8 sweeps, 335 spikes


@needs_ca1
def test_ca1_sweep_selection_and_errors(tmp_path, capsys):
    cell = "001_150218_A1_CA1py_MPG"
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--recording", str(CA1 / "spikes.csv"), "--cell",
                          cell, "--sweep", "1061", "--out", str(out)], capsys)
    assert rc == 0, err
    t = load_target(out)
    assert t.ids == ["1061"] and t.n_spikes == 66
    assert t.sweeps[0].protocol.holding_pA == -105.31

    out2 = tmp_path / "t2.json"
    rc, _, err = run_cli(["make-target", "--recording", str(CA1 / "spikes.csv"), "--cell",
                          cell, "--sweep", "1054", "--out", str(out2)], capsys)
    assert rc == 2 and "unknown sweep '1054'" in err and "1060, 1061" in err
    rc, _, err = run_cli(["make-target", "--recording", str(CA1 / "spikes.csv"), "--cell",
                          "nobody", "--out", str(out2)], capsys)
    assert rc == 2 and "unknown cell 'nobody'" in err and "001_150303_A2_CA1py_MPG" in err
    rc, _, err = run_cli(["make-target", "--recording", str(CA1 / "spikes.csv"),
                          "--out", str(out2)], capsys)
    assert rc == 2 and "choose one with --cell" in err
    assert not out2.exists()


# --------------------------------------------------------------------------- small recordings


ROWS = ("c1,1,100,50,550,60.5\n"
        "c1,1,100,50,550,120.25\n"
        "c1,2,200,50,550,55.0\n")


def test_recording_without_sweeps_csv(tmp_path, capsys):
    p = small_recording(tmp_path, ROWS)
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--recording", str(p), "--out", str(out)], capsys)
    assert rc == 0
    notice = [ln for ln in err.splitlines() if "notice" in ln]
    assert len(notice) == 1 and "sweeps.csv" in notice[0]
    t = load_target(out)
    assert t.ids == ["1", "2"]
    assert t.sweeps[0].protocol == StepProtocol(50.0, 500.0, 650.0, 0.1, 0.0)
    np.testing.assert_array_equal(t.sweeps[0].spike_times_ms, [60.5, 120.25])
    assert t.provenance["citation"] is None


SWEEPS = ("cell_id,sweep,amplitude_pA,holding_pA,stim_start_ms,stim_end_ms,dt_ms,"
          "sweep_duration_ms\n"
          "c1,1,100,-10,50,550,0.05,800\n"
          "c1,2,200,-10,50,550,0.05,800\n"
          "c1,3,20,-10,50,550,0.05,800\n")


def test_recording_with_sweeps_csv_and_silent_sweep(tmp_path, capsys):
    p = small_recording(tmp_path, ROWS, SWEEPS)
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--recording", str(p), "--out", str(out)], capsys)
    assert rc == 0 and "notice" not in err
    t = load_target(out)
    assert t.ids == ["1", "2", "3"]
    assert [len(s.spike_times_ms) for s in t.sweeps] == [2, 1, 0]
    assert t.sweeps[2].protocol == StepProtocol(50.0, 500.0, 800.0, 0.05, -10.0)
    assert t.sweeps[2].amplitude_pA == 20.0
    # a silent sweep alone is an empty target
    rc, _, err = run_cli(["make-target", "--recording", str(p), "--sweep", "3",
                          "--out", str(out.with_name("e.json"))], capsys)
    assert rc == 2 and "empty target" in err and not out.with_name("e.json").exists()


# --------------------------------------------------------------------------- recording_sweeps


def _reference_sweeps(folder: Path) -> dict[str, list[str]]:
    """Independent read of a recording's sweeps.csv (every sweep of quality ok or without a
    quality column, silent ones too): cells in file order, sweep numbers sorted as
    integers."""
    cells: dict[str, list[int]] = {}
    with open(folder / "sweeps.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get("quality", "ok") != "ok":
                continue
            cells.setdefault(row["cell_id"], []).append(int(float(row["sweep"])))
    return {c: [str(n) for n in sorted(set(v))] for c, v in cells.items()}


@pytest.mark.parametrize("folder, n_cells, n_sweeps", [
    pytest.param(CA1, 4, 8, marks=needs_ca1),  # READMEs: 4 cells, 8 sweeps
    pytest.param(SSCX, 22, 666 - 25, marks=needs_sscx),  # 22 cells, 666 sweeps, 25 plateau
])
def test_recording_sweeps_of_the_real_recordings(folder, n_cells, n_sweeps):
    cells = recording_sweeps(folder / "spikes.csv")
    ref = _reference_sweeps(folder)
    assert cells == ref
    assert list(cells) == list(ref)  # cell order: the file's
    assert len(cells) == n_cells and sum(map(len, cells.values())) == n_sweeps
    # ids as make-target names them: a target of a cell's first sweeps has exactly these ids
    for cell in list(cells)[:3]:
        t = recording_target(folder / "spikes.csv", cell=cell)
        assert sorted(t.ids, key=int) == cells[cell]
        firing = [s.id for s in t.sweeps if len(s.spike_times_ms)]
        t1 = recording_target(folder / "spikes.csv", cell=cell, sweeps=[firing[0] + ".0"])
        assert t1.ids == [firing[0]]


def test_recording_sweeps_normalises_ids_and_orders_numerically(tmp_path):
    # ids written as 7.0 / 7 and 1054 / 1054.0 are one sweep each; silent sweep 3 counts;
    # numeric order (text order would put 1054 before 3 and 7)
    p = small_recording(tmp_path, "c1,1054,100,50,550,60.5\n"
                                  "c1,7.0,100,50,550,70\n"
                                  "c1,7.0,100,50,550,80\n"
                                  "c2,12,100,50,550,60\n",
                        "cell_id,sweep,amplitude_pA,holding_pA,stim_start_ms,stim_end_ms,"
                        "sweep_duration_ms\n"
                        "c1,1054.0,100,0,50,550,800\n"
                        "c1,7,100,0,50,550,800\n"
                        "c1,3,20,0,50,550,800\n"
                        "c2,12.000,100,0,50,550,800\n")
    assert recording_sweeps(p) == {"c1": ["3", "7", "1054"], "c2": ["12"]}
    t = recording_target(p, cell="c1", sweeps=["1054.0", "7"])
    assert t.ids == ["1054", "7"]
    # without sweeps.csv: the spike file's sweeps, with the reader's one-line notice
    alone = tmp_path / "alone"
    alone.mkdir()
    p2 = small_recording(alone, "c1,10,100,50,550,60\nc1,9.0,100,50,550,60\n")
    notice = io.StringIO()
    assert recording_sweeps(p2, notice=notice) == {"c1": ["9", "10"]}
    assert "notice" in notice.getvalue() and len(notice.getvalue().splitlines()) == 1


def test_recording_sweeps_bad_files_one_line(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        recording_sweeps(tmp_path / "nope.csv")
    p = small_recording(tmp_path, "c1,1,100,50,550,60\n")
    with pytest.raises(UserError, match="file not found"):  # a sweeps.csv named but absent
        recording_sweeps(p, tmp_path / "missing.csv")
    bad = small_recording(tmp_path, "c1,1,100,50,550,60\nc1,1,100,50,560,70\n")
    with pytest.raises(UserError, match=r"line 3: stim_end_ms 560 differs from 550 on line 2"):
        recording_sweeps(bad)


# --------------------------------------------------------------------------- target classes


def test_target_classes():
    assert class_of("preset", "euler") == "preset-euler"
    assert class_of("preset", "resolved") == class_of("preset", "resolved2") == "preset"
    assert [class_of(k) for k in ("prior", "times", "recording")] == [
        "prior", "times", "recording"]
    assert class_of("prior", "euler") == "prior"  # only presets split by scheme
    assert target_class({"kind": "preset", "truth": {"scheme": "euler"}}) == "preset-euler"
    assert target_class({"kind": "preset", "truth": {"scheme": "resolved"}}) == "preset"
    assert target_class({"kind": "recording", "truth": None}) == "recording"
    t = times_target([100, 300], 1000)
    assert target_class(t) == target_class(t.to_dict()) == "times"
    assert set(TARGET_CLASSES) == {class_of(k, s) for k in ("preset", "prior", "times",
                                                            "recording")
                                   for s in ("euler", "resolved", None)}
    with pytest.raises(UserError, match="unknown kind 'hh'"):
        class_of("hh")


# --------------------------------------------------------------------------- truth sweeps


def test_add_truth_sweeps_factor_one_reproduces_the_preset_sweep():
    t = preset_target("naud2008:adapting", scheme="resolved")
    t2 = add_truth_sweeps(t, [1.0, 1.5])
    assert t2.ids == ["0", "1", "2"]
    np.testing.assert_allclose(t2.sweeps[1].spike_times_ms, t.sweeps[0].spike_times_ms)
    assert t2.sweeps[2].amplitude_pA == pytest.approx(1.5 * t.sweeps[0].amplitude_pA)
    # more current, more spikes (adapting AdEx, f-I curve increasing)
    assert len(t2.sweeps[2].spike_times_ms) > len(t.sweeps[0].spike_times_ms)
    assert t2.provenance["heldout_amplitude_factors"] == [1.0, 1.5]
    with pytest.raises(UserError, match="heldout_amplitude_factors"):
        add_truth_sweeps(t, [1.5, 0.0])


def test_add_truth_sweeps_leaves_targets_without_truth():
    t = times_target([100, 300], 1000)
    assert add_truth_sweeps(t, [1.5]) is t


def _spike_rows(*rows):
    return "".join(r + "\n" for r in rows)


BAD_CASES = {
    "missing_column": (
        "cell_id,sweep,amplitude_pA,stim_start_ms,spike_time_ms\nc1,1,100,50,60\n", None,
        r"spikes.csv: missing column\(s\) stim_end_ms"),
    "semicolon": (
        HEADER.replace(",", ";") + "c1;1;100;50;550;60\n", None,
        "spikes.csv: line 1 looks semicolon-separated"),
    "non_numeric": (
        HEADER + _spike_rows("c1,1,100,50,550,60", "c1,1,100,50,550,abc"), None,
        "spikes.csv: line 3: spike_time_ms 'abc' is not a number"),
    "nan": (
        HEADER + _spike_rows("c1,1,100,50,550,NaN"), None,
        "spikes.csv: line 2: spike_time_ms is NaN"),
    "nan_amplitude": (
        HEADER + _spike_rows("c1,1,nan,50,550,60"), None,
        "spikes.csv: line 2: amplitude_pA is NaN"),
    "empty_field": (
        HEADER + _spike_rows("c1,1,100,,550,60"), None,
        "spikes.csv: line 2: stim_start_ms is empty"),
    "negative": (
        HEADER + _spike_rows("c1,1,100,50,550,-3"), None,
        "spikes.csv: line 2: negative spike_time_ms -3"),
    "unsorted": (
        HEADER + _spike_rows("c1,1,100,50,550,90", "c1,2,100,50,550,10",
                             "c1,1,100,50,550,80"), None,
        r"spikes.csv: line 4: spike_time_ms 80 is not after 90 \(line 2\) in cell c1 sweep 1"),
    "duplicate_time": (
        HEADER + _spike_rows("c1,1,100,50,550,90", "c1,1,100,50,550,90"), None,
        "spikes.csv: line 3: spike_time_ms 90 is not after 90"),
    "outside_no_sweeps_csv": (
        HEADER + _spike_rows("c1,1,100,50,550,90", "c1,1,100,50,550,650"), None,
        r"spikes.csv: line 3: spike_time_ms 650 is outside the sweep \[0, 650\) ms"),
    "outside_sweeps_csv": (
        HEADER + _spike_rows("c1,1,100,50,550,900"), SWEEPS,
        r"spikes.csv: line 2: spike_time_ms 900 is outside the sweep \[0, 800\) ms"),
    "empty": (HEADER, None, "no spikes and no sweeps .empty target."),
    "empty_file": ("", None, "spikes.csv: empty file"),
    "window_inconsistent": (
        HEADER + _spike_rows("c1,1,100,50,550,90", "c1,1,100,60,550,95"), None,
        r"spikes.csv: line 3: stim_start_ms 60 differs from 50 on line 2 for cell c1 sweep 1"),
    "amplitude_inconsistent": (
        HEADER + _spike_rows("c1,1,100,50,550,90", "c1,1,101,50,550,95"), None,
        "spikes.csv: line 3: amplitude_pA 101 differs from 100"),
    "window_backwards": (
        HEADER + _spike_rows("c1,1,100,550,50,90"), None,
        r"spikes.csv: line 2: stimulus ends \(stim_end_ms 50\) before it starts"),
    "ragged": (
        HEADER + _spike_rows("c1,1,100,50,550"), None,
        "spikes.csv: line 2: expected 6 comma-separated fields, got 5"),
    "sweeps_csv_missing_row": (
        HEADER + _spike_rows("c1,9,100,50,550,90"), SWEEPS,
        "sweeps.csv: no row for cell c1 sweep 9 .used by .*spikes.csv line 2"),
    "sweeps_csv_disagrees": (
        HEADER + _spike_rows("c1,1,100,50,560,90"), SWEEPS,
        "sweeps.csv: line 2: stim_end_ms 550 for cell c1 sweep 1 differs from 560"),
    "sweeps_csv_missing_column": (
        HEADER + _spike_rows("c1,1,100,50,550,90"),
        "cell_id,sweep,amplitude_pA,stim_start_ms,stim_end_ms\nc1,1,100,50,550\n",
        r"sweeps.csv: missing column\(s\) holding_pA, sweep_duration_ms"),
    "sweeps_csv_non_numeric": (
        HEADER + _spike_rows("c1,1,100,50,550,90"),
        SWEEPS.replace("c1,1,100,-10", "c1,1,100,minus ten"),
        "sweeps.csv: line 2: holding_pA 'minus ten' is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_recording_errors(tmp_path, capsys, case):
    spikes, sweeps, expect = BAD_CASES[case]
    p = write(tmp_path / "spikes.csv", spikes)
    if sweeps is not None:
        write(tmp_path / "sweeps.csv", sweeps)
    out = tmp_path / "t.json"
    rc, stdout, err = run_cli(["make-target", "--recording", str(p), "--out", str(out)],
                              capsys)
    assert rc == 2, (stdout, err)
    lines = [ln for ln in err.splitlines() if "notice" not in ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("snnfit make-target: error: ")
    assert "Traceback" not in err
    assert re.search(expect, lines[0]), lines[0]
    assert not out.exists()
    assert list(tmp_path.glob(".t.json*")) == []  # no temporary left behind


def test_recording_unreadable(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--recording", str(tmp_path / "none.csv"),
                          "--out", str(out)], capsys)
    assert rc == 2 and "none.csv: file not found" in err and not out.exists()
    rc, _, err = run_cli(["make-target", "--recording", str(tmp_path), "--out", str(out)],
                         capsys)
    assert rc == 2 and "is a directory" in err and not out.exists()
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    rc, _, err = run_cli(["make-target", "--recording", str(binary), "--out", str(out)],
                         capsys)
    assert rc == 2 and "bin.csv: cannot read as UTF-8" in err and not out.exists()


def test_recording_unknown_cell_and_sweep_small(tmp_path):
    p = small_recording(tmp_path, ROWS + "c2,5,100,50,550,70\n")
    with pytest.raises(UserError, match=r"unknown cell 'c3' \(available: c1, c2\)"):
        recording_target(p, cell="c3", notice=open("/dev/null", "w"))
    with pytest.raises(UserError, match=r"unknown sweep '4' for cell c1 \(available: 1, 2\)"):
        recording_target(p, cell="c1", sweeps=["4"], notice=open("/dev/null", "w"))
    t = recording_target(p, cell="c1", sweeps=["2.0", 1], notice=open("/dev/null", "w"))
    assert t.ids == ["2", "1"]


def test_options_that_do_not_apply(tmp_path, capsys):
    out = tmp_path / "t.json"
    rc, _, err = run_cli(["make-target", "--times", "100", "--duration", "1000", "--seed", "3",
                          "--out", str(out)], capsys)
    assert rc == 2 and "--seed does not apply to --times" in err and not out.exists()


# --------------------------------------------------------------------------- simulated targets


def _preset_names():
    from snnfit.sim.models import all_presets

    return sorted(all_presets())


@pytest.mark.parametrize("scheme", [None, "euler", "resolved"])
@pytest.mark.parametrize("name", _preset_names())
def test_preset_reproduces_simulate(tmp_path, capsys, name, scheme):
    from snnfit.sim.models import resolve_preset
    from snnfit.sim.simulate import simulate

    out = tmp_path / "p.json"
    argv = ["make-target", "--preset", name, "--out", str(out)]
    if scheme:
        argv[3:3] = ["--scheme", scheme]
    rc, _, err = run_cli(argv, capsys)
    assert rc == 0, err
    t = load_target(out)
    model, preset = resolve_preset(name)
    assert t.kind == "preset" and t.truth["model"] == model
    assert t.truth["scheme"] == (scheme or "euler")
    assert t.truth["params"] == dict(preset.params)
    assert t.provenance["citation"] == preset.citation
    (s,) = t.sweeps
    assert s.protocol == StepProtocol(100.0, 1000.0, 1200.0, 0.1, 0.0)
    assert s.amplitude_pA == preset.amplitude_pA
    res = simulate(model, dict(preset.params), preset.amplitude_pA, StepProtocol(),
                   scheme=scheme or "euler")
    assert len(s.spike_times_ms) > 0
    np.testing.assert_array_equal(s.spike_times_ms, res.spike_times_ms)


def test_preset_list_covers_the_paper():
    names = _preset_names()
    assert "naud2008:adapting" in names and "lif:default" in names


def test_preset_unknown(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc, _, err = run_cli(["make-target", "--preset", "naud2008:nope", "--out", str(out)], capsys)
    assert rc == 2 and "naud2008:nope" in err and not out.exists()


@pytest.mark.parametrize("model, seed, scheme", [("adex", 1, None), ("lif", 5, None),
                                                 ("izhikevich", 3, "euler")])
def test_prior_draw(tmp_path, capsys, model, seed, scheme):
    """The kept draw is the first of a one-at-a-time sequence of uniform draws (same seeded
    Generator) that fires 3..60 spikes, none before the onset, at 300 pA; rejections counted."""
    from snnfit.sim.models import get_model
    from snnfit.sim.simulate import simulate

    out = tmp_path / "p.json"
    argv = ["make-target", "--prior", model, "--seed", str(seed)]
    if scheme:
        argv += ["--scheme", scheme]
    argv += ["--out", str(out)]
    rc, _, err = run_cli(argv, capsys)
    assert rc == 0, err
    t = load_target(out)
    scheme = scheme or "resolved"
    spec = get_model(model).spec
    rng = np.random.default_rng(seed)
    for k in range(200):
        p = {n: float(rng.uniform(lo, hi)) for n, lo, hi in
             zip(spec.names, spec.lower(), spec.upper())}
        res = simulate(model, p, 300.0, StepProtocol(), scheme=scheme)
        n = len(res.spike_times_ms)
        if res.status == "ok" and 3 <= n <= 60 and res.spike_times_ms[0] >= 100.0:
            break
    else:
        pytest.fail("reference found no acceptable draw in 200")
    assert t.provenance["rejected_draws"] == k
    assert t.provenance["seed"] == seed
    assert t.truth == {"model": model, "scheme": scheme, "params": p}
    (s,) = t.sweeps
    assert s.amplitude_pA == 300.0
    np.testing.assert_array_equal(s.spike_times_ms, res.spike_times_ms)
    # same seed, same file
    out2 = tmp_path / "p2.json"
    assert run_cli(argv[:-1] + [str(out2)], capsys)[0] == 0
    assert json.loads(out2.read_text())["sweeps"] == json.loads(out.read_text())["sweeps"]


def test_prior_needs_seed_and_known_model(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc, _, err = run_cli(["make-target", "--prior", "adex", "--out", str(out)], capsys)
    assert rc == 2 and "--prior needs --seed" in err and not out.exists()
    rc, _, err = run_cli(["make-target", "--prior", "hh", "--seed", "1", "--out", str(out)],
                         capsys)
    assert rc == 2 and "unknown model 'hh'" in err and not out.exists()
