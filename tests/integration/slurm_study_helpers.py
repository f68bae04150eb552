"""Shared helpers of the SLURM integration tests (test_slurm_toy.py, test_slurm_study.py):
is the local cluster usable, the snakemake command line with the project's SLURM profile
and the local overrides, and small squeue/scontrol wrappers.

The local cluster (tests/integration/slurm_cluster.sh) has no accounting, so job history
comes from slurmctld itself: finished jobs stay visible to `squeue --states=all` and
`scontrol` for MinJobAge (600 s) seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
PARTITION = os.environ.get("SNNFIT_SLURM_PARTITION", "debug")
BIN = Path(sys.executable).parent


@lru_cache(maxsize=1)
def cluster_problem() -> str | None:
    """None if the local cluster is usable, else why not."""
    if shutil.which("sinfo") is None:
        return "SLURM not installed (no sinfo); run tests/integration/slurm_cluster.sh start"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-p", PARTITION, "-o", "%t"],
            capture_output=True, text=True, timeout=15,
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out; is slurmctld running? (tests/integration/slurm_cluster.sh start)"
    if out.returncode != 0:
        return f"sinfo failed ({out.stderr.strip()}); run tests/integration/slurm_cluster.sh start"
    states = out.stdout.split()
    if not any(s.rstrip("*") in ("idle", "mix", "mixed") for s in states):
        return f"no idle node in partition {PARTITION!r} (states: {states})"
    return None


def env() -> dict[str, str]:
    """The test's environment with the venv's bin first on PATH: SLURM jobs inherit it
    (sbatch --export=ALL), so the jobs' snakemake and `snnfit` come from the venv."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def local_default_resources() -> list[str]:
    """The profile's default-resources with the partition swapped for the local one.
    (--default-resources on the command line replaces the profile's whole block, so all
    entries are passed again.)"""
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text())
    res = dict(prof["default-resources"])
    res["slurm_partition"] = PARTITION
    res.pop("slurm_account", None)
    return [f"{k}={v}" for k, v in res.items()]


def local_cluster_args() -> list[str]:
    """The overrides the local cluster needs on top of the profile (no accounting, its
    partition, quick first status check)."""
    return [
        "--slurm-no-account",
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        "--default-resources", *local_default_resources(),
    ]


def snakemake_cmd(*extra: str, profile: bool = True, targets: tuple[str, ...] = ()) -> list[str]:
    """snakemake [targets] --profile ... [extra]. Targets come first: the options here
    take lists (`--default-resources`, `--configfile`) and would swallow them."""
    cmd = [sys.executable, "-m", "snakemake", *targets]
    if profile:
        # --workflow-profile none: without it Snakemake also loads the study's
        # workflow/profiles/default, and that one wins over --profile (keep-going: false,
        # latency-wait: 5, cores: 2 would replace the SLURM profile's values)
        cmd += ["--profile", str(PROFILE), "--workflow-profile", "none",
                *local_cluster_args()]
    return cmd + list(extra)


def run_logged(cmd: list[str], cwd: Path, log: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run `cmd` in `cwd`, keep stdout+stderr in `log`, print the time it took."""
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout)
    took = time.monotonic() - t0
    log.write_text(proc.stdout + proc.stderr)
    print(f"[{took:6.1f}s rc={proc.returncode}] {' '.join(cmd[3:])[:160]}  (log {log})")
    return proc


def wait_for(pred, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# ---------------------------------------------------------------- squeue / scontrol


def squeue_jobs(job_name: str | None = None) -> list[dict[str, str]]:
    """Jobs slurmctld knows (also finished ones, for MinJobAge), optionally only those
    named `job_name` (the plugin names every job of a run by the run's UUID)."""
    cmd = ["squeue", "-h", "--states=all", "-o", "%i|%j|%T|%k"]
    if job_name:
        cmd += ["--name", job_name]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=15).stdout
    jobs = []
    for line in out.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            jobs.append(dict(zip(("id", "name", "state", "comment"), parts)))
    return sorted(jobs, key=lambda j: int(j["id"]))


def job_state(jobid: str) -> str:
    out = subprocess.run(["squeue", "-h", "--states=all", "-j", jobid, "-o", "%T"],
                         capture_output=True, text=True, timeout=15)
    return out.stdout.strip()


def job_fields(jobid: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay MinJobAge seconds)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", jobid],
                         capture_output=True, text=True, timeout=15).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


@lru_cache(maxsize=None)
def _batch_script_cached(jobid: str) -> str:
    return subprocess.run(["scontrol", "write", "batch_script", jobid, "-"],
                          capture_output=True, text=True, timeout=15).stdout


def batch_script(jobid: str) -> str:
    """The sbatch --wrap script of a job (the job's own `snakemake --target-jobs ...`)."""
    text = _batch_script_cached(jobid)
    if not text:  # not cached when empty (job not yet known)
        _batch_script_cached.cache_clear()
    return text


def batch_of(jobid: str) -> str | None:
    """The fit batch rule a SLURM job runs (its `--target-jobs 'fit_batch_N:'`), or None."""
    m = re.search(r"'(fit_batch_\d+):", batch_script(jobid))
    return m.group(1) if m else None


def batch_outputs(log_text: str) -> dict[str, list[str]]:
    """The outputs of each fit_batch_* job in a (dry) run's job listing."""
    return {m.group(1): m.group(2).split(", ")
            for m in re.finditer(r"^rule (fit_batch_\d+):\n(?:\s+(?!output)\w+: .*\n)*"
                                 r"\s+output: (.*)$", log_text, re.M)}


def batch_summary(log: Path) -> dict[str, int]:
    """The last line of a batch job's log, `fit_batch_N: R ran, C from the cache, F failed`,
    as {"ran": R, "cached": C, "failed": F} ({} if the job did not get that far)."""
    m = re.search(r"(\d+) ran, (\d+) from the cache, (\d+) failed\s*$", log.read_text())
    return dict(zip(("ran", "cached", "failed"), map(int, m.groups()))) if m else {}


def run_id(log_text: str) -> str | None:
    m = re.search(r"SLURM run ID: ([0-9a-f-]{36})", log_text)
    return m.group(1) if m else None


def job_counts(log_text: str) -> dict[str, int]:
    """The `Job stats:` table of a snakemake log as {rule: count}."""
    if "Job stats:" not in log_text:
        return {}
    block = log_text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", block, re.M)}
