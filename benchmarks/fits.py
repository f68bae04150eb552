"""Acceptance benchmarks of the fit engine (CMA-ES and random search).

Parts (``--part``, default ``all``):

``selfcons``
    Self-consistency, ``--current recorded``, ``--dim full``, CMA-ES: AdEx fitted to every
    ``naud2008:*`` preset target and Izhikevich to ``izhikevich2007:RS, IB, CH``, each target
    generated with ``--scheme resolved`` (same discrete map as the fit) and ``--scheme euler``
    (model mismatch: the fit always uses ``resolved``). Goal: Gamma >= 0.9 on >= 6 of the 7
    AdEx targets with >= 3 spikes and on 3 of 3 Izhikevich targets, for every seed (resolved
    targets). Targets with fewer than 3 spikes never count.
``random``
    Random search at the same budget on the resolved targets with >= 3 spikes; paired over
    targets x seeds against the CMA-ES fits of ``selfcons`` (Wilcoxon signed-rank on the final
    loss, one-sided: CMA-ES lower). CMA-ES fits missing from the table are run here.
``ca1``
    The four CA1 cells (``--current recorded``), AdEx, Izhikevich and LIF: a joint fit to both
    sweeps (pooled metrics and each sweep's metrics), and a fit to each single sweep evaluated
    on itself and on the other (held-out) sweep. Goal: AdEx and Izhikevich beat LIF on the
    held-out sweeps in ISI error and count error (paired over 4 cells x 2 sweeps = 8 pairs).
``timing``
    One CMA-ES fit of a 1.2 s sweep at a budget of 5,000 simulations, ``--repeats`` times
    (seeds 0..repeats-1) per model; goal: median wall time under 5 s on one core.

``--scheme resolved2`` runs the parts with the ``resolved2`` map (fits and their matching
targets; outputs ``fits_resolved2.csv`` and ``fits_summary_resolved2.md``): the re-run before
the default scheme may move to it.

Every fit runs on one core (``threads=1``, ``NUMBA_NUM_THREADS=1``), one at a time. Output:
``results/benchmarks/fits.csv`` (one row per fit or per evaluation; rows of the parts run
replace the earlier rows of those parts), ``results/benchmarks/fits_summary.md``, the targets
under ``results/benchmarks/targets/`` and the fit records (with an empty history) under
``results/benchmarks/fits/``. ``--summary-only`` rebuilds the summary from the CSV.

Usage::

    .venv/bin/python benchmarks/fits.py --part all            # ~10 min on one core
    .venv/bin/python benchmarks/fits.py --part selfcons --seeds 0 --budget 3000  # quick look
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

import numpy as np  # noqa: E402

from csvrows import _fmt, num, read_rows, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
CA1_SPIKES = ROOT.parent / "shared" / "data" / "recordings" / "ca1_pyramidal" / "spikes.csv"

NAUD = ("tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
        "delayed_regular_bursting", "transient", "irregular")
IZH = ("RS", "IB", "CH")
#: the fits' scheme (``--scheme``); targets are generated with it and with ``euler``
FIT_SCHEME = "resolved"
SCHEMES = ("resolved", "euler")
CA1_MODELS = ("adex", "izhikevich", "lif")
TIMING_TARGETS = {"adex": "naud2008:adapting", "izhikevich": "izhikevich2007:RS",
                  "lif": "lif:default"}
MIN_SPIKES = 3  # targets with fewer spikes never count toward a tally
GAMMA_GOAL = 0.9
ADEX_GOAL, IZH_GOAL = 6, 3  # of 7 and of 3 eligible targets
TIMING_BUDGET, TIMING_GOAL_S = 5000, 5.0
PARTS = ("selfcons", "random", "ca1", "timing")

COLUMNS = ("part", "target", "target_scheme", "target_spikes", "model", "optimizer", "seed",
           "budget", "current", "dim", "fit_sweeps", "eval_sweeps", "heldout", "status", "loss",
           "gamma", "rmse", "count_error", "isi_error_ms", "latency_error_ms", "van_rossum",
           "victor_purpura", "evaluations", "restarts", "wall_s", "cpu_s", "joules",
           "energy_source", "outer_wall_s", "load1", "src_commit", "fit_file")


# ------------------------------------------------------------------------------- helpers


def src_commit() -> str:
    """HEAD and whether ``src/`` differs from it, when the benchmark starts (the code a long
    run imports is the code at its start, even if the checkout moves on)."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}" if head else "unknown"


