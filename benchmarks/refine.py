"""The exact-gradient finish (``--refine``) against CMA-ES continuing, from the same point.

Goal (issue 12): from the first CMA-ES iterate at Gamma >= 0.9, ``--refine`` reaches a
spike-time RMSE <= 0.1 ms on self-consistent targets with <= 1/5 of the forward-equivalents
that CMA-ES, continuing from that point, needs for the same RMSE (or the measured ratio where
CMA-ES never gets there); both counted from that point.

Per target and seed (targets simulated with the fit's scheme, ``--current recorded``,
``--dim full``, one sweep of the preset):

1. **Start and CMA-ES continuing.** CMA-ES (the engine's optimiser, frozen settings, IPOP
   restarts) runs with a budget of ``--budget`` (20,000). A progress hook takes the start: the
   best point at the first moment its Gamma is >= 0.9 (``fe_start``: forward-equivalents spent
   until then, the re-simulation that scored it included). CMA-ES continuing is the same run
   going on (its mean, step size and covariance as they are, restarts included; no copy is
   restarted): the hook notes the first forward-equivalent count at which the best point's
   RMSE (matched in order, pooled; the target's count) is <= ``--rmse`` ms, and the run stops
   there, or at the budget (censored: the ratio is then against what CMA-ES spent from the
   start without getting there). The starts and CMA-ES's figures are cached in
   ``results/benchmarks/refine_starts.json`` (``--fresh``: run again).
2. **The refinement** (:func:`snnfit.fit.refine.run`, frozen :class:`RefineSettings` unless a
   tuning grid says otherwise) from the start point on a fresh account of
   ``--refine-budget`` forward-equivalents (default 3,000), once per Jacobian (``fit``: the
   fit's own map; also ``resolved2`` for AdEx under a ``resolved`` fit). Its
   forward-equivalents to RMSE <= ``--rmse`` are read from its history (``refine_rmse_ms``;
   the start's simulation and sensitivity pass included).

Targets: AdEx ``naud2008`` tonic, adapting, initial_burst, regular_bursting,
delayed_accelerating, delayed_regular_bursting (the regular trains: ``transient`` fires once,
``irregular`` is chaotic); Izhikevich 2007 RS, IB, CH; ``lif:default``. Benchmark seeds 0-2;
tuning seeds 100-101 (``--part tune``, never the benchmark's).

Writes ``results/benchmarks/refine.csv`` (``refine_<scheme>.csv`` for another scheme), one
row per (target, seed, method): ``target, model, scheme, seed, n_spikes, method, jacobian,
fe_start, gamma_start, rmse_start_ms, fe_to_rmse, reached, censored, fe_spent,
final_rmse_ms, final_gamma, iterations, accepted, rejected_count, stop, wall_s, ratio, load1,
src_commit`` (``method`` cmaes or refine; ``fe_to_rmse`` from the start, empty if never;
``censored`` 1 where CMA-ES never got there; ``ratio`` refine's ``fe_to_rmse`` over CMA-ES's,
or over CMA-ES's ``fe_spent`` where censored), the summary ``refine_summary.md``; ``--part
tune`` writes ``refine_tuning.csv`` (one row per grid entry, target and seed); ``--part fits``
(whole ``snnfit fit`` runs, CMA-ES without and with ``--refine`` at equal ``--budget``) writes
``refine_fits.csv`` (``target, model, scheme, seed, budget, refine, status, loss, gamma, rmse,
count_error, evaluations, refine_status, refine_stop, refine_fe, refine_start_rmse_ms, wall_s,
load1, src_commit``) and ``refine_fits_summary.md``.

Usage::

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/refine.py            # ~15 min (seeds 0-2)
    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/refine.py --scheme resolved2 \\
        --targets naud2008:tonic,naud2008:adapting,naud2008:initial_burst,...
    .venv/bin/python benchmarks/refine.py --part tune --grid update    # tuning seeds 100,101
    .venv/bin/python benchmarks/refine.py --part fits --budget 5000    # whole fits
    .venv/bin/python benchmarks/refine.py --summary-only
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

from csvrows import num, read_rows, write_rows  # noqa: E402
from fits import src_commit  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "benchmarks"
STARTS = OUT / "refine_starts.json"

TARGETS = ("naud2008:tonic", "naud2008:adapting", "naud2008:initial_burst",
           "naud2008:regular_bursting", "naud2008:delayed_accelerating",
           "naud2008:delayed_regular_bursting", "izhikevich2007:RS", "izhikevich2007:IB",
           "izhikevich2007:CH", "lif:default")
GAMMA_START = 0.9
RATIO_GOAL = 0.2
BENCH_SEEDS, TUNE_SEEDS = "0,1,2", "100,101"
COLUMNS = ("target", "model", "scheme", "seed", "n_spikes", "method", "jacobian", "fe_start",
           "gamma_start", "rmse_start_ms", "fe_to_rmse", "reached", "censored", "fe_spent",
           "final_rmse_ms", "final_gamma", "iterations", "accepted", "rejected_count", "stop",
           "wall_s", "ratio", "load1", "src_commit")
TUNE_COLUMNS = ("grid", "entry", "settings", "target", "model", "scheme", "seed", "jacobian",
                "fe_to_rmse", "cmaes_fe_to_rmse", "censored", "ratio", "final_rmse_ms", "stop")


def tune_grids() -> dict[str, dict[str, dict]]:
    """Named grids of :class:`RefineSettings` values (``--part tune --grid NAME``); each entry
    is run with both Jacobians on AdEx ``resolved`` fits."""
    return {
        # the damping update: Nielsen's (lam *= max(1/3, 1 - (2 rho - 1)^3), nu doubling on
        # failure) was the first version; fixed factors after it
        "update": {"down0.3_up2": {"down": 0.3, "up": 2.0},
                   "down0.5_up2": {"down": 0.5, "up": 2.0},
                   "down0.1_up10": {"down": 0.1, "up": 10.0},
                   "down0.5_up3": {"down": 0.5, "up": 3.0}},
        "damping": {"1e-2": {"damping": 1e-2}, "1e-3": {"damping": 1e-3},
                    "1e-4": {"damping": 1e-4}},
        "frozen": {"frozen": {}},
    }


class _Reached(Exception):
    """Raised by the hook to stop CMA-ES once its best point is within the RMSE goal."""


def target_file(name: str, scheme: str) -> Path:
    from snnfit.data.targets import preset_target, write_target

    p = OUT / "targets" / f"{name.replace(':', '_')}_{scheme}.json"
    if not p.exists():
        write_target(p, preset_target(name, scheme))
    return p


def best_rmse(problem) -> float:
    """Matched RMSE (pooled over sweeps) of the problem's best point, inf on a count mismatch;
    simulated outside the account."""
    from snnfit.metrics import matched_rmse

    trains = problem.best_trains(charge=False)
    if any(t.size != sw.times.size for t, sw in zip(trains, problem.sweeps)):
        return math.inf
    rmse, _ = matched_rmse(trains, [sw.times for sw in problem.sweeps])
    return math.inf if rmse is None else float(rmse)


class Hook:
    """Progress hook of the CMA-ES run: the start (first best with Gamma >= 0.9) and the first
    forward-equivalent count at which the best's RMSE is within the goal."""

    def __init__(self, rmse_goal: float):
        self.rmse_goal = rmse_goal
        self.start = None
        self.reached_fe = None
        self._seen = None

    def __call__(self, problem) -> None:
        key = (problem.best_loss, problem.best_gamma)
        if key == self._seen or problem.best_z is None:
            return
        self._seen = key
        if self.start is None:
            if problem.best_gamma is not None and problem.best_gamma >= GAMMA_START:
                self.start = {"z": [float(v) for v in problem.best_z],
                              "amps": [float(a) for a in problem.best_amps],
                              "loss": float(problem.best_loss),
                              "gamma": float(problem.best_gamma),
                              "fe": int(problem.forward_equivalents),
                              "rmse": best_rmse(problem)}
                if self.start["rmse"] <= self.rmse_goal:
                    self.reached_fe = self.start["fe"]
                    raise _Reached
            return
        if best_rmse(problem) <= self.rmse_goal:
            self.reached_fe = int(problem.forward_equivalents)
            raise _Reached


