"""CLI: snnfit simulate / search-current / models output, and one-line errors for bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reference as R
from snnfit.cli import main
from snnfit.sim.models import MODELS, all_presets
from snnfit.sim.protocol import StepProtocol


def run(capsys, *argv):
    """(exit status, stdout, stderr) of snnfit.cli.main (argparse errors exit via SystemExit)."""
    try:
        rc = main(list(argv))
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_simulate_json(capsys):
    rc, out, err = run(capsys, "simulate", "--preset", "naud2008:adapting")
    assert rc == 0 and err == ""
    d = json.loads(out)
    for key in ("model", "params", "amplitude_pA", "protocol", "scheme", "status",
                "spike_times_ms"):
        assert key in d, key
    assert d["model"] == "adex" and d["scheme"] == "euler" and d["status"] == "ok"
    assert d["amplitude_pA"] == 500.0
    assert d["protocol"] == StepProtocol().to_dict()
    p = dict(all_presets()["naud2008:adapting"][1].params)
    assert d["params"] == p
    ref = R.naive_adex(p, 500.0, StepProtocol())
    np.testing.assert_allclose(d["spike_times_ms"], ref, atol=1e-6)


def test_simulate_set_protocol_and_scheme(capsys):
    rc, out, _ = run(capsys, "simulate", "--model", "lif", "--set", "t_ref=0", "--set",
                     "C=100", "--amplitude", "350", "--dt", "0.05", "--delay", "10",
                     "--duration", "100", "--t-stop", "150", "--scheme", "resolved")
    assert rc == 0
    d = json.loads(out)
    assert d["params"]["C"] == 100.0 and d["params"]["t_ref"] == 0.0
    assert d["protocol"]["dt_ms"] == 0.05 and d["scheme"] == "resolved"
    proto = StepProtocol(10.0, 100.0, 150.0, 0.05)
    ref = R.naive_lif(d["params"], 350.0, proto, "resolved")
    assert len(ref) > 3
    np.testing.assert_allclose(d["spike_times_ms"], ref, atol=1e-6)


def test_simulate_trace_csv(capsys, tmp_path):
    f = tmp_path / "trace.csv"
    rc, out, _ = run(capsys, "simulate", "--preset", "naud2008:tonic", "--t-stop", "150",
                     "--trace", str(f))
    assert rc == 0
    d = json.loads(out)
    with open(f) as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["t_ms", "V_mV", "w_pA"]
    data = np.array(rows[1:], dtype=float)
    assert data.shape == (1501, 3)
    np.testing.assert_allclose(data[:, 0], np.arange(1501) * 0.1, atol=1e-9)
    p = d["params"]
    assert data[0, 1] == p["EL"] and data[0, 2] == 0.0
    # a reset to Vr follows every spike: steps after the spike steps hold V = Vr (6 digits)
    k = (np.asarray(d["spike_times_ms"]) / 0.1).astype(int) + 1
    assert len(k) > 2
    np.testing.assert_allclose(data[k, 1], p["Vr"], atol=1e-4)
    assert np.all(data[:, 1] < p["Vpeak"])


def test_search_current_json(capsys):
    rc, out, _ = run(capsys, "search-current", "--preset", "naud2008:adapting",
                     "--n-spikes", "4")
    assert rc == 0
    d = json.loads(out)
    for key in ("amplitude_pA", "bracket_pA", "n_spikes", "status"):
        assert key in d, key
    assert d["status"] == "found" and d["n_spikes"] == 4
    lo, hi = d["bracket_pA"]
    assert lo == d["amplitude_pA"] <= hi
    # re-simulate through the CLI: 4 spikes in the step at both bracket ends
    for a in (lo, hi):
        rc, out, _ = run(capsys, "simulate", "--preset", "naud2008:adapting",
                         "--amplitude", repr(a))
        t = np.asarray(json.loads(out)["spike_times_ms"])
        assert ((t >= 100) & (t < 1100)).sum() == 4


def test_search_current_statuses(capsys):
    rc, out, _ = run(capsys, "search-current", "--model", "lif", "--n-spikes", "2",
                     "--max-amplitude", "150")
    assert rc == 0 and json.loads(out)["status"] == "silent"
    assert json.loads(out)["amplitude_pA"] is None
    rc, out, _ = run(capsys, "search-current", "--model", "lif", "--n-spikes", "2",
                     "--holding", "250")
    assert rc == 0 and json.loads(out)["status"] == "spontaneous"


def test_models(capsys):
    rc, out, _ = run(capsys, "models")
    assert rc == 0
    for name, m in MODELS.items():
        assert name in out
        for p in m.spec.params:
            assert p.description in out
    for preset in all_presets():
        assert preset in out
    rc, out, _ = run(capsys, "models", "--json")
    d = json.loads(out)
    assert set(d) == set(MODELS)
    assert d["adex"]["presets"]["naud2008:tonic"]["amplitude_pA"] == 500.0
    assert [p["name"] for p in d["izhikevich"]["params"]] == list(MODELS["izhikevich"].spec.names)


BAD = [
    (("simulate", "--model", "foo", "--amplitude", "1"), "model"),
    (("simulate", "--preset", "naud2008:nope"), "preset"),
    (("simulate", "--model", "lif", "--set", "foo=1", "--amplitude", "300"), "foo"),
    (("simulate", "--model", "lif", "--set", "C=abc", "--amplitude", "300"), "C"),
    (("simulate", "--model", "lif", "--amplitude", "abc"), "--amplitude"),
    (("simulate", "--model", "lif", "--amplitude", "nan"), "--amplitude"),
    (("simulate", "--model", "lif", "--set", "C=0", "--amplitude", "300"), "C"),
    (("simulate", "--model", "lif", "--set", "gL=-1", "--amplitude", "300"), "gL"),
    (("simulate", "--model", "adex", "--set", "DeltaT=0", "--amplitude", "300"), "DeltaT"),
    (("simulate", "--model", "adex", "--set", "tau_w=-5", "--amplitude", "300"), "tau_w"),
    (("simulate", "--model", "adex", "--set", "C=-1", "--amplitude", "300"), "C"),
    (("simulate", "--model", "izhikevich", "--set", "k=0", "--amplitude", "300"), "k"),
    (("simulate", "--model", "izhikevich", "--set", "a=0", "--amplitude", "300"), "a"),
    (("simulate", "--model", "lif", "--set", "t_ref=-1", "--amplitude", "300"), "t_ref"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--dt", "0"), "dt"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--dt", "-0.1"), "dt"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--dt", "x"), "--dt"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--duration", "-5"), "duration"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--delay", "-5"), "delay"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--t-stop", "0"), "t_stop"),
    (("simulate", "--model", "lif", "--amplitude", "300", "--scheme", "rk4"), "scheme"),
    (("simulate", "--preset", "naud2008:tonic", "--model", "lif"), "preset"),
    (("simulate", "--model", "lif"), "--amplitude"),
    (("search-current", "--model", "lif", "--n-spikes", "-1"), "--n-spikes"),
    (("search-current", "--model", "lif", "--n-spikes", "two"), "--n-spikes"),
    (("search-current", "--model", "lif", "--n-spikes", "2", "--threads", "0"), "--threads"),
    (("search-current", "--model", "lif", "--n-spikes", "2", "--max-amplitude", "-3"),
     "max_amplitude"),
    (("search-current", "--model", "nope", "--n-spikes", "2"), "model"),
]


@pytest.mark.parametrize("argv,field", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_input_one_line(capsys, argv, field):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0] and field in lines[0], lines[0]
    assert "Traceback" not in err


def test_possible_values_are_accepted(capsys):
    """vt <= vr is possible (the converted 2003 RZ cell has vr = vt = -62.5 mV); gL = 0 and
    negative a are allowed too."""
    for argv in (("simulate", "--preset", "izhikevich2003:RZ"),
                 ("simulate", "--model", "izhikevich", "--set", "vt=-65", "--set", "vr=-60",
                  "--amplitude", "100"),
                 ("simulate", "--model", "lif", "--set", "gL=0", "--amplitude", "100"),
                 ("simulate", "--model", "adex", "--set", "a=-10", "--amplitude", "300"),
                 ("simulate", "--model", "lif", "--amplitude", "300", "--duration", "0")):
        rc, out, err = run(capsys, *argv)
        assert rc == 0, (argv, err)
        assert json.loads(out)["status"] in ("ok", "spontaneous")


def test_subprocess_bad_input():
    exe = Path(sys.executable).with_name("snnfit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snnfit"]
    p = subprocess.run(cmd + ["simulate", "--model", "lif", "--set", "C=-3", "--amplitude",
                              "100"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1 and "C" in p.stderr and "Traceback" not in p.stderr


def test_bench_writes_csvs(capsys, tmp_path):
    """A tiny `snnfit bench` run: the CSVs have the documented columns and sane numbers (the
    bench itself checks that its scalar loops count the same spikes as the kernels)."""
    out = tmp_path / "b" / "kernels.csv"
    rc, stdout, _ = run(capsys, "bench", "--batches", "1,3", "--repeats", "1",
                        "--no-fastmath", "--out", str(out))
    assert rc == 0 and stdout.strip() == str(out)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["model", "scheme", "batch", "threads", "neuron_steps_per_s",
                             "ratio_to_scalar"]
    assert {(r["model"], r["scheme"], r["batch"]) for r in rows} == {
        (m, s, b) for m in MODELS for s in ("euler", "resolved") for b in ("1", "3")}
    assert all(float(r["neuron_steps_per_s"]) > 0 and float(r["ratio_to_scalar"]) > 0
               for r in rows)
    with open(out.with_name("search.csv")) as fh:
        srows = list(csv.DictReader(fh))
    assert [r["n_sets"] for r in srows] == ["1", "256"]
    assert all(float(r["time_ms"]) > 0 for r in srows)


def test_bench_bad_input(capsys):
    rc, _, err = run(capsys, "bench", "--batches", "1,x")
    assert rc == 2 and "--batches" in err and len(err.strip().splitlines()) == 1
