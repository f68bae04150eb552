"""The study benchmark: where a study's time went, against the time its simulations need.

:func:`study_benchmark` writes ``results/benchmarks/study.csv`` (rule ``study_benchmark``,
every run of the study): one row per rule (the jobs of that rule, from Snakemake's benchmark
files) and a last row ``rule = "study"`` for the whole run. Columns (documented in
``docs/study.md``, section *Throughput*):

``rule, jobs, wall_s, cpu_s, fits, fit_wall_s, fit_cpu_s, overhead_per_fit_s, fit_share,
neuron_steps, lower_bound_s, study_wall_s, cores, ratio_to_lower_bound, kernel_batch,
kernel_threads, load1``

* ``wall_s``, ``cpu_s``: the rule's jobs summed (benchmark columns ``s`` and ``cpu_time``:
  the job's processes' user + system CPU seconds).
* ``fits``, ``fit_wall_s``, ``fit_cpu_s``: the fit records the rule wrote and their own
  ``wall_s``/``cpu_s`` summed (the metered fit: from after the kernels are warmed to the end
  of the final scoring); ``overhead_per_fit_s = (wall_s - fit_wall_s) / fits``;
  ``fit_share = fit_wall_s / wall_s`` (on the ``study`` row: over all jobs of the study).
* ``neuron_steps``: sum over the fits of forward-equivalents (the record's ``evaluations``)
  x time steps per simulation (a fit's sweeps' mean ``t_stop / dt``).
* ``lower_bound_s``: ``neuron_steps`` / the kernel's throughput (neuron-steps per second of
  the fit's model and scheme at batch ``kernel_batch`` = 64 on ``kernel_threads`` = 1 thread,
  measured in the same run by a short kernel benchmark, ``kernels.csv``), summed over fits;
  on the ``study`` row divided by ``cores``: the time the study's simulations alone would
  take on ``cores`` cores. ``study_wall_s``: the measured wall time of the study, from the
  first job's start to the last job's end (a benchmark file is written when its job ends;
  start = that time - ``s``); ``ratio_to_lower_bound = study_wall_s / lower_bound_s``.
* ``load1``: the 1-minute load average when the table was written (the machine may be
  shared).

The figures describe the benchmark files present: after a partial re-run they mix the runs
(``study_wall_s`` then spans both); measure a study from an empty ``results/``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import UserError
from ..io import atomic_write_text

COLUMNS = ("rule", "jobs", "wall_s", "cpu_s", "fits", "fit_wall_s", "fit_cpu_s",
           "overhead_per_fit_s", "fit_share", "neuron_steps", "lower_bound_s", "study_wall_s",
           "cores", "ratio_to_lower_bound", "kernel_batch", "kernel_threads", "load1")
KERNEL_BATCH = 64
KERNEL_THREADS = 1


@dataclass(frozen=True)
class JobBenchmark:
    """One job's benchmark file: its rule, wall and CPU seconds, end time (epoch s)."""

    rule: str
    wall_s: float
    cpu_s: float
    end: float

    @property
    def start(self) -> float:
        return self.end - self.wall_s