def setup(target: str, scheme: str, seed: int, budget: int, refine_settings=None):
    """Settings, target and space of a fit as ``run_fit`` builds them (kernels warmed)."""
    from snnfit.data.targets import load_target
    from snnfit.fit.engine import FitSettings, _warm_up
    from snnfit.fit.refine import resolve, warm_up
    from snnfit.fit.space import build_space
    from snnfit.sim.models import resolve_preset

    model, _ = resolve_preset(target)
    settings = FitSettings(model=model, dim="full", optimizer="cmaes", seed=seed, budget=budget,
                           current="recorded", scheme=scheme, threads=1,
                           refine=refine_settings or False)
    settings.check()
    tgt = load_target(target_file(target, scheme))
    space = build_space(model, "full", scheme, "recorded")
    _warm_up(model, scheme, 1, "cmaes")
    warm_up(model, scheme, resolve(settings.refine), 1)
    return model, settings, tgt, space


def run_cmaes(target: str, scheme: str, seed: int, budget: int, rmse_goal: float) -> dict:
    """The CMA-ES leg: the start, and CMA-ES's forward-equivalents from it to the goal."""
    from snnfit.fit.engine import FitProblem
    from snnfit.fit.optimizers import cmaes

    model, settings, tgt, space = setup(target, scheme, seed, budget)
    hook = Hook(rmse_goal)
    problem = FitProblem(space, tgt, settings, progress=hook)
    t0 = time.perf_counter()
    try:
        cmaes.run(problem, cmaes.CMAESSettings())
    except _Reached:
        pass
    wall = time.perf_counter() - t0
    fe_end = int(problem.forward_equivalents)
    st = hook.start
    out = {"model": model, "n_spikes": int(sum(sw.times.size for sw in problem.sweeps)),
           "start": st, "fe_end": fe_end, "wall_s": wall, "final_gamma": problem.best_gamma,
           "final_rmse_ms": best_rmse(problem), "load1": os.getloadavg()[0]}
    if st is not None:
        out["reached"] = hook.reached_fe is not None
        out["fe_to_rmse"] = hook.reached_fe - st["fe"] if out["reached"] else None
        out["fe_spent"] = fe_end - st["fe"]
    return out


