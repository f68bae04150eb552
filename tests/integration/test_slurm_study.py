"""The quick study (config/quick.yaml) on the local SLURM cluster through the project's
profile (workflow/profiles/slurm: batches of at most 12 fits, at least 8 batch jobs), against
a local run of the same study (default profile: 2 batch jobs).

* test_quick_study_on_slurm_survives_faults_and_equals_local: one SLURM run in which a
  running batch job is `scancel`led (the profile's `retries: 1` resubmits it; the retry
  copies the batch's finished fits from the fit cache) and then Snakemake itself is
  SIGKILLed mid-run (the run's orphaned jobs are scancelled, as a user would); `--unlock` +
  the same command again finishes the study, running only the fits that had not finished
  (the rest come from the cache; batches that had finished are not run again);
  fits.csv, heldout.csv and history.csv equal the local run's in every column except
  timings and energy (so batching does not change a fit).
* test_failing_fit_is_retried_reported_others_finish: three batch jobs, one holding a fit
  on a corrupted target file: that batch is submitted twice (with more memory and time the
  second time), then reported, its other fits written and cached; the two independent
  batches finish (`keep-going`).

Needs a running cluster:  sudo bash tests/integration/slurm_cluster.sh start
Skipped (with the reason) when `sinfo` does not show an idle node.
Run:  .venv/bin/python -m pytest -m slurm tests/integration/test_slurm_study.py -v -s
Measured times: docs/slurm.md.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slurm_study_helpers import (
    REPO,
    batch_of,
    batch_outputs,
    batch_summary,
    cluster_problem,
    env,
    job_fields,
    job_state,
    run_id,
    run_logged,
    snakemake_cmd,
    squeue_jobs,
    wait_for,
)

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(cluster_problem() is not None, reason=str(cluster_problem())),
]

SNAKEFILE = REPO / "workflow" / "Snakefile"
LOCAL_PROFILE = REPO / "workflow" / "profiles" / "default"
STUDY = ["--snakefile", str(SNAKEFILE), "--configfile", "config/quick.yaml"]
RUN_TIMEOUT = 600  # one snakemake invocation
# columns that legitimately differ between runs: timings and energy (provenance would go
# here too; fits.csv has no host or provenance columns, and its `path` is relative)
VOLATILE = {"wall_s", "cpu_s", "joules", "energy_source", "energy_note", "host"}
SHARED = REPO.parent / "shared/data"
# config/quick.yaml's recorded sources (each missing one is left out with a notice)
RECORDED = [SHARED / "recordings/sscx_l5pc/spikes.csv",
            SHARED / "recordings/ca1_pyramidal/spikes.csv",
            SHARED / "raw/pyabf/18711001.abf"]


def scratch(base: Path) -> Path:
    """A project directory whose config/ and reports/ are the real ones and whose ../shared
    is the real shared data (as tests/test_workflow.py does), on the shared file system
    (here: the same machine)."""
    work = base / "main"
    work.mkdir(parents=True)
    for name in ("config", "reports"):
        (work / name).symlink_to(REPO / name)
    if (REPO.parent / "shared").exists():
        (base / "shared").symlink_to(REPO.parent / "shared")
    return work


def batch_plan(work: Path, *targets: str) -> dict[str, list[str]]:
    """The study's batches under the SLURM profile (a dry run): batch rule -> its fit
    files."""
    r = subprocess.run(snakemake_cmd(*STUDY, "--dry-run", targets=targets), cwd=work,
                       env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return {name: [o for o in outs if o.startswith("results/fits/")]
            for name, outs in batch_outputs(r.stdout + r.stderr).items()}


def batch_log(work: Path, name: str) -> Path:
    return work / "results/logs/fit_batch" / f"{name}.log"


def fit_files(work: Path) -> list[str]:
    return sorted(str(p.relative_to(work)) for p in (work / "results/fits").rglob("*.json"))


def incomplete_marked(work: Path) -> set[str]:
    """Outputs Snakemake has marked as started but not finished (.snakemake/incomplete)."""
    out = set()
    for p in (work / ".snakemake" / "incomplete").glob("*"):
        try:
            out.add(base64.b64decode(p.name, altchars=b"+_").decode())
        except Exception:  # noqa: BLE001 - not a marker
            pass
    return out


def comparable(csv: Path):
    import pandas as pd

    df = pd.read_csv(csv)
    drop = [c for c in df.columns if c in VOLATILE or "provenance" in c]
    return df.drop(columns=drop)


def assert_same_tables(local: Path, slurm: Path):
    import pandas as pd

    for name in ("fits", "heldout", "history"):
        a, b = comparable(local / f"results/tables/{name}.csv"), comparable(
            slurm / f"results/tables/{name}.csv")
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{name}.csv")


# ---------------------------------------------------------------- the local reference run


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The quick study run locally (default profile, 2 cores), started in the background
    at once so that it overlaps the SLURM run; `.result()` waits for it."""
    work = scratch(tmp_path_factory.mktemp("local"))
    log = open(work / "snakemake-local.log", "w")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "snakemake"), *STUDY,
         "--profile", str(LOCAL_PROFILE), "--cores", "2"],
        cwd=work, env=env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    class Local:
        def result(self) -> Path:
            if proc.poll() is None:
                proc.wait(timeout=RUN_TIMEOUT)
                print(f"local quick run: {time.monotonic() - t0:.1f}s (overlapping SLURM)")
            assert proc.returncode == 0, (work / "snakemake-local.log").read_text()[-4000:]
            return work

    yield Local()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    log.close()


