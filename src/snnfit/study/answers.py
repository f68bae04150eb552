"""The answers to the study's three questions, each beside its controls.

Every answer is a paired comparison across targets (seeds are summarised by their median
first, so repeated seeds never count as independent pairs): the effect is the paired
difference of errors ``e_reference - e_candidate`` (> 0 favours the candidate), its median
with a bootstrap 95 % interval, the two-sided Wilcoxon signed-rank test and the verdict
(:func:`~snnfit.study.statistics.verdict`: ``yes``, ``no``, ``equivalent`` within the margin,
``inconclusive``). The score, the effect, the margin and the rule are fixed in
``docs/answers.md`` (written before any control was run).

Each question is answered on its answer targets and, with the same comparison, on its control
targets (the fits' ``arms`` memberships ``question:role``): a ``positive`` control where the
effect exists by construction and a ``negative`` control where it does not. An answer whose
controls do not come out as expected cannot be trusted, and says so.

1. :func:`answer_adaptation`: does adaptation help predict held-out amplitudes? Error: the
   held-out firing-pattern score (mean over the interpolated and extrapolated held-out sweeps
   of :func:`snnfit.metrics.pattern_score`). Two comparisons: ``across`` (AdEx and Izhikevich
   against LIF: the seed's question, the headline by default) and ``nested`` (each adaptive
   model against its own ``nonadapting`` variant). Controls: adaptive truths (positive:
   expected ``yes``), truths without adaptation (negative: expected ``equivalent``).
2. :func:`answer_dimensionality`: does reducing the number of free coordinates give more
   accurate fits at the same budget? Error: ``1 - Gamma`` in sample at each budget checkpoint
   (best-so-far, from the fits' histories), Holm-adjusted across checkpoints. Controls:
   truths that vary only inside the reduced subset (positive: reduction must help at some
   budget) and truths outside it (negative: the full space must win at the full budget).
3. :func:`answer_optimizers`: does the spiking-network front end beat the direct-gradient
   control? Same error and checkpoints. Control: CMA-ES against random search (positive).

:func:`answers` gives all three, as written to ``answers.json``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .statistics import StatsConfig, bootstrap_ci, holm, paired_effect
from .tables import in_arm

ADAPTIVE_MODELS = ("adex", "izhikevich")
NONADAPTING = "nonadapting"
#: held-out roles that test a new amplitude (a repeat is a new trial of a fitted one)
AMPLITUDE_ROLES = ("interpolated", "extrapolated", "heldout")
#: what each control must show for its answer to be trusted
EXPECTED = {
    "adaptation": {"positive": ("yes",), "negative": ("equivalent",)},
    "dimensionality": {"positive": ("yes",), "negative": ("no",)},
    "optimizers": {"positive": ("yes",)},
}
COSTS = ("gamma", "forward_equivalents", "wall_s", "joules")


def answers(fits, heldout, stats: StatsConfig | None = None, treatment: str = "snn",
            control: str = "direct", history=None, checkpoints: Sequence[int] = (),
            headline: str = "across", reliability=None) -> dict:
    """All three answers, as written to ``answers.json``."""
    return {
        "adaptation": answer_adaptation(fits, heldout, stats, headline, reliability,
                                        history=history),
        "dimensionality": answer_dimensionality(fits, history, stats, checkpoints),
        "optimizers": answer_optimizers(fits, history, treatment, control, stats,
                                        checkpoints),
    }


# --------------------------------------------------------------------------- 1. adaptation


def heldout_scores(heldout):
    """Per fit, the held-out error: the mean firing-pattern score over its held-out sweeps
    that test a new amplitude; then the median over seeds per (target, class, model).
    Columns ``target, target_class, model, score, n_sweeps``."""
    import pandas as pd

    cols = ["target", "target_class", "model", "score", "n_sweeps"]
    if heldout is None or heldout.empty:
        return pd.DataFrame(columns=cols)
    h = heldout[heldout["role"].isin(AMPLITUDE_ROLES) & (heldout["dim"] == "full")
                & (heldout["current"] == "recorded")]
    if h.empty:
        return pd.DataFrame(columns=cols)
    keys = ["target", "target_class", "model", "optimizer", "seed", "budget"]
    per_fit = h.groupby(keys, dropna=False).agg(score=("pattern_score", "mean"),
                                                n_sweeps=("pattern_score", "size"))
    per_fit = per_fit.reset_index()
    return (per_fit.groupby(["target", "target_class", "model"], as_index=False)
            .agg(score=("score", "median"), n_sweeps=("n_sweeps", "median")))


def adaptation_differences(scores, comparison: str, model: str | None = None):
    """Per target, the paired difference of held-out errors: ``across`` ``e_LIF - e_M`` for
    ``M`` = ``model`` or, without one, the mean over the adaptive models fitted;
    ``nested`` ``e_{M-nonadapting} - e_M``. Columns ``target, target_class, d``."""
    import pandas as pd

    rows = []
    if scores is None or scores.empty:
        return pd.DataFrame(columns=["target", "target_class", "d"])
    for (target, tclass), g in scores.groupby(["target", "target_class"], sort=True):
        e = dict(zip(g["model"], g["score"].astype(float)))
        if comparison == "across":
            cands = [model] if model else [m for m in ADAPTIVE_MODELS if m in e]
            if "lif" not in e or not cands or any(c not in e for c in cands):
                continue
            d = e["lif"] - float(np.mean([e[c] for c in cands]))
        else:
            ref = f"{model}-{NONADAPTING}"
            if model not in e or ref not in e:
                continue
            d = e[ref] - e[model]
        if not math.isnan(d):
            rows.append({"target": target, "target_class": tclass, "d": d})
    return pd.DataFrame(rows, columns=["target", "target_class", "d"])


def _with_controls(diff_fn, table, question: str, stats: StatsConfig) -> dict:
    """The effect on the answer targets, with ``controls: {positive, negative}`` (each with
    ``expected`` and ``as_expected``) for the roles present in the table."""
    out = _effect_of(diff_fn(in_arm(table, question, "answer")), stats)
    controls = {}
    for role, expected in EXPECTED[question].items():
        sub = in_arm(table, question, role)
        if sub is None or sub.empty:
            continue
        c = _effect_of(diff_fn(sub), stats)
        c["expected"] = list(expected)
        c["as_expected"] = c["verdict"] in expected
        controls[role] = c
    out["controls"] = controls
    return out


def _effect_of(diffs, stats: StatsConfig) -> dict:
    d = diffs["d"].to_numpy(float) if len(diffs) else np.array([])
    out = paired_effect(d, stats)
    out["pairs"] = diffs.to_dict(orient="records") if len(diffs) else []
    return out


def answer_adaptation(fits, heldout, stats: StatsConfig | None = None,
                      headline: str = "across", reliability=None, history=None) -> dict:
    """Question 1 (see the module docstring)."""
    stats = stats or StatsConfig()
    held = in_arm(heldout, "adaptation")

    def scored(df):
        return heldout_scores(df)

    comparisons = {
        "across": _with_controls(
            lambda df: adaptation_differences(scored(df), "across"), held, "adaptation",
            stats),
        "nested": {m: _with_controls(
            lambda df, m=m: adaptation_differences(scored(df), "nested", m), held,
            "adaptation", stats) for m in ADAPTIVE_MODELS},
    }
    comparisons["across"]["per_model"] = {m: _with_controls(
        lambda df, m=m: adaptation_differences(scored(df), "across", m), held, "adaptation",
        stats) for m in ADAPTIVE_MODELS}
    # every comparison says whether its own controls came out as expected
    comparisons["across"]["trusted"] = _trusted(comparisons["across"])
    for d in (*comparisons["nested"].values(), *comparisons["across"]["per_model"].values()):
        d["trusted"] = _trusted(d)
    head = comparisons["across"] if headline == "across" else comparisons["nested"]["adex"]
    ans = {
        "question": "Does spike-frequency adaptation help a model predict how a cell fires at "
                    "step amplitudes it was not fitted on?",
        "metric": "held-out firing-pattern score (mean of count, ISI-profile and latency "
                  "terms in [0, 1] over the interpolated and extrapolated held-out sweeps; "
                  "docs/answers.md); effect = e_reference - e_adaptive, > 0 favours "
                  "adaptation",
        "headline": "across (AdEx and Izhikevich against LIF)" if headline == "across"
                    else "nested (AdEx against AdEx without adaptation)",
        "groups": ["adex+izhikevich", "lif"] if headline == "across"
                  else ["adex", f"adex-{NONADAPTING}"],
        "pair_unit": "target (median over seeds)",
        **{k: head[k] for k in ("n_pairs", "effect", "ci95", "test", "p_value", "verdict",
                                "controls", "pairs")},
        "comparisons": comparisons,
        "trusted": _trusted(head),
        "in_sample": _in_sample(in_arm(fits, "adaptation"), stats),
        "heldout_by_model": _heldout_by_model(held, stats),
    }
    if reliability is not None and len(reliability):
        ans["reliability"] = _reliability_summary(reliability, held, stats)
    conv = convergence(in_arm(history, "adaptation"))
    if conv:
        ans["convergence"] = conv
    ans["summary"] = _adaptation_summary(ans)
    return _clean(ans)


#: a fit "still improving" lowered its best loss by more than this fraction in the second
#: half of its budget
STILL_IMPROVING = 0.05


def convergence(history, by: str = "model") -> dict:
    """Is the budget enough? Per model (or per value of column ``by``: ``dim`` for the
    dimensionality question, ``optimizer`` for the optimizers'), over its fits: ``n_fits``,
    ``still_improving`` (the fraction whose best loss at the end is more than
    :data:`STILL_IMPROVING` below the best loss at half the budget) and ``median_drop`` (the
    median relative drop of the best loss over the budget's second half). A budget where many fits still improve caps the fits
    before they converge (config/README.md, "Budgets")."""
    out: dict = {}
    if history is None or history.empty:
        return out
    ident = [c for c in ("target", "model", "dim", "optimizer", "current", "seed", "budget")
             if c in history]
    drops: dict[str, list[float]] = {}
    for key, h in history.groupby(ident, dropna=False, sort=False):
        row = dict(zip(ident, key))
        h = h.sort_values("forward_equivalents")
        half = h[h["forward_equivalents"] <= 0.5 * float(row["budget"])]
        if half.empty:
            continue
        l_half, l_end = float(half["best_loss"].iloc[-1]), float(h["best_loss"].iloc[-1])
        if not (math.isfinite(l_half) and l_half > 0 and math.isfinite(l_end)):
            drop = 0.0 if l_half == l_end else math.nan
        else:
            drop = (l_half - l_end) / l_half
        if not math.isnan(drop):
            drops.setdefault(str(row[by]), []).append(drop)
    for group, d in sorted(drops.items()):
        v = np.asarray(d, float)
        out[group] = {"n_fits": int(v.size),
                      "still_improving": float(np.mean(v > STILL_IMPROVING)),
                      "median_drop": float(np.median(v))}
    return out


def _trusted(a: dict) -> bool | None:
    """True if every control came out as expected, False if one did not, None without
    controls."""
    c = a.get("controls") or {}
    if not c:
        return None
    return all(v["as_expected"] for v in c.values())


def _in_sample(fits, stats: StatsConfig) -> dict:
    out = {}
    if fits is None or fits.empty:
        return out
    f = fits[(fits["dim"] == "full")]
    for model, g in f.groupby("model"):
        v = g.groupby("target")["gamma"].median().to_numpy(float)
        v = v[~np.isnan(v)]
        med, ci = _median_ci(v, stats)
        out[model] = {"median_gamma": med, "ci95": ci, "n_targets": int(v.size)}
    return out


def _heldout_by_model(held, stats: StatsConfig) -> dict:
    """Median held-out score and its terms per target class and model (context)."""
    out: dict = {}
    if held is None or held.empty:
        return out
    h = held[held["role"].isin(AMPLITUDE_ROLES)]
    for (tclass, model), g in h.groupby(["target_class", "model"]):
        cols = [c for c in ("pattern_score", "pattern_count", "pattern_isi",
                            "pattern_latency", "gamma", "count_error") if c in g]
        per_target = g.groupby("target")[cols].median()
        d = {}
        for col in per_target.columns:
            v = per_target[col].to_numpy(float)
            v = v[~np.isnan(v)]
            med, ci = _median_ci(v, stats)
            d[col] = {"median": med, "ci95": ci}
        d["n_targets"] = int(len(per_target))
        out.setdefault(tclass, {})[model] = d
    return out


def _reliability_summary(reliability, held, stats: StatsConfig) -> dict:
    """The cells' own reliability (their two runs of a step against each other) beside the
    models' held-out scores: Gamma and pattern score between repeats, and each model's
    Gamma normalised by the intrinsic Gamma (Jolivet et al. 2008)."""
    rel = reliability.dropna(subset=["gamma_intrinsic"]) if len(reliability) else reliability
    out = {"n_cells": int(len(rel))}
    for col in ("gamma_intrinsic", "pattern_intrinsic", "n_repeat_pairs"):
        v = rel[col].to_numpy(float) if col in rel else np.array([])
        v = v[~np.isnan(v)]
        med, ci = _median_ci(v, stats)
        out[col] = {"median": med, "ci95": ci}
    norm = {}
    if held is not None and not held.empty and len(rel):
        g_int = dict(zip(rel["target"], rel["gamma_intrinsic"].astype(float)))
        h = held[held["target"].isin(list(g_int))]
        for model, g in h.groupby("model"):
            per_target = g.groupby("target")["gamma"].median()
            v = np.array([per_target[t] / g_int[t] for t in per_target.index
                          if g_int[t] > 0 and not math.isnan(per_target[t])])
            med, ci = _median_ci(v, stats)
            norm[model] = {"median": med, "ci95": ci, "n_cells": int(v.size)}
    out["normalised_gamma"] = norm
    out["note"] = ("Gamma between two runs of the same step; with two runs per step the "
                   "intrinsic Gamma is one noisy estimate per step (averaged over a cell's "
                   "steps), and a ratio of noisy estimates is biased upward (Jensen): read the "
                   "normalised Gamma as an order of magnitude")
    return out


# ----------------------------------------------------------------- 2.-3. budget checkpoints


def checkpoint_errors(fits, history, checkpoints: Sequence[int]):
    """In-sample error ``1 - Gamma`` (Gamma of the best point so far; a null Gamma counts as 0)
    of every fit at each checkpoint (forward-equivalents) below its budget, from its history,
    and at its full budget from its final record. Columns: the fit's identity, ``arms``,
    ``checkpoint``, ``err``."""
    import pandas as pd

    ident = ["target", "target_class", "model", "dim", "k", "optimizer", "current", "seed",
             "budget"]
    rows = []
    if fits is None or fits.empty:
        return pd.DataFrame(columns=ident + ["arms", "checkpoint", "err"])
    for _, f in fits.iterrows():
        g = float(f["gamma"]) if not pd.isna(f["gamma"]) else 0.0
        rows.append({**{k: f[k] for k in ident}, "arms": f.get("arms", ""),
                     "checkpoint": int(f["budget"]), "err": 1.0 - g})
    if history is not None and not history.empty and checkpoints:
        for key, h in history.groupby(ident, dropna=False, sort=False):
            h = h.sort_values("forward_equivalents")
            fe = h["forward_equivalents"].to_numpy(float)
            gam = h["gamma_at_best"].to_numpy(float)
            budget = int(key[-1])
            for c in checkpoints:
                if c >= budget:
                    continue
                j = np.searchsorted(fe, c, side="right") - 1
                if j < 0:
                    continue
                g = 0.0 if math.isnan(gam[j]) else gam[j]
                rows.append({**dict(zip(ident, key)), "arms": h["arms"].iloc[0],
                             "checkpoint": int(c), "err": 1.0 - g})
    return pd.DataFrame(rows)


def _pairs_by(errs, keys: Sequence[str], column: str, ref: str, cand: str | None):
    """Per ``keys`` group (seeds pooled by their median first): ``d = e_ref - e_cand`` (the
    mean over every other value of ``column`` when ``cand`` is None). Columns ``keys + d``."""
    import pandas as pd

    if errs is None or errs.empty:
        return pd.DataFrame(columns=list(keys) + ["d"])
    med = errs.groupby(list(keys) + [column], dropna=False)["err"].median().reset_index()
    rows = []
    for key, g in med.groupby(list(keys), dropna=False, sort=True):
        e = dict(zip(g[column], g["err"].astype(float)))
        if ref not in e:
            continue
        cands = [cand] if cand else [c for c in e if c != ref]
        if not cands or any(c not in e for c in cands):
            continue
        d = e[ref] - float(np.mean([e[c] for c in cands]))
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), "d": d})
    return pd.DataFrame(rows, columns=list(keys) + ["d"])


def _by_budget(errs, diff_fn, question: str, stats: StatsConfig) -> dict:
    """The effect at every checkpoint (Holm-adjusted across checkpoints) on the answer
    targets and on each control."""
    out = {}
    for role in ("answer", *EXPECTED[question]):
        sub = in_arm(errs, question, role)
        if sub is None or sub.empty:
            continue
        diffs = {int(c): diff_fn(g) for c, g in sub.groupby("checkpoint")}
        raw = {c: paired_effect(d["d"].to_numpy(float), stats)["p_value"]
               for c, d in diffs.items()}
        adj = holm({str(c): p for c, p in raw.items()})
        rows = []
        for c in sorted(diffs):
            e = paired_effect(diffs[c]["d"].to_numpy(float), stats, adj[str(c)])
            e.update({"checkpoint": c, "p_raw": raw[c]})
            rows.append(e)
        # can any checkpoint say yes? Holm rejects nothing unless the smallest raw p is at
        # most alpha / m; p_min is each checkpoint's floor (ties dropped by the test)
        floor = min(r["p_min"] for r in rows) if rows else 1.0
        for r in rows:
            r["yes_attainable"] = bool(floor <= stats.alpha / len(rows))
        out[role] = rows
    return out


def _at_full_budget(by_budget: list[dict]) -> dict:
    return max(by_budget, key=lambda r: r["checkpoint"]) if by_budget else {}


def _budget_controls(bb: dict, question: str) -> dict:
    """A control passes when its expected verdict appears at some checkpoint (positive) or at
    the full budget (negative)."""
    out = {}
    for role, expected in EXPECTED[question].items():
        rows = bb.get(role) or []
        if not rows:
            continue
        if role == "positive":
            hit = [r for r in rows if r["verdict"] in expected]
            pick = min(hit, key=lambda r: r["checkpoint"]) if hit else _at_full_budget(rows)
        else:
            pick = _at_full_budget(rows)
        c = {k: pick.get(k) for k in ("checkpoint", "n_pairs", "effect", "ci95", "test",
                                      "p_value", "p_raw", "verdict", "n_untied", "p_min",
                                      "yes_attainable")}
        c.update({"expected": list(expected), "as_expected": pick.get("verdict") in expected,
                  "by_budget": rows})
        out[role] = c
    return out


def answer_dimensionality(fits, history=None, stats: StatsConfig | None = None,
                          checkpoints: Sequence[int] = ()) -> dict:
    """Question 2 (see the module docstring)."""
    stats = stats or StatsConfig()
    f = in_arm(fits, "dimensionality")
    errs = checkpoint_errors(f, in_arm(history, "dimensionality"), checkpoints)
    keys = ["target", "target_class", "model", "optimizer", "current"]

    def diff(g):
        d = _pairs_by(g, keys, "dim", "full", None)  # e_full - mean e_reduced: > 0 reduction
        return d.groupby(["target", "target_class", "model"], as_index=False)["d"].mean() \
            if len(d) else d

    bb = _by_budget(errs, diff, "dimensionality", stats)
    full = _at_full_budget(bb.get("answer", []))
    by_setting = {}
    if f is not None and not f.empty:
        for (model, dim), g in f.groupby(["model", "dim"]):
            by_setting[f"{model}/{dim}"] = {"k": float(g["k"].median()),
                                            **_costs(g, "target", stats),
                                            "recovery": _recovery(g, stats)}
    ans = {
        "question": "Does reducing the dimensionality of the optimisation (fewer free "
                    "coordinates k) give more accurate fits at the same budget?",
        "metric": "in-sample error 1 - Gamma of the best point so far, at each budget "
                  "checkpoint (forward-equivalents); effect = e_full - e_reduced (mean over "
                  "the reduced settings), > 0 favours reduction; Holm across checkpoints",
        "groups": ["reduced (k < full)", "full"], "pair_unit": "target x model",
        **_answer_keys(full), "by_budget": bb.get("answer", []),
        "controls": _budget_controls(bb, "dimensionality"), "by_setting": by_setting,
    }
    conv = convergence(in_arm(history, "dimensionality"), by="dim")
    if conv:
        ans["convergence"] = conv
    ans["trusted"] = _trusted(ans)
    ans["summary"] = _budget_summary(
        ans, "reducing the number of free coordinates", "gives more accurate fits",
        "the full space")
    return _clean(ans)


def answer_optimizers(fits, history=None, treatment: str = "snn", control: str = "direct",
                      stats: StatsConfig | None = None, checkpoints: Sequence[int] = ()
                      ) -> dict:
    """Question 3 (see the module docstring)."""
    stats = stats or StatsConfig()
    f = in_arm(fits, "optimizers")
    errs = checkpoint_errors(f, in_arm(history, "optimizers"), checkpoints)
    keys = ["target", "target_class", "model", "dim", "current"]

    def diff_for(ref, cand):
        return lambda g: _pairs_by(g, keys, "optimizer", ref, cand)

    answer_rows = in_arm(errs, "optimizers", "answer")
    bb = _by_budget(errs, lambda g: _pairs_by(g, keys, "optimizer", control, treatment),
                    "optimizers", stats)
    # the control: CMA-ES against random search on the control targets
    pos = in_arm(errs, "optimizers", "positive")
    if pos is not None and not pos.empty:
        bb_pos = _by_budget(pos, diff_for("random", "cmaes"), "optimizers", stats)
        bb["positive"] = bb_pos.get("positive", [])
    full = _at_full_budget(bb.get("answer", []))
    fa = in_arm(f, "optimizers", "answer")
    present = sorted(set(fa["optimizer"])) if fa is not None and not fa.empty else []
    final = answer_rows[answer_rows["checkpoint"] == answer_rows["budget"]] \
        if answer_rows is not None and not answer_rows.empty else answer_rows
    others = {}
    for o in present:
        if o == treatment:
            continue
        d = _pairs_by(final, keys, "optimizer", o, treatment) if final is not None else None
        others[o] = paired_effect(d["d"].to_numpy(float) if d is not None and len(d)
                                  else np.array([]), stats)
    adj = holm({o: d["p_value"] for o, d in others.items()})
    for o in others:
        others[o]["p_holm"] = adj[o]
    by_opt = {}
    if f is not None and not f.empty:
        for o, g in f.groupby("optimizer"):
            by_opt[o] = _costs(g, ["target", "model", "dim"], stats)
    ans = {
        "question": f"Does the spiking-network front end ({treatment}) help, against the "
                    f"direct-gradient control ({control}), CMA-ES and random search?",
        "metric": f"in-sample error 1 - Gamma of the best point so far at each budget "
                  f"checkpoint; effect = e_{control} - e_{treatment}, > 0 favours "
                  f"{treatment}; Holm across checkpoints",
        "groups": [treatment, control], "pair_unit": "target x model x dim",
        "treatment": treatment, "control": control, "present": present,
        **_answer_keys(full), "by_budget": bb.get("answer", []),
        "controls": _budget_controls(bb, "optimizers"), "against": others,
        "by_optimizer": by_opt,
    }
    conv = convergence(in_arm(history, "optimizers"), by="optimizer")
    if conv:
        ans["convergence"] = conv
    ans["trusted"] = _trusted(ans)
    ans["summary"] = _budget_summary(
        ans, f"the spiking-network front end ({treatment})",
        f"fits better than the direct-gradient control ({control})", control)
    return _clean(ans)


def _answer_keys(row: dict) -> dict:
    keys = ("n_pairs", "effect", "ci95", "test", "p_value", "verdict", "checkpoint")
    out = {k: row.get(k) for k in keys}
    if not row:
        out.update({"n_pairs": 0, "effect": math.nan, "ci95": [math.nan, math.nan],
                    "verdict": "inconclusive", "p_value": math.nan})
    return out


# --------------------------------------------------------------------------- prose

_CONTROL_NAMES = {
    "adaptation": {"positive": "adaptive truths", "negative": "truths without adaptation"},
    "dimensionality": {"positive": "truths inside the reduced subset",
                       "negative": "truths outside it"},
    "optimizers": {"positive": "CMA-ES against random search"},
}


def _lead(verdict: str, subject: str, does: str) -> str:
    return {"yes": f"Yes: {subject} {does}.",
            "no": f"No: {subject} does worse (the opposite holds).",
            "equivalent": f"No practically relevant difference: {subject} neither helps nor "
                          f"hurts (the whole interval lies within the equivalence margin).",
            "inconclusive": f"Inconclusive: this run cannot tell whether {subject} {does}.",
            }[verdict]


def _effect_text(a: dict, unit: str) -> str:
    return (f"effect {_fmt(a.get('effect'))} [{_fmt((a.get('ci95') or [None])[0])}, "
            f"{_fmt((a.get('ci95') or [None, None])[1])}], p {_fmt_p(a.get('p_value'))}, "
            f"n = {a.get('n_pairs', 0)} {unit}")


def _controls_text(a: dict, question: str) -> str:
    c = a.get("controls") or {}
    if not c:
        return " This run has no controls: the verdict is a description, not evidence."
    parts = []
    for role, d in c.items():
        name = _CONTROL_NAMES[question].get(role, role)
        at = f" at {d['checkpoint']} FE" if d.get("checkpoint") else ""
        parts.append(f"{role} control ({name}): {d['verdict']}{at} (expected "
                     f"{' or '.join(d['expected'])}; {_effect_text(d, 'pairs')})")
    s = " Controls: " + "; ".join(parts) + "."
    failed = [r for r, d in c.items() if not d["as_expected"]]
    if failed:
        s += (f" The {' and '.join(failed)} control did not come out as expected, so this "
              f"answer cannot be trusted: the method "
              + ("did not detect an effect that exists by construction"
                 if "positive" in failed else "")
              + (" and " if len(failed) == 2 else "")
              + ("reported a difference where there is none by construction"
                 if "negative" in failed else "") + ".")
        pos = c.get("positive") or {}
        if "positive" in failed and pos.get("yes_attainable") is False:
            s += (" At no checkpoint could the positive control have said yes: too few pairs "
                  "differ (ties, e.g. both fits perfect, are dropped by the signed-rank test; "
                  f"{pos.get('n_untied')} of {pos.get('n_pairs')} at {pos.get('checkpoint')} "
                  "FE) for p below alpha after Holm.")
    else:
        s += " Both controls came out as expected." if len(c) == 2 else \
            " The control came out as expected."
    return s


def _adaptation_summary(a: dict) -> str:
    subject = ("the adaptive models (AdEx, Izhikevich)" if a["groups"][1] == "lif"
               else "AdEx with adaptation")
    ref = "LIF" if a["groups"][1] == "lif" else "AdEx without adaptation"
    s = _lead(a["verdict"], subject, f"predict held-out amplitudes better than {ref}")
    s += (f" On the answer targets (real cells where present): held-out pattern score "
          f"difference {_effect_text(a, 'targets')}.")
    s += _controls_text(a, "adaptation")
    nested = (a.get("comparisons") or {}).get("nested") or {}
    parts = [f"{m} vs {m} without adaptation: {d['verdict']} ({_effect_text(d, 'targets')}; "
             + _trust_words(d) + ")"
             for m, d in nested.items() if d.get("n_pairs")]
    if parts:
        s += " Nested comparison: " + "; ".join(parts) + "."
    across = (a.get("comparisons") or {}).get("across") or {}
    if a["groups"][1] != "lif" and across.get("n_pairs"):
        s += (f" Across models (AdEx and Izhikevich against LIF): {across['verdict']} "
              f"({_effect_text(across, 'targets')}; {_trust_words(across)}).")
    conv = {m: c for m, c in (a.get("convergence") or {}).items() if m in ADAPTIVE_MODELS}
    if conv:
        s += (" Budget: " + ", ".join(
            f"{c['still_improving'] * 100:.0f} % of the {m} fits" for m, c in conv.items())
            + " were still improving (best loss down by more than 5 % in the budget's second"
            " half): the answer holds at this budget, not at convergence.")
    rel = a.get("reliability")
    if rel and rel.get("n_cells"):
        s += (f" The cells' own repeats score {_fmt(rel['pattern_intrinsic']['median'])} "
              f"against each other (median over {rel['n_cells']} cells; Gamma "
              f"{_fmt(rel['gamma_intrinsic']['median'])}): the floor any model can reach.")
    return s


def _trust_words(d: dict) -> str:
    """Whether a comparison's own controls came out as expected, in words."""
    c = d.get("controls") or {}
    if not c:
        return "no controls"
    words = ", ".join(f"{r} control {v['verdict']}" for r, v in c.items())
    ok = all(v["as_expected"] for v in c.values())
    return words + (": controls as expected" if ok else ": a control failed, not trusted")


def _budget_summary(a: dict, subject: str, does: str, reference: str) -> str:
    s = _lead(a["verdict"], subject, does + " at the full budget")
    s += f" At the full budget: {_effect_text(a, 'pairs')}."
    rows = a.get("by_budget") or []
    if len(rows) > 1:
        s += " By budget (Holm-adjusted): " + "; ".join(
            f"{r['checkpoint']} FE {r['verdict']} ({_fmt(r['effect'])}, p "
            f"{_fmt_p(r['p_value'])})" for r in rows) + "."
    q = "dimensionality" if reference == "the full space" else "optimizers"
    return s + _controls_text(a, q)


# --------------------------------------------------------------------------- shared pieces


def _median_ci(v: np.ndarray, stats: StatsConfig) -> tuple[float, list[float]]:
    lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
    return (float(np.median(v)) if v.size else math.nan), [lo, hi]


def _recovery(g, stats: StatsConfig) -> dict:
    """Parameter recovery on the synthetic truths of the fits' own model: per parameter the
    median over targets of the normalised error ``|fit - truth| / box width`` (fits.csv's
    ``param_error_<name>``, :func:`snnfit.fit.engine.param_error`) with its bootstrap
    interval and the number of targets; ``mean`` is the mean over parameters."""
    out = {}
    cols = [c for c in g.columns if c.startswith("param_error")]
    for c in sorted(cols):
        v = g.groupby("target")[c].median().to_numpy(float)
        v = v[~np.isnan(v)]
        if not v.size:
            continue
        med, ci = _median_ci(v, stats)
        name = "mean" if c == "param_error" else c[len("param_error_"):]
        out[name] = {"median": med, "ci95": ci, "n_targets": int(v.size)}
    return out


def _costs(g, by, stats: StatsConfig) -> dict:
    out = {}
    for m in COSTS:
        if m not in g:
            continue
        v = g.groupby(by)[m].median().to_numpy(float)
        v = v[~np.isnan(v)]
        med, ci = _median_ci(v, stats)
        out[m] = {"median": med, "ci95": ci}
    return out


def _fmt(x, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _fmt_p(p) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
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
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