def cached_cmaes(target, scheme, seed, budget, rmse_goal, fresh=False) -> dict:
    """:func:`run_cmaes`, cached in ``refine_starts.json`` (``fresh``: run again)."""
    key = f"{target}|{scheme}|{seed}|{budget}|{rmse_goal}"
    cache = json.loads(STARTS.read_text()) if STARTS.exists() else {}
    if fresh or key not in cache:
        cache[key] = run_cmaes(target, scheme, seed, budget, rmse_goal)
        STARTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = STARTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cache, indent=1))
        os.replace(tmp, STARTS)
    return cache[key]


def run_refine(target: str, scheme: str, seed: int, start: dict, budget: int, rs,
               rmse_goal: float):
    """The refinement (settings ``rs``) from ``start`` on a fresh account of ``budget``:
    ``(problem, info, wall_s, fe_to_rmse or None)``."""
    from snnfit.fit import refine
    from snnfit.fit.engine import FitProblem

    model, settings, tgt, space = setup(target, scheme, seed, budget, rs)
    problem = FitProblem(space, tgt, settings)
    problem.best_z = np.asarray(start["z"], dtype=np.float64)
    problem.best_amps = list(start["amps"])
    problem.best_loss = start["loss"]
    problem.best_gamma = start["gamma"]
    t0 = time.perf_counter()
    info = refine.run(problem, settings)
    wall = time.perf_counter() - t0
    reached = next((h["simulations"] for h in problem.history
                    if h.get("refine_rmse_ms", math.inf) <= rmse_goal), None)
    return problem, info, wall, reached