def read_job_benchmarks(bench_dir: str | Path) -> list[JobBenchmark]:
    """Every ``*.tsv`` under ``bench_dir`` (Snakemake ``benchmark:`` files, the last row when
    a job was repeated); the rule is the first path component (``fit_batch/x.tsv``,
    ``report/adaptation.tsv``) or the file's stem (``aggregate.tsv``)."""
    root = Path(bench_dir)
    out = []
    for p in sorted(root.rglob("*.tsv")):
        rel = p.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else p.stem
        with open(p, newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        try:
            wall = float(row["s"])
            cpu = float(row.get("cpu_time") or "nan")
        except (KeyError, ValueError):
            raise UserError(f"{p}: not a Snakemake benchmark file (no numeric 's' column)")
        out.append(JobBenchmark(rule, wall, cpu, p.stat().st_mtime))
    return out


@dataclass(frozen=True)
class FitWork:
    """What one fit record says about its work: its own seconds and its simulations."""

    rule: str
    model: str
    scheme: str
    wall_s: float
    cpu_s: float
    neuron_steps: float


def fit_work(rule: str, path: str | Path) -> FitWork:
    """A fit record's own seconds and neuron-steps (forward-equivalents x mean steps per
    simulation of its sweeps)."""
    from ..fit.record import FitResult
    from ..sim.protocol import StepProtocol

    fit = FitResult.load(path)
    steps = [StepProtocol.from_dict(p).n_steps for p in fit.protocols]
    per_sim = sum(steps) / len(steps) if steps else 0.0
    return FitWork(rule, fit.model, fit.scheme, float(fit.wall_s), float(fit.cpu_s),
                   fit.forward_equivalents * per_sim)


def kernel_throughput(models: Sequence[str], scheme: str, kernels_csv: str | Path,
                      repeats: int = 3) -> dict[tuple[str, str], float]:
    """Neuron-steps per second of each model's forward kernel at batch 64 on one thread
    (``snnfit bench`` for those models and the scheme only, CPU clock, no fastmath build),
    written to ``kernels_csv``; ``resolved2`` is timed as ``resolved`` (the bench times the
    models' main kernel)."""
    from ..sim.bench import bench_kernels

    bench_scheme = "resolved" if scheme == "resolved2" else scheme
    rows, _ = bench_kernels(tuple(models), schemes=(bench_scheme,), batches=(KERNEL_BATCH,),
                            threads=KERNEL_THREADS, repeats=repeats, fastmath=False,
                            clock="cpu", log=lambda m: None)
    _write_csv(kernels_csv, rows, list(rows[0]) if rows else ["model"])
    return {(r["model"], scheme): float(r["neuron_steps_per_s"]) for r in rows}


def _write_csv(path, rows: list[dict], columns) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
    atomic_write_text(path, buf.getvalue())


def _ratio(a, b):
    return a / b if b else None


def study_rows(jobs: Sequence[JobBenchmark], fits: Sequence[FitWork],
               throughput: dict[tuple[str, str], float], cores: int) -> list[dict]:
    """The rows of ``study.csv`` (module docstring) from the jobs' benchmarks, the fits'
    work and the kernel throughput per (model, scheme)."""
    if cores < 1:
        raise UserError(f"cores: must be >= 1, got {cores}")
    rules = list(dict.fromkeys(j.rule for j in jobs))
    rows = []

    def row(rule, js, fs):
        wall = sum(j.wall_s for j in js)
        cpu = sum(j.cpu_s for j in js)
        fit_wall = sum(f.wall_s for f in fs)
        steps = sum(f.neuron_steps for f in fs)
        bound = sum(f.neuron_steps / throughput[(f.model, f.scheme)] for f in fs)
        return {"rule": rule, "jobs": len(js), "wall_s": wall, "cpu_s": cpu, "fits": len(fs),
                "fit_wall_s": fit_wall if fs else None,
                "fit_cpu_s": sum(f.cpu_s for f in fs) if fs else None,
                "overhead_per_fit_s": (wall - fit_wall) / len(fs) if fs else None,
                "fit_share": _ratio(fit_wall, wall) if fs else None,
                "neuron_steps": steps if fs else None,
                "lower_bound_s": bound if fs else None}

    for rule in rules:
        rows.append(row(rule, [j for j in jobs if j.rule == rule],
                        [f for f in fits if f.rule == rule]))
    total = row("study", list(jobs), list(fits))
    span = (max(j.end for j in jobs) - min(j.start for j in jobs)) if jobs else 0.0
    bound = (total["lower_bound_s"] or 0.0) / cores
    total.update(lower_bound_s=bound, study_wall_s=span, cores=cores,
                 ratio_to_lower_bound=_ratio(span, bound), kernel_batch=KERNEL_BATCH,
                 kernel_threads=KERNEL_THREADS, load1=os.getloadavg()[0])
    rows.append(total)
    return rows


def study_benchmark(bench_dir: str | Path, fit_files: dict[str, Sequence[str]], scheme: str,
                    cores: int, out_csv: str | Path, kernels_csv: str | Path) -> list[dict]:
    """Measure the kernel throughput, read the jobs' benchmarks and the fits' records (``rule
    -> fit files``), write ``out_csv`` (module docstring); returns its rows."""
    fits = [fit_work(rule, p) for rule, paths in fit_files.items() for p in paths]
    models = sorted({f.model for f in fits})
    throughput = kernel_throughput(models, scheme, kernels_csv) if models else {}
    rows = study_rows(read_job_benchmarks(bench_dir), fits, throughput, cores)
    _write_csv(out_csv, rows, COLUMNS)
    return rows
