"""Acceptance benchmark of the gradient-driven fits (``snn``, ``direct``) beside CMA-ES.

Parts (``--part``, default ``all`` = presets + notebook):

``presets``
    AdEx on the ``naud2008:*`` presets with >= 3 spikes and Izhikevich on
    ``izhikevich2007:RS, IB, CH`` (targets generated with ``--scheme resolved``),
    ``--current recorded``, budget ``--budget`` (20,000), at each of ``--dims`` (``full`` and
    ``pca:3``), seeds ``--seeds`` (``--pca-seeds`` for the ``pca:*`` dims), optimisers
    ``snn``, ``direct``, ``cmaes``. Per fit: the final Gamma, and from the fit's history the
    forward-equivalents, wall seconds and joules at which the best point first reached
    Gamma >= 0.9. Goal (``--dim full``): on at least two thirds of the (target, seed) pairs
    that CMA-ES brings to 0.9, a gradient method gets there with at most a fifth of CMA-ES's
    forward-equivalents.
``notebook``
    The notebook's task: ``make-target --times 100,300,500,700 --duration 1000``, AdEx in its
    default box, ``--current search --dim full``, budget ``--notebook-budget`` (50,000), seeds
    ``--notebook-seeds``, ``snn`` beside ``cmaes``. Goal: every ``snn`` run ends with exactly
    four spikes in the sweep, each within 2 ms of its target.
``tune`` (not part of ``all``)
    The tuning protocol of ``docs/gradient_fits.md``: a grid of optimiser settings
    (``DirectSettings``, ``SNNSettings`` with its ``FrontEndSettings``, passed to the fits) on
    a small tuning set with seeds 100+ (never the benchmark seeds), written to
    ``results/benchmarks/gradient_tuning.csv``.

Every fit runs on one core (``threads=1``, ``NUMBA_NUM_THREADS=1``), one at a time. Rows are
written after every fit; ``--resume`` skips fits already in the CSV (same part, target, dim,
optimizer, seed, budget). ``--summary-only`` rebuilds ``gradient_fits_summary.md``.

Usage::

    NUMBA_NUM_THREADS=1 nohup .venv/bin/python benchmarks/gradient_fits.py --part all \\
        > results/benchmarks/gradient_fits.log 2>&1 &
    .venv/bin/python benchmarks/gradient_fits.py --part presets --seeds 0 --dims full \\
        --budget 5000          # quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

import numpy as np  # noqa: E402

from csvrows import _fmt, num, read_rows, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
CSV = OUT / "gradient_fits.csv"
SUMMARY = OUT / "gradient_fits_summary.md"
TUNE_CSV = OUT / "gradient_tuning.csv"

NAUD = ("tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
        "delayed_regular_bursting", "transient", "irregular")
IZH = ("RS", "IB", "CH")
MIN_SPIKES = 3
GAMMA_GOAL = 0.9
FE_FRACTION = 1 / 5  # at most a fifth of CMA-ES's forward-equivalents
SHARE_GOAL = 2 / 3  # of the targets CMA-ES brings to 0.9
OPTIMIZERS = ("snn", "direct", "cmaes")
NOTEBOOK_TIMES = (100.0, 300.0, 500.0, 700.0)
NOTEBOOK_DURATION_MS = 1000.0
NOTEBOOK_TOL_MS = 2.0

COLUMNS = ("part", "target", "target_spikes", "model", "current", "dim", "k", "optimizer",
           "seed", "budget", "status", "loss", "gamma", "fe_to_0.9", "s_to_0.9",
           "cpu_s_to_0.9", "J_to_0.9", "evaluations", "steps", "restarts", "wall_s", "cpu_s",
           "joules", "energy_source", "count_error", "rmse", "n_spikes", "spike_times_ms",
           "max_abs_err_ms", "layer_fe", "layer_fe_share", "layer_s", "layer_s_share",
           "load1", "settings")
KEY = ("part", "target", "dim", "optimizer", "seed", "budget")


# ------------------------------------------------------------------------------- helpers


def preset_file(name: str) -> Path:
    from snnfit.data.targets import preset_target, write_target

    p = OUT / "targets" / f"{name.replace(':', '_')}_resolved.json"
    if not p.exists():
        write_target(p, preset_target(name, "resolved"))
    return p


def notebook_file() -> Path:
    from snnfit.data.targets import times_target, write_target

    p = OUT / "targets" / "times_100_300_500_700_d1000.json"
    if not p.exists():
        write_target(p, times_target(NOTEBOOK_TIMES, NOTEBOOK_DURATION_MS))
    return p


def preset_targets():
    """(label, model, path, n_spikes) of the benchmark's preset targets (>= 3 spikes)."""
    from snnfit.data.targets import load_target

    out = []
    for label, model in ([(f"naud2008:{n}", "adex") for n in NAUD]
                         + [(f"izhikevich2007:{n}", "izhikevich") for n in IZH]):
        p = preset_file(label)
        n = load_target(p).n_spikes
        if n >= MIN_SPIKES:
            out.append((label, model, p, n))
    return out


