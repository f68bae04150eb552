"""Throughput of the fits and of the study (issue 11's goals), on one core.

``--part fit``: where a fit's time goes. Each fit runs in this process with a timer around
every kernel call (the forward kernels, through ``snnfit.sim.simulate.kernel_for``, and the
sensitivity kernels of the gradient optimizers, through ``snnfit.sim.grad``): the kernel's
share of the fit's own seconds (the record's ``wall_s``/``cpu_s``, compilation excluded) and
the seconds of each optimizer at equal budget. pycma's ``ask`` and ``tell`` are timed too
(``pycma_cpu_s``): the summary gives their share and the kernel's share the fit would have if
everything but the kernel and pycma cost nothing (the ceiling while pycma runs the loop).
Fits: CMA-ES and ``direct`` on the AdEx
(``naud2008:adapting``) and Izhikevich (``izhikevich2007:RS``) presets, ``--budget`` (5000)
forward-equivalents, one 1.2 s sweep, ``--repeats`` seeds each, interleaved (cmaes, direct,
cmaes, ...) so that load from other processes hits both alike; the 1-minute load average is
recorded with every fit. Rows are appended to ``--out`` (default
``results/benchmarks/throughput_fits.csv``) with ``--label``, so that two checkouts can be
measured in turn (A/B) with their own interpreters::

    for r in 1 2 3; do
      /path/to/A/.venv/bin/python benchmarks/throughput.py --part fit --label A --seeds $r
      .venv/bin/python benchmarks/throughput.py --part fit --label B --seeds $r
    done
    .venv/bin/python benchmarks/throughput.py --summary      # medians per label

``--part overhead --python PY --mode batch|single --label L``: the start-up and bookkeeping
around fits, in CPU seconds (robust to load from other processes) and wall seconds. A fixed
set of 24 fits like one batch of the default study (the three models on two presets with a
held-out sweep, CMA-ES at budget 1500, held-out evaluations; AdEx and Izhikevich with
``direct``, ``random`` and ``snn`` at budget 2000) runs with the interpreter ``PY`` either
as one ``snnfit fit-batch`` process (``batch``) or as one ``snnfit fit`` process per fit and
one ``snnfit evaluate`` per held-out evaluation (``single``: the study before batches). The
overhead per fit is (the processes' total - the fits' own) / fits, for CPU (user + system of
the child processes) and wall; appended to ``results/benchmarks/throughput_overhead.csv``.

``--part study --results DIR --label L``: the study benchmark (``snnfit.study.throughput``,
the columns of ``results/benchmarks/study.csv``) of a finished study's ``DIR``
(``benchmarks/rules/`` and ``fits/`` under it, any layout of the fit rules: one job per fit
or batches), with a kernel benchmark run now; appended to
``results/benchmarks/throughput_study.csv``. ``--cores`` (2) as the study ran.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
FIT_COLUMNS = ["label", "model", "optimizer", "budget", "seed", "wall_s", "cpu_s",
               "kernel_wall_s", "kernel_cpu_s", "kernel_calls", "evaluations", "gamma",
               "load1", "pycma_cpu_s", "pycma_calls"]
PRESETS = {"adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS"}


class KernelTimer:
    """Wraps the kernels the fits call; sums their wall and CPU seconds."""

    def __init__(self):
        self.wall = self.cpu = 0.0
        self.calls = 0
        self._wrapped = {}

    def wrap(self, kernel):
        if kernel not in self._wrapped:
            def timed(*args):
                w0, c0 = time.perf_counter(), time.process_time()
                out = kernel(*args)
                self.wall += time.perf_counter() - w0
                self.cpu += time.process_time() - c0
                self.calls += 1
                return out
            self._wrapped[kernel] = timed
        return self._wrapped[kernel]

    def install(self):
        """Wrap every kernel the fits can call: the models' scheme registry (``maps``), or,
        in checkouts from before it, ``simulate.kernel_for`` and ``grad._SENS_BY_SCHEME``."""
        import dataclasses

        from snnfit.sim import grad, models, simulate

        if hasattr(models.get_model("adex"), "maps"):
            for name in ("lif", "adex", "izhikevich"):
                m = models.get_model(name)
                for scheme, e in list(m.maps.items()):
                    m.maps[scheme] = dataclasses.replace(
                        e, kernel=self.wrap(e.kernel),
                        sensitivity=e.sensitivity and self.wrap(e.sensitivity))
            return
        original = simulate.kernel_for

        def kernel_for(model, code):
            k, c = original(model, code)
            return self.wrap(k), c

        simulate.kernel_for = kernel_for
        for table in grad._SENS_BY_SCHEME.values():
            for name, (kern, init) in list(table.items()):
                table[name] = (self.wrap(kern), init)

    def reset(self):
        self.wall = self.cpu = 0.0
        self.calls = 0


class PycmaTimer:
    """Wraps pycma's ``ask`` and ``tell`` (the optimiser's own bookkeeping: sampling, the
    covariance update, its archive of sent solutions); sums their CPU seconds. The
    boundary transform is included (it runs inside ``ask``)."""

    def __init__(self):
        self.cpu = 0.0
        self.calls = 0

    def install(self):
        from snnfit.fit.optimizers import cmaes

        es_class = cmaes.cma.CMAEvolutionStrategy
        for name in ("ask", "tell"):
            original = getattr(es_class, name)

            def timed(es, *args, _original=original, **kwargs):
                t = time.thread_time()
                try:
                    return _original(es, *args, **kwargs)
                finally:
                    self.cpu += time.thread_time() - t
                    self.calls += 1
            setattr(es_class, name, timed)

    def reset(self):
        self.cpu = 0.0
        self.calls = 0


def _target(model: str, tmp: Path, sweeps: str = "preset") -> str:
    """The benchmark's target: the model's preset (one sweep), or with ``sweeps="study"`` the
    study's synthetic form of it (the truth at 1x and 2x its amplitude, both fitted)."""
    from snnfit.data.targets import preset_target, write_target
    from snnfit.data.truth import truth_at_factors

    p = tmp / f"{model}{'' if sweeps == 'preset' else '_x1_x2'}.json"
    if not p.exists():
        t = preset_target(PRESETS[model], scheme="resolved")
        write_target(p, t if sweeps == "preset" else truth_at_factors(t, [1.0, 2.0]))
    return str(p)