def jacobians(model: str, scheme: str) -> list[str]:
    return ["fit"] + (["resolved2"] if model == "adex" and scheme == "resolved" else [])


def ratio_of(reached, c: dict):
    denom = c["fe_to_rmse"] if c["reached"] else c["fe_spent"]
    return reached / denom if (reached is not None and denom) else None


def bench(targets, seeds, scheme, budget, refine_budget, rmse_goal, fresh, keep_rows):
    from snnfit.fit.refine import RefineSettings

    rows = [r for r in keep_rows
            if not (r["target"] in targets and int(r["seed"]) in seeds and r["scheme"] == scheme)]
    commit = src_commit()
    path = csv_path(scheme)
    for target in targets:
        for seed in seeds:
            c = cached_cmaes(target, scheme, seed, budget, rmse_goal, fresh)
            base = {"target": target, "model": c["model"], "scheme": scheme, "seed": seed,
                    "n_spikes": c["n_spikes"], "load1": c["load1"], "src_commit": commit}
            st = c["start"]
            if st is None:
                rows.append({**base, "method": "cmaes", "stop": "never Gamma >= 0.9",
                             "fe_spent": c["fe_end"], "final_gamma": c["final_gamma"],
                             "wall_s": c["wall_s"]})
                write_rows(path, rows, COLUMNS)
                print(f"{target} seed {seed}: CMA-ES never reached Gamma {GAMMA_START} "
                      f"({c['fe_end']} FE)", flush=True)
                continue
            start_cols = {"fe_start": st["fe"], "gamma_start": st["gamma"],
                          "rmse_start_ms": st["rmse"]}
            rows.append({**base, **start_cols, "method": "cmaes", "fe_to_rmse": c["fe_to_rmse"],
                         "reached": int(c["reached"]), "censored": int(not c["reached"]),
                         "fe_spent": c["fe_spent"], "final_rmse_ms": c["final_rmse_ms"],
                         "final_gamma": c["final_gamma"], "wall_s": c["wall_s"],
                         "stop": "rmse goal" if c["reached"] else "budget"})
            print(f"{target} seed {seed} ({c['n_spikes']} sp): start at {st['fe']} FE, Gamma "
                  f"{st['gamma']:.3f}, RMSE {st['rmse']:.3g} ms; CMA-ES "
                  + (f"to goal in {c['fe_to_rmse']}" if c["reached"]
                     else f"never, spent {c['fe_spent']}") + " FE", flush=True)
            for jac in jacobians(c["model"], scheme):
                rp, info, wall, reached = run_refine(target, scheme, seed, st, refine_budget,
                                                     RefineSettings(jacobian=jac), rmse_goal)
                ratio = ratio_of(reached, c)
                rows.append({**base, **start_cols, "method": "refine", "jacobian": jac,
                             "fe_to_rmse": reached, "reached": int(reached is not None),
                             "censored": int(not c["reached"]),
                             "fe_spent": info["forward_equivalents"],
                             "final_rmse_ms": info.get("final_rmse_ms"),
                             "final_gamma": rp.best_gamma, "iterations": info.get("iterations"),
                             "accepted": info.get("accepted"),
                             "rejected_count": info.get("rejected_count"),
                             "stop": f"{info['status']}: {info['stop']}", "wall_s": wall,
                             "ratio": ratio})
                print(f"    refine ({jac}): {info['stop']}, to goal {reached} FE (ratio "
                      f"{'-' if ratio is None else f'{ratio:.3f}'}), spent "
                      f"{info['forward_equivalents']}, final RMSE "
                      f"{info.get('final_rmse_ms', math.nan):.3g} ms, {info.get('iterations')} "
                      f"trials ({info.get('accepted')} accepted), {wall:.2f} s", flush=True)
            write_rows(path, rows, COLUMNS)
    return rows


