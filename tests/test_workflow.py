"""The Snakemake study: lint, formatting, dry runs, config validation, and (slow) the full
quick run in a scratch directory, checked against the grid counted by hand from
config/quick.yaml.

Run from the project root with the venv:  .venv/bin/python -m pytest -q tests/test_workflow.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
SNAKEFMT = BIN / "snakefmt"
CA1 = ROOT.parent / "shared" / "data" / "recordings" / "ca1_pyramidal" / "spikes.csv"
ABF = ROOT.parent / "shared" / "data" / "raw" / "pyabf"

pytestmark = pytest.mark.skipif(not SNAKEMAKE.exists(), reason="snakemake not installed")


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(args, cwd=ROOT, timeout=600):
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _scratch(tmp_path: Path) -> Path:
    """A project directory whose config/ and reports/ are the real ones, and whose
    ../shared is the real shared data (the config's relative recording path resolves)."""
    work = tmp_path / "main"
    work.mkdir()
    for name in ("config", "reports"):
        (work / name).symlink_to(ROOT / name)
    if (ROOT.parent / "shared").exists():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return work


def _smk(work: Path, *args):
    return [str(SNAKEMAKE), "--snakefile", str(ROOT / "workflow" / "Snakefile"),
            "--profile", str(ROOT / "workflow" / "profiles" / "default"), *args]


def test_lint():
    r = _run([str(SNAKEMAKE), "--lint"])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Congratulations, your workflow is in a good condition" in r.stdout + r.stderr


def test_snakefmt_check():
    if not SNAKEFMT.exists():
        pytest.skip("snakefmt not installed")
    r = _run([str(SNAKEFMT), "--check", "workflow/"])
    assert r.returncode == 0, r.stderr[-3000:]


def _job_counts(out: str) -> dict[str, int]:
    block = out.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}