def part_fit(args) -> None:
    from snnfit.fit import FitSettings, run_fit

    timer = KernelTimer()
    timer.install()
    pycma = PycmaTimer()
    pycma.install()
    tmp = OUT / "throughput_targets"
    tmp.mkdir(parents=True, exist_ok=True)
    models = args.models.split(",")
    optimizers = args.optimizers.split(",")
    for model in models:  # warm: compile / load every kernel, import pycma
        for opt in optimizers:
            run_fit(_target(model, tmp, args.sweeps), FitSettings(
                model=model, optimizer=opt, budget=50, current="recorded"))
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for model in models:
            for opt in optimizers:
                load = os.getloadavg()[0]
                timer.reset()
                pycma.reset()
                extra = {} if args.loss is None else {"loss": args.loss}
                r = run_fit(_target(model, tmp, args.sweeps), FitSettings(
                    model=model, optimizer=opt, budget=args.budget, seed=seed,
                    current="recorded", **extra))
                row = dict(label=args.label, model=model, optimizer=opt, budget=args.budget,
                           seed=seed, wall_s=r.wall_s, cpu_s=r.cpu_s,
                           kernel_wall_s=timer.wall, kernel_cpu_s=timer.cpu,
                           kernel_calls=timer.calls, evaluations=r.forward_equivalents,
                           gamma=r.gamma, load1=load, pycma_cpu_s=pycma.cpu,
                           pycma_calls=pycma.calls)
                rows.append(row)
                print(f"{args.label} {model} {opt} seed {seed}: {r.wall_s:.3f} s wall, "
                      f"{r.cpu_s:.3f} s CPU, kernel {timer.cpu / r.cpu_s:.1%} of CPU, "
                      f"pycma {pycma.cpu / r.cpu_s:.1%} "
                      f"(load {load:.2f})", file=sys.stderr, flush=True)
    _append(Path(args.out), rows, FIT_COLUMNS)