def tune(grid, targets, seeds, budget, refine_budget, rmse_goal, fresh):
    """Run a named grid on the tuning seeds (resolved fits; AdEx also resolved2) and print the
    tally per entry: starts within the goal ratio, of the starts either method brought to the
    goal, and the median ratio."""
    from snnfit.fit.refine import RefineSettings

    path = OUT / "refine_tuning.csv"
    rows = [r for r in read_rows(path) if r["grid"] != grid]
    for entry, kw in tune_grids()[grid].items():
        tally = {}
        for scheme in ("resolved", "resolved2"):
            for target in targets:
                if scheme == "resolved2" and not target.startswith("naud2008"):
                    continue  # Izhikevich and LIF run their resolved map under resolved2
                for seed in seeds:
                    c = cached_cmaes(target, scheme, seed, budget, rmse_goal, fresh)
                    if c["start"] is None:
                        continue
                    for jac in jacobians(c["model"], scheme):
                        rs = RefineSettings(jacobian=jac, **kw)
                        _, info, _, reached = run_refine(target, scheme, seed, c["start"],
                                                         refine_budget, rs, rmse_goal)
                        ratio = ratio_of(reached, c)
                        rows.append({"grid": grid, "entry": entry, "settings": json.dumps(kw),
                                     "target": target, "model": c["model"], "scheme": scheme,
                                     "seed": seed, "jacobian": jac, "fe_to_rmse": reached,
                                     "cmaes_fe_to_rmse": c["fe_to_rmse"],
                                     "censored": int(not c["reached"]), "ratio": ratio,
                                     "final_rmse_ms": info.get("final_rmse_ms"),
                                     "stop": info["stop"]})
                        group = f"{c['model']} {scheme} J={jac}"
                        t = tally.setdefault(group, [0, 0, []])
                        if reached is not None or c["reached"]:
                            t[1] += 1
                            if ratio is not None and ratio <= RATIO_GOAL:
                                t[0] += 1
                        if ratio is not None:
                            t[2].append(ratio)
        write_rows(path, rows, TUNE_COLUMNS)
        print(f"{grid} {entry} {kw}: " + "; ".join(
            f"{g} {w}/{n} (median ratio {statistics.median(r) if r else math.nan:.3f})"
            for g, (w, n, r) in tally.items()), flush=True)


FITS_COLUMNS = ("target", "model", "scheme", "seed", "budget", "refine", "status", "loss",
                "gamma", "rmse", "count_error", "evaluations", "refine_status", "refine_stop",
                "refine_fe", "refine_start_rmse_ms", "wall_s", "load1", "src_commit")


