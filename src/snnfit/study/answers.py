"""The answers to the study's three questions, from its tables.

Each question pairs two arms on the same unit of replication (the target, or the target x
model pair; seeds are summarised by their median first, so repeated seeds never count as
independent pairs) and measures the scale-free effect
:func:`~snnfit.study.statistics.relative_improvement` of one arm over the other:

1. :func:`answer_adaptation` (pairs: :func:`adaptation_pairs`): do AdEx and Izhikevich
   predict held-out sweeps better than LIF?
2. :func:`answer_dimensionality` (:func:`dimensionality_pairs`): do fewer free coordinates
   give more accurate fits at the same budget?
3. :func:`answer_optimizers` (:func:`optimizer_pairs`): does the spiking-network front end
   beat the direct-gradient control (and every other optimizer, Holm-adjusted)?

Each returns ``{question, metric, groups, n_pairs, pair_unit, effect, ci95, test, p_value,
verdict, ..., summary}`` (NaN as null, ready for JSON), the verdict by
:func:`~snnfit.study.statistics.verdict` and ``summary`` the answer in prose (the report's
first paragraph). :func:`answers` gives all three, as written to ``answers.json``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .statistics import (StatsConfig, bootstrap_ci, holm, paired_test, relative_improvement,
                         verdict)
from .tables import HIGHER_IS_BETTER, in_arm

#: metrics judging real cells, whose spike times jitter by tens of ms
REAL_CELL_METRICS = ("isi_error_ms", "latency_error_ms", "count_error")
ADAPTIVE_MODELS = ("adex", "izhikevich")
#: Gamma and the costs reported per setting (dimensionality) and per optimizer
COSTS = ("gamma", "forward_equivalents", "wall_s", "joules")


def answers(fits, heldout, stats: StatsConfig | None = None, treatment: str = "snn",
            control: str = "direct", adaptation_optimizers: Sequence[str] | None = None,
            adaptation_budget: int | None = None) -> dict:
    """All three answers, as written to ``answers.json``. Each question uses the fits of
    its own arm (column ``arms``) when the tables have one."""
    return {
        "adaptation": answer_adaptation(in_arm(fits, "adaptation"),
                                        in_arm(heldout, "adaptation"), stats,
                                        adaptation_optimizers, adaptation_budget),
        "dimensionality": answer_dimensionality(in_arm(fits, "dimensionality"), stats),
        "optimizers": answer_optimizers(in_arm(fits, "optimizers"), treatment, control, stats),
    }


# --------------------------------------------------------------------------- 1. adaptation


def adaptation_pairs(fits, heldout, optimizers: Sequence[str] | None = None,
                     budget: int | None = None, composite_everywhere: bool = False):
    """Per target, the relative improvement of the adaptive models over LIF on the held-out
    sweep(s): seeds -> median error per (target, model); per target the mean over AdEx and
    Izhikevich of :func:`relative_improvement` (LIF error, adaptive error). On targets with
    ground truth or fixed times the error is ``1 - Gamma``; on recordings the mean relative
    improvement over ISI-profile, latency and count errors.

    With ``composite_everywhere`` every target is judged by the ISI/latency/count mean (the
    secondary analysis: spike-time coincidence within 2 ms is a harsh test of a prediction).

    Returns a DataFrame with columns ``target, target_class, r`` and per-model columns.
    Only fits with the full parameter set and the ``recorded`` current are used (held-out
    prediction needs the recorded amplitude), and only those of ``optimizers`` and ``budget``
    when given (so that every model is fitted the same way).
    """
    import pandas as pd

    if heldout is None or heldout.empty:
        return pd.DataFrame(columns=["target", "target_class", "r"])
    h = _fitted_alike(heldout[(heldout["dim"] == "full") & (heldout["current"] == "recorded")],
                      optimizers, budget)
    rows = []
    for (target, tclass), g in h.groupby(["target", "target_class"], sort=True):
        metrics = (list(REAL_CELL_METRICS) if tclass == "recording" or composite_everywhere
                   else ["gamma"])
        err = {}
        for model, gm in g.groupby("model"):
            err[model] = {m: float(np.nanmedian(_error(gm, m)))
                          if m in gm and (m == "gamma" or gm[m].notna().any())
                          else math.nan for m in metrics}
        if "lif" not in err:
            continue
        rs = {}
        for am in ADAPTIVE_MODELS:
            if am not in err:
                continue
            per_metric = [relative_improvement(err["lif"][m], err[am][m]) for m in metrics]
            per_metric = [x for x in per_metric if not math.isnan(x)]
            rs[am] = float(np.mean(per_metric)) if per_metric else math.nan
        vals = [v for v in rs.values() if not math.isnan(v)]
        if not vals:
            continue
        rows.append({"target": target, "target_class": tclass, "r": float(np.mean(vals)),
                     **{f"r_{k}": v for k, v in rs.items()}})
    return pd.DataFrame(rows)


def answer_adaptation(fits, heldout, stats: StatsConfig | None = None,
                      optimizers: Sequence[str] | None = None,
                      budget: int | None = None) -> dict:
    """Question 1: do AdEx/Izhikevich predict held-out sweeps better than LIF?"""
    stats = stats or StatsConfig()
    pairs = adaptation_pairs(fits, heldout, optimizers, budget)
    by_class = {}
    for tclass, g in (pairs.groupby("target_class") if not pairs.empty else []):
        v = g["r"].to_numpy(float)
        med, ci = _median_ci(v, stats)
        by_class[tclass] = {"n_targets": int(v.size), "median": med, "ci95": ci}
    # in-sample Gamma by model (context, not the test: more parameters can win in-sample)
    in_sample = {}
    if fits is not None and not fits.empty:
        f = _fitted_alike(fits[fits["dim"] == "full"], optimizers, budget)
        for model, g in f.groupby("model"):
            v = g.groupby("target")["gamma"].median().to_numpy(float)
            v = v[~np.isnan(v)]
            med, ci = _median_ci(v, stats)
            in_sample[model] = {"median_gamma": med, "ci95": ci, "n_targets": int(v.size)}
    comp = adaptation_pairs(fits, heldout, optimizers, budget, composite_everywhere=True)
    secondary = {"metric": "as the primary, but every target judged by the mean relative "
                           "improvement over ISI-profile, latency and count errors",
                 **_effect(_column(comp, "r"), stats)}
    ans = _answer(
        "Does a model with spike-frequency adaptation (AdEx, Izhikevich) fit spike times "
        "better than one without (LIF), judged on held-out sweeps?",
        "relative improvement (e_LIF - e_adaptive) / (e_LIF + e_adaptive) on the held-out "
        "sweep, mean over AdEx and Izhikevich; e = 1 - Gamma on synthetic targets, the mean "
        "over ISI-profile, latency and count errors on recordings; > 0 favours adaptation",
        ["adex+izhikevich", "lif"], _column(pairs, "r").tolist(), stats, "target",
        by_class=by_class, in_sample_gamma=in_sample, secondary_isi_latency_count=secondary,
        pairs=pairs.to_dict(orient="records") if not pairs.empty else [])
    ans["summary"] = _adaptation_summary(ans)
    return _clean(ans)


def _adaptation_summary(a: dict) -> str:
    if a["n_pairs"] == 0:
        return ("Inconclusive: no target has a held-out sweep with fits of LIF and an "
                "adaptive model, so the question cannot be answered from this run.")
    s = _lead(a, "the adaptive models (AdEx, Izhikevich)", "predict held-out sweeps better "
              "than LIF", "do not predict held-out sweeps better than LIF")
    s += " " + _effect_sentence(a, "over LIF", "targets", ci="95% bootstrap CI",
                                note="; +1 = adaptive error zero, -1 = LIF error zero")
    parts = [f"{c} {_fmt(d['median'])} [{_fmt(d['ci95'][0])}, {_fmt(d['ci95'][1])}] "
             f"(n = {d['n_targets']})" for c, d in sorted(a["by_class"].items())]
    if parts:
        s += " By target class: " + "; ".join(parts) + "."
    sec = a.get("secondary_isi_latency_count") or {}
    if sec.get("n_pairs"):
        s += (f" Judged on every target by ISI-profile, latency and count errors instead: "
              f"{_fmt(sec['effect'])} [{_fmt(sec['ci95'][0])}, {_fmt(sec['ci95'][1])}], "
              f"p {_fmt_p(sec['p_value'])} (n = {sec['n_pairs']}).")
    ins = a.get("in_sample_gamma") or {}
    if ins:
        s += (" In-sample (fitted sweep) median Gamma, for context only: " + ", ".join(
            f"{m} {_fmt(d['median_gamma'])}" for m, d in sorted(ins.items())) + ".")
    return s + _inconclusive_tail(a, "no benefit", "targets")


# --------------------------------------------------------------------------- 2. dimensionality


def dimensionality_pairs(fits):
    """Per (target, model): the mean over reduced settings (dim != full) of the relative
    improvement in ``1 - Gamma`` (in-sample, median over seeds) over the full setting."""
    import pandas as pd

    rows = []
    if fits is None or fits.empty:
        return pd.DataFrame(columns=["target", "model", "r"])
    med = (fits.assign(err=_error(fits, "gamma"))
           .groupby(["target", "target_class", "model", "optimizer", "current", "budget",
                     "dim"], dropna=False)["err"].median().reset_index())
    for key, g in med.groupby(["target", "target_class", "model", "optimizer", "current",
                               "budget"], dropna=False):
        full = g[g["dim"] == "full"]["err"]
        red = g[g["dim"] != "full"]
        if full.empty or red.empty:
            continue
        e_full = float(full.iloc[0])
        rs = {d: relative_improvement(e_full, e) for d, e in zip(red["dim"], red["err"])}
        vals = [v for v in rs.values() if not math.isnan(v)]
        if vals:
            rows.append({"target": key[0], "target_class": key[1], "model": key[2],
                         "optimizer": key[3], "current": key[4], "budget": key[5],
                         "r": float(np.mean(vals)), **{f"r_{d}": v for d, v in rs.items()}})
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=["target", "model", "r"])
    # one pair per (target, model): average over optimizer/current/budget arms
    return (df.groupby(["target", "target_class", "model"], as_index=False)["r"].mean())


def answer_dimensionality(fits, stats: StatsConfig | None = None) -> dict:
    """Question 2: does reducing the number of free coordinates help?"""
    stats = stats or StatsConfig()
    pairs = dimensionality_pairs(fits)
    by_k = {}
    if fits is not None and not fits.empty:
        for (model, dim), g in fits.groupby(["model", "dim"]):
            by_k[f"{model}/{dim}"] = {"k": float(g["k"].median()),
                                      **_costs(g, "target", stats)}
    ans = _answer(
        "Does reducing the dimensionality of the optimisation (fewer free coordinates k) "
        "help, at the same budget of forward-equivalents?",
        "relative improvement (e_full - e_reduced) / (e_full + e_reduced), e = 1 - Gamma "
        "(in-sample, median over seeds), mean over reduced settings per (target, model); "
        "> 0 favours reduction",
        ["reduced (k < full)", "full"], _column(pairs, "r").tolist(), stats,
        "target x model", by_setting=by_k)
    ans["summary"] = _dimensionality_summary(ans)
    return _clean(ans)


def _dimensionality_summary(a: dict) -> str:
    if a["n_pairs"] == 0:
        return ("Inconclusive: no (target, model) pair has fits with both the full and a "
                "reduced parameter space, so the question cannot be answered from this run.")
    s = _lead(a, "reducing the number of free coordinates", "gives more accurate fits",
              "does not give more accurate fits", " at the same budget")
    s += " " + _effect_sentence(a, "in 1 - Gamma over the full space", "target-model pairs")
    costs = []
    for key, d in sorted(a["by_setting"].items()):
        med = {m: (d.get(m) or {}).get("median", math.nan)
               for m in ("gamma", "wall_s", "joules")}
        costs.append(f"{key} (k = {_fmt(d['k'], 0)}): Gamma {_fmt(med['gamma'])}, "
                     f"{_fmt(med['wall_s'], 1)} s, {_fmt(med['joules'], 1)} J")
    if costs:
        s += " Medians per setting: " + "; ".join(costs) + "."
    return s + _inconclusive_tail(a, "a loss", "pairs")


# --------------------------------------------------------------------------- 3. optimizers


def optimizer_pairs(fits, treatment: str, control: str):
    """Per (target, model, dim): relative improvement in ``1 - Gamma`` (median over seeds)
    of ``treatment`` over ``control``."""
    import pandas as pd

    if fits is None or fits.empty:
        return pd.DataFrame(columns=["target", "model", "dim", "r"])
    med = (fits.assign(err=_error(fits, "gamma"))
           .groupby(["target", "model", "dim", "current", "budget", "optimizer"])["err"]
           .median().unstack("optimizer"))
    if treatment not in med or control not in med:
        return pd.DataFrame(columns=["target", "model", "dim", "r"])
    r = [relative_improvement(c, t) for c, t in zip(med[control], med[treatment])]
    out = med.reset_index()[["target", "model", "dim", "current", "budget"]].copy()
    out["r"] = r
    out = out.dropna(subset=["r"])
    return out.groupby(["target", "model", "dim"], as_index=False)["r"].mean()


def answer_optimizers(fits, treatment: str = "snn", control: str = "direct",
                      stats: StatsConfig | None = None) -> dict:
    """Question 3: does the spiking-network front end (``treatment``) beat the direct-
    gradient control (``control``), and how does it compare with every other optimizer?"""
    stats = stats or StatsConfig()
    pairs = optimizer_pairs(fits, treatment, control)
    present = sorted(set(fits["optimizer"])) if fits is not None and not fits.empty else []
    others = {o: _effect(_column(optimizer_pairs(fits, treatment, o), "r"), stats)
              for o in present if o != treatment}
    adj = holm({o: d["p_value"] for o, d in others.items()})
    for o in others:
        others[o]["p_holm"] = adj[o]
    by_opt = {}
    if fits is not None and not fits.empty:
        for o, g in fits.groupby("optimizer"):
            by_opt[o] = _costs(g, ["target", "model", "dim"], stats)
    ans = _answer(
        f"Does the spiking-network front end ({treatment}) help, against the direct-gradient "
        f"control ({control}), CMA-ES and random search?",
        f"relative improvement (e_{control} - e_{treatment}) / (e_{control} + e_{treatment}),"
        " e = 1 - Gamma (in-sample, median over seeds, same budget) per (target, model, dim);"
        f" > 0 favours {treatment}",
        [treatment, control], _column(pairs, "r").tolist(), stats, "target x model x dim",
        treatment=treatment, control=control, present=present, against=others,
        by_optimizer=by_opt)
    ans["summary"] = _optimizers_summary(ans)
    return _clean(ans)


def _optimizers_summary(a: dict) -> str:
    t, c = a["treatment"], a["control"]
    if a["n_pairs"] == 0:
        missing = [o for o in (t, c) if o not in a["present"]]
        why = (f"the optimizer(s) {', '.join(missing)} were not run" if missing else
               f"no (target, model, dim) has fits with both {t} and {c}")
        return f"Inconclusive: {why}, so the question cannot be answered from this run."
    s = _lead(a, f"the spiking-network front end ({t})",
              f"fits better than the direct-gradient control ({c})",
              f"does not fit better than the direct-gradient control ({c})",
              " at the same budget")
    s += " " + _effect_sentence(a, "in 1 - Gamma", "target-model-space pairs")
    parts = [f"vs {o}: {_fmt(d['effect'])} [{_fmt(d['ci95'][0])}, {_fmt(d['ci95'][1])}], "
             f"Holm p {_fmt_p(d['p_holm'])}" for o, d in sorted(a["against"].items())
             if o != c]
    if parts:
        s += f" {t} against the other optimizers: " + "; ".join(parts) + "."
    return s + _inconclusive_tail(a, "a loss", "pairs")


# --------------------------------------------------------------------------- shared pieces


def _error(df, metric: str):
    """Error (smaller is better) of a metric column: ``1 - gamma`` for gamma. A null Gamma
    (the fit fires at or above 1 / (2 x window), 250 Hz, where the formula is undefined)
    counts as Gamma 0, no better than chance; other nulls stay NaN and are left out."""
    v = df[metric].astype(float)
    if metric == "gamma":
        return 1.0 - v.fillna(0.0)
    return 1.0 - v if metric in HIGHER_IS_BETTER else v


def _fitted_alike(df, optimizers: Sequence[str] | None, budget: int | None):
    """The rows of ``optimizers`` and ``budget`` (each when given)."""
    if optimizers is not None:
        df = df[df["optimizer"].isin(list(optimizers))]
    if budget is not None:
        df = df[df["budget"] == int(budget)]
    return df


def _column(df, col: str) -> np.ndarray:
    return df[col].to_numpy(float) if not df.empty else np.array([])


def _median_ci(v: np.ndarray, stats: StatsConfig) -> tuple[float, list[float]]:
    """Median (NaN for no values) and bootstrap 95% interval of ``v``."""
    lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
    return (float(np.median(v)) if v.size else math.nan), [lo, hi]


def _effect(r: np.ndarray, stats: StatsConfig) -> dict:
    """Paired effects ``r``: their number, median, bootstrap interval and Wilcoxon p."""
    med, ci = _median_ci(r, stats)
    _, p = paired_test(r)
    return {"n_pairs": int(r.size), "effect": med, "ci95": ci, "p_value": p}


def _costs(g, by, stats: StatsConfig) -> dict:
    """Median and bootstrap interval of Gamma and each cost (:data:`COSTS`) over the groups
    ``by`` of ``g`` (each group summarised by its median first)."""
    out = {}
    for m in COSTS:
        if m not in g:
            continue
        v = g.groupby(by)[m].median().to_numpy(float)
        v = v[~np.isnan(v)]
        med, ci = _median_ci(v, stats)
        out[m] = {"median": med, "ci95": ci}
    return out


def _answer(question: str, metric: str, groups: list[str], r: Sequence[float],
            stats: StatsConfig, pair_unit: str, **extra) -> dict:
    r = [float(v) for v in r if not math.isnan(float(v))]
    n = len(r)
    effect = float(np.median(r)) if n else math.nan
    ci = bootstrap_ci(r, n_boot=stats.n_boot, seed=stats.seed)
    test, p = paired_test(r)
    v = verdict(effect, ci, p, n, alpha=stats.alpha, margin=stats.margin,
                min_pairs=stats.min_pairs)
    out = {"question": question, "metric": metric, "groups": groups, "n_pairs": n,
           "pair_unit": pair_unit, "effect": effect, "ci95": [ci[0], ci[1]], "test": test,
           "p_value": p, "verdict": v}
    out.update(extra)
    return out


def _lead(a: dict, subject: str, does: str, does_not: str, qualifier: str = "") -> str:
    """The summary's first sentence: the verdict on ``subject does``."""
    return {"yes": f"Yes: {subject} {does}{qualifier}.",
            "no": f"No: {subject} {does_not}{qualifier}.",
            "inconclusive": f"Inconclusive: this run cannot tell whether {subject} {does}."
            }[a["verdict"]]


def _effect_sentence(a: dict, what: str, unit: str, ci: str = "95% CI", note: str = "") -> str:
    return (f"Median relative improvement {what} {_fmt(a['effect'])} ({ci} "
            f"{_fmt(a['ci95'][0])} to {_fmt(a['ci95'][1])}{note}) across {a['n_pairs']} "
            f"{unit}; Wilcoxon signed-rank p {_fmt_p(a['p_value'])}.")


def _inconclusive_tail(a: dict, other: str, unit: str) -> str:
    if a["verdict"] != "inconclusive":
        return ""
    return (f" The evidence is inconclusive: the interval includes both a benefit and {other}, "
            f"or there are too few {unit}.")


def _fmt(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def _clean(obj):
    """NaN -> None, numpy scalars -> Python (for JSON)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
