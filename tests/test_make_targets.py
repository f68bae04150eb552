"""One job per config entry of ``targets:`` (``snnfit make-targets``, the study's rules
``targets_<entry>``): its files equal byte for byte those of the two-step route it replaces
(``snnfit make-target`` to a raw file, then the study's split step, written out here as it
was: load the raw file, the truth at the amplitude factors, the split in provenance), for
every kind of entry; bad plans are one-line errors that name the entry."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from snnfit import cli
from snnfit.commands.make_targets import make_targets
from snnfit.data.targets import load_target, write_target
from snnfit.data.truth import truth_at_factors
from snnfit.errors import UserError
from snnfit.study.design import study_targets, target_entries, target_plan

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SSCX = SHARED / "recordings" / "sscx_l5pc" / "spikes.csv"
CA1 = SHARED / "recordings" / "ca1_pyramidal" / "spikes.csv"
ABF = SHARED / "raw" / "pyabf" / "18711001.abf"


def run_cli(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def two_step(spec, raw: Path, out: Path, capsys) -> None:
    """The route of the rules make_target + target before: make-target's file, then the
    split step (workflow/scripts/target.py as it was)."""
    rc, _, err = run_cli(["make-target", *shlex.split(spec.args), "--out", raw], capsys)
    assert rc == 0, err
    target = load_target(raw)
    if spec.factors:
        target = truth_at_factors(target, spec.factors)
    target.provenance["split"] = {
        "train": spec.train,
        "heldout": spec.heldout,
        "role": spec.roles,
        "repeat_pairs": [list(p) for p in spec.repeat_pairs],
    }
    write_target(out, target)


def _config(tmp_path: Path, capsys) -> dict:
    """Every kind of entry: presets at two schemes, priors of two kinds and two seeds, fixed
    times, and the recordings present here (SSCx cells with held-out sweeps and repeats, a
    CA1 cell with two sweeps, an ingested ABF file whose sweeps have prepulse epochs)."""
    recordings = []
    if SSCX.exists():
        recordings.append({"name": "sscx", "spikes_csv": str(SSCX),
                           "cells": ["C070109A4-C1", "C060110A2-SR-C1"]})
    if CA1.exists():
        recordings.append({"name": "ca1", "spikes_csv": str(CA1),
                           "cells": ["001_150216_A1_CA1py_MPG"]})
    if ABF.exists():
        rc, _, err = run_cli(["ingest", ABF, "--out", tmp_path / "abf"], capsys)
        assert rc == 0, err
        recordings.append({"name": "abf", "spikes_csv": str(tmp_path / "abf" / "spikes.csv")})
    return {"targets": {
        "synthetic": {"amplitude_factors": [1.0, 1.5, 2.0, 2.5], "train_factors": [1.0, 2.0]},
        "presets": [{"name": "ad", "preset": "naud2008:adapting",
                     "schemes": ["resolved", "euler"]}],
        "priors": [{"name": "plain", "model": "adex", "kind": "nonadapting", "seeds": [21, 22]},
                   {"name": "lifp", "model": "lif", "seeds": [41]}],
        "times": [{"name": "fixed", "times_ms": [100, 250.5, 700], "duration_ms": 1000,
                   "delay_ms": 100}],
        "recordings": recordings,
    }}


def test_entry_jobs_write_the_two_step_files_byte_for_byte(tmp_path, capsys):
    specs = study_targets(_config(tmp_path, capsys), notice=lambda m: None)
    entries = target_entries(specs)
    expected = {"ad": ["ad-resolved", "ad-euler"], "plain": ["plain-s21", "plain-s22"],
                "lifp": ["lifp-s41"], "fixed": ["fixed"]}
    assert {k: v for k, v in entries.items() if k in expected} == expected
    assert sum(map(len, entries.values())) == len(specs)
    old, new = tmp_path / "old", tmp_path / "new"
    for name, spec in specs.items():
        two_step(spec, old / "raw" / f"{name}.json", old / f"{name}.json", capsys)
    kinds = set()
    for entry, names in entries.items():
        # the provenance names make-target's raw file of the two-step route (same string)
        plan = [target_plan(specs[t], str(new / f"{t}.json"), str(old / "raw" / f"{t}.json"))
                for t in names]
        assert make_targets({"targets": plan}, entry, log=open("/dev/null", "w")) == \
            [p["out"] for p in plan]
        for t in names:
            a, b = (old / f"{t}.json").read_bytes(), (new / f"{t}.json").read_bytes()
            assert a == b, t
            kinds.add(json.loads(b)["kind"])
    assert {"preset", "prior", "times"} <= kinds
    assert ("recording" in kinds) == bool(_config(tmp_path, capsys)["targets"]["recordings"])
    # the split is what the design says; synthetic truths at their four amplitudes
    d = json.loads((new / "ad-resolved.json").read_text())
    assert [s["id"] for s in d["sweeps"]] == ["x1", "x1.5", "x2", "x2.5"]
    assert d["provenance"]["split"]["heldout"] == ["x1.5", "x2.5"]
    if SSCX.exists():
        d = json.loads((new / "sscx-C070109A4-C1.json").read_text())
        assert d["provenance"]["split"]["repeat_pairs"] and \
            d["provenance"]["split"]["role"] == specs["sscx-C070109A4-C1"].roles


def test_cli_make_targets_plan_and_a_plan_without_split(tmp_path, capsys):
    """Without split (and command_out) an entry's file is exactly make-target's."""
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"targets": [
        {"make": "--prior lif --seed 3", "out": str(tmp_path / "a.json")},
        {"make": ["--times", "100,300", "--duration", "500"], "out": str(tmp_path / "b.json")},
    ]}))
    rc, _, err = run_cli(["make-targets", "--plan", plan], capsys)
    assert rc == 0, err
    assert "wrote 2 target file(s)" in err
    for name, argv in (("a", ["--prior", "lif", "--seed", "3"]),
                       ("b", ["--times", "100,300", "--duration", "500"])):
        # make-target records its --out in the file: write it to the same path, compare
        path = tmp_path / f"{name}.json"
        got = path.read_bytes()
        rc, _, err = run_cli(["make-target", *argv, "--out", path], capsys)
        assert rc == 0, err
        assert path.read_bytes() == got


@pytest.mark.parametrize("entry,needle", [
    ({"make": "--prior adex", "out": "X"}, "--prior needs --seed"),
    ({"make": "--times 100 --duration 500 --bogus 1", "out": "X"}, "unrecognized arguments: --bogus 1"),
    ({"make": "--preset naud2008:nope", "out": "X"}, "naud2008:nope"),
    ({"out": "X"}, "missing key 'make'"),
    ({"make": "--prior lif --seed 1", "out": "X", "colour": 1}, "unknown key 'colour'"),
    ({"make": "--prior lif --seed 1", "out": "X", "split": {"train": []}},
     "split: expected an object with keys"),
])
def test_bad_plan_entry_names_it_and_writes_nothing_for_it(tmp_path, capsys, entry, needle):
    good = {"make": "--times 100 --duration 500", "out": str(tmp_path / "good.json")}
    entry = {**entry, "out": str(tmp_path / "bad.json")}
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"targets": [good, entry]}))
    rc, out, err = run_cli(["make-targets", "--plan", plan], capsys)
    assert rc == 2
    # a line per file written (the good entry, if the bad one is found only when made), then
    # the error, one line
    lines = [ln for ln in err.strip().splitlines() if not ln.endswith("times, sweeps 0")]
    assert len(lines) == 1 and lines[0].startswith("snnfit make-targets: error: "), err
    assert f"{plan}: targets[1]" in lines[0] and needle in lines[0], lines[0]
    assert not (tmp_path / "bad.json").exists()
    with pytest.raises(UserError, match="expected an object with a list 'targets'"):
        make_targets({"fits": []})
