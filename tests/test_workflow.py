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
SHARED = ROOT.parent / "shared"
CA1 = SHARED / "data" / "recordings" / "ca1_pyramidal" / "spikes.csv"
ABF = SHARED / "data" / "raw" / "pyabf"

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


def _rule_outputs(out: str, rule: str) -> dict[str, list[str]]:
    """The outputs of each job of a dry run's listing whose rule matches ``rule`` (regex)."""
    return {m.group(1): m.group(2).split(", ")
            for m in re.finditer(rf"^rule ({rule}):\n(?:\s+(?!output)\w+: .*\n)*"
                                 r"\s+output: (.*)$", out, re.M)}


def _batch_outputs(out: str) -> dict[str, list[str]]:
    """The outputs of each fit_batch_* job of a dry run's listing."""
    return _rule_outputs(out, r"fit_batch_\d+")


def test_dry_run_default_config(tmp_path):
    work = _scratch(tmp_path)
    r = _run(_smk(work, "-n", "--cores", "2"), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    counts = _job_counts(r.stdout + r.stderr)
    # the fits run in batch jobs: each fit (and held-out evaluation) is an output of one
    batches = _batch_outputs(r.stdout + r.stderr)
    assert set(batches) == {k for k in counts if k.startswith("fit_batch_")}
    outs = [o for b in batches.values() for o in b]
    assert len(outs) == len(set(outs))
    fits = [o for o in outs if o.startswith("results/fits/")]
    held = [o for o in outs if o.startswith("results/heldout/")]
    assert len(fits) + len(held) == len(outs)
    # config defaults: at most fit.batch_size (24) fits per batch, at least 2 batches
    assert len(batches) == max(-(-len(fits) // 24), 2)
    assert all(1 <= sum(o.startswith("results/fits/") for o in b) <= 24
               for b in batches.values())
    counts["fit"] = len(fits)
    counts["heldout"] = len(held)
    # config/config.yaml, counted by hand. Targets: 3 presets + 100 prior draws (10 adapting
    # AdEx, 20 AdEx and 20 Izhikevich without adaptation, 10 LIF, 20 AdEx inside the subset,
    # 20 anywhere) + 10 SSCx and 4 CA1 cells (if ../shared is there) = 103 (+ 14).
    # adaptation: 5 fits (3 models, 2 nonadapting variants) on each real cell and on the 13
    # positive controls; 2 on each AdEx and Izhikevich truth without adaptation, 3 on each
    # LIF truth: 5 x 14 + 65 + 80 + 30. dimensionality (budget 16000): 4 spaces on the 12
    # answer targets, the full-space fit shared with adaptation's AdEx fit of the same
    # target and budget, full and the subset on the 40 control targets, for fit seed 1:
    # 36 + 80; for fit seed 2 nothing shared: 48 + 80. optimizers (budget 16000, seed 1): 4
    # optimizers on the same 12 targets, CMA-ES shared with dimensionality's full fits: 36.
    n_cells = 14 if CA1.exists() else 0
    # one targets job per config entry (3 presets, 6 prior entries, the 2 recordings),
    # writing every target file of its entry, each file an output of one job
    made = _rule_outputs(r.stdout + r.stderr, r"targets_\w+")
    assert set(made) == {k for k in counts if k.startswith("targets_")}
    assert len(made) == 9 + (2 if n_cells else 0)
    assert sorted(len(v) for v in made.values()) == sorted(
        [1, 1, 1] + [10] * 2 + [20] * 4 + ([10, 4] if n_cells else []))
    files = [f for v in made.values() for f in v]
    assert len(files) == len(set(files)) == 103 + n_cells
    assert made["targets_adex_adapt"] == [f"results/targets/adex-adapt-s{s}.json"
                                          for s in range(11, 21)]
    assert counts["fit"] == 5 * n_cells + 65 + 80 + 30 + 36 + 80 + 48 + 80 + 36
    # held-out predictions: the adaptation fits of targets that hold sweeps out (not CA1)
    assert counts["heldout"] == 5 * (10 if n_cells else 0) + 65 + 80 + 30
    assert counts["report"] == 3
    assert counts["traces"] == 1 and counts["study_benchmark"] == 1


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
    assert '"a,b,tau_w,VT"' in text
    cfg.write_text(text.replace('"a,b,tau_w,VT"', f'"{dim}"', 1))
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
    assert "targets: [adex-adapting]" in text
    cfg.write_text(text.replace("targets: [adex-adapting]", "targets: [no-such-target]", 1))
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", str(cfg)), cwd=work)
    err = r.stdout + r.stderr
    assert r.returncode != 0 and "no-such-target" in err and "Job stats" not in err


def test_missing_recording_is_skipped_with_notice(tmp_path):
    work = tmp_path / "main"
    work.mkdir()
    for name in ("config", "reports"):
        (work / name).symlink_to(ROOT / name)
    # no ../shared here: the CA1 recording is absent
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", "config/quick.yaml"), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    notices = [ln for ln in (r.stdout + r.stderr).splitlines() if "not found; skipping" in ln]
    assert len(notices) == 3
    assert "sscx" in notices[0] and "ca1" in notices[1]
    assert "pyabf/18711001.abf" in notices[2] and "targets abf-*" in notices[2]
    assert "ingest " not in r.stdout + r.stderr


def _recordings_config(tmp_path, extra: str) -> Path:
    """quick.yaml with more recordings entries (YAML list items, indented 4)."""
    text = (ROOT / "config" / "quick.yaml").read_text()
    end = text.index("\nexperiments:")
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(text[:end] + "\n" + extra + text[end:])
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
    assert r.returncode != 0
    assert f"config: targets.recordings[bad]: {bad}: not an Axon ABF file" in err
    assert "Job stats" not in err


@pytest.mark.slow
@pytest.mark.skipif(not ABF.exists(), reason="raw ABF fixtures not found")
def test_raw_sources_are_ingested_by_a_rule_and_a_changed_file_reruns_its_own(tmp_path):
    """Two raw sources (copies of the ABF fixtures): their targets are made from rule
    ingest's tables (epochs included); touching one file re-runs its ingestion and its
    entry's targets job only."""
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
    os.utime(raw / "18711001.abf")  # a changed raw file
    r = _run(_smk(work, *targets, "-n", "--cores", "2", "--configfile", str(cfg)), cwd=work)
    counts = _job_counts(r.stdout + r.stderr)
    assert counts == {"ingest": 1, "targets_kl": 1, "total": 2}, counts
    assert "results/ingest/kl/" in r.stdout and "results/ingest/fsi/" not in r.stdout


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    import pandas as pd

    work = _scratch(tmp_path)
    r = _run(_smk(work, "--cores", "2", "--configfile", "config/quick.yaml"), cwd=work,
             timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    res = work / "results"
    # config/quick.yaml, counted by hand. Targets: adex-adapting (preset), four priors
    # (adex-plain, lif-prior, adex-sub, adex-any), one SSCx and one CA1 cell and the raw ABF
    # cell (if present).
    # adaptation: every model and both nonadapting variants (5 fits) on the real cells and the
    # positive control; AdEx and AdEx-nonadapting on adex-plain, the three models on lif-prior
    # (negative controls): 5 + 5 (+ 15 real) + 2 + 3; dimensionality: 3 spaces on the preset
    # (full shared with adaptation's AdEx fit), full and the subset on the two controls: 2 +
    # 4; optimizers: snn, direct, random on the preset (cmaes shared): 3.
    shared = CA1.exists()
    n_fits = 5 + (15 if shared else 0) + 2 + 3 + 2 + 4 + 3
    fits = pd.read_csv(res / "tables" / "fits.csv")
    assert len(fits) == n_fits
    assert fits["gamma"].notna().all()
    assert {"param_C", "joules", "energy_source", "forward_equivalents", "wall_s"} <= set(
        fits.columns)
    assert {"adex-nonadapting", "izhikevich-nonadapting"} <= set(fits["model"])
    na = fits[fits["model"] == "adex-nonadapting"]
    assert (na["param_a"] == 0).all() and (na["param_b"] == 0).all()
    held = pd.read_csv(res / "tables" / "heldout.csv", dtype={"sweep": str})
    # held-out rows: 2 synthetic held-out sweeps x (5 + 2 + 3) fits, plus the SSCx and the
    # raw ABF cell's held-out sweeps x 5 models (their splits, snnfit.data.splits)
    synthetic = held[held["target_class"] != "recording"]
    assert len(synthetic) == 2 * 10
    assert set(synthetic["role"]) == {"interpolated", "extrapolated"}
    if shared:
        from snnfit.data.splits import cell_sweeps, recording_split

        rows = cell_sweeps(SHARED / "data" / "recordings" / "sscx_l5pc" / "sweeps.csv",
                           "C070109A4-C1")
        _, held_ids, _ = recording_split(rows)
        # the raw source: ingested by its rule, split from its tables, fitted with epochs
        abf_train, abf_held, _ = recording_split(
            cell_sweeps(res / "ingest" / "abf" / "sweeps.csv", "18711001"))
        assert len(held) - len(synthetic) == 5 * (len(held_ids) + len(abf_held))
        rel = pd.read_csv(res / "tables" / "reliability.csv")
        assert rel.set_index("target").loc["sscx-C070109A4-C1", "n_repeat_pairs"] == 8
        name = "abf-18711001"
        raw_target = json.loads((res / "targets" / f"{name}.json").read_text())
        assert len(raw_target["sweeps"]) == 30
        assert sum("epochs" in s["protocol"] for s in raw_target["sweeps"]) == 29
        assert (fits["target"] == name).sum() == 5 and (held["target"] == name).sum() == \
            5 * len(abf_held)
        paths = list((res / "fits").glob(f"target~{name}/**/*.json"))
        assert len(paths) == 5
        prepulse = [{"start_ms": 23.4, "end_ms": 323.4, "amplitude_pA": -100.0}]
        for path in paths:
            rec = json.loads(path.read_text())
            assert rec["sweep_ids"] == abf_train
            assert all(p.get("epochs") == prepulse or (i == "0" and "epochs" not in p)
                       for i, p in zip(rec["sweep_ids"], rec["protocols"]))
            assert any("epochs" in p for p in rec["protocols"])
    answers = json.loads((res / "reports" / "answers.json").read_text())
    assert set(answers) == {"adaptation", "dimensionality", "optimizers"}
    for q, a in answers.items():
        for key in ("question", "metric", "groups", "n_pairs", "effect", "ci95", "test",
                    "p_value", "verdict", "summary", "controls", "trusted"):
            assert key in a, (q, key)
        assert a["verdict"] in ("yes", "no", "equivalent", "inconclusive")
        for role, c in a["controls"].items():
            for key in ("verdict", "effect", "ci95", "p_value", "n_pairs", "expected",
                        "as_expected"):
                assert key in c, (q, role, key)
        html = (res / "reports" / f"{q}.html").read_text()
        # the answer's first sentence is in the report, and no code is shown
        first = a["summary"].split(". ")[0]
        assert first.split(":")[0] in html
        assert "import json" not in html
    assert set(answers["adaptation"]["controls"]) == {"positive", "negative"}
    assert set(answers["dimensionality"]["controls"]) == {"positive", "negative"}
    assert set(answers["optimizers"]["controls"]) == {"positive"}
    for name in ("gamma_by_model", "dimensionality", "optimizer_curves",
                 "joules_vs_accuracy", "rasters", "fi_curves", "isi_profiles",
                 "heldout_rasters", "controls", "budget_answers"):
        for ext in ("png", "svg"):
            assert (res / "figures" / f"{name}.{ext}").stat().st_size > 0
    assert len(list((res / "figures" / "traces").glob("*/*.png"))) == 3
    # the fits ran in 2 batch jobs (fit.min_batches); every fit is also in the fit cache
    bench = list((res / "benchmarks" / "rules" / "fit_batch").rglob("*.tsv"))
    assert len(bench) == 2
    assert len(list((res / ".fitcache").glob("*.fit.json"))) == len(fits)
    # the study benchmark: its fits' own seconds are the fit records' (fits.csv), its jobs
    # the benchmark files of the run, and its ratio the measured wall over the bound
    study = pd.read_csv(res / "benchmarks" / "study.csv").set_index("rule")
    jobs = list((res / "benchmarks" / "rules").rglob("*.tsv"))
    total = study.loc["study"]
    assert total["jobs"] == len(jobs) - 1  # all but the study benchmark's own
    assert total["fits"] == len(fits) == study.loc["fit_batch", "fits"]
    assert total["fit_wall_s"] == pytest.approx(fits["wall_s"].sum(), rel=1e-9)
    assert total["lower_bound_s"] > 0 and total["cores"] == 2
    assert total["ratio_to_lower_bound"] == pytest.approx(
        total["study_wall_s"] / total["lower_bound_s"], rel=1e-9)
    assert set(study.index) >= {"fit_batch", "aggregate", "traces", "report", "study"}
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