def first_reach(history: list[dict], goal: float = GAMMA_GOAL) -> dict:
    """Forward-equivalents, wall s, CPU s and joules at the first history entry whose best
    point has Gamma >= goal (NaN if never)."""
    for h in history:
        g = h.get("gamma_at_best")
        if g is not None and g >= goal:
            return {"fe_to_0.9": float(h["simulations"]), "s_to_0.9": h["wall_s"],
                    "cpu_s_to_0.9": h["cpu_s"], "J_to_0.9": h["joules"]}
    return {"fe_to_0.9": math.nan, "s_to_0.9": math.nan, "cpu_s_to_0.9": math.nan,
            "J_to_0.9": math.nan}


def settings_json(opt_settings) -> str:
    """The settings of a gradient optimiser (and of its front end) as a JSON object."""
    from snnfit.fit.optimizers.direct import DirectSettings
    from snnfit.fit.optimizers.snn import SNNSettings

    if isinstance(opt_settings, DirectSettings):
        return json.dumps(opt_settings.info())
    if isinstance(opt_settings, SNNSettings):
        return json.dumps({**opt_settings.info(), **opt_settings.frontend.info()})
    return ""


def fit_row(part, label, model, path, n_spikes, dim, optimizer, seed, budget, current,
            lr=None, opt_settings=None):
    """Run one fit (``opt_settings``: the optimiser's settings, None for the frozen ones)
    and return its CSV row."""
    from snnfit.fit import FitSettings, run_fit
    from snnfit.fit.optimizers import settings_class

    opt_settings = opt_settings or settings_class(optimizer)()
    settings = FitSettings(model=model, dim=dim, optimizer=optimizer, seed=seed, budget=budget,
                           current=current, scheme="resolved", threads=1, lr=lr,
                           optimizer_settings=opt_settings)
    load1 = os.getloadavg()[0]
    rec = run_fit(str(path), settings)
    info = rec.optimizer_info
    trains = rec.spike_times_ms
    row = {"part": part, "target": label, "target_spikes": n_spikes, "model": model,
           "current": current, "dim": dim, "k": rec.k, "optimizer": optimizer,
           "seed": seed, "budget": budget, "status": rec.status, "loss": rec.loss,
           "gamma": rec.gamma, **first_reach(rec.history),
           "evaluations": rec.forward_equivalents, "steps": info.get("steps"),
           "restarts": info.get("restarts"), "wall_s": rec.wall_s, "cpu_s": rec.cpu_s,
           "joules": rec.joules, "energy_source": rec.energy_source,
           "count_error": rec.count_error, "rmse": rec.spike_time_rmse_ms,
           "n_spikes": sum(len(t) for t in trains),
           "spike_times_ms": ";".join(" ".join(f"{x:.3f}" for x in t) for t in trains),
           "load1": load1, "settings": settings_json(opt_settings)}
    if "layer_fe" in info:
        row["layer_fe"] = info["layer_fe"]
        row["layer_fe_share"] = info["layer_fe"] / max(rec.forward_equivalents, 1)
        row["layer_s"] = info["layer_s"]
        row["layer_s_share"] = info["layer_s"] / max(rec.wall_s, 1e-12)
    tt = rec.target_spike_times_ms
    if len(trains) == 1 and len(trains[0]) == len(tt[0]) and len(tt[0]):
        row["max_abs_err_ms"] = float(np.max(np.abs(np.asarray(trains[0])
                                                    - np.asarray(tt[0]))))
    return row