def fits(targets, seeds, scheme, budget):
    """Whole fits at equal budget: ``snnfit fit`` (CMA-ES, recorded current) without and with
    ``--refine`` (frozen settings: the optimiser stops at 95 % of the budget). Rows to
    ``refine_fits.csv``; the summary counts fits within the RMSE goal and at Gamma >= 0.9."""
    from snnfit.fit import FitSettings, run_fit
    from snnfit.sim.models import resolve_preset

    path = OUT / "refine_fits.csv"
    rows = [r for r in read_rows(path)
            if not (r["target"] in targets and int(r["seed"]) in seeds and r["scheme"] == scheme
                    and int(r["budget"]) == budget)]
    commit = src_commit()
    for target in targets:
        p = target_file(target, scheme)
        model, _ = resolve_preset(target)
        for seed in seeds:
            for ref in (False, True):
                load1 = os.getloadavg()[0]
                res = run_fit(str(p), FitSettings(model=model, seed=seed, budget=budget,
                                                  current="recorded", scheme=scheme,
                                                  threads=1, refine=ref))
                info = res.optimizer_info.get("refine", {})
                rows.append({"target": target, "model": model, "scheme": scheme, "seed": seed,
                             "budget": budget, "refine": int(ref), "status": res.status,
                             "loss": res.loss, "gamma": res.gamma,
                             "rmse": res.spike_time_rmse_ms, "count_error": res.count_error,
                             "evaluations": res.forward_equivalents,
                             "refine_status": info.get("status"),
                             "refine_stop": info.get("stop"),
                             "refine_fe": info.get("forward_equivalents"),
                             "refine_start_rmse_ms": info.get("start_rmse_ms"),
                             "wall_s": res.wall_s, "load1": load1, "src_commit": commit})
                write_rows(path, rows, FITS_COLUMNS)
                print(f"{target} seed {seed} refine {int(ref)}: gamma {res.gamma} rmse "
                      f"{res.spike_time_rmse_ms} loss {res.loss:.4g} "
                      f"({info.get('stop', '-')}, {info.get('forward_equivalents', '-')} FE)",
                      flush=True)
    return rows


def fits_summary(rows, rmse_goal) -> str:
    L = ["| model | budget | fits | RMSE <= goal: CMA-ES / + refine | Gamma >= 0.9: CMA-ES / + "
         "refine | median RMSE (ms): CMA-ES / + refine |", "|---|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["scheme"], r["budget"]), {}).setdefault(
            (r["target"], r["seed"]), {})[r["refine"]] = r
    for (model, scheme, budget), pairs in groups.items():
        pairs = [v for v in pairs.values() if "0" in v and "1" in v]
        if not pairs:
            continue

        def stat(k):
            rm = [num(v[k]["rmse"]) for v in pairs]
            ok = sum(1 for x in rm if x <= rmse_goal)
            g = sum(1 for v in pairs if num(v[k]["gamma"]) >= GAMMA_START)
            fin = [x for x in rm if math.isfinite(x)]
            return ok, g, statistics.median(fin) if fin else math.nan

        a, b = stat("0"), stat("1")
        L.append(f"| {model} ({scheme}) | {budget} | {len(pairs)} | {a[0]} / {b[0]} | "
                 f"{a[1]} / {b[1]} | {a[2]:.3g} / {b[2]:.3g} |")
    return "\n".join(L) + "\n"


def csv_path(scheme: str) -> Path:
    return OUT / ("refine.csv" if scheme == "resolved" else f"refine_{scheme}.csv")


