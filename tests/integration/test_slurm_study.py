"""The quick study (config/quick.yaml) on the local SLURM cluster through the project's
profile (workflow/profiles/slurm), against a local run of the same study.

* test_quick_study_on_slurm_survives_faults_and_equals_local: one SLURM run in which a
  running fit job is `scancel`led (the profile's `retries: 1` resubmits it) and then
  Snakemake itself is SIGKILLed mid-run (the run's orphaned jobs are scancelled, as a
  user would); `--unlock` + the same command again finishes the study, recomputing only
  what had not finished; fits.csv, heldout.csv and history.csv equal the local run's
  in every column except timings and energy.
* test_failing_fit_is_retried_reported_others_finish: three fits, one on a corrupted
  target file: that fit is submitted twice (with more memory and time the second time),
  then reported; the two independent fits finish (`keep-going`).

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
    cluster_problem,
    env,
    fit_jobs_of,
    job_counts,
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
CA1 = REPO.parent / "shared/data/recordings/ca1_pyramidal/spikes.csv"
FIT_LEVELS = ["target", "model", "dim", "optimizer", "current", "seed", "budget"]


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


def fit_path(wc: dict[str, str]) -> str:
    return "results/fits/" + "/".join(f"{k}~{wc[k]}" for k in FIT_LEVELS) + ".json"


def fit_log(wc: dict[str, str]) -> str:
    return "results/logs/fit/" + "/".join(f"{k}~{wc[k]}" for k in FIT_LEVELS) + ".log"


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


def _cancel_a_running_fit(work: Path, rid: str, timeout: float = 300):
    """scancel a fit job of run `rid` while its fit is running (its log exists, its output
    not yet). Returns (jobid, wildcards of its fit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job in squeue_jobs(rid):
            if job["state"] != "RUNNING" or not job["comment"].startswith("rule_fits"):
                continue
            for wc in fit_jobs_of(job["id"]):
                if (work / fit_log(wc)).exists() and not (work / fit_path(wc)).exists():
                    subprocess.run(["scancel", job["id"]], check=True, timeout=15)
                    return job["id"], wc
        time.sleep(0.2)
    raise AssertionError("no running fit job to cancel")


def test_quick_study_on_slurm_survives_faults_and_equals_local(local_run, tmp_path):
    work = scratch(tmp_path)
    head_log = work / "snakemake-head.log"
    t0 = time.monotonic()
    with open(head_log, "w") as fh:
        head = subprocess.Popen(snakemake_cmd(*STUDY), cwd=work, env=env(), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rid = wait_for(lambda: run_id(head_log.read_text()), 120, "the SLURM run ID")
        # fault 1: scancel a running fit job; Snakemake sees CANCELLED and resubmits it
        victim, victim_wc = _cancel_a_running_fit(work, rid)
        t_cancel = time.monotonic() - t0

        def retried():
            return [j for j in squeue_jobs(rid) if int(j["id"]) > int(victim)
                    and victim_wc in fit_jobs_of(j["id"])]

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

    # what the interrupted run left: no fit file is half-written (fits write atomically)
    present = fit_files(work)
    for f in present:
        json.loads((work / f).read_text())
    marked = incomplete_marked(work)
    done = [f for f in present if f not in marked]
    # config/quick.yaml: 3 models x 5 targets (4 without the CA1 recording) + 4 + 3
    n_fits = 22 if CA1.exists() else 19
    assert 0 < len(done) < n_fits, f"kill was not mid-run ({len(done)} fits done)"
    assert not (work / "results/tables/fits.csv").exists()
    before = {f: (work / f).stat().st_mtime_ns for f in done}

    # recovery: remove the SIGKILLed run's lock, start the same command again
    unlock = run_logged(snakemake_cmd(*STUDY, "--unlock", profile=False), work,
                        work / "snakemake-unlock.log", 120)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    t_re = time.monotonic()
    rerun = run_logged(snakemake_cmd(*STUDY), work, work / "snakemake-rerun.log",
                       RUN_TIMEOUT)
    t_rerun = time.monotonic() - t_re
    log2 = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, log2[-5000:]
    # only what had not finished was recomputed
    counts = job_counts(log2)
    assert counts.get("fit", 0) == n_fits - len(done), (counts, len(done))
    for f, mtime in before.items():
        assert (work / f).stat().st_mtime_ns == mtime, f"{f} was recomputed"
    assert fit_path(victim_wc) in fit_files(work)

    # same fits as the undisturbed local run
    local = local_run.result()
    assert len(fit_files(local)) == n_fits
    assert_same_tables(local, work)
    # and nothing left to do
    again = run_logged(snakemake_cmd(*STUDY, "--dry-run", profile=False), work,
                       work / "snakemake-dry.log", 120)
    assert "Nothing to be done" in again.stdout + again.stderr
    print(f"SLURM fault run: scancel at {t_cancel:.0f}s, SIGKILL at {t_kill:.0f}s "
          f"({len(done)}/{n_fits} fits done, {len(marked)} marked incomplete), "
          f"rerun {t_rerun:.0f}s ({counts.get('total')} jobs)")
    assert victim in log1  # the head saw the cancelled job


# ---------------------------------------------------------------- a fit that always fails


def test_failing_fit_is_retried_reported_others_finish(local_run, tmp_path):
    """A fit whose target file is corrupt fails on the node, is retried once with more
    memory and time (profile: retries 1, set-resources fit), then reported; the two
    independent fits (other targets) finish."""
    local = local_run.result()
    work = scratch(tmp_path)
    # the targets of the local run (raw + final; copy2 keeps mtimes: nothing to redo)
    shutil.copytree(local / "results/targets", work / "results/targets")
    bad = "izh-prior-s1"
    (work / f"results/targets/{bad}.json").write_text('{"spike_times": [1.0, 2.0')  # cut
    wanted = [
        dict(target=bad, model="lif", current="recorded"),
        dict(target="adex-adapting-resolved", model="lif", current="recorded"),
        dict(target="notebook", model="lif", current="search"),
    ]
    wcs = [dict(w, dim="full", optimizer="cmaes", seed="2", budget="300") for w in wanted]
    proc = run_logged(snakemake_cmd(*STUDY, targets=tuple(fit_path(w) for w in wcs)), work,
                      work / "snakemake-fail.log", RUN_TIMEOUT)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, "a permanently failing fit must fail the run"
    assert "Error in group fits" in log or "Error in rule fit" in log, log[-4000:]
    assert f"target={bad}" in log or f"target~{bad}" in log
    rid = run_id(log)
    jobs = squeue_jobs(rid)
    by_fit = {fit_path(w): [j for j in jobs if w in fit_jobs_of(j["id"])] for w in wcs}
    # the failing fit: two SLURM jobs (retries: 1), both FAILED, the retry with more
    # memory and time
    first, retry = (job_fields(j["id"]) for j in by_fit[fit_path(wcs[0])])
    assert first["JobState"] == retry["JobState"] == "FAILED", (first, retry)
    mem = lambda f: int(f["MinMemoryNode"].rstrip("M"))  # noqa: E731
    assert mem(retry) > mem(first), (first["MinMemoryNode"], retry["MinMemoryNode"])
    assert retry["TimeLimit"] > first["TimeLimit"], (first["TimeLimit"], retry["TimeLimit"])
    assert not (work / fit_path(wcs[0])).exists()
    # the failure is reported, with the fit's log (the node's error message)
    assert fit_log(wcs[0]) in log, log[-4000:]
    assert (work / fit_log(wcs[0])).read_text().strip()
    # keep-going: the independent fits ran once each and finished
    for w in wcs[1:]:
        (job,) = by_fit[fit_path(w)]
        assert job["state"] == "COMPLETED", job
        fit = json.loads((work / fit_path(w)).read_text())
        assert int(fit["seed"]) == 2 and fit["model"] == "lif"