def csv_path() -> Path:
    return OUT / ("fits.csv" if FIT_SCHEME == "resolved" else f"fits_{FIT_SCHEME}.csv")


def target_file(name: str, scheme: str) -> Path:
    from snnfit.data.targets import preset_target, write_target

    p = OUT / "targets" / f"{name.replace(':', '_')}_{scheme}.json"
    if not p.exists():
        write_target(p, preset_target(name, scheme))
    return p


def ca1_target_file(cell: str) -> Path:
    from snnfit.data.targets import recording_target, write_target

    p = OUT / "targets" / f"ca1_{cell}.json"
    if not p.exists():
        write_target(p, recording_target(CA1_SPIKES, cell))
    return p


def ca1_cells() -> list[str]:
    with open(CA1_SPIKES, newline="", encoding="utf-8") as fh:
        return sorted({r["cell_id"] for r in csv.DictReader(fh)})


def metric_fields(m: dict) -> dict:
    return {"gamma": m.get("gamma"), "rmse": m.get("spike_time_rmse_ms"),
            "count_error": m.get("count_error"), "isi_error_ms": m.get("isi_error_ms"),
            "latency_error_ms": m.get("latency_error_ms"), "van_rossum": m.get("van_rossum"),
            "victor_purpura": m.get("victor_purpura")}


class Runner:
    """Runs fits one at a time and keeps ``fits.csv`` up to date after each."""

    def __init__(self, parts, keep_rows):
        self.rows = [r for r in keep_rows if r["part"] not in parts]
        self.csv = csv_path()
        self.commit = src_commit()

    def add(self, row: dict) -> None:
        row = {k: str(_fmt(row.get(k))) for k in COLUMNS}  # as read back from the CSV
        self.rows.append(row)
        write_rows(self.csv, self.rows, COLUMNS)

    def fit(self, part, target_path, target_label, target_scheme, model, optimizer, seed,
            budget, sweeps=None, tag=""):
        from snnfit.fit import FitSettings, run_fit
        from snnfit.data.targets import load_target

        t = load_target(target_path)
        if sweeps:
            n_sp = sum(len(s.spike_times_ms) for s in t.sweeps if s.id in sweeps)
        else:
            n_sp = t.n_spikes
        settings = FitSettings(model=model, dim="full", optimizer=optimizer, seed=seed,
                               budget=budget, current="recorded", scheme=FIT_SCHEME,
                               threads=1, sweeps=list(sweeps) if sweeps else None)
        load1 = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = run_fit(str(target_path), settings)
        outer = time.perf_counter() - t0
        rec = replace(result, history=[]).to_json()  # the history would fill the disk
        name = (f"{part}_{Path(target_path).stem}_{model}_{optimizer}_s{seed}_b{budget}"
                f"{tag}.json")
        fpath = OUT / "fits" / name
        fpath.parent.mkdir(parents=True, exist_ok=True)
        fpath.write_text(json.dumps(rec, allow_nan=False))
        fit_sweeps = ",".join(result.sweep_ids)
        row = {"part": part, "target": target_label, "target_scheme": target_scheme,
               "target_spikes": n_sp, "model": model, "optimizer": optimizer, "seed": seed,
               "budget": budget, "current": "recorded", "dim": "full",
               "fit_sweeps": fit_sweeps, "eval_sweeps": fit_sweeps, "heldout": 0,
               "status": result.status, "loss": result.loss, **metric_fields(rec),
               "evaluations": result.forward_equivalents,
               "restarts": result.optimizer_info.get("restarts"),
               "wall_s": result.wall_s, "cpu_s": result.cpu_s, "joules": result.joules,
               "energy_source": result.energy_source, "outer_wall_s": outer, "load1": load1,
               "src_commit": self.commit,
               "fit_file": str(fpath.relative_to(ROOT))}
        self.add(row)
        row = self.rows[-1]
        g = result.gamma
        print(f"[{part}] {target_label} ({target_scheme}, {n_sp} sp) {model} {optimizer} "
              f"seed {seed} sweeps {fit_sweeps}: gamma {'-' if g is None else f'{g:.3f}'} "
              f"loss {result.loss:.4g} count_err {result.count_error} "
              f"wall {result.wall_s:.2f} s (load {load1:.2f})", flush=True)
        return row, fpath

    def evaluate(self, fit_row, fpath, target_path, sweeps, heldout):
        from snnfit.fit.record import evaluate_fit
        from snnfit.data.targets import load_target

        ev = evaluate_fit(fpath, target_path, sweeps)
        t = load_target(target_path)
        n_sp = sum(len(s.spike_times_ms) for s in t.sweeps if s.id in sweeps)
        row = {k: fit_row[k] for k in ("part", "target", "target_scheme", "model", "optimizer",
                                       "seed", "budget", "current", "dim", "fit_sweeps",
                                       "src_commit", "fit_file")}
        row.update({"target_spikes": n_sp, "eval_sweeps": ",".join(sweeps),
                    "heldout": int(heldout), "status": "eval", **metric_fields(ev)})
        self.add(row)
        print(f"    eval on {','.join(sweeps)} ({'held-out' if heldout else 'in-sample'}): "
              f"count_err {ev['count_error']} isi {ev['isi_error_ms']} gamma {ev['gamma']}",
              flush=True)
        return row