def test_dry_run_default_config(tmp_path):
    work = _scratch(tmp_path)
    r = _run(_smk(work, "-n", "--cores", "2"), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = _job_counts(r.stdout + r.stderr)
    # config/config.yaml, counted by hand: targets 4 presets + 3 priors + 1 times + 4 CA1
    # cells = 12; adaptation 12 x 3 models x 3 seeds = 108; dimensionality 5 targets
    # (preset = the 2 resolved presets, 3 priors) x 3 models x 3 reduced spaces x 3 seeds
    # = 135 (full is shared); optimizers 9 targets (preset, prior, 4 recordings) x 2 models
    # x 4 optimizers x 3 seeds = 216 (its own budget: nothing shared)
    n_cells = 4 if CA1.exists() else 0
    n_targets = 8 + n_cells
    assert counts["make_target"] == n_targets
    assert counts["fit"] == 3 * 3 * n_targets + 135 + 2 * 4 * 3 * (5 + n_cells)
    # held-out: adaptation fits of every target but the fixed times
    assert counts["heldout"] == 3 * 3 * (n_targets - 1)
    assert counts["report"] == 3


@pytest.mark.parametrize("extra,needle", [
    ("bogus_key: 1\n", "bogus_key"),
    ("fit:\n  threads: 0\n", "threads"),
])
def test_bad_config_stops_before_any_job(tmp_path, extra, needle):
    work = _scratch(tmp_path)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text((ROOT / "config" / "quick.yaml").read_text() + "\n" + extra)
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert "Error validating config file" in err and needle in err
    assert "Job stats" not in err


@pytest.mark.parametrize("dim,needle", [
    ("a,b,tau_x", "unknown parameter 'tau_x' for model adex"),  # passes the schema's pattern
    ("a,b,a", "a listed twice"),
    ("pca:11", "K must be at most 10"),
])
def test_bad_dim_is_caught_by_the_package_before_any_job(tmp_path, dim, needle):
    work = _scratch(tmp_path)
    cfg = tmp_path / "bad.yaml"
    text = (ROOT / "config" / "quick.yaml").read_text()
    assert '"a,b,tau_w"' in text
    cfg.write_text(text.replace('"a,b,tau_w"', f'"{dim}"', 1))
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    err = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"config: experiments.dimensionality.dims.adex: {dim!r}: {needle}" in err
    assert "Job stats" not in err


def test_schema_input_defaults_are_the_front_ends():
    # the schema (YAML) cannot import the package: its defaults must equal the front end's
    import yaml

    from snnfit.fit.frontend import FrontEndSettings

    fe = FrontEndSettings()
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    props = schema["properties"]["inputs"]["properties"]
    defaults = {"n_channels": fe.input_channels, "rate_hz": fe.input_rate_hz,
                "steps": fe.input_steps, "dt_ms": fe.input_dt_ms}
    assert {k: p["default"] for k, p in props.items()} == defaults
    # and the default study runs the front end at its defaults
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["inputs"] == defaults


def test_unknown_target_selector_names_it(tmp_path):
    work = _scratch(tmp_path)
    cfg = tmp_path / "bad.yaml"
    text = (ROOT / "config" / "quick.yaml").read_text()
    cfg.write_text(text.replace("targets: [preset]", "targets: [no-such-target]", 1))
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    assert r.returncode != 0 and "no-such-target" in r.stdout + r.stderr


def test_missing_recording_is_skipped_with_notice(tmp_path):
    work = tmp_path / "main"
    work.mkdir()
    for name in ("config", "reports"):
        (work / name).symlink_to(ROOT / name)
    # no ../shared here: the CA1 recording and the raw ABF file are absent
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", "config/quick.yaml"), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    notices = [ln for ln in (r.stdout + r.stderr).splitlines() if "not found; skipping" in ln]
    assert len(notices) == 2
    assert "ca1_pyramidal/spikes.csv" in notices[0] and "targets ca1-*" in notices[0]
    assert "pyabf/2019_07_24_0055_fsi.abf" in notices[1] and "targets fsi-*" in notices[1]
    assert "ingest " not in r.stdout + r.stderr


def _recordings_config(tmp_path, recordings: str) -> Path:
    """quick.yaml with its recordings replaced (YAML list items, indented 4)."""
    text = (ROOT / "config" / "quick.yaml").read_text()
    start = text.index("  recordings:\n")
    end = text.index("  heldout_amplitude_factors")
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(text[:start] + "  recordings:\n" + recordings + text[end:])
    return cfg


@pytest.mark.parametrize("entry,needle", [
    ("    - {name: x, raw: [a.abf], spikes_csv: s.csv}\n", "is valid under each of"),
    ("    - {name: x}\n", "is not valid under any of the given schemas"),
    ("    - {name: x, raw: [a.txt]}\n", "does not match"),
    ("    - {name: x, spikes_csv: s.csv, cell_id: c}\n", "'raw' is a required property"),
    ("    - {name: x, raw: [a.abf], protocols: [IDrest]}\n", "'manifest' is a required"),
    ("    - {name: x, manifest: m.json, colour: red}\n", "colour"),
])
def test_bad_recording_source_stops_before_any_job(tmp_path, entry, needle):
    work = _scratch(tmp_path)
    cfg = _recordings_config(tmp_path, entry)
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "Error validating config file" in err and needle in err, \
        err[-2000:]
    assert "Job stats" not in err


@pytest.mark.skipif(not ABF.exists(), reason="raw ABF fixtures not found")
def test_bad_raw_file_stops_with_its_one_line_error(tmp_path):
    work = _scratch(tmp_path)
    bad = tmp_path / "broken.abf"
    bad.write_bytes(b"not an abf file at all" * 50)
    cfg = _recordings_config(tmp_path, f"    - {{name: bad, raw: [{bad}]}}\n")
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "config: targets.recordings[bad]: " in err
    assert f"{bad}: not an Axon ABF file" in err and "Job stats" not in err


@pytest.mark.slow
@pytest.mark.skipif(not ABF.exists(), reason="raw ABF fixtures not found")
def test_raw_sources_are_ingested_by_a_rule_and_a_changed_file_reruns_its_own(tmp_path):
    """Two raw sources (copies of the ABF fixtures): their targets are made from rule
    ingest's tables (epochs included); touching one file re-runs its ingestion, target and
    fits only."""
    work = _scratch(tmp_path)
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("18711001.abf", "2019_07_24_0055_fsi.abf"):
        shutil.copy(ABF / name, raw / name)
    cfg = _recordings_config(
        tmp_path, f"    - {{name: kl, raw: [{raw / '18711001.abf'}]}}\n"
                  f"    - {{name: fsi, raw: [{raw / '2019_07_24_0055_fsi.abf'}]}}\n")
    targets = ["results/targets/kl-18711001.json", "results/targets/fsi-2019_07_24_0055_fsi.json"]
    r = _run(_smk(work, *targets, "--cores", "2", "--configfile", str(cfg)), cwd=work)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert _job_counts(r.stdout + r.stderr)["ingest"] == 2
    for src in ("kl", "fsi"):
        d = work / "results" / "ingest" / src
        assert {p.name for p in d.iterdir()} == {"spikes.csv", "sweeps.csv", "epochs.csv",
                                                "ingest.json"}
    kl = json.loads((work / targets[0]).read_text())
    ids = [s["id"] for s in kl["sweeps"]]
    assert len(ids) == 30 and "7" in ids
    s7 = kl["sweeps"][ids.index("7")]
    assert s7["protocol"]["epochs"] == [{"start_ms": 23.4, "end_ms": 323.4,
                                         "amplitude_pA": -100.0}]
    fsi = json.loads((work / targets[1]).read_text())
    assert [s["id"] for s in fsi["sweeps"]] == ["10", "12", "13", "14", "15", "16"]
    assert all(len(s["protocol"]["epochs"]) == 2 for s in fsi["sweeps"])
    # the study's fits of both sources (from the tables written above)
    r = _run(_smk(work, "-n", "--cores", "2", "--configfile", str(cfg)), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    fits = re.findall(r"results/fits/target~(kl|fsi)-[^ ,\n]*\.json", r.stdout)
    assert fits
    os.utime(raw / "18711001.abf")  # a changed raw file
    r = _run(_smk(work, *targets, "-n", "--cores", "2", "--configfile", str(cfg)), cwd=work)
    counts = _job_counts(r.stdout + r.stderr)
    assert counts == {"ingest": 1, "make_target": 1, "target": 1, "total": 3}, counts
    assert "results/ingest/kl/" in r.stdout and "results/ingest/fsi/" not in r.stdout


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    import pandas as pd

    work = _scratch(tmp_path)
    r = _run(_smk(work, "--cores", "2", "--configfile", "config/quick.yaml"), cwd=work,
             timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    res = work / "results"
    # config/quick.yaml, counted by hand: targets adex-adapting-{resolved,euler},
    # izh-prior-s1, notebook, one CA1 cell and the raw ABF cell (if present). adaptation:
    # targets x 3 models; dimensionality (preset: 1 target): lif pca-2, adex random-3 and
    # a+b+tau_w, izhikevich pca-3 = 4 more; optimizers: adex snn, direct, random on the
    # preset = 3 more.
    n_targets = 4 + CA1.exists() + ABF.exists()
    fits = pd.read_csv(res / "tables" / "fits.csv")
    assert len(fits) == 3 * n_targets + 4 + 3
    assert fits["gamma"].notna().all()
    assert {"param_C", "joules", "energy_source", "forward_equivalents", "wall_s"} <= set(
        fits.columns)
    held = pd.read_csv(res / "tables" / "heldout.csv")
    assert len(held) == 3 * (n_targets - 1)  # every target but the fixed times
    if ABF.exists():  # the raw source: ingested by its rule, its target fitted with epochs
        assert (res / "ingest" / "fsi" / "epochs.csv").exists()
        name = "fsi-2019_07_24_0055_fsi"
        raw_target = json.loads((res / "targets" / f"{name}.json").read_text())
        assert [s["id"] for s in raw_target["sweeps"]] == ["10", "12", "13", "14", "15", "16"]
        assert all(len(s["protocol"]["epochs"]) == 2 for s in raw_target["sweeps"])
        raw_fits = fits[fits["target"] == name]
        assert sorted(raw_fits["model"]) == ["adex", "izhikevich", "lif"]
        paths = list((res / "fits").glob(f"target~{name}/**/*.json"))
        assert len(paths) == 3
        for path in paths:
            rec = json.loads(path.read_text())
            assert rec["sweep_ids"] == ["10"] and rec["protocols"][0]["epochs"] == [
                {"start_ms": 1146.85, "end_ms": 1646.85, "amplitude_pA": -100.0},
                {"start_ms": 1646.85, "end_ms": 2146.85, "amplitude_pA": 150.0}]
        assert (held["target"] == name).sum() == 3
    answers = json.loads((res / "reports" / "answers.json").read_text())
    assert set(answers) == {"adaptation", "dimensionality", "optimizers"}
    for q, a in answers.items():
        for key in ("question", "metric", "groups", "n_pairs", "effect", "ci95", "test",
                    "p_value", "verdict", "summary"):
            assert key in a, (q, key)
        assert a["verdict"] in ("yes", "no", "inconclusive")
        html = (res / "reports" / f"{q}.html").read_text()
        # the answer's first sentence is in the report, and no code is shown
        first = a["summary"].split(". ")[0]
        assert first.split(":")[0] in html
        assert "import json" not in html
    for name in ("gamma_by_model", "dimensionality", "optimizer_curves",
                 "joules_vs_accuracy", "rasters"):
        for ext in ("png", "svg"):
            assert (res / "figures" / f"{name}.{ext}").stat().st_size > 0
    assert len(list((res / "figures" / "traces").glob("*/*.png"))) == 3
    bench = list((res / "benchmarks" / "rules" / "fit").rglob("*.tsv"))
    assert len(bench) == len(fits)
    # nothing left to do: a second run is a no-op (outputs complete, nothing half-written)
    r2 = _run(_smk(work, "-n", "--cores", "2", "--configfile", "config/quick.yaml"),
              cwd=work)
    assert r2.returncode == 0 and "Nothing to be done" in r2.stdout + r2.stderr
    # snakemake --report: one self-contained HTML with the figures and their captions
    r3 = _run(_smk(work, "--configfile", "config/quick.yaml", "--report",
                   "results/report.html"), cwd=work)
    assert r3.returncode == 0, r3.stderr[-3000:]
    assert (res / "report.html").stat().st_size > 100_000
    shutil.rmtree(res / "fits", ignore_errors=True)
