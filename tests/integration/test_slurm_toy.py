"""Run the toy workflow (tests/integration/toy) on the local SLURM cluster
through the project's Snakemake profile (workflow/profiles/slurm).

Needs a running cluster:  sudo bash tests/integration/slurm_cluster.sh start
Every test is skipped (with the reason) when `sinfo` does not show an idle node.
Run:  .venv/bin/python -m pytest -m slurm tests/integration/test_slurm_toy.py -v
Each test takes about 1-1.5 minutes (every SLURM job starts its own Snakemake).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
TOY = Path(__file__).resolve().parent / "toy"
PARTITION = os.environ.get("SNNFIT_SLURM_PARTITION", "debug")
RUN_TIMEOUT = 420  # seconds for one snakemake invocation


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


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(cluster_problem() is not None, reason=str(cluster_problem())),
]


def local_default_resources() -> list[str]:
    """The profile's default-resources with the partition swapped for the local
    one. (--default-resources on the command line replaces the profile's whole
    block, so all entries are passed again.)"""
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text())
    res = dict(prof["default-resources"])
    res["slurm_partition"] = PARTITION
    res.pop("slurm_account", None)
    return [f"{k}={v}" for k, v in res.items()]


def snakemake_cmd(*extra: str, profile: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake"]
    if profile:
        cmd += [
            "--profile", str(PROFILE),
            # local cluster has no accounting (no slurmdbd)
            "--slurm-no-account",
            "--slurm-status-command", "squeue",
            "--slurm-init-seconds-before-status-checks", "2",
            "--default-resources", *local_default_resources(),
        ]
    return cmd + list(extra)


def run(workdir: Path, *extra: str, profile: bool = True) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    proc = subprocess.run(
        snakemake_cmd(*extra, profile=profile), cwd=workdir,
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )
    took = time.monotonic() - t0
    (workdir / f"snakemake-{int(t0)}.log").write_text(proc.stdout + proc.stderr)
    print(f"snakemake {' '.join(extra)} -> rc={proc.returncode} in {took:.1f}s")
    return proc


def job_ids(workdir: Path, unit: str) -> list[str]:
    log = workdir / "attempts" / f"{unit}.log"
    if not log.exists():
        return []
    return [line.split()[1] for line in log.read_text().splitlines() if line.strip()]


def job_state(jobid: str) -> str:
    out = subprocess.run(["squeue", "-h", "--states=all", "-j", jobid, "-o", "%T"],
                         capture_output=True, text=True, timeout=15)
    return out.stdout.strip()


def job_fields(jobid: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay MinJobAge seconds)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", jobid],
                         capture_output=True, text=True, timeout=15).stdout
    return dict(tok.split("=", 1) for tok in out.split() if "=" in tok)


def wait_for(pred, timeout: float, what: str, poll: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    shutil.copy(TOY / "Snakefile", tmp_path / "Snakefile")
    return tmp_path


def test_toy_workflow_runs_on_slurm(toy: Path):
    proc = run(toy)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "submitted with SLURM jobid" in proc.stderr
    report = (toy / "results/report.txt").read_text()
    assert report.startswith("units fitted: 3;"), report
    assert "job: none" not in report  # report ran inside a SLURM job
    fits = [json.loads((toy / f"results/fits/u{i}.json").read_text()) for i in range(3)]
    assert len({f["slurm_job"] for f in fits}) == 3  # one SLURM job per fit
    assert all(f["cpus"] == "1" for f in fits)  # threads: 1 -> --cpus-per-task=1
    agg = json.loads((toy / "results/aggregate_job.json").read_text())
    assert agg["cpus"] == "2" and agg["threads"] == 2  # threads: 2 -> 2 CPUs
    summary = (toy / "results/summary.tsv").read_text().splitlines()
    assert len(summary) == 4
    # nothing left to do
    again = run(toy, "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_failing_fit_is_retried_then_reported_others_finish(toy: Path):
    proc = run(toy, "--config", "fail_unit=u1")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a permanently failing fit must fail the run"
    # retries: 1 -> two SLURM jobs for the failing fit
    ids = job_ids(toy, "u1")
    assert len(ids) == 2 and ids[0] != ids[1], ids
    assert "Error in rule fit" in log
    # the profile's set-resources for `fit` grow with the attempt
    # (currently mem_mb 2000 -> 4000, runtime 60 -> 120 min)
    first, retry = job_fields(ids[0]), job_fields(ids[1])
    assert first["JobState"] == retry["JobState"] == "FAILED"
    mem = lambda f: int(f["MinMemoryNode"].rstrip("M"))  # noqa: E731
    assert mem(retry) > mem(first), (first["MinMemoryNode"], retry["MinMemoryNode"])
    assert retry["TimeLimit"] > first["TimeLimit"], (first["TimeLimit"], retry["TimeLimit"])
    assert "u1" in log
    # keep-going: the independent fits finished
    for unit in ("u0", "u2"):
        assert json.loads((toy / f"results/fits/{unit}.json").read_text())["unit"] == unit
        assert len(job_ids(toy, unit)) == 1
    assert not (toy / "results/fits/u1.json").exists()
    assert not (toy / "results/summary.tsv").exists()


def _start_slow_run(toy: Path) -> tuple[subprocess.Popen, str]:
    """Start the toy with a slow fit of u0 in the background; return once that
    fit's SLURM job is running and has written half of its output."""
    head_log = open(toy / "head.log", "w")
    head = subprocess.Popen(
        snakemake_cmd("--config", "n_units=1", "slow_unit=u0", "slow_seconds=120"),
        cwd=toy, stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    out = toy / "results/fits/u0.json"
    try:
        wait_for(lambda: out.exists() and out.stat().st_size > 0, 150,
                 "the slow fit to write partial output")
    except AssertionError:
        os.killpg(head.pid, signal.SIGKILL)
        raise
    (jobid,) = job_ids(toy, "u0")
    assert job_state(jobid) == "RUNNING"
    return head, jobid


def test_scancelled_fit_is_retried_to_completion(toy: Path):
    """scancel of a running fit while Snakemake watches: the job ends CANCELLED,
    the profile's `retries: 1` resubmits it and the run completes."""
    head, jobid = _start_slow_run(toy)
    try:
        subprocess.run(["scancel", jobid], check=True, timeout=15)
        rc = head.wait(timeout=RUN_TIMEOUT)
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGKILL)
    log = (toy / "head.log").read_text()
    assert wait_for(lambda: job_state(jobid), 10, "job state") == "CANCELLED"
    assert rc == 0, log[-4000:]
    ids = job_ids(toy, "u0")
    assert len(ids) == 2 and ids[0] == jobid, ids
    fit = json.loads((toy / "results/fits/u0.json").read_text())
    assert fit["slurm_job"] == ids[1]
    assert (toy / "results/report.txt").read_text().startswith("units fitted: 1;")