def _append(path: Path, rows: list[dict], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        if new:
            w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in columns})


def summary(path: Path) -> None:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    groups = {}
    for r in rows:
        groups.setdefault((r["label"], r["model"], r["budget"]), {}).setdefault(
            r["optimizer"], []).append(r)
    print("label model budget optimizer n | median wall_s cpu_s | kernel share (CPU, wall) | "
          "pycma share (CPU) | kernel share (CPU) if all but the kernel and pycma cost nothing "
          "| load1 range")
    for (label, model, budget), by_opt in sorted(groups.items()):
        for opt, rs in sorted(by_opt.items()):
            med = lambda k: statistics.median(float(r[k]) for r in rs)  # noqa: E731
            share_c = statistics.median(float(r["kernel_cpu_s"]) / float(r["cpu_s"]) for r in rs)
            share_w = statistics.median(float(r["kernel_wall_s"]) / float(r["wall_s"])
                                        for r in rs)
            loads = [float(r["load1"]) for r in rs]
            if all(r.get("pycma_cpu_s") not in (None, "") for r in rs):  # older rows: none
                share_p = statistics.median(float(r["pycma_cpu_s"]) / float(r["cpu_s"])
                                            for r in rs)
                ceiling = statistics.median(
                    float(r["kernel_cpu_s"]) / (float(r["kernel_cpu_s"])
                                                + float(r["pycma_cpu_s"])) for r in rs)
                pyc = f"{share_p:.1%} | {ceiling:.1%}"
            else:
                pyc = "- | -"
            print(f"{label} {model} {budget} {opt} {len(rs)} | {med('wall_s'):.3f} "
                  f"{med('cpu_s'):.3f} | {share_c:.1%} {share_w:.1%} | {pyc} | "
                  f"{min(loads):.2f}-{max(loads):.2f}")
        if "cmaes" in by_opt and "direct" in by_opt:
            c = {k: statistics.median(float(r[k]) for r in by_opt["cmaes"])
                 for k in ("wall_s", "cpu_s")}
            d = {k: statistics.median(float(r[k]) for r in by_opt["direct"])
                 for k in ("wall_s", "cpu_s")}
            print(f"{label} {model} {budget} direct/cmaes: {d['cpu_s'] / c['cpu_s']:.2f} (CPU), "
                  f"{d['wall_s'] / c['wall_s']:.2f} (wall)")


def part_study(args) -> None:
    from snnfit.study.throughput import (COLUMNS, fit_work, kernel_throughput,
                                         read_job_benchmarks, study_rows)

    res = Path(args.results)
    bench = res / "benchmarks" / "rules" if (res / "benchmarks").exists() else res / "rules"
    jobs = read_job_benchmarks(bench)
    fit_rules = [r for r in dict.fromkeys(j.rule for j in jobs) if r.startswith("fit")]
    rule = fit_rules[0] if fit_rules else "fit"
    fits = [fit_work(rule, p) for p in sorted((res / "fits").rglob("*.json"))]
    schemes = {f.scheme for f in fits}
    throughput = {}
    for scheme in schemes:
        throughput.update(kernel_throughput(sorted({f.model for f in fits}), scheme,
                                            OUT / f"throughput_kernels_{args.label}.csv"))
    rows = study_rows(jobs, fits, throughput, args.cores)
    for r in rows:
        r["label"] = args.label
    _append(OUT / "throughput_study.csv", rows, ["label", *COLUMNS])
    for r in rows:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})


OVERHEAD_COLUMNS = ["label", "mode", "fits", "wall_s", "cpu_s", "fit_wall_s", "fit_cpu_s",
                    "overhead_wall_per_fit_s", "overhead_cpu_per_fit_s", "load1"]