# ---------------------------------------------------------------- faults


def _cancel_a_running_batch(work: Path, rid: str, plan: dict[str, list[str]],
                            timeout: float = 300):
    """scancel a batch job of run `rid` while its fits run (its log exists, some of its
    fits are not written yet). Returns (jobid, batch rule)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in squeue_jobs(rid):
            if job["state"] != "RUNNING" or not job["comment"].startswith("rule_fit_batch"):
                continue
            name = batch_of(job["id"])
            if name and batch_log(work, name).exists() and not all(
                    (work / f).exists() for f in plan[name]):
                subprocess.run(["scancel", job["id"]], check=True, timeout=15)
                return job["id"], name
        time.sleep(0.2)
    raise AssertionError("no running batch job to cancel")


def test_quick_study_on_slurm_survives_faults_and_equals_local(local_run, tmp_path):
    work = scratch(tmp_path)
    plan = batch_plan(work)
    # config/quick.yaml, counted by hand: adaptation 5 models (3 + 2 nonadapting variants)
    # on each recorded cell and on the positive control, 2 + 3 on the negative controls;
    # dimensionality 2 reduced spaces on the preset (full shared) + full and the subset on
    # each of the 2 controls; optimizers 3 (CMA-ES shared): 5 + 2 + 3 + 2 + 4 + 3 = 19, plus
    # 5 per recorded source present
    n_fits = 19 + 5 * sum(p.exists() for p in RECORDED)
    assert sum(len(f) for f in plan.values()) == n_fits
    assert len(plan) == 8 and all(len(f) <= 12 for f in plan.values())  # the profile's sizes
    head_log = work / "snakemake-head.log"
    t0 = time.monotonic()
    with open(head_log, "w") as fh:
        head = subprocess.Popen(snakemake_cmd(*STUDY), cwd=work, env=env(), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rid = wait_for(lambda: run_id(head_log.read_text()), 120, "the SLURM run ID")
        # fault 1: scancel a running batch job; Snakemake sees CANCELLED and resubmits it
        victim, victim_batch = _cancel_a_running_batch(work, rid, plan)
        t_cancel = time.monotonic() - t0

        def retried():
            return [j for j in squeue_jobs(rid) if int(j["id"]) > int(victim)
                    and batch_of(j["id"]) == victim_batch]

        wait_for(retried, 180, f"the retry of cancelled job {victim}")
        # fault 2: SIGKILL Snakemake itself mid-run (lost login session), once a third of
        # the fits are done
        wait_for(lambda: len(fit_files(work)) >= 8, 300, "8 finished fits")
        os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=30)
        t_kill = time.monotonic() - t0
    finally:
        if head.poll() is None:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
    log1 = head_log.read_text()
    assert job_state(victim) == "CANCELLED"
    # the dead run's jobs still run on the cluster: cancel them as a user would
    subprocess.run(["scancel", "--name", rid], timeout=15)
    wait_for(lambda: not [j for j in squeue_jobs(rid)
                          if j["state"] in ("PENDING", "RUNNING", "COMPLETING")],
             90, "the orphaned jobs to end")

    # what the interrupted run left: no fit file is half-written (fits write atomically),
    # and every finished fit is in the cache
    present = fit_files(work)
    for f in present:
        json.loads((work / f).read_text())
    cached = len(list((work / "results/.fitcache").glob("*.fit.json")))
    assert len(present) <= cached < n_fits, f"kill was not mid-run ({cached} fits cached)"
    marked = incomplete_marked(work)
    complete = [b for b, fits in plan.items()
                if all(f in present and f not in marked for f in fits)]
    kept = {f: (work / f).stat().st_mtime_ns for b in complete for f in plan[b]}
    assert not (work / "results/tables/fits.csv").exists()

    # recovery: remove the SIGKILLed run's lock, start the same command again
    unlock = run_logged(snakemake_cmd(*STUDY, "--unlock", profile=False), work,
                        work / "snakemake-unlock.log", 120)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    t_wall_re = time.time()
    t_re = time.monotonic()
    rerun = run_logged(snakemake_cmd(*STUDY), work, work / "snakemake-rerun.log",
                       RUN_TIMEOUT)
    t_rerun = time.monotonic() - t_re
    log2 = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log2[-5000:]
    # only the fits that had not finished ran; the batches that had finished did not run
    rerun_batches = [b for b in plan if batch_log(work, b).stat().st_mtime > t_wall_re]
    assert not set(rerun_batches) & set(complete)
    sums = [batch_summary(batch_log(work, b)) for b in rerun_batches]
    assert sum(x["ran"] for x in sums) == n_fits - cached, sums
    assert sum(x["ran"] + x["cached"] for x in sums) == sum(len(plan[b]) for b in
                                                             rerun_batches)
    for f, mtime in kept.items():
        assert (work / f).stat().st_mtime_ns == mtime, f"{f} was rewritten"
    assert set(plan[victim_batch]) <= set(fit_files(work))

    # same fits as the undisturbed local run (2 batches there, 8 here)
    local = local_run.result()
    assert len(fit_files(local)) == n_fits
    assert_same_tables(local, work)
    # and nothing left to do (asked with the same profile: another profile plans other
    # batches, whose params differ; those would copy their fits from the cache)
    again = run_logged(snakemake_cmd(*STUDY, "--dry-run"), work,
                       work / "snakemake-dry.log", 120)
    assert "Nothing to be done" in again.stdout + again.stderr
    print(f"SLURM fault run: scancel at {t_cancel:.0f}s, SIGKILL at {t_kill:.0f}s "
          f"({cached}/{n_fits} fits cached, {len(complete)} batches complete), "
          f"rerun {t_rerun:.0f}s ({len(rerun_batches)} batches)")
    assert victim in log1  # the head saw the cancelled job


# ---------------------------------------------------------------- a fit that always fails


def test_failing_fit_is_retried_reported_others_finish(local_run, tmp_path):
    """A batch holding a fit whose target file is corrupt fails on the node after writing
    its other fits, is retried once with more memory and time (the batch rules' resources:
    doubled on attempt 2), then reported; two independent batches finish."""
    local = local_run.result()
    work = scratch(tmp_path)
    # the targets of the local run (copy2 keeps mtimes: no targets_<entry> job to redo)
    shutil.copytree(local / "results/targets", work / "results/targets")
    bad = "lif-prior-s41"
    (work / f"results/targets/{bad}.json").write_text('{"spike_times": [1.0, 2.0')  # cut
    plan = batch_plan(work)
    holds_bad = [b for b, fits in plan.items() if any(f"target~{bad}/" in f for f in fits)]
    # two batches without the bad target and without snn fits (which would need the
    # inputs job first)
    others = [b for b, fits in plan.items() if b not in holds_bad
              and not any("optimizer~snn" in f for f in fits)][:2]
    bad_batch = holds_bad[0]
    assert len(others) == 2
    wanted = [bad_batch, *others]
    proc = run_logged(snakemake_cmd(*STUDY, targets=tuple(plan[b][0] for b in wanted)), work,
                      work / "snakemake-fail.log", RUN_TIMEOUT)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a permanently failing fit must fail the run"
    assert f"Error in rule {bad_batch}" in log, log[-4000:]
    rid = run_id(log)
    jobs = squeue_jobs(rid)
    by_batch = {b: [j for j in jobs if batch_of(j["id"]) == b] for b in wanted}
    # the failing batch: two SLURM jobs (retries: 1), both FAILED, the retry with more
    # memory and time
    first, retry = (job_fields(j["id"]) for j in by_batch[bad_batch])
    assert first["JobState"] == retry["JobState"] == "FAILED", (first, retry)
    mem = lambda f: int(f["MinMemoryNode"].rstrip("M"))  # noqa: E731
    assert mem(retry) > mem(first), (first["MinMemoryNode"], retry["MinMemoryNode"])
    assert retry["TimeLimit"] > first["TimeLimit"], (first["TimeLimit"], retry["TimeLimit"])
    # the failure is reported with the batch's log, which names the fit and the cause
    assert f"results/logs/fit_batch/{bad_batch}.log" in log, log[-4000:]
    blog = batch_log(work, bad_batch).read_text()
    assert f"target~{bad}/" in blog and "not valid JSON" in blog
    # its other fits ran on the first attempt and came from the cache on the retry
    n_ok = sum(f"target~{bad}/" not in f for f in plan[bad_batch])
    n_bad = len(plan[bad_batch]) - n_ok
    assert batch_summary(batch_log(work, bad_batch)) == {"ran": 0, "cached": n_ok,
                                                         "failed": n_bad}
    assert not any((work / f).exists() for f in plan[bad_batch] if f"target~{bad}/" in f)
    # keep-going: the independent batches ran once each and finished
    for b in others:
        (job,) = by_batch[b]
        assert job["state"] == "COMPLETED", job
        for f in plan[b]:
            fit = json.loads((work / f).read_text())
            assert fit["model"] in f and fit["optimizer"] in f