def summary(rows, scheme, rmse_goal) -> str:
    """Markdown: per start, CMA-ES's and the refinement's forward-equivalents to the goal and
    the ratio; then the tally per model and Jacobian."""
    jacs = ["fit", "resolved2"] if scheme == "resolved" else ["fit"]
    head = ["target", "seed", "start FE", "start Gamma", "start RMSE (ms)", "CMA-ES FE to goal"]
    for j in jacs:
        head += [f"refine FE (J {j})", "ratio"]
    L = [f"# Refinement vs CMA-ES continuing (scheme {scheme}, RMSE goal {rmse_goal} ms)", "",
         "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by = {}
    for r in rows:
        if r["scheme"] == scheme:
            by.setdefault((r["target"], int(r["seed"])), []).append(r)
    tally = {}
    order = {t: i for i, t in enumerate(TARGETS)}
    for (target, seed), rs in sorted(by.items(), key=lambda kv: (order.get(kv[0][0], 99),
                                                                 kv[0][1])):
        c = next(r for r in rs if r["method"] == "cmaes")
        if c["fe_start"] == "":
            L.append("| " + " | ".join([target, str(seed), "-", "never 0.9"]
                                       + [""] * (len(head) - 4)) + " |")
            continue
        cfe = c["fe_to_rmse"] if c["reached"] == "1" else f"never (> {c['fe_spent']})"
        cells = [target, str(seed), c["fe_start"], f"{num(c['gamma_start']):.3f}",
                 f"{num(c['rmse_start_ms']):.3g}", cfe]
        for j in jacs:
            r = next((r for r in rs if r["method"] == "refine" and r["jacobian"] == j), None)
            if r is None:
                cells += ["", ""]
                continue
            cells += [r["fe_to_rmse"] or f"never ({r['stop'].split(': ')[-1]}, "
                      f"{num(r['final_rmse_ms']):.2g} ms)", r["ratio"] or "-"]
            t = tally.setdefault((c["model"], j), {"win": 0, "lose": 0, "refine_never": 0,
                                                   "neither": 0, "ratios": []})
            if r["ratio"] != "":
                t["ratios"].append(num(r["ratio"]))
                t["win" if num(r["ratio"]) <= RATIO_GOAL else "lose"] += 1
            elif c["reached"] == "1":
                t["refine_never"] += 1
            else:
                t["neither"] += 1
        L.append("| " + " | ".join(cells) + " |")
    L += ["", "| model | Jacobian | ratio <= 1/5 | ratio > 1/5 | refine never, CMA-ES did | "
          "neither | median ratio | max ratio |", "|---|---|---|---|---|---|---|---|"]
    for (model, j), t in tally.items():
        rr = t["ratios"]
        L.append(f"| {model} | {j} | {t['win']} | {t['lose']} | {t['refine_never']} | "
                 f"{t['neither']} | {statistics.median(rr) if rr else math.nan:.3f} | "
                 f"{max(rr) if rr else math.nan:.3f} |")
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", default="bench", choices=("bench", "tune", "fits"))
    ap.add_argument("--grid", default="frozen", help="tuning grid (--part tune)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--seeds", default=None,
                    help=f"default {BENCH_SEEDS} (bench), {TUNE_SEEDS} (tune)")
    ap.add_argument("--scheme", default="resolved", help="the fits' and targets' scheme")
    ap.add_argument("--budget", type=int, default=20000, help="CMA-ES budget (default 20000)")
    ap.add_argument("--refine-budget", type=int, default=3000,
                    help="the refinement's budget from the start (default 3000)")
    ap.add_argument("--rmse", type=float, default=0.1, help="RMSE goal, ms (default 0.1)")
    ap.add_argument("--fresh", action="store_true", help="run CMA-ES again (no cached starts)")
    ap.add_argument("--summary-only", action="store_true")
    a = ap.parse_args(argv)
    targets = [t.strip() for t in a.targets.split(",") if t.strip()]
    if a.part == "tune":
        seeds = [int(s) for s in (a.seeds or TUNE_SEEDS).split(",")]
        tune(a.grid, targets, seeds, a.budget, a.refine_budget, a.rmse, a.fresh)
        return 0
    if a.part == "fits":
        if not a.summary_only:
            seeds = [int(s) for s in (a.seeds or BENCH_SEEDS).split(",")]
            fits(targets, seeds, a.scheme, a.budget)
        text = fits_summary(read_rows(OUT / "refine_fits.csv"), a.rmse)
        (OUT / "refine_fits_summary.md").write_text(text)
        print(text)
        return 0
    rows = read_rows(csv_path(a.scheme))
    if not a.summary_only:
        seeds = [int(s) for s in (a.seeds or BENCH_SEEDS).split(",")]
        bench(targets, seeds, a.scheme, a.budget, a.refine_budget, a.rmse, a.fresh, rows)
        rows = read_rows(csv_path(a.scheme))
    text = summary(rows, a.scheme, a.rmse)
    md = csv_path(a.scheme).with_name(csv_path(a.scheme).stem + "_summary.md")
    md.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
