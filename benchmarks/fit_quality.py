"""Issue 12's goal sets: do the fits find the firing pattern?

Parts (``--part``, default ``all``; every fit CMA-ES, ``--current recorded``, ``--dim full``,
scheme ``resolved``, budget 20,000 unless ``--budget``):

``naud``
    AdEx fitted to every ``naud2008:*`` preset target (one sweep, made with ``--scheme
    resolved``: self-consistent). Goal: Gamma >= 0.9 on the 6 patterns tonic, adapting,
    initial_burst, regular_bursting, delayed_accelerating, delayed_regular_bursting for every
    seed; ``transient`` (one spike) and ``irregular`` (chaotic) are reported apart (count and
    ISI distribution).
``izh``
    Izhikevich fitted to ``izhikevich2007:RS, IB, CH`` (resolved). Goal: 3/3 per seed.
``prior``
    ``make-target --prior MODEL --seed S`` (resolved), S = 300..309 for AdEx and 400..409 for
    Izhikevich (evaluation seeds: never used for tuning; ``--prior-seeds`` overrides, e.g. the
    tuning seeds 310..319 / 410..419). Goal: >= 9/10 at Gamma >= 0.9 per model and seed.
``cross``
    Izhikevich fitted to AdEx ``naud2008:adapting`` and ``naud2008:initial_burst``, AdEx to
    ``izhikevich2007:RS``; each target has two sweeps, the preset's amplitude and 1.5 x it
    (resolved, :func:`snnfit.data.truth.add_truth_sweeps`), both fitted. Goal: count error 0
    and ISI error <= 2 ms in sample.
``real``
    Every cell of ``../shared/data/recordings/sscx_l5pc``: the first run's ``ok`` sweeps; four
    step amplitudes fitted (:func:`real_fit_sweeps`: step indices 2, 5, 8, 11 or the nearest
    ok ones), the other ok sweeps of the first run held out; AdEx, Izhikevich and LIF
    (``--real-models``). Goals: median in-sample count error <= 1 spike per sweep; no free
    parameter at a bound (within 1 % of the box width) in >= 90 % of the cells; held-out
    median count error <= 2 spikes per sweep.

``--variant NAME`` picks the fit settings (:data:`VARIANTS`; rows carry the variant name; a
fit run again replaces its row). Output:
``results/benchmarks/fit_quality.csv`` (one row per fit and per held-out evaluation),
``results/benchmarks/fit_quality_summary.md``, targets under
``results/benchmarks/targets/`` and fit records (empty history) under
``results/benchmarks/fits_quality/``. One thread, one fit at a time.

Usage::

    NUMBA_NUM_THREADS=1 nohup .venv/bin/python benchmarks/fit_quality.py --part all \\
        --variant default > results/benchmarks/fit_quality.log 2>&1 &
    .venv/bin/python benchmarks/fit_quality.py --summary-only
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

import numpy as np  # noqa: E402

from csvrows import _fmt, num, read_rows, write_rows  # noqa: E402
from fits import src_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
SSCX = ROOT.parent / "shared" / "data" / "recordings" / "sscx_l5pc"

NAUD_GOAL = ("tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
             "delayed_regular_bursting")
NAUD_APART = ("transient", "irregular")
IZH = ("RS", "IB", "CH")
PRIOR_SEEDS = {"adex": tuple(range(300, 310)), "izhikevich": tuple(range(400, 410))}
CROSS = (("izhikevich", "naud2008:adapting"), ("izhikevich", "naud2008:initial_burst"),
         ("adex", "izhikevich2007:RS"))
CROSS_FACTOR = 1.5
REAL_STEPS = (2, 5, 8, 11)
REAL_MODELS = ("adex", "izhikevich", "lif")
GAMMA_GOAL = 0.9
BOUND_FRAC = 0.01
PARTS = ("naud", "izh", "prior", "cross", "real")

#: fit settings per named variant: FitSettings keyword arguments, with ``cmaes`` and
#: ``stages`` the fields of CMAESSettings and StageSettings; ``main``: the code's defaults
VARIANTS: dict[str, dict] = {
    "main": {},
    "times": {"loss": "times"},
    "staged": {"loss": "staged"},
    "vr": {"loss": "vr"},
}


def variant_kwargs(spec: dict) -> dict:
    """FitSettings keyword arguments of a variant (see :data:`VARIANTS`)."""
    from snnfit.fit.optimizers.cmaes import CMAESSettings
    from snnfit.fit.stages import StageSettings

    kw = {k: v for k, v in spec.items() if k not in ("cmaes", "stages")}
    if spec.get("cmaes"):
        kw["optimizer_settings"] = CMAESSettings(**spec["cmaes"])
    if spec.get("stages"):
        kw["stage_settings"] = StageSettings(**spec["stages"])
    return kw


def _parse_kv(items) -> dict:
    out = {}
    for item in items or ():
        k, v = item.split("=", 1)
        if v.lower() in ("true", "false"):
            out[k] = v.lower() == "true"
            continue
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out

COLUMNS = ("part", "variant", "target", "target_seed", "target_spikes", "model", "seed",
           "budget", "fit_sweeps", "eval_sweeps", "heldout", "status", "loss", "gamma", "rmse",
           "count_error", "n_sweeps", "count_error_per_sweep", "model_counts", "data_counts",
           "isi_error_ms", "latency_error_ms", "pattern_score", "evaluations", "restarts",
           "at_bound", "rejected_draws", "dt_ms", "wall_s", "load1", "src_commit", "settings",
           "fit_file")


#: columns that name one fit or evaluation (a re-run replaces its row)
KEY = ("part", "variant", "target", "target_seed", "model", "seed", "budget", "fit_sweeps",
       "eval_sweeps", "heldout")


CSV_NAME = "fit_quality"


def csv_path() -> Path:
    """The CSV of this run (``--csv``: the tuning runs write ``fit_quality_tuning.csv``)."""
    return OUT / f"{CSV_NAME}.csv"


# ------------------------------------------------------------------------------- targets


def preset_file(name: str, factor: float | None = None) -> Path:
    from snnfit.data.targets import preset_target, write_target
    from snnfit.data.truth import add_truth_sweeps

    tag = f"_x{factor:g}" if factor else ""
    p = OUT / "targets" / f"{name.replace(':', '_')}_resolved{tag}.json"
    if not p.exists():
        t = preset_target(name, "resolved")
        if factor:
            t = add_truth_sweeps(t, [factor])
        write_target(p, t)
    return p


def prior_file(model: str, seed: int) -> Path:
    from snnfit.data.targets import prior_target, write_target

    p = OUT / "targets" / f"prior_{model}_s{seed}.json"
    if not p.exists():
        write_target(p, prior_target(model, seed, "resolved"))
    return p


def real_cells(run: int = 0) -> dict[str, list[dict]]:
    """``{cell: [sweeps.csv rows of run ``run`` that are ok]}`` (sorted by step index; run 0
    is the evaluation set, run 1, the repeat, is for tuning)."""
    from snnfit.data.quality import sweep_is_fittable

    out: dict[str, list[dict]] = {}
    with open(SSCX / "sweeps.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["repeat"] == str(run) and sweep_is_fittable(r):
                out.setdefault(r["cell_id"], []).append(r)
    for rows in out.values():
        rows.sort(key=lambda r: int(r["step_index"]))
    return out


def real_fit_sweeps(rows: list[dict]) -> list[str]:
    """The four fitted sweeps of a cell: the ok sweeps of the first run at step indices
    :data:`REAL_STEPS` (2, 5, 8, 11: 70 %, 100 %, 130 % and 160 % of the cell's reference
    current), each replaced, where it is missing, by the nearest ok step not yet taken
    (the lower one on a tie)."""
    steps = {int(r["step_index"]): r["sweep"] for r in rows}
    chosen: list[int] = []
    for want in REAL_STEPS:
        free = [s for s in steps if s not in chosen]
        chosen.append(min(free, key=lambda s: (abs(s - want), s)))
    return [steps[s] for s in sorted(chosen)]


def real_file(cell: str, rows: list[dict], run: int = 0) -> Path:
    from snnfit.data.targets import recording_target, write_target

    p = OUT / "targets" / f"sscx_{cell}{'' if run == 0 else f'_run{run}'}.json"
    if not p.exists():
        write_target(p, recording_target(SSCX / "spikes.csv", cell, [r["sweep"] for r in rows],
                                          notice=open(os.devnull, "w")))
    return p


# ------------------------------------------------------------------------------- fits


def at_bound(rec: dict, frac: float = BOUND_FRAC) -> list[str]:
    """Free parameters of a fit record within ``frac`` of the box width of a bound."""
    if "at_bound" in rec and rec["at_bound"] is not None:
        return list(rec["at_bound"])
    sp = rec["space"]
    out = []
    for n in sp["free"]:
        lo, hi, v = sp["lower"][n], sp["upper"][n], rec["params"][n]
        if hi > lo and min(v - lo, hi - v) <= frac * (hi - lo):
            out.append(n)
    return out


def bound_ends(row: dict) -> list[str]:
    """``NAME lo`` / ``NAME hi`` for each parameter of a fit row's ``at_bound`` (which end,
    read from its fit record; ``NAME`` alone when the record is missing)."""
    names = [n for n in row["at_bound"].split(";") if n]
    path = ROOT / row["fit_file"] if row.get("fit_file") else None
    if not names or path is None or not path.exists():
        return names
    rec = json.loads(path.read_text())
    lo, hi, v = rec["space"]["lower"], rec["space"]["upper"], rec["params"]
    return [f"{n} {'lo' if abs(v[n] - lo[n]) < abs(hi[n] - v[n]) else 'hi'}" for n in names]


def _counts(trains, target_trains):
    return [len(t) for t in trains], [len(t) for t in target_trains]


class Runner:
    def __init__(self, variant, keep_rows):
        self.variant = variant
        self.rows = list(keep_rows)
        self.commit = src_commit()

    def add(self, row: dict) -> dict:
        """Append a row, replacing an earlier row of the same fit (or evaluation)."""
        row = {k: str(_fmt(row.get(k))) for k in COLUMNS}
        key = tuple(row[k] for k in KEY)
        self.rows = [r for r in self.rows if tuple(r.get(k, "") for k in KEY) != key]
        self.rows.append(row)
        write_rows(csv_path(), self.rows, COLUMNS)
        return row

    def settings(self, model, seed, budget, sweeps=None):
        from snnfit.fit import FitSettings

        names = {f.name for f in fields(FitSettings)}
        extra = variant_kwargs(VARIANTS[self.variant])
        unknown = set(extra) - names
        if unknown:
            raise SystemExit(f"variant {self.variant}: FitSettings has no {sorted(unknown)}")
        return FitSettings(model=model, dim="full", optimizer="cmaes", seed=seed, budget=budget,
                           current="recorded", scheme="resolved", threads=1,
                           sweeps=list(sweeps) if sweeps else None, **extra)

    def fit(self, part, target_path, label, model, seed, budget, sweeps=None, target_seed=None,
            tag=""):
        from snnfit.data.targets import load_target
        from snnfit.fit import run_fit
        from snnfit.metrics import pattern_score

        t = load_target(target_path)
        load1 = os.getloadavg()[0]
        result = run_fit(str(target_path), self.settings(model, seed, budget, sweeps))
        rec = replace(result, history=[]).to_json()
        name = f"{part}_{self.variant}_{Path(target_path).stem}_{model}_s{seed}_b{budget}{tag}.json"
        fpath = OUT / "fits_quality" / name
        fpath.parent.mkdir(parents=True, exist_ok=True)
        fpath.write_text(json.dumps(rec, allow_nan=False))
        mc, dc = _counts(rec["spike_times_ms"], rec["target_spike_times_ms"])
        protos = rec["protocols"]
        ps = pattern_score(rec["spike_times_ms"], rec["target_spike_times_ms"],
                           [p["delay_ms"] for p in protos],
                           [p["delay_ms"] + p["duration_ms"] for p in protos])
        row = self.add({
            "part": part, "variant": self.variant, "target": label, "target_seed": target_seed,
            "target_spikes": sum(dc), "model": model, "seed": seed, "budget": budget,
            "fit_sweeps": ";".join(result.sweep_ids), "eval_sweeps": ";".join(result.sweep_ids),
            "heldout": 0, "status": result.status, "loss": result.loss, "gamma": result.gamma,
            "rmse": result.spike_time_rmse_ms, "count_error": result.count_error,
            "n_sweeps": len(mc),
            "count_error_per_sweep": ";".join(str(abs(a - b)) for a, b in zip(mc, dc)),
            "model_counts": ";".join(map(str, mc)), "data_counts": ";".join(map(str, dc)),
            "isi_error_ms": result.isi_error_ms, "latency_error_ms": result.latency_error_ms,
            "pattern_score": ps, "evaluations": result.forward_equivalents,
            "restarts": result.optimizer_info.get("restarts"),
            "at_bound": ";".join(at_bound(rec)),
            "rejected_draws": t.provenance.get("rejected_draws"),
            "dt_ms": protos[0]["dt_ms"], "wall_s": result.wall_s, "load1": load1,
            "src_commit": self.commit, "settings": json.dumps(VARIANTS[self.variant]),
            "fit_file": str(fpath.relative_to(ROOT))})
        g = result.gamma
        print(f"[{part}/{self.variant}] {label} {model} seed {seed}: gamma "
              f"{'-' if g is None else f'{g:.3f}'} loss {result.loss:.4g} counts {mc} vs {dc} "
              f"isi {result.isi_error_ms} at_bound {row['at_bound'] or '-'} "
              f"wall {result.wall_s:.1f} s (load {load1:.1f})", flush=True)
        return row, fpath

    def evaluate(self, fit_row, fpath, target_path, sweeps):
        from snnfit.fit.record import evaluate_fit
        from snnfit.metrics import pattern_score
        from snnfit.data.targets import load_target, subset_sweeps

        ev = evaluate_fit(fpath, target_path, sweeps)
        t = subset_sweeps(load_target(target_path), sweeps)
        data = [s.spike_times_ms for s in t.sweeps]
        mc, dc = _counts(ev["spike_times_ms"], data)
        ps = pattern_score(ev["spike_times_ms"], data, [s.protocol.delay_ms for s in t.sweeps],
                           [s.protocol.stim_end_ms for s in t.sweeps])
        row = {k: fit_row[k] for k in ("part", "variant", "target", "target_seed", "model",
                                       "seed", "budget", "fit_sweeps", "src_commit",
                                       "fit_file")}
        row.update({"target_spikes": sum(dc), "eval_sweeps": ";".join(sweeps), "heldout": 1,
                    "status": "eval", "gamma": ev["gamma"], "rmse": ev["spike_time_rmse_ms"],
                    "count_error": ev["count_error"], "n_sweeps": len(mc),
                    "count_error_per_sweep": ";".join(str(abs(a - b)) for a, b in zip(mc, dc)),
                    "model_counts": ";".join(map(str, mc)), "data_counts": ";".join(map(str, dc)),
                    "isi_error_ms": ev["isi_error_ms"],
                    "latency_error_ms": ev["latency_error_ms"], "pattern_score": ps})
        row = self.add(row)
        print(f"    held-out {len(sweeps)} sweeps: count errors {row['count_error_per_sweep']}",
              flush=True)
        return row


# ------------------------------------------------------------------------------- parts


def part_naud(run, seeds, budget):
    for n in NAUD_GOAL + NAUD_APART:
        p = preset_file(f"naud2008:{n}")
        for seed in seeds:
            run.fit("naud", p, f"naud2008:{n}", "adex", seed, budget)


def part_izh(run, seeds, budget):
    for n in IZH:
        p = preset_file(f"izhikevich2007:{n}")
        for seed in seeds:
            run.fit("izh", p, f"izhikevich2007:{n}", "izhikevich", seed, budget)


def part_prior(run, seeds, budget, prior_seeds):
    for model, ts in prior_seeds.items():
        for s in ts:
            p = prior_file(model, s)
            for seed in seeds:
                run.fit("prior", p, f"prior:{model}", model, seed, budget, target_seed=s)


def part_cross(run, seeds, budget):
    for model, name in CROSS:
        p = preset_file(name, CROSS_FACTOR)
        for seed in seeds:
            run.fit("cross", p, name, model, seed, budget)


def part_real(run, seeds, budget, models, cells=None, rec_run=0):
    if not SSCX.exists():
        print(f"real: skipped, {SSCX} not found", flush=True)
        return
    all_cells = real_cells(rec_run)
    for cell in cells or all_cells:
        if cell not in all_cells:
            continue
        rows = all_cells[cell]
        p = real_file(cell, rows, rec_run)
        fit_ids = real_fit_sweeps(rows)
        held = [r["sweep"] for r in rows if r["sweep"] not in fit_ids]
        for model in models:
            for seed in seeds:
                label = cell if rec_run == 0 else f"{cell}:run{rec_run}"
                row, f = run.fit("real", p, label, model, seed, budget, sweeps=fit_ids)
                if held:
                    run.evaluate(row, f, p, held)


# ------------------------------------------------------------------------------- summary


def _md(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _g(v, nd=3):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


def _per_sweep(rows):
    return [int(x) for r in rows for x in r["count_error_per_sweep"].split(";") if x != ""]


def _isi_list(times, on, off):
    t = np.asarray([x for x in times if on <= x < off])
    return np.diff(t)


def summarize(rows: list[dict]) -> str:
    L = ["# Fit quality (issue 12 goal sets): summary", "",
         f"From `results/benchmarks/{csv_path().name}` (benchmarks/fit_quality.py). Code: "
         f"{', '.join(sorted({r['src_commit'] for r in rows}))}.", ""]
    variants = []
    for r in rows:
        if r["variant"] not in variants:
            variants.append(r["variant"])
    for v in variants:
        vr = [r for r in rows if r["variant"] == v]
        L += [f"## Variant `{v}`", ""]
        L += _sum_selfcons(vr) + _sum_prior(vr) + _sum_cross(vr) + _sum_real(vr)
    return "\n".join(L) + "\n"


def _tally(rows, targets, seeds):
    out = []
    for s in seeds:
        rs = [r for r in rows if r["seed"] == s and r["target"] in targets]
        out.append(f"{sum(num(r['gamma']) >= GAMMA_GOAL for r in rs)}/{len(rs)}")
    return out


def _sum_selfcons(rows):
    sc = [r for r in rows if r["part"] in ("naud", "izh")]
    if not sc:
        return []
    seeds = sorted({r["seed"] for r in sc}, key=int)
    L = ["### Self-consistency (Naud AdEx, Izhikevich 2007)", ""]
    table = []
    for t in dict.fromkeys(r["target"] for r in sc):
        rs = {r["seed"]: r for r in sc if r["target"] == t}
        any_r = next(iter(rs.values()))
        table.append([t, any_r["target_spikes"]]
                     + [_g(num(rs[s]["gamma"])) if s in rs else "" for s in seeds]
                     + [rs[s]["count_error"] if s in rs else "" for s in seeds]
                     + [_g(num(rs[s]["isi_error_ms"]), 2) if s in rs else "" for s in seeds])
    L += _md(["target", "spikes"] + [f"Gamma s{s}" for s in seeds]
             + [f"count err s{s}" for s in seeds] + [f"ISI err ms s{s}" for s in seeds], table)
    L += [""]
    naud = [r for r in sc if r["part"] == "naud"]
    izh = [r for r in sc if r["part"] == "izh"]
    table = []
    if naud:
        table.append(["AdEx, 6 Naud patterns", "6/6"]
                     + _tally(naud, [f"naud2008:{n}" for n in NAUD_GOAL], seeds))
    if izh:
        table.append(["Izhikevich RS/IB/CH", "3/3"]
                     + _tally(izh, [f"izhikevich2007:{n}" for n in IZH], seeds))
    L += _md(["set", "goal"] + [f"seed {s}" for s in seeds], table) + [""]
    apart = [r for r in naud if r["target"].split(":")[1] in NAUD_APART]
    if apart:
        L += ["Reported apart (transient fires once; irregular is chaotic): count error and the "
              "ISI distribution (median / 10th-90th percentile of the intervals in the step, "
              "model vs target).", ""]
        table = []
        for r in apart:
            rec = json.loads((ROOT / r["fit_file"]).read_text())
            p = rec["protocols"][0]
            on, off = p["delay_ms"], p["delay_ms"] + p["duration_ms"]
            im = _isi_list(rec["spike_times_ms"][0], on, off)
            it = _isi_list(rec["target_spike_times_ms"][0], on, off)

            def q(x):
                return (f"{np.median(x):.1f} ({np.percentile(x, 10):.1f}-"
                        f"{np.percentile(x, 90):.1f})" if x.size else "-")

            table.append([r["target"], r["seed"], r["model_counts"], r["data_counts"],
                          _g(num(r["gamma"])), q(im), q(it)])
        L += _md(["target", "seed", "model spikes", "target spikes", "Gamma",
                  "model ISI ms", "target ISI ms"], table) + [""]
    return L


def _sum_prior(rows):
    pr = [r for r in rows if r["part"] == "prior"]
    if not pr:
        return []
    seeds = sorted({r["seed"] for r in pr}, key=int)
    L = ["### Prior ground truths", ""]
    table = []
    for model in ("adex", "izhikevich"):
        rs = [r for r in pr if r["model"] == model]
        if not rs:
            continue
        for ts in sorted({r["target_seed"] for r in rs}, key=int):
            rr = {r["seed"]: r for r in rs if r["target_seed"] == ts}
            any_r = next(iter(rr.values()))
            table.append([model, ts, any_r["target_spikes"], any_r["rejected_draws"]]
                         + [_g(num(rr[s]["gamma"])) if s in rr else "" for s in seeds]
                         + [rr[s]["count_error"] if s in rr else "" for s in seeds])
    L += _md(["model", "prior seed", "spikes", "rejected draws"]
             + [f"Gamma s{s}" for s in seeds] + [f"count err s{s}" for s in seeds], table)
    L += [""]
    table = []
    for model in ("adex", "izhikevich"):
        rs = [r for r in pr if r["model"] == model]
        if rs:
            table.append([model, ">= 9/10"] + _tally(rs, {r["target"] for r in rs}, seeds))
    L += _md(["model", "goal"] + [f"seed {s}" for s in seeds], table) + [""]
    return L


def _sum_cross(rows):
    cr = [r for r in rows if r["part"] == "cross"]
    if not cr:
        return []
    L = ["### Cross-model (two sweeps, both fitted)", ""]
    table = [[r["model"], r["target"], r["seed"], r["model_counts"], r["data_counts"],
              r["count_error"], _g(num(r["isi_error_ms"]), 2), _g(num(r["gamma"])),
              "yes" if r["count_error"] == "0" and num(r["isi_error_ms"]) <= 2.0 else "NO"]
             for r in cr]
    L += _md(["model", "target", "seed", "model spikes", "target spikes", "count err",
              "ISI err ms", "Gamma", "goal met"], table) + [""]
    return L


def _sum_real(rows):
    re_ = [r for r in rows if r["part"] == "real"]
    if not re_:
        return []
    L = ["### Real cells (sscx_l5pc, four amplitudes of the first run, recorded current)", ""]
    table = []
    for model in [m for m in REAL_MODELS if any(r["model"] == m for r in re_)]:
        for s in sorted({r["seed"] for r in re_ if r["model"] == model}, key=int):
            fits = [r for r in re_ if r["model"] == model and r["seed"] == s
                    and r["heldout"] == "0"]
            ev = [r for r in re_ if r["model"] == model and r["seed"] == s
                  and r["heldout"] == "1"]
            ins, ho = _per_sweep(fits), _per_sweep(ev)
            free = sum(1 for r in fits if not r["at_bound"])
            counts = {}
            for r in fits:
                for n in bound_ends(r):
                    counts[n] = counts.get(n, 0) + 1
            table.append([model, s, len(fits), _g(float(np.median(ins)) if ins else math.nan, 1),
                          _g(float(np.mean(ins)) if ins else math.nan, 1),
                          f"{free}/{len(fits)} ({100 * free / max(len(fits), 1):.0f} %)",
                          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-",
                          _g(float(np.median(ho)) if ho else math.nan, 1),
                          _g(float(np.mean(ho)) if ho else math.nan, 1),
                          _g(float(np.median([num(r["gamma"]) for r in fits])), 2),
                          _g(float(np.median([num(r["pattern_score"]) for r in ev]))
                             if ev else math.nan, 3)])
    L += _md(["model", "seed", "cells", "in-sample count err / sweep (median)", "(mean)",
              "cells with no param at a bound", "params at a bound, which end (cells)",
              "held-out count err / sweep (median)", "(mean)", "in-sample Gamma (median)",
              "held-out pattern score (median)"], table)
    L += ["", "Goals: in-sample median <= 1, no parameter at a bound in >= 90 % of the cells, "
          "held-out median <= 2 (AdEx and Izhikevich; LIF beside).", ""]
    return L


# ------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=PARTS + ("all",))
    ap.add_argument("--variant", default="main",
                    help=f"a named variant ({', '.join(VARIANTS)}) or a new name for the "
                    "settings given with --loss/--cma/--stage/--set")
    ap.add_argument("--loss", default=None, help="FitSettings.loss of a new variant")
    ap.add_argument("--cma", action="append", default=[], metavar="KEY=VALUE",
                    help="a CMAESSettings field of a new variant (repeatable)")
    ap.add_argument("--stage", action="append", default=[], metavar="KEY=VALUE",
                    help="a StageSettings field of a new variant (repeatable)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="another FitSettings field of a new variant (repeatable)")
    ap.add_argument("--bounds", action="append", default=[], metavar="NAME=LO:HI",
                    help="--bounds of a new variant (repeatable)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=20000)
    ap.add_argument("--prior-seeds", default=None,
                    help="MODEL=A-B[,MODEL=A-B] (default adex=300-309,izhikevich=400-409)")
    ap.add_argument("--real-models", default=",".join(REAL_MODELS))
    ap.add_argument("--cells", default=None, help="comma-separated cell ids (default all)")
    ap.add_argument("--real-run", type=int, default=0,
                    help="run (repeat) of the real cells: 0 = the goal set (default), 1 = the "
                    "repeat, for tuning")
    ap.add_argument("--targets", default=None,
                    help="comma-separated target labels to run (naud/izh/cross; default all)")
    ap.add_argument("--csv", default="fit_quality",
                    help="CSV and summary name under results/benchmarks (default fit_quality; "
                    "tuning runs: fit_quality_tuning)")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args(argv)
    global CSV_NAME
    CSV_NAME = a.csv
    custom = {}
    if a.loss:
        custom["loss"] = a.loss
    if a.cma:
        custom["cmaes"] = _parse_kv(a.cma)
    if a.stage:
        custom["stages"] = _parse_kv(a.stage)
    if a.bounds:
        custom["bounds"] = list(a.bounds)
    custom.update(_parse_kv(a.set))
    if custom:
        if a.variant in VARIANTS:
            raise SystemExit(f"--variant {a.variant}: a named variant; give a new name")
        VARIANTS[a.variant] = custom
    elif a.variant not in VARIANTS and not a.summary_only:
        raise SystemExit(f"--variant {a.variant}: unknown (named: {', '.join(VARIANTS)})")
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    prior_seeds = dict(PRIOR_SEEDS)
    if a.prior_seeds:
        prior_seeds = {}
        for item in a.prior_seeds.split(","):
            m, rng = item.split("=")
            lo, hi = rng.split("-")
            prior_seeds[m] = tuple(range(int(lo), int(hi) + 1))
    parts = PARTS if a.part == "all" else (a.part,)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = read_rows(csv_path())
    if not a.summary_only:
        from snnfit.sim.simulate import set_threads

        set_threads(1)
        run = Runner(a.variant, rows)
        t0 = time.perf_counter()
        only = set(a.targets.split(",")) if a.targets else None

        def want(label):
            return only is None or label in only

        if "naud" in parts:
            global NAUD_GOAL, NAUD_APART
            NAUD_GOAL = tuple(n for n in NAUD_GOAL if want(f"naud2008:{n}"))
            NAUD_APART = tuple(n for n in NAUD_APART if want(f"naud2008:{n}"))
            part_naud(run, seeds, a.budget)
        if "izh" in parts:
            global IZH
            IZH = tuple(n for n in IZH if want(f"izhikevich2007:{n}"))
            part_izh(run, seeds, a.budget)
        if "prior" in parts:
            part_prior(run, seeds, a.budget, prior_seeds)
        if "cross" in parts:
            global CROSS
            CROSS = tuple(c for c in CROSS if want(c[1]))
            part_cross(run, seeds, a.budget)
        if "real" in parts:
            part_real(run, seeds, a.budget, a.real_models.split(","),
                      a.cells.split(",") if a.cells else None, a.real_run)
        rows = read_rows(csv_path())
        print(f"done in {time.perf_counter() - t0:.0f} s (src at start {run.commit}, at end "
              f"{src_commit()})", flush=True)
    text = summarize(rows)
    (OUT / f"{CSV_NAME}_summary.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