def _overhead_plan(tmp: Path, py: str) -> list[dict]:
    """The 24 fits of --part overhead (plan entries) and their targets (made with ``py``)."""
    import subprocess

    code = ("import sys; from snnfit.data.targets import preset_target, write_target; "
            "from snnfit.data.truth import add_truth_sweeps; "
            "write_target(sys.argv[1], add_truth_sweeps(preset_target(sys.argv[2], "
            "scheme='resolved'), [1.5]))")
    fits = []
    for name, preset in (("adapting", "naud2008:adapting"), ("rs", "izhikevich2007:RS")):
        t = tmp / f"{name}.json"
        subprocess.run([py, "-c", code, str(t), preset], check=True)
        for model in ("lif", "adex", "izhikevich"):
            for seed in (1, 2):
                fits.append(dict(target=str(t), settings=dict(
                    model=model, optimizer="cmaes", seed=seed, budget=1500,
                    current="recorded", sweeps=["0"]),
                    heldout=dict(target=str(t), sweeps=["1"])))
        for model in ("adex", "izhikevich"):
            for opt in ("direct", "random", "snn"):
                fits.append(dict(target=str(t), settings=dict(
                    model=model, optimizer=opt, seed=1, budget=2000, current="recorded",
                    sweeps=["0"]), heldout=None))
    for i, f in enumerate(fits):
        f["out"] = str(tmp / "out" / f"fit{i:02d}.json")
        if f["heldout"]:
            f["heldout"]["out"] = str(tmp / "out" / f"fit{i:02d}.heldout.json")
    return fits


def part_overhead(args) -> None:
    import json
    import resource
    import shutil
    import subprocess

    tmp = OUT / f"throughput_overhead_{args.label}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    fits = _overhead_plan(tmp, args.python)
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    load = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    if args.mode == "batch":
        plan = tmp / "plan.json"
        plan.write_text(json.dumps({"cache": None, "fits": fits}))
        subprocess.run([args.python, "-m", "snnfit", "fit-batch", "--plan", str(plan)],
                       env=env, check=True, capture_output=True)
    else:
        for f in fits:
            s = f["settings"]
            cmd = [args.python, "-m", "snnfit", "fit", "--target", f["target"], "--out",
                   f["out"], "--sweeps", ",".join(s["sweeps"])]
            for k in ("model", "optimizer", "seed", "budget", "current"):
                cmd += [f"--{k}", str(s[k])]
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            if f["heldout"]:
                h = f["heldout"]
                subprocess.run([args.python, "-m", "snnfit", "evaluate", "--fit", f["out"],
                                "--target", h["target"], "--sweeps", ",".join(h["sweeps"]),
                                "--out", h["out"]], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - w0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    recs = [json.loads(Path(f["out"]).read_text()) for f in fits]
    fw, fc = sum(r["wall_s"] for r in recs), sum(r["cpu_s"] for r in recs)
    n = len(fits)
    row = dict(label=args.label, mode=args.mode, fits=n, wall_s=wall, cpu_s=cpu, fit_wall_s=fw,
               fit_cpu_s=fc, overhead_wall_per_fit_s=(wall - fw) / n,
               overhead_cpu_per_fit_s=(cpu - fc) / n, load1=load)
    _append(OUT / "throughput_overhead.csv", [row], OVERHEAD_COLUMNS)
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("fit", "study", "overhead"))
    ap.add_argument("--summary", action="store_true", help="medians per label of --out")
    ap.add_argument("--label", default="this")
    ap.add_argument("--models", default="adex,izhikevich")
    ap.add_argument("--optimizers", default="cmaes,direct")
    ap.add_argument("--budget", type=int, default=5000)
    ap.add_argument("--loss", default=None,
                    help="--part fit: FitSettings.loss (default: the engine's, now vr)")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--sweeps", choices=("preset", "study"), default="preset",
                    help="--part fit: the preset's one sweep, or the study's synthetic target "
                    "(the truth at 1x and 2x, both fitted)")
    ap.add_argument("--out", default=str(OUT / "throughput_fits.csv"))
    ap.add_argument("--results", help="--part study: a finished study's results/ directory")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--python", default=sys.executable,
                    help="--part overhead: the interpreter (venv) whose snnfit runs the fits")
    ap.add_argument("--mode", choices=("batch", "single"), default="batch")
    args = ap.parse_args()
    if args.part == "fit":
        part_fit(args)
    elif args.part == "study":
        part_study(args)
    elif args.part == "overhead":
        part_overhead(args)
    if args.summary:
        summary(Path(args.out))


if __name__ == "__main__":
    main()