class Runner:
    def __init__(self, resume: bool):
        self.rows = read_rows(CSV)
        self.resume = resume

    def have(self, key) -> bool:
        return any(tuple(str(r[k]) for k in KEY) == tuple(str(x) for x in key)
                   for r in self.rows)

    def run(self, part, label, model, path, n_spikes, dim, optimizer, seed, budget, current):
        key = (part, label, dim, optimizer, seed, budget)
        if self.resume and self.have(key):
            return
        row = fit_row(part, label, model, path, n_spikes, dim, optimizer, seed, budget,
                      current)
        row = {k: str(_fmt(row.get(k))) for k in COLUMNS}
        self.rows = [r for r in self.rows
                     if tuple(str(r[k]) for k in KEY) != tuple(str(x) for x in key)]
        self.rows.append(row)
        write_rows(CSV, self.rows, COLUMNS)
        print(f"[{part}] {label} {model} {dim} {optimizer} seed {seed}: gamma {row['gamma']} "
              f"fe_to_0.9 {row['fe_to_0.9'] or '-'} s_to_0.9 {row['s_to_0.9'] or '-'} "
              f"wall {float(row['wall_s']):.1f} s  n_spikes {row['n_spikes']} "
              f"max_err {row['max_abs_err_ms'] or '-'} layer_fe_share "
              f"{row['layer_fe_share'] or '-'} (load {float(row['load1']):.2f})", flush=True)


def part_presets(run: Runner, seeds, pca_seeds, dims, budget, optimizers):
    for dim in dims:
        ss = seeds if dim == "full" else pca_seeds
        for seed in ss:
            for label, model, path, n in preset_targets():
                for opt in optimizers:
                    run.run("presets", label, model, path, n, dim, opt, seed, budget,
                            "recorded")


def part_notebook(run: Runner, seeds, budget, optimizers):
    p = notebook_file()
    for seed in seeds:
        for opt in optimizers:
            if opt == "direct":
                continue
            run.run("notebook", "times:100,300,500,700", "adex", p, len(NOTEBOOK_TIMES),
                    "full", opt, seed, budget, "search")


# ------------------------------------------------------------------------------- tuning

#: the tuning set: three AdEx targets and one Izhikevich, recorded current, seeds 100+
TUNE_TARGETS = (("naud2008:tonic", "adex"), ("naud2008:initial_burst", "adex"),
                ("naud2008:delayed_accelerating", "adex"), ("izhikevich2007:IB", "izhikevich"))
TUNE_COLUMNS = ("optimizer", "config", "target", "dim", "seed", "budget", "gamma",
                "fe_to_0.9", "loss", "wall_s", "layer_fe_share", "layer_s_share", "steps")


def part_tune(grid_name: str, seeds, budget, dims):
    from snnfit.data.targets import load_target

    grids = tune_grids()
    rows = read_rows(TUNE_CSV)
    for cfg_name, opt, opt_settings in grids[grid_name]:
        for dim in dims:
            for label, model in TUNE_TARGETS:
                p = preset_file(label)
                n = load_target(p).n_spikes
                for seed in seeds:
                    r = fit_row("tune", label, model, p, n, dim, opt, seed, budget, "recorded",
                                opt_settings=opt_settings)
                    row = {"optimizer": opt, "config": cfg_name, "target": label, "dim": dim,
                           "seed": seed, "budget": budget, "gamma": r["gamma"],
                           "fe_to_0.9": r["fe_to_0.9"], "loss": r["loss"],
                           "wall_s": r["wall_s"], "layer_fe_share": r.get("layer_fe_share"),
                           "layer_s_share": r.get("layer_s_share"), "steps": r.get("steps")}
                    rows.append({k: str(_fmt(row.get(k))) for k in TUNE_COLUMNS})
                    write_rows(TUNE_CSV, rows, TUNE_COLUMNS)
                    print(f"[tune {grid_name}] {cfg_name} {label} {dim} seed {seed}: gamma "
                          f"{_fmt(r['gamma'])} fe_to_0.9 {_fmt(r['fe_to_0.9'])} wall "
                          f"{r['wall_s']:.1f}", flush=True)


def _direct(name: str, **kw):
    """A ``direct`` grid entry: the frozen settings with the fields ``kw`` changed."""
    from snnfit.fit.optimizers.direct import DirectSettings

    return (name, "direct", DirectSettings(**kw))


def _snn(name: str, fe: dict | None = None, **kw):
    """An ``snn`` grid entry: the frozen settings with the fields ``kw`` and the front end's
    fields ``fe`` changed."""
    from snnfit.fit.frontend import FrontEndSettings
    from snnfit.fit.optimizers.snn import SNNSettings

    return (name, "snn", SNNSettings(**kw, frontend=FrontEndSettings(**(fe or {}))))