# ------------------------------------------------------------------------------- parts


def selfcons_targets():
    for scheme in SCHEMES:
        for n in NAUD:
            yield f"naud2008:{n}", scheme, "adex"
        for n in IZH:
            yield f"izhikevich2007:{n}", scheme, "izhikevich"


def part_selfcons(run: Runner, seeds, budget):
    for name, scheme, model in selfcons_targets():
        p = target_file(name, scheme)
        for seed in seeds:
            run.fit("selfcons", p, name, scheme, model, "cmaes", seed, budget)


def part_random(run: Runner, seeds, budget):
    from snnfit.data.targets import load_target

    have = {(r["target"], r["target_scheme"], r["model"], r["seed"], r["budget"])
            for r in run.rows if r["optimizer"] == "cmaes" and r["part"] in ("selfcons",
                                                                               "random")}
    for name, scheme, model in selfcons_targets():
        if scheme != FIT_SCHEME:
            continue
        p = target_file(name, scheme)
        if load_target(p).n_spikes < MIN_SPIKES:
            continue
        for seed in seeds:
            if (name, scheme, model, str(seed), str(budget)) not in have:
                run.fit("random", p, name, scheme, model, "cmaes", seed, budget)
            run.fit("random", p, name, scheme, model, "random", seed, budget)


def part_ca1(run: Runner, seeds, budget):
    from snnfit.data.targets import load_target

    if not CA1_SPIKES.exists():
        print(f"ca1: skipped, {CA1_SPIKES} not found", flush=True)
        return
    for cell in ca1_cells():
        p = ca1_target_file(cell)
        ids = load_target(p).ids
        for model in CA1_MODELS:
            for seed in seeds:
                row, f = run.fit("ca1", p, cell, "recording", model, "cmaes", seed, budget,
                                 tag="_joint")
                for s in ids:  # the joint fit, sweep by sweep
                    run.evaluate(row, f, p, [s], heldout=False)
                for s in ids:
                    other = [o for o in ids if o != s]
                    row, f = run.fit("ca1", p, cell, "recording", model, "cmaes", seed, budget,
                                     sweeps=[s], tag=f"_sw{s}")
                    run.evaluate(row, f, p, other, heldout=True)