def test_killed_run_and_cancelled_job_rerun_incomplete(toy: Path):
    """The hard case: Snakemake itself dies (SIGKILL, like a lost login
    session) and the running fit job is killed without any cleanup (SIGKILL
    to all its processes, as on OOM/node crash), then scancelled. A
    half-written output with an `incomplete` marker (and a stale lock) is left
    behind; after `--unlock`, the profile's `rerun-incomplete: true` makes the
    next run redo it."""
    head, jobid = _start_slow_run(toy)
    os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=30)
    listed = subprocess.run(["scontrol", "listpids", jobid],
                            capture_output=True, text=True, timeout=15).stdout
    pids = [int(line.split()[0]) for line in listed.splitlines()[1:]
            if line.split() and line.split()[0].isdigit()]
    assert pids, listed
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["scancel", jobid], timeout=15)
    wait_for(lambda: job_state(jobid) in ("CANCELLED", "FAILED", "COMPLETED", ""),
             60, f"job {jobid} to end")
    partial = (toy / "results/fits/u0.json").read_text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(partial)
    # without --rerun-incomplete Snakemake refuses to go on
    plain = run(toy, "--dry-run", "--config", "n_units=1", profile=False)
    assert plain.returncode != 0
    assert "IncompleteFilesException" in plain.stdout + plain.stderr
    # the SIGKILLed Snakemake left its lock behind: remove it as a user would
    unlock = run(toy, "--unlock", "--config", "n_units=1", profile=False)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    # with the profile it reruns the fit and finishes
    proc = run(toy, "--config", "n_units=1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    ids = job_ids(toy, "u0")
    assert len(ids) == 2 and ids[0] == jobid, ids
    assert json.loads((toy / "results/fits/u0.json").read_text())["slurm_job"] == ids[1]
    assert (toy / "results/report.txt").read_text().startswith("units fitted: 1;")