def tune_grids() -> dict:
    """Named grids of (config name, optimizer, settings); the rounds of docs/gradient_fits.md."""
    g = {}
    # round 1
    g["direct"] = [_direct(f"lr{lr}_n{n}_screen{sc}", lr=lr, n_starts=n, n_screen=sc)
                   for lr in (0.01, 0.03, 0.1) for n in (1, 4) for sc in (0, 32)]
    g["snn"] = [_snn(f"lr{lr}_T{T}_pop{pop}", lr=lr, fe=dict(input_steps=T, population=pop))
                for lr in (0.01, 0.03, 0.1) for T in (20, 100) for pop in (1, 8)]
    # round 2: the previous defaults against the best of round 1
    g["round2"] = [
        _direct("direct_previous", lr=0.01, n_screen=0, n_starts=1, plateau=60, decay=1e-9),
        _direct("direct_lr0.03_screen0", lr=0.03, n_screen=0),
        _direct("direct_lr0.03_screen32", lr=0.03, n_screen=32),
        _direct("direct_lr0.1_screen32", lr=0.1, n_screen=32),
        _snn("snn_previous", lr=0.01, n_screen=0, plateau=60, decay=1e-9,
             fe=dict(input_steps=100, population=1, readout_gain=4.0, readout_offset=0.0)),
        _snn("snn_lr0.03_T20_pop1", lr=0.03, fe=dict(input_steps=20, population=1)),
        _snn("snn_lr0.03_T100_pop8", lr=0.03, fe=dict(input_steps=100, population=8)),
        _snn("snn_lr0.01_T20_pop8", lr=0.01, fe=dict(input_steps=20, population=8)),
    ]
    # round 3
    g["snn_screen"] = [_snn(f"snn_screen{sc}", n_screen=sc) for sc in (0, 32)]
    # round 4
    g["snn_steps"] = [_snn(f"snn_T{T}_rate{r}", fe=dict(input_steps=T, input_rate_hz=float(r)))
                      for T, r in ((100, 40), (30, 40), (30, 50), (20, 60))]
    # round 5
    g["snn_short"] = [_snn(f"snn_T{T}_dt{dt}_pop{pop}_gain{gain}",
                           fe=dict(input_steps=T, input_dt_ms=float(dt), input_rate_hz=60.0,
                                   population=pop, readout_gain=float(gain)))
                      for T, dt, pop, gain in ((10, 2, 8, 10), (10, 2, 32, 10), (10, 2, 32, 20),
                                               (20, 1, 32, 20))]
    # round 6
    short = dict(input_steps=10, input_dt_ms=2.0, input_rate_hz=60.0)
    g["snn_short_lr"] = [_snn(f"snn_T10_dt2_pop{pop}_lr{lr}", lr=lr,
                              fe={**short, "population": pop})
                         for pop, lr in ((8, 0.01), (8, 0.1), (8, 0.3), (16, 0.1))]
    # round 7
    g["snn_sched"] = [_snn("snn_wscale0.5", fe=dict(weight_scale=0.5)),
                      _snn("snn_wscale2", fe=dict(weight_scale=2.0)),
                      _snn("snn_plateau16", plateau=16),
                      _snn("snn_lrmin1e-3", lr_min=1e-3),
                      _snn("snn_starts8", n_starts=8)]
    # round 8
    g["snn_wscale"] = [_snn(f"snn_wscale{w}", fe=dict(weight_scale=w)) for w in (0.25, 0.35, 0.7)]
    g["snn_wscale"] += [_snn(f"snn_wscale0.5_lr{lr}", lr=lr, fe=dict(weight_scale=0.5))
                        for lr in (0.01, 0.1)]
    g["snn_check"] = [_snn("snn_frozen")] + [
        _snn(f"snn_wscale{w}", fe=dict(weight_scale=w)) for w in (0.35, 0.5, 0.7)]
    # round 9
    ws = dict(weight_scale=0.5)
    g["snn_ws_more"] = [_snn(f"snn_wscale0.5_offset{o}", fe={**ws, "readout_offset": o})
                        for o in (0.1, 0.15)] + [
        _snn(f"snn_wscale0.5_T{T}_dt{dt}", fe={**ws, "input_steps": T, "input_dt_ms": dt})
        for T, dt in ((8, 2.5), (6, 3.0))]
    # round 10
    g["snn_nets"] = [_snn("snn_frozen")] + [_snn(f"snn_starts{n}", n_starts=n) for n in (8, 16)]
    # final rows: the layer-free control
    g["direct_frozen"] = [_direct("direct_frozen")]
    # round 11
    g["direct_cheap"] = [_direct("direct_frozen")] + [
        _direct(f"direct_starts{n}_screen{sc}_lr{lr}", n_starts=n, n_screen=sc, lr=lr)
        for n, sc, lr in ((4, 32, 0.03), (8, 32, 0.03), (1, 8, 0.03), (1, 32, 0.1),
                          (4, 64, 0.03))]
    # final rows: the frozen settings against the previous ones
    g["snn_defaults"] = [_snn("snn_frozen"),
                         _snn("snn_previous_settings", n_starts=4, snn_step_cost=0.7,
                              fe=dict(input_steps=100, input_dt_ms=1.0, input_rate_hz=40.0,
                                      weight_scale=1.0))]
    return g


