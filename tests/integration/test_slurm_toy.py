"""Run the toy workflow (tests/integration/toy) on the local SLURM cluster
through the project's Snakemake profile (workflow/profiles/slurm).

Needs a running cluster:  sudo bash tests/integration/slurm_cluster.sh start
Every test is skipped (with the reason) when `sinfo` does not show an idle node.
Run:  .venv/bin/python -m pytest -m slurm tests/integration/test_slurm_toy.py -v
Each test takes about 1-1.5 minutes (every SLURM job starts its own Snakemake).

Retry of a failing fit, keep-going, and scancel of a running fit are tested on the real
study in test_slurm_study.py; this file keeps what the study cannot show cheaply:
threads -> CPUs of a SLURM job, and a job killed without cleanup leaving a half-written
(non-atomic) output with an incomplete marker that `rerun-incomplete` redoes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from slurm_study_helpers import cluster_problem, env, job_state, snakemake_cmd, wait_for

TOY = Path(__file__).resolve().parent / "toy"
RUN_TIMEOUT = 420  # seconds for one snakemake invocation

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(cluster_problem() is not None, reason=str(cluster_problem())),
]


def run(workdir: Path, *extra: str, profile: bool = True) -> subprocess.CompletedProcess:
    t0 = time.monotonic()
    proc = subprocess.run(
        snakemake_cmd(*extra, profile=profile), cwd=workdir, env=env(),
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


def _start_slow_run(toy: Path) -> tuple[subprocess.Popen, str]:
    """Start the toy with a slow fit of u0 in the background; return once that
    fit's SLURM job is running and has written half of its output."""
    head_log = open(toy / "head.log", "w")
    head = subprocess.Popen(
        snakemake_cmd("--config", "n_units=1", "slow_unit=u0", "slow_seconds=120"),
        cwd=toy, env=env(), stdout=head_log, stderr=subprocess.STDOUT, start_new_session=True,
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
