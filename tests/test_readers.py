"""Readers: channel roles from units (a swapped cell, a manifest naming the channels wrongly,
waves in pA and mV), NWB files written with pynwb from the real IBW and ABF sweeps ingest to
the same tables as the direct path, and bad input (damaged, empty, random, truncated files,
missing units, missing channels or files, no current clamp, no step): one line naming the file
(and the sweep), exit status 2, nothing written."""

from __future__ import annotations

import csv
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from ingest_helpers import (ABF_DIR, IBW_DIR, MANIFEST, copy_cell, fixture_entries,
                            ibw_variant, manifest, needs_raw, write_nwb)
from snnfit import cli
from snnfit.data.ingest import ingest
from snnfit.data.readers import read_manifest, read_nwb, read_recordings, unit_role
from snnfit.errors import UserError

pytestmark = needs_raw
DEVNULL = open(os.devnull, "w")


def run_cli(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def tables_equal(a, b, tol=1e-3):
    """Same sweeps, counts, edges, quality and epochs; numbers within ``tol``."""
    assert len(a.sweeps) == len(b.sweeps)
    for x, y in zip(a.sweeps, b.sweeps):
        for k, v in x.row.items():
            if k in ("current_file", "voltage_file", "current_source"):
                continue
            if isinstance(v, float):
                assert y.row[k] == pytest.approx(v, abs=tol), (x.row["sweep"], k)
            else:
                assert y.row[k] == v, (x.row["sweep"], k)
        np.testing.assert_allclose(x.spike_times_ms, y.spike_times_ms, atol=tol)
        assert len(x.epochs) == len(y.epochs) and x.main == y.main
        for ex, ey in zip(x.epochs, y.epochs):
            assert ex.start_ms == pytest.approx(ey.start_ms, abs=1e-9)
            assert ex.end_ms == pytest.approx(ey.end_ms, abs=1e-9)
            assert ex.amplitude_pA == pytest.approx(ey.amplitude_pA, abs=tol)


def test_unit_role():
    assert unit_role("V") == ("voltage", 1e3) and unit_role("mV") == ("voltage", 1.0)
    assert unit_role("volts") == ("voltage", 1e3) and unit_role(b"A") == ("current", 1e12)
    assert unit_role("pA") == ("current", 1.0) and unit_role("amperes") == ("current", 1e12)
    assert unit_role("nA") == ("current", 1e3) and unit_role("1.0 pA") == ("current", 1.0)
    for bad in ("", None, "dimensionless", "s", "Ohm", "furlong"):
        assert unit_role(bad) is None


# --------------------------------------------------------------------------- channel roles


def test_swapped_cell_units_decide(tmp_path):
    """C080501B2-SR-C1 records the voltage on ch0: its manifest (right) and a manifest naming
    ch0 as the current (wrong) give the same sweeps; the wrong one says so in a notice."""
    cell = "C080501B2-SR-C1"
    right = read_manifest(MANIFEST, notice=DEVNULL)
    right = [s for s in right if s.cell_id == cell]
    wrong_entries = [dict(e, i_file=e["v_file"], v_file=e["i_file"])
                     for e in fixture_entries(cell)]
    assert all("_ch0_" in e["i_file"] for e in wrong_entries)
    m = manifest(tmp_path / "wrong.json", {cell: wrong_entries}, root=str(IBW_DIR))
    notes = tmp_path / "notes.txt"
    with open(notes, "w") as fh:
        wrong = read_manifest(m, notice=fh)
    lines = notes.read_text().splitlines()
    assert len(lines) == len(right) and all("the units decide (swapped)" in ln for ln in lines)
    assert all("_ch0_" in s.voltage_file and "_ch1_" in s.current_file for s in wrong)
    for a, b in zip(right, wrong):
        np.testing.assert_array_equal(a.v_mV, b.v_mV)
        np.testing.assert_array_equal(a.i_pA, b.i_pA)
    tables_equal(ingest(right), ingest(wrong), tol=0)


def test_units_from_the_file(tmp_path):
    """Waves stored in pA and mV (values scaled, unit strings changed) ingest like the
    original A and V waves."""
    cell = "C061208B1-SR-C1"
    entries = fixture_entries(cell)[:4]
    (tmp_path / cell).mkdir()
    for e in entries:
        ibw_variant(IBW_DIR / e["i_file"], tmp_path / e["i_file"], unit="pA", scale=1e12)
        ibw_variant(IBW_DIR / e["v_file"], tmp_path / e["v_file"], unit="mV", scale=1e3)
    scaled = read_manifest(manifest(tmp_path / "m.json", {cell: entries}), notice=DEVNULL)
    orig = [s for s in read_manifest(MANIFEST, notice=DEVNULL)
            if s.cell_id == cell][:4]
    for a, b in zip(orig, scaled):
        np.testing.assert_allclose(a.v_mV, b.v_mV, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(a.i_pA, b.i_pA, rtol=1e-6, atol=1e-4)
    tables_equal(ingest(orig), ingest(scaled), tol=1e-3)


# --------------------------------------------------------------------------- NWB round trip


@pytest.mark.parametrize("table", [True, False], ids=["icephys-table", "acquisition-only"])
def test_nwb_from_ibw_equals_direct(tmp_path, table):
    direct = [s for s in read_recordings([MANIFEST], notice=DEVNULL)
              if s.cell_id in ("C061208B1-SR-C1", "C070109A4-C1")]
    for cell in ("C061208B1-SR-C1", "C070109A4-C1"):
        sweeps = [s for s in direct if s.cell_id == cell]
        path = write_nwb(tmp_path / f"{cell}.nwb", sweeps, table=table)
        got = read_nwb(path, cell_id=cell)
        assert [s.sweep for s in got] == [s.sweep for s in sweeps]
        assert all(s.protocol == "IDrest" and s.current_source == "stimulus" for s in got)
        tables_equal(ingest(sweeps), ingest(got))


@pytest.mark.parametrize("name", ["18711001.abf", "2019_07_24_0055_fsi.abf"])
def test_nwb_from_abf_equals_direct(tmp_path, name):
    direct = read_recordings([ABF_DIR / name])
    path = write_nwb(tmp_path / f"{Path(name).stem}.nwb", direct, table=True)
    got = read_nwb(path)  # cell id = file stem, the same as the ABF's
    assert got[0].cell_id == direct[0].cell_id
    tables_equal(ingest(direct), ingest(got))


def test_nwb_cli_round_trip(tmp_path, capsys):
    direct = read_recordings([ABF_DIR / "18711001.abf"])
    nwb = write_nwb(tmp_path / "18711001.nwb", direct, table=True)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(["ingest", ABF_DIR / "18711001.abf", "--out", a], capsys)[0] == 0
    assert run_cli(["ingest", nwb, "--out", b], capsys)[0] == 0
    assert (a / "spikes.csv").read_text() == (b / "spikes.csv").read_text()
    assert (a / "epochs.csv").read_text() == (b / "epochs.csv").read_text()
    ra = list(csv.DictReader(open(a / "sweeps.csv")))
    rb = list(csv.DictReader(open(b / "sweeps.csv")))
    for x, y in zip(ra, rb):
        for k in x:
            if k not in ("current_file", "voltage_file", "current_source", "protocol"):
                assert x[k] == y[k], k
    assert rb[0]["protocol"] == "FICurve_Hyperpolarizing_KL"
    assert run_cli(["make-target", "--recording", b / "spikes.csv", "--out",
                    tmp_path / "t.json"], capsys)[0] == 0


def test_several_files_one_cell(tmp_path, capsys):
    """--cell-id joins files into one cell; sweep ids get the file stem; runs (repeat) are
    counted per cell and protocol."""
    out = tmp_path / "o"
    rc, _, err = run_cli(["ingest", ABF_DIR / "18711001.abf", ABF_DIR /
                          "2019_07_24_0055_fsi.abf", "--cell-id", "cellA", "--out", out], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader(open(out / "sweeps.csv")))
    assert {r["cell_id"] for r in rows} == {"cellA"} and len(rows) == 47
    assert rows[0]["sweep"] == "18711001_0" and rows[30]["sweep"] == "2019_07_24_0055_fsi_0"
    assert {r["repeat"] for r in rows} == {"0"}  # two protocols, one run each
    assert [r["step_index"] for r in rows] == [str(k) for k in range(30)] + \
        [str(k) for k in range(17)]


# --------------------------------------------------------------------------- bad input


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def _random(path: Path, n: int = 6000, prefix: bytes = b"") -> Path:
    path.write_bytes(prefix + np.random.default_rng(7).bytes(n))
    return path


def _cut(src: Path, dst: Path, frac: float) -> Path:
    b = src.read_bytes()
    dst.write_bytes(b[:int(len(b) * frac)])
    return dst


def _ibw_case(tmp_path: Path, change) -> Path:
    """A one-sweep manifest of C061208B1-SR-C1 sweep 76 whose waves ``change`` edits."""
    cell = "C061208B1-SR-C1"
    e = fixture_entries(cell)[0]
    (tmp_path / cell).mkdir()
    for key in ("i_file", "v_file"):
        (tmp_path / e[key]).write_bytes((IBW_DIR / e[key]).read_bytes())
    entry = change(tmp_path, dict(e)) or e
    return manifest(tmp_path / "m.json", {cell: [entry]})


def _nwb_case(tmp_path: Path, edit=None, **kw) -> Path:
    sweeps = read_recordings([ABF_DIR / "18711001.abf"])[8:10]
    if edit is not None:
        sweeps = [edit(s) for s in sweeps]
    return write_nwb(tmp_path / "case.nwb", sweeps, **kw)


def _no_stimulus(path: Path) -> Path:
    import h5py

    with h5py.File(path, "r+") as h:
        del h["stimulus/presentation/data_00009_DA0"]
    return path


ABF = ABF_DIR / "18711001.abf"
# (case id, make(tmp) -> argv after "ingest", text the one-line error must contain)
BAD = [
    ("empty-abf", lambda t: [_write(t / "e.abf", b"")],
     "e.abf: empty file"),
    ("empty-nwb", lambda t: [_write(t / "e.nwb", b"")],
     "e.nwb: empty file"),
    ("empty-manifest", lambda t: [_write(t / "e.json", b"")],
     "e.json: empty file"),
    ("random-abf-magic", lambda t: [_random(t / "r.abf", prefix=b"ABF2")],
     "r.abf: cannot read as an Axon ABF file"),
    ("random-abf", lambda t: [_random(t / "r.abf")], "r.abf: not an Axon ABF file"),
    ("random-nwb", lambda t: [_random(t / "r.nwb")], "r.nwb: not an NWB (HDF5) file"),
    ("random-ibw", lambda t: [_ibw_case(t, lambda d, e: _random(d / e["v_file"]) and None)],
     "exp_IDrest_ch1_76.ibw: cannot read as an Igor binary wave"),
    ("truncated-abf", lambda t: [_cut(ABF, t / "c.abf", 0.6)],
     "c.abf: cannot read as an Axon ABF file (damaged or truncated?"),
    ("truncated-nwb", lambda t: [_cut(_nwb_case(t), t / "c.nwb", 0.5)],
     "c.nwb: cannot read as an NWB file"),
    ("truncated-ibw", lambda t: [_ibw_case(t, lambda d, e: ibw_variant(
        IBW_DIR / e["i_file"], d / e["i_file"], keep_bytes=20000) and None)],
     "exp_IDrest_ch0_76.ibw: cannot read as an Igor binary wave (truncated?"),
    ("no-current-clamp", lambda t: [_nwb_case(t, kinds="vc")],
     "case.nwb: no current-clamp sweeps"),
    ("no-step", lambda t: [_nwb_case(t, edit=lambda s: dataclasses.replace(
        s, i_pA=np.full_like(s.i_pA, 20.0)))],
     "case.nwb: sweep 8: the stimulus has no step"),
    ("missing-units-ibw", lambda t: [_ibw_case(t, lambda d, e: ibw_variant(
        IBW_DIR / e["i_file"], d / e["i_file"], unit="") and None)],
     "exp_IDrest_ch0_76.ibw: wave is in no units"),
    ("no-such-channel", lambda t: [ABF, "--v-channel", "IN 5"],
     "18711001.abf: no channel 'IN 5'"),
    ("channel-wrong-units", lambda t: [ABF, "--i-channel", "IN 0"],
     "18711001.abf: channel 'IN 0' (--i-channel) is in 'mV', not a current"),
    ("manifest-missing-file", lambda t: [_ibw_case(t, lambda d, e: dict(
        e, v_file=e["v_file"].replace("_76", "_99")))],
     "exp_IDrest_ch1_99.ibw: file not found"),
    ("both-waves-volts", lambda t: [_ibw_case(t, lambda d, e: dict(e, i_file=e["v_file"]))],
     "sweep 76: C061208B1-SR-C1/exp_IDrest_ch1_76.ibw is in V and"),
    ("invalid-json", lambda t: [_write(t / "m.json", '{"cells": {')],
     "m.json: line 1 column 12: invalid JSON"),
    ("nwb-no-stimulus", lambda t: [_no_stimulus(_nwb_case(t, table=False))],
     "case.nwb: acquisition 'data_00009_AD0' (sweep 9): no CurrentClampStimulusSeries"),
    ("nwb-lengths-differ", lambda t: [_nwb_case(t, edit=lambda s: dataclasses.replace(
        s, i_pA=s.i_pA[:-10]))],
     "case.nwb: sweep 8: response has 30000 samples, stimulus 29990"),
    ("unknown-extension", lambda t: [_write(t / "x.txt", "1")],
     "x.txt: unknown file type '.txt'"),
    ("bare-ibw", lambda t: [IBW_DIR / "C061208B1-SR-C1" / "exp_IDrest_ch0_76.ibw"],
     "exp_IDrest_ch0_76.ibw: an Igor wave holds one channel of one sweep"),
    ("ljp-without-manifest", lambda t: [ABF, "--ljp-mV", "manifest"],
     "18711001.abf: sweep 0: --ljp-mV manifest, but no liquid junction potential"),
    ("same-file-twice", lambda t: [ABF, ABF, "--cell-id", "c"],
     "18711001.abf: sweep 0: cell c sweep 18711001_0 is also in"),
    ("missing-file", lambda t: [t / "nope.abf"], "nope.abf: file not found"),
]


@pytest.mark.parametrize("case,make,expect", BAD, ids=[b[0] for b in BAD])
def test_bad_input(tmp_path, capsys, case, make, expect):
    src = tmp_path / "in"
    src.mkdir()
    argv = make(src)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(["ingest", *argv, "--out", out], capsys)
    lines = err.strip().splitlines()
    assert rc == 2, (case, err)
    assert len(lines) == 1 and lines[0].startswith("snnfit ingest: error: "), err
    assert expect in lines[0], lines[0]
    assert not out.exists() and stdout == ""


def test_error_keeps_previous_output(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(["ingest", ABF, "--out", out], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "e.abf").write_bytes(b"")
    rc, _, _ = run_cli(["ingest", ABF, tmp_path / "e.abf", "--out", out], capsys)
    assert rc == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_bad_manifest_structure(tmp_path):
    for text, expect in (('{"cells": []}', "expected a manifest object with 'cells'"),
                         ('{"cells": {"c": {"experiments": {"IDrest": {"files": []}}}}}',
                          "cells.c.experiments.IDrest: expected a non-empty list 'files'"),
                         ('{"cells": {"c": {"ljp": "x", "experiments": {}}}}',
                          "cells.c.ljp: expected a number"),
                         ('{"cells": {"c": {"experiments": {"IDrest": {"files": [{"i_file": '
                          '"a.ibw"}]}}}}}', "files[0].v_file: missing")):
        m = tmp_path / "m.json"
        m.write_text(text)
        with pytest.raises(UserError, match=expect.replace("[", r"\[").replace("]", r"\]")):
            read_manifest(m)
    with pytest.raises(UserError, match="no experiment 'IV'"):
        read_manifest(MANIFEST, protocols=["IV"], notice=DEVNULL)
