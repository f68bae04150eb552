"""The fit result (FitResult): the record's keys are the documented ones, every optimizer's
record survives a JSON round trip byte for byte, and a broken record gives one line naming
the file and the key."""

from __future__ import annotations

import json
import re

import pytest

from snnfit.cli import main
from snnfit.data.targets import preset_target, times_target, write_target
from snnfit.errors import UserError
from snnfit.fit import FitResult
from snnfit.io import dumps_json


def _documented_keys(root) -> list[str]:
    """Keys of the table "The fit record" in docs/fit.md, in the table's order."""
    text = (root / "docs" / "fit.md").read_text()
    table = text.split("## The fit record", 1)[1].split("\n\n", 1)[0]
    keys = []
    for line in table.splitlines()[3:]:  # heading, table header, separator
        first_cell = line.split("|")[1]
        keys += re.findall(r"`(\w+)`", first_cell)
    return keys


@pytest.fixture(scope="module")
def fit_files(tmp_path_factory):
    """One fit file per optimizer, written by ``snnfit fit`` (searched current for snn)."""
    d = tmp_path_factory.mktemp("records")
    adapting, times = d / "adapting.json", d / "times.json"
    write_target(adapting, preset_target("naud2008:adapting", scheme="resolved"))
    write_target(times, times_target([100, 300, 500], 1000.0))
    out = {}
    for opt, target, current, budget in (("cmaes", adapting, "recorded", 150),
                                         ("random", adapting, "recorded", 100),
                                         ("direct", adapting, "recorded", 120),
                                         ("snn", times, "search", 300)):
        path = d / f"{opt}.json"
        assert main(["fit", "--target", str(target), "--model", "adex", "--optimizer", opt,
                     "--current", current, "--budget", str(budget), "--seed", "1",
                     "--no-progress", "--out", str(path)]) == 0
        out[opt] = path
    return out


def test_record_keys_are_the_documented_keys(root, fit_files):
    doc = _documented_keys(root)
    assert len(doc) == len(set(doc)) > 30
    for path in fit_files.values():
        assert list(json.loads(path.read_text())) == doc


@pytest.mark.parametrize("opt", ["cmaes", "random", "direct", "snn"])
def test_round_trip_byte_for_byte(fit_files, opt):
    text = fit_files[opt].read_text()
    result = FitResult.load(fit_files[opt])
    assert result.optimizer == opt
    assert result.forward_equivalents == json.loads(text)["evaluations"] >= result.budget
    assert dumps_json(result.to_json()) == text
    again = FitResult.from_json(json.loads(dumps_json(result.to_json())))
    assert again == result and dumps_json(again.to_json()) == text


def test_each_missing_key_is_one_line_naming_file_and_key(fit_files, tmp_path):
    record = json.loads(fit_files["cmaes"].read_text())
    optional = {"loss_name", "at_bound"}  # added later: older records read with defaults
    for key in record:
        if key in optional:
            continue
        broken = {k: v for k, v in record.items() if k != key}
        path = tmp_path / f"no_{key}.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(UserError) as e:
            FitResult.load(path)
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg and repr(key) in msg, msg


@pytest.mark.parametrize("key,value,expected", [
    ("evaluations", "12", "an integer"),
    ("gamma", "high", "a number or null"),
    ("params", [1.0], "an object"),
    ("count_error", True, "an integer"),
])
def test_wrong_type_is_one_line_naming_the_key(fit_files, tmp_path, key, value, expected):
    record = json.loads(fit_files["cmaes"].read_text())
    record[key] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match=f"^{re.escape(str(path))}: {key}: expected {expected}"):
        FitResult.load(path)


def test_per_sweep_lists_must_match_the_sweeps(fit_files, tmp_path):
    record = json.loads(fit_files["cmaes"].read_text())
    record["amplitude_pA"] = record["amplitude_pA"] * 2
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match="amplitude_pA: expected one entry per sweep"):
        FitResult.load(path)
    record = json.loads(fit_files["cmaes"].read_text())
    del record["history"][0]["simulations"]
    path.write_text(json.dumps(record))
    with pytest.raises(UserError, match=r"history\[0\]: missing key 'simulations'"):
        FitResult.load(path)


@pytest.mark.parametrize("command", [
    ["simulate", "--fit", "{fit}"],
    ["evaluate", "--fit", "{fit}", "--target", "{fit}", "--out", "{out}"],
    ["plot", "{fit}", "--out", "{out}"],
])
def test_commands_reading_a_broken_fit_exit_2(fit_files, tmp_path, capsys, command):
    record = json.loads(fit_files["cmaes"].read_text())
    del record["protocols"]
    fit = tmp_path / "broken.json"
    fit.write_text(json.dumps(record))
    out = tmp_path / "out.json"
    argv = [a.format(fit=fit, out=out) for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.json" in err[0] and "'protocols'" in err[0]
    assert not out.exists()