def part_timing(run: Runner, repeats, budget):
    for model, name in TIMING_TARGETS.items():
        p = target_file(name, FIT_SCHEME)
        for seed in range(repeats):
            run.fit("timing", p, name, FIT_SCHEME, model, "cmaes", seed, budget)


# ------------------------------------------------------------------------------- summary


def _wilcoxon(x, y, alternative):
    from scipy.stats import wilcoxon

    d = np.asarray(x) - np.asarray(y)
    if d.size == 0 or np.all(d == 0):
        return math.nan
    return float(wilcoxon(x, y, alternative=alternative).pvalue)


def _md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return out


def _g(v, nd=3):
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{nd}f}"


def summarize(rows: list[dict]) -> str:
    commits = sorted({r.get("src_commit") or "unknown" for r in rows})
    L = ["# Fit benchmarks: summary", "",
         f"Generated by `benchmarks/fits.py` from `results/benchmarks/{csv_path().name}`; "
         f"code (`src/` at the start of each run): {', '.join(commits)}.", ""]
    L += _summary_selfcons(rows) + _summary_random(rows) + _summary_ca1(rows) \
        + _summary_timing(rows)
    return "\n".join(L) + "\n"


def _summary_selfcons(rows):
    sc = [r for r in rows if r["part"] == "selfcons"]
    if not sc:
        return []
    L = ["## Self-consistency (CMA-ES, --current recorded, --dim full)", ""]
    seeds = sorted({int(r["seed"]) for r in sc})
    budgets = sorted({r["budget"] for r in sc})
    L.append(f"Budget(s): {', '.join(budgets)}; fits use the {FIT_SCHEME} scheme. "
             f"Eligible: targets with >= {MIN_SPIKES} spikes.")
    L.append("")
    header = ["target", "scheme", "spikes"] + [f"gamma s{s}" for s in seeds] + \
        [f"count err s{s}" for s in seeds]
    table = []
    keys = []
    for r in sc:
        k = (r["target"], r["target_scheme"], r["model"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        rs = {int(r["seed"]): r for r in sc if (r["target"], r["target_scheme"], r["model"]) == k}
        sp = next(iter(rs.values()))["target_spikes"]
        table.append([k[0], k[1], sp] + [_g(num(rs[s]["gamma"])) if s in rs else "" for s in seeds]
                     + [rs[s]["count_error"] if s in rs else "" for s in seeds])
    L += _md_table(header, table) + [""]
    header = ["model", "target scheme", "seed", "gamma >= 0.9", "eligible", "goal", "met"]
    table = []
    for model, goal in (("adex", ADEX_GOAL), ("izhikevich", IZH_GOAL)):
        for scheme in SCHEMES:
            for s in seeds:
                el = [r for r in sc if r["model"] == model and r["target_scheme"] == scheme
                      and int(r["seed"]) == s and int(r["target_spikes"]) >= MIN_SPIKES]
                if not el:
                    continue
                hit = sum(num(r["gamma"]) >= GAMMA_GOAL for r in el)
                met = ("yes" if hit >= goal else "NO") if scheme == FIT_SCHEME else \
                    "(report only)"
                table.append([model, scheme, s, hit, len(el), f">= {goal}", met])
    L += _md_table(header, table) + [""]
    return L


def _summary_random(rows):
    rnd = [r for r in rows if r["optimizer"] == "random" and r["part"] == "random"]
    if not rnd:
        return []
    cm = {(r["target"], r["target_scheme"], r["model"], r["seed"], r["budget"]): r
          for r in rows if r["optimizer"] == "cmaes" and r["part"] in ("selfcons", "random")}
    pairs = []
    for r in rnd:
        k = (r["target"], r["target_scheme"], r["model"], r["seed"], r["budget"])
        if k in cm:
            pairs.append((cm[k], r))
    L = ["## CMA-ES vs random search at equal budget", ""]
    if not pairs:
        return L + ["No CMA-ES fits to pair with.", ""]
    lc = np.array([num(c["loss"]) for c, _ in pairs])
    lr = np.array([num(x["loss"]) for _, x in pairs])
    gc = np.array([num(c["gamma"]) for c, _ in pairs])
    gr = np.array([num(x["gamma"]) for _, x in pairs])
    gc0, gr0 = np.nan_to_num(gc, nan=0.0), np.nan_to_num(gr, nan=0.0)
    budgets = sorted({x["budget"] for _, x in pairs})
    L.append(f"{len(pairs)} pairs (targets x seeds, {FIT_SCHEME} targets with >= {MIN_SPIKES} "
             f"spikes), budget {', '.join(budgets)}. Wilcoxon signed-rank (scipy), one-sided.")
    L.append("")
    table = [
        ["final loss (ms^2, lower better)", f"{np.median(lc):.4g}", f"{np.median(lr):.4g}",
         f"{np.median(lc - lr):.4g}", f"{int(np.sum(lc < lr))}/{len(pairs)}",
         f"{_wilcoxon(lc, lr, 'less'):.3g}"],
        ["Gamma (higher better; None = 0)", _g(np.median(gc0)), _g(np.median(gr0)),
         _g(np.median(gc0 - gr0)), f"{int(np.sum(gc0 > gr0))}/{len(pairs)}",
         f"{_wilcoxon(gc0, gr0, 'greater'):.3g}"],
    ]
    L += _md_table(["metric", "median CMA-ES", "median random", "median diff (CMA - random)",
                    "CMA better", "p (one-sided)"], table) + [""]
    table = [[c["target"], c["seed"], f"{num(c['loss']):.4g}", f"{num(x['loss']):.4g}",
              _g(num(c["gamma"])), _g(num(x["gamma"]))] for c, x in pairs]
    L += _md_table(["target", "seed", "loss CMA", "loss random", "gamma CMA", "gamma random"],
                   table) + [""]
    return L


def _summary_ca1(rows):
    ca = [r for r in rows if r["part"] == "ca1"]
    if not ca:
        return []
    L = ["## CA1 cells (--current recorded, CMA-ES)", ""]
    budgets = sorted({r["budget"] for r in ca})
    L.append(f"Budget {', '.join(budgets)} simulations per fit (a joint fit spends it on both "
             "sweeps). `fit` = sweeps fitted, `eval` = sweeps scored.")
    L.append("")
    header = ["cell", "model", "fit", "eval", "held-out", "gamma", "count err", "isi err ms",
              "rmse ms", "latency err ms", "van Rossum", "wall s"]
    table = []
    for r in ca:
        table.append([r["target"][:22], r["model"], r["fit_sweeps"], r["eval_sweeps"],
                      "yes" if r["heldout"] == "1" else "", _g(num(r["gamma"])),
                      r["count_error"], _g(num(r["isi_error_ms"]), 1), _g(num(r["rmse"]), 1),
                      _g(num(r["latency_error_ms"]), 1), _g(num(r["van_rossum"]), 2),
                      _g(num(r["wall_s"]), 1)])
    L += _md_table(header, table) + [""]
    ho = [r for r in ca if r["heldout"] == "1"]
    L.append("Held-out comparison, paired over cells x held-out sweeps (n = 8 at most: 4 cells x "
             "2 sweeps per seed; a small n, the smallest attainable one-sided Wilcoxon p with 8 "
             "pairs is 1/256 = 0.0039). Difference = model - LIF (negative: model better). "
             "Pairs where either ISI error is undefined (< 2 spikes in a train) are dropped and "
             "counted.")
    L.append("")
    L += _paired_vs_lif(ho)
    L += ["Sensitivity check keeping every held-out pair for the ISI error: an undefined ISI "
          "error (the train has < 2 spikes, e.g. a silent model) ranks worse than any defined "
          "one; both undefined is a tie. One-sided sign test (binomial, ties dropped).", ""]
    table = []
    seeds = sorted({r["seed"] for r in ho}, key=int)
    for seed, model in [(s_, m_) for s_ in seeds + (["all"] if len(seeds) > 1 else [])
                        for m_ in ("adex", "izhikevich")]:
        wins = losses = ties = 0
        grp = ho if seed == "all" else [r for r in ho if r["seed"] == seed]
        for r, x in _pairs_vs_lif(grp, model):
            va = num(r["isi_error_ms"])
            vb = num(x["isi_error_ms"])
            va = math.inf if math.isnan(va) else va
            vb = math.inf if math.isnan(vb) else vb
            if va < vb:
                wins += 1
            elif va > vb:
                losses += 1
            else:
                ties += 1
        p = _sign_p(wins, losses)
        table.append([seed, f"{model} vs lif", wins, losses, ties, _g(p, 4)])
    L += _md_table(["seed", "comparison", "model better", "LIF better", "ties", "sign test p"], table)
    L.append("")
    ins = [r for r in ca if r["heldout"] == "0" and r["status"] != "eval"
           and "," not in r["fit_sweeps"]]
    if ins:
        L += ["Diagnostic (not a goal): the same comparison in-sample, i.e. each single-sweep "
              "fit scored on the sweep it was fitted to.", ""]
        L += _paired_vs_lif(ins)
    jo = [r for r in ca if r["status"] == "eval" and "," in r["fit_sweeps"]]
    if jo:
        L += ["Diagnostic (not a goal): the joint fits (both sweeps), scored sweep by sweep.", ""]
        L += _paired_vs_lif(jo)
    return L


def _pairs_vs_lif(rows, model):
    """(model row, LIF row) pairs with the same cell, scored sweeps, fitted sweeps and seed."""
    out = []
    for r in rows:
        if r["model"] != model:
            continue
        m = [x for x in rows if x["model"] == "lif" and x["target"] == r["target"]
             and x["eval_sweeps"] == r["eval_sweeps"] and x["fit_sweeps"] == r["fit_sweeps"]
             and x["seed"] == r["seed"]]
        if m:
            out.append((r, m[0]))
    return out


def _paired_vs_lif(rows):
    """Model vs LIF, paired; one block per seed, plus all seeds pooled if there are several."""
    seeds = sorted({r["seed"] for r in rows}, key=int)
    groups = [(s, [r for r in rows if r["seed"] == s]) for s in seeds]
    if len(seeds) > 1:
        groups.append(("all", rows))
    table = []
    for seed, grp in groups:
        table += _paired_block(grp, seed)
    return _md_table(["seed", "comparison", "metric", "n", "dropped", "median model",
                      "median LIF", "median diff", "model better", "Wilcoxon p (one-sided)",
                      ""], table) + [""]


def _paired_block(rows, seed):
    table = []
    for model in ("adex", "izhikevich"):
        for metric in ("isi_error_ms", "count_error", "gamma"):
            a, b, dropped = [], [], 0
            for r, x in _pairs_vs_lif(rows, model):
                va, vb = num(r[metric]), num(x[metric])
                if metric == "gamma":
                    va, vb = (0.0 if math.isnan(va) else va), (0.0 if math.isnan(vb) else vb)
                if math.isnan(va) or math.isnan(vb):
                    dropped += 1
                    continue
                a.append(va)
                b.append(vb)
            a, b = np.array(a), np.array(b)
            alt = "greater" if metric == "gamma" else "less"
            better = np.sum(a > b) if metric == "gamma" else np.sum(a < b)
            table.append([seed, f"{model} vs lif", metric, len(a), dropped,
                          _g(float(np.median(a)) if a.size else math.nan, 2),
                          _g(float(np.median(b)) if b.size else math.nan, 2),
                          _g(float(np.median(a - b)) if a.size else math.nan, 2),
                          f"{int(better)}/{len(a)}",
                          _g(_wilcoxon(a, b, alt), 4),
                          "(report)" if metric == "gamma" else ""])
    return table


def _sign_p(wins, losses):
    from scipy.stats import binomtest

    n = wins + losses
    if n == 0:
        return math.nan
    return float(binomtest(wins, n, 0.5, alternative="greater").pvalue)


def _summary_timing(rows):
    tm = [r for r in rows if r["part"] == "timing"]
    if not tm:
        return []
    L = ["## Timing: one CMA-ES fit of a 1.2 s sweep", ""]
    table = []
    for model in sorted({r["model"] for r in tm}):
        rs = [r for r in tm if r["model"] == model]
        w = np.array([num(r["wall_s"]) for r in rs])
        c = np.array([num(r["cpu_s"]) for r in rs])
        o = np.array([num(r["outer_wall_s"]) for r in rs])
        ld = np.array([num(r["load1"]) for r in rs])
        med = float(np.median(w))
        table.append([model, rs[0]["target"], rs[0]["budget"], len(rs), f"{med:.2f}",
                      f"{np.min(w):.2f}-{np.max(w):.2f}", f"{np.median(c):.2f}",
                      f"{np.median(o):.2f}", f"{np.median(ld):.2f}",
                      "yes" if med < TIMING_GOAL_S else "NO"])
    L += _md_table(["model", "target", "budget", "repeats", "median wall s", "range",
                    "median cpu s", "median wall incl. load+metrics s", "median load avg (1 min)",
                    f"< {TIMING_GOAL_S:g} s"], table)
    L += ["", "wall_s is the fit record's (numba compilation excluded); one thread.", ""]
    return L


# ------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="all", choices=PARTS + ("all",))
    ap.add_argument("--seeds", default="0,1,2", help="seeds of selfcons/random (default 0,1,2)")
    ap.add_argument("--ca1-seeds", default="0", help="seeds of the CA1 fits (default 0)")
    ap.add_argument("--budget", type=int, default=20000,
                    help="simulations per fit of selfcons/random/ca1 (default 20000)")
    ap.add_argument("--timing-budget", type=int, default=TIMING_BUDGET)
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats per model")
    ap.add_argument("--scheme", default="resolved", choices=("resolved", "resolved2"),
                    help="the fits' scheme and the matching targets' (resolved2: output "
                    "fits_resolved2.csv, fits_summary_resolved2.md)")
    ap.add_argument("--summary-only", action="store_true",
                    help="rebuild fits_summary.md from fits.csv")
    a = ap.parse_args(argv)
    global FIT_SCHEME, SCHEMES
    FIT_SCHEME = a.scheme
    SCHEMES = (FIT_SCHEME, "euler")
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    ca1_seeds = [int(s) for s in a.ca1_seeds.split(",") if s.strip()]
    parts = PARTS if a.part == "all" else (a.part,)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = read_rows(csv_path())
    if not a.summary_only:
        from snnfit.sim.simulate import set_threads

        set_threads(1)
        run = Runner(parts, rows)
        t0 = time.perf_counter()
        if "selfcons" in parts:
            part_selfcons(run, seeds, a.budget)
        if "random" in parts:
            part_random(run, seeds, a.budget)
        if "ca1" in parts:
            part_ca1(run, ca1_seeds, a.budget)
        if "timing" in parts:
            part_timing(run, a.repeats, a.timing_budget)
        rows = read_rows(csv_path())
        print(f"done in {time.perf_counter() - t0:.0f} s (src at start {run.commit}, "
              f"at end {src_commit()})", flush=True)
    text = summarize(rows)
    summary_path = OUT / ("fits_summary.md" if FIT_SCHEME == "resolved"
                          else f"fits_summary_{FIT_SCHEME}.md")
    summary_path.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
