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


def _batch_outputs(out: str) -> dict[str, list[str]]:
    """The outputs of each fit_batch_* job of a dry run's listing."""
    return {m.group(1): m.group(2).split(", ")
            for m in re.finditer(r"^rule (fit_batch_\d+):\n(?:\s+(?!output)\w+: .*\n)*"
                                 r"\s+output: (.*)$", out, re.M)}


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
    # config defaults: at most 24 fits per batch, at least 2 batches
    assert len(batches) == max(-(-len(fits) // 24), 2)
    assert all(1 <= sum(o.startswith("results/fits/") for o in b) <= 24
               for b in batches.values())
    counts["fit"] = len(fits)
    counts["heldout"] = len(held)
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
    # no ../shared here: the CA1 recording is absent
    r = _run(_smk(work, "-n", "--cores", "1", "--configfile", "config/quick.yaml"), cwd=work)
    assert r.returncode == 0, r.stderr[-3000:]
    notices = [ln for ln in (r.stdout + r.stderr).splitlines() if "not found; skipping" in ln]
    assert len(notices) == 1 and "ca1" in notices[0]


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path):
    import pandas as pd

    work = _scratch(tmp_path)
    r = _run(_smk(work, "--cores", "2", "--configfile", "config/quick.yaml"), cwd=work,
             timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-5000:]
    res = work / "results"
    # config/quick.yaml, counted by hand: targets adex-adapting-{resolved,euler},
    # izh-prior-s1, notebook, one CA1 cell (if present). adaptation: targets x 3 models;
    # dimensionality (preset: 1 target): lif pca-2, adex random-3 and a+b+tau_w,
    # izhikevich pca-3 = 4 more; optimizers: adex snn, direct, random on the preset = 3 more.
    n_targets = 5 if CA1.exists() else 4
    fits = pd.read_csv(res / "tables" / "fits.csv")
    assert len(fits) == 3 * n_targets + 4 + 3
    assert fits["gamma"].notna().all()
    assert {"param_C", "joules", "energy_source", "forward_equivalents", "wall_s"} <= set(
        fits.columns)
    held = pd.read_csv(res / "tables" / "heldout.csv")
    assert len(held) == 3 * (n_targets - 1)  # every target but the fixed times
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