# ------------------------------------------------------------------------------- summary


def _g(v, nd=3):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else (
        f"{v:.{nd}g}" if isinstance(v, float) else str(v))


def _md(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def summary(rows: list[dict]) -> str:
    lines = ["# Gradient fits: acceptance summary", "",
             f"Generated from `{CSV.relative_to(ROOT)}` ({len(rows)} rows).", ""]
    pres = [r for r in rows if r["part"] == "presets"]
    for dim in sorted({r["dim"] for r in pres}, key=lambda d: d != "full"):
        sub = [r for r in pres if r["dim"] == dim]
        lines += [f"## Presets, `--dim {dim}`, recorded current", ""]
        # per target x optimizer: gammas over seeds and fe_to_0.9
        tab = []
        for label in dict.fromkeys(r["target"] for r in sub):
            for opt in OPTIMIZERS:
                rr = sorted((r for r in sub if r["target"] == label and r["optimizer"] == opt),
                            key=lambda r: int(r["seed"]))
                if not rr:
                    continue
                tab.append([label, opt, " ".join(_g(num(r["gamma"])) for r in rr),
                            " ".join(_g(num(r["fe_to_0.9"]), 5) for r in rr),
                            " ".join(_g(num(r["s_to_0.9"])) for r in rr),
                            " ".join(_g(num(r["J_to_0.9"])) for r in rr)])
        lines += _md(["target", "optimizer", "final Gamma (seeds)", "FE to 0.9", "s to 0.9",
                      "J to 0.9"], tab)
        lines.append("")
        # the goal tally over (target, seed) pairs CMA-ES brings to 0.9
        pairs = {}
        for r in sub:
            pairs.setdefault((r["target"], r["seed"]), {})[r["optimizer"]] = r
        elig = {k: v for k, v in pairs.items()
                if "cmaes" in v and math.isfinite(num(v["cmaes"]["fe_to_0.9"]))}
        lines.append(f"(target, seed) pairs CMA-ES brings to Gamma >= 0.9: {len(elig)} of "
                     f"{len(pairs)}")
        for name, opts in (("snn", ("snn",)), ("direct", ("direct",)),
                           ("snn or direct", ("snn", "direct"))):
            ok = reach = 0
            for v in elig.values():
                cm = num(v["cmaes"]["fe_to_0.9"])
                fes = [num(v[o]["fe_to_0.9"]) for o in opts if o in v]
                fes = [f for f in fes if math.isfinite(f)]
                reach += bool(fes)
                ok += bool(fes) and min(fes) <= FE_FRACTION * cm
            goal = "" if dim != "full" else (
                " -> goal " + ("MET" if elig and ok >= SHARE_GOAL * len(elig) else "NOT MET"))
            lines.append(f"- {name}: reaches 0.9 on {reach}/{len(elig)}; within 1/5 of CMA-ES's "
                         f"forward-equivalents on {ok}/{len(elig)} (need >= "
                         f"{math.ceil(SHARE_GOAL * len(elig) - 1e-9)}){goal}")
        # per-target version (median FE over seeds that reach)
        lines.append("")
        lines.append("Per target (median over seeds of FE to 0.9, among seeds that reach it; "
                     "ratio = gradient / CMA-ES):")
        lines.append("")
        tab = []
        for label in dict.fromkeys(r["target"] for r in sub):
            med = {}
            for opt in OPTIMIZERS:
                v = [num(r["fe_to_0.9"]) for r in sub if r["target"] == label
                     and r["optimizer"] == opt]
                n_reach = sum(math.isfinite(x) for x in v)
                f = [x for x in v if math.isfinite(x)]
                med[opt] = (statistics.median(f) if f else math.nan, n_reach, len(v))
            cm = med["cmaes"][0]
            tab.append([label] + [f"{_g(med[o][0], 5)} ({med[o][1]}/{med[o][2]})"
                                  for o in OPTIMIZERS]
                       + [_g(med[o][0] / cm) if math.isfinite(cm) else "-"
                          for o in ("snn", "direct")])
        lines += _md(["target", "snn FE", "direct FE", "cmaes FE", "snn/cmaes",
                      "direct/cmaes"], tab)
        lines.append("")
        # layer share
        sn = [r for r in sub if r["optimizer"] == "snn" and r["layer_fe_share"]]
        if sn:
            fs = [num(r["layer_fe_share"]) for r in sn]
            ss = [num(r["layer_s_share"]) for r in sn]
            lines.append(f"Spiking layer's share of an `snn` fit (n = {len(sn)}): "
                         f"forward-equivalents median {statistics.median(fs):.3f} "
                         f"(range {min(fs):.3f}-{max(fs):.3f}); wall seconds median "
                         f"{statistics.median(ss):.3f} (range {min(ss):.3f}-{max(ss):.3f})")
            lines.append("")
        walls = {o: [num(r["wall_s"]) for r in sub if r["optimizer"] == o] for o in OPTIMIZERS}
        lines.append("Median wall s per fit: " + ", ".join(
            f"{o} {statistics.median(w):.1f}" for o, w in walls.items() if w))
        lines.append("")
    nb = [r for r in rows if r["part"] == "notebook"]
    if nb:
        lines += ["## Notebook task: times 100,300,500,700 ms, 1000 ms step, AdEx, searched "
                  "current, `--dim full`", ""]
        tab = []
        for r in sorted(nb, key=lambda r: (r["optimizer"], int(r["seed"]))):
            ok = (r["n_spikes"] == "4" and r["max_abs_err_ms"] != ""
                  and num(r["max_abs_err_ms"]) <= NOTEBOOK_TOL_MS)
            tab.append([r["optimizer"], r["seed"], r["budget"], r["n_spikes"],
                        r["spike_times_ms"], _g(num(r["max_abs_err_ms"])),
                        _g(num(r["loss"]), 4), _g(num(r["gamma"])), _g(num(r["wall_s"])),
                        "yes" if ok else "no"])
        lines += _md(["optimizer", "seed", "budget", "spikes", "spike times (ms)",
                      "max abs err (ms)", "loss", "Gamma", "wall s", "4 spikes, all <= 2 ms"],
                     tab)
        s = [r for r in nb if r["optimizer"] == "snn"]
        n_ok = sum(r["n_spikes"] == "4" and r["max_abs_err_ms"] != ""
                   and num(r["max_abs_err_ms"]) <= NOTEBOOK_TOL_MS for r in s)
        lines += ["", f"Goal (every `snn` run: 4 spikes, each within 2 ms): {n_ok}/{len(s)} -> "
                  + ("MET" if s and n_ok == len(s) else "NOT MET"), ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=("presets", "notebook", "all", "tune"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--pca-seeds", default=None, help="seeds for pca:* dims (default --seeds)")
    ap.add_argument("--dims", default="full,pca:3")
    ap.add_argument("--budget", type=int, default=20000)
    ap.add_argument("--optimizers", default="snn,direct,cmaes")
    ap.add_argument("--notebook-seeds", default="0,1,2")
    ap.add_argument("--notebook-budget", type=int, default=50000)
    ap.add_argument("--grid", default="direct", help="tuning grid (tune part)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    pca_seeds = [int(s) for s in a.pca_seeds.split(",")] if a.pca_seeds else seeds
    dims = a.dims.split(",")
    opts = a.optimizers.split(",")
    if a.part == "tune":
        part_tune(a.grid, seeds, a.budget, dims)
        return
    if not a.summary_only:
        run = Runner(a.resume)
        if a.part in ("presets", "all"):
            part_presets(run, seeds, pca_seeds, dims, a.budget, opts)
        if a.part in ("notebook", "all"):
            part_notebook(run, [int(s) for s in a.notebook_seeds.split(",")],
                          a.notebook_budget, opts)
    text = summary(read_rows(CSV))
    SUMMARY.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
