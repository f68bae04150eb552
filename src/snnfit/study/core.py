"""The study: tidy tables of fits, summary statistics, and the answers to the three questions.

Everything the Snakemake study computes after the fits lives here; the workflow scripts and
report notebooks only call these functions.

Tables (one row per fit; see :func:`fit_row`)
    ``fits.csv``: the fit's identity (target, target class, model, dim, k, optimizer, current
    mode, seed, budget), every metric, ``forward_equivalents``, ``wall_s``, ``cpu_s``,
    ``joules``, ``energy_source`` and the fitted parameters as ``param_<name>``.
    ``heldout.csv``: the same metrics of a fit replayed on the target's held-out sweeps.
    ``history.csv``: one row per recorded point of each fit's optimisation history.

Statistics
    :func:`bootstrap_ci` (percentile bootstrap of a statistic, seeded),
    :func:`paired_test` (Wilcoxon signed-rank test of paired differences),
    :func:`relative_improvement` (``(e_ref - e_new) / (e_ref + e_new)`` in [-1, 1], scale free,
    so errors in ms and spike counts can be compared and averaged), :func:`verdict`.

Answers (:func:`answer_adaptation`, :func:`answer_dimensionality`, :func:`answer_optimizers`)
    Each returns ``{question, metric, groups, n_pairs, effect, ci95, test, p_value, verdict,
    summary, ...}``. The unit of replication is the target (or the target x model pair): seeds
    are summarised by their median first, so repeated seeds never count as independent pairs.

Verdict rule (:func:`verdict`): fewer than ``min_pairs`` pairs -> ``inconclusive``;
Wilcoxon ``p < alpha`` and the bootstrap interval of the median effect excludes 0 -> ``yes``
(effect > 0) or ``no`` (effect < 0); the interval lies inside ``[-margin, margin]`` -> ``no``
(no practically relevant benefit); otherwise ``inconclusive``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import UserError

#: metric keys of a fit or evaluation JSON (the columns of the tables)
METRICS = ("loss", "gamma", "spike_time_rmse_ms", "count_error", "van_rossum",
           "victor_purpura", "latency_error_ms", "isi_error_ms")
#: metrics where larger is better (all others: smaller is better)
HIGHER_IS_BETTER = ("gamma",)
#: metrics judging real cells, whose spike times jitter by tens of ms
REAL_CELL_METRICS = ("isi_error_ms", "latency_error_ms", "count_error")
TARGET_CLASSES = ("preset", "preset-euler", "prior", "times", "recording")
ADAPTIVE_MODELS = ("adex", "izhikevich")


# --------------------------------------------------------------------------- dim labels


def dim_label(spec: str) -> str:
    """A dimensionality setting as a path-safe label: ``full`` -> ``full``,
    ``random:3`` -> ``random-3``, ``pca:2`` -> ``pca-2``, ``a,b,tau_w`` -> ``a+b+tau_w``."""
    spec = str(spec).strip()
    if spec == "full":
        return "full"
    for kind in ("random", "pca"):
        if spec.startswith(kind + ":"):
            k = spec.split(":", 1)[1]
            if not k.isdigit() or int(k) < 1:
                raise UserError(f"dim {spec!r}: expected {kind}:K with K a positive integer")
            return f"{kind}-{int(k)}"
    names = [n.strip() for n in spec.split(",")]
    if not names or any(not n or not n.replace("_", "").isalnum() for n in names):
        raise UserError(f"dim {spec!r}: expected full, random:K, pca:K or a comma-separated "
                        "list of parameter names")
    return "+".join(names)


def dim_spec(label: str) -> str:
    """Inverse of :func:`dim_label`."""
    for kind in ("random", "pca"):
        if label.startswith(kind + "-"):
            return f"{kind}:{label.split('-', 1)[1]}"
    return label.replace("+", ",")


def dim_k(spec: str, n_params: int) -> int:
    """Number of free coordinates of a dimensionality setting for a model with ``n_params``."""
    spec = dim_spec(dim_label(spec))
    if spec == "full":
        return n_params
    if ":" in spec:
        return int(spec.split(":", 1)[1])
    return len(spec.split(","))


# --------------------------------------------------------------------------- targets


def target_class(target: dict) -> str:
    """The class of a target JSON (dict): ``preset``, ``preset-euler`` (a preset simulated
    with the euler scheme: the model-mismatch case), ``prior``, ``times`` or ``recording``."""
    kind = target.get("kind")
    truth = target.get("truth") or {}
    if kind == "preset" and truth.get("scheme") == "euler":
        return "preset-euler"
    if kind in TARGET_CLASSES:
        return str(kind)
    raise UserError(f"target: unknown kind {kind!r}")


def add_truth_sweeps(target, factors: Sequence[float]):
    """A copy of a :class:`~snnfit.data.targets.Target` with ground truth and one sweep, with one
    more sweep per amplitude factor: the truth simulated at ``factor x`` the first sweep's
    amplitude (same protocol and scheme), sweep ids ``"1"``, ``"2"``, ... These are the
    held-out sweeps of synthetic targets (fit on sweep ``"0"``, predict the others).

    Targets without truth or amplitude, and an empty ``factors``, are returned unchanged.
    """
    from dataclasses import replace

    from ..sim.simulate import simulate
    from ..data.targets import Sweep, Target

    if not factors or target.truth is None or len(target.sweeps) != 1:
        return target
    base = target.sweeps[0]
    if base.amplitude_pA is None:
        return target
    truth = target.truth
    sweeps = [replace(base, spike_times_ms=base.spike_times_ms.copy())]
    for i, f in enumerate(factors, start=1):
        if not (f > 0):
            raise UserError(f"heldout_amplitude_factors: expected positive numbers, got {f}")
        amp = float(base.amplitude_pA) * float(f)
        res = simulate(truth["model"], truth["params"], amp, base.protocol,
                       scheme=truth["scheme"])
        if res.status != "ok":
            raise UserError(f"truth at {amp:g} pA: simulation status {res.status!r}")
        sweeps.append(Sweep(str(i), base.protocol, amp,
                            np.asarray(res.spike_times_ms, dtype=np.float64)))
    prov = dict(target.provenance)
    prov["heldout_amplitude_factors"] = [float(f) for f in factors]
    return Target(target.kind, prov, truth, sweeps)


# --------------------------------------------------------------------------- tables


def _num(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _first(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return v[0] if v else None
    if isinstance(v, dict):
        return next(iter(v.values()), None)
    return v


def fit_row(fit: dict, *, target: str, target_class_: str, dim: str, budget: int,
            path: str = "") -> dict:
    """One tidy row of a fit (or evaluation) JSON. Identity columns come from the study
    (the fit's path), metrics and costs from the JSON; missing or null values become NaN."""
    row: dict[str, Any] = {
        "target": target,
        "target_class": target_class_,
        "model": fit.get("model"),
        "dim": dim,
        "k": _num(fit.get("k")),
        "optimizer": fit.get("optimizer"),
        "current": fit.get("current"),
        "seed": fit.get("seed"),
        "budget": int(budget),
        "status": fit.get("status"),
    }
    for m in METRICS:
        row[m] = _num(fit.get(m))
    pe = fit.get("param_error")
    if isinstance(pe, dict):
        vals = [_num(v) for v in pe.values()]
        vals = [v for v in vals if not math.isnan(v)]
        row["param_error"] = float(np.mean(vals)) if vals else math.nan
        for name, v in pe.items():
            row[f"param_error_{name}"] = _num(v)
    else:
        row["param_error"] = _num(pe)
    row["forward_equivalents"] = _num(fit.get("evaluations"))
    for c in ("wall_s", "cpu_s", "joules"):
        row[c] = _num(fit.get(c))
    row["energy_source"] = fit.get("energy_source")
    row["amplitude_pA"] = _num(_first(fit.get("amplitude_pA")))
    for name, v in (fit.get("params") or {}).items():
        row[f"param_{name}"] = _num(v)
    row["path"] = path
    return row


def history_rows(fit: dict, ident: dict) -> list[dict]:
    """The optimisation history of a fit as tidy rows (identity columns + one point each)."""
    out = []
    for h in fit.get("history") or []:
        r = dict(ident)
        r["forward_equivalents"] = _num(h.get("simulations"))
        r["wall_s"] = _num(h.get("wall_s"))
        r["cpu_s"] = _num(h.get("cpu_s"))
        r["joules"] = _num(h.get("joules"))
        r["best_loss"] = _num(h.get("best_loss"))
        r["gamma_at_best"] = _num(h.get("gamma_at_best"))
        out.append(r)
    return out


IDENTITY = ("target", "target_class", "model", "dim", "k", "optimizer", "current", "seed",
            "budget")


@dataclass
class FitRecord:
    """A fit as the study knows it: its JSON path, held-out JSON path (or None) and its
    identity (target, dim label, budget, target class)."""

    path: str
    target: str
    dim: str
    budget: int
    target_class: str
    heldout: str | None = None
    arms: str = ""


def _order_columns(df):
    """Identity, metrics and costs first, then ``param_error_*`` and ``param_*`` (sorted)."""
    front = [c for c in IDENTITY + ("arms", "status") + METRICS + (
        "param_error", "forward_equivalents", "wall_s", "cpu_s", "joules", "energy_source",
        "amplitude_pA") if c in df.columns]
    pe = sorted(c for c in df.columns if c.startswith("param_error_"))
    pp = sorted(c for c in df.columns if c.startswith("param_") and c not in pe
                and c != "param_error")
    rest = [c for c in df.columns if c not in front + pe + pp]
    df = df[front + pe + pp + rest]
    if "k" in df and df["k"].notna().all():
        df = df.astype({"k": int})
    return df


def build_tables(records: Iterable[FitRecord]):
    """``(fits, heldout, history)`` DataFrames from fit records (see module docstring)."""
    import json

    import pandas as pd

    fits, held, hist = [], [], []
    for rec in records:
        with open(rec.path, encoding="utf-8") as fh:
            fit = json.load(fh)
        row = fit_row(fit, target=rec.target, target_class_=rec.target_class, dim=rec.dim,
                      budget=rec.budget, path=rec.path)
        row["arms"] = rec.arms
        fits.append(row)
        ident = {k: row[k] for k in IDENTITY}
        ident["arms"] = rec.arms
        hist.extend(history_rows(fit, ident))
        if rec.heldout:
            with open(rec.heldout, encoding="utf-8") as fh:
                ev = json.load(fh)
            h = {k: row[k] for k in IDENTITY}
            h["arms"] = rec.arms
            for m in METRICS:
                h[m] = _num(ev.get(m))
            h["sweeps"] = ",".join(str(s) for s in ev.get("sweep_ids", []) or [])
            h["path"] = rec.heldout
            held.append(h)
    fits_df = _order_columns(pd.DataFrame(fits))
    held_cols = list(IDENTITY) + ["arms"] + list(METRICS) + ["sweeps", "path"]
    held_df = pd.DataFrame(held, columns=held_cols)
    hist_cols = list(IDENTITY) + ["arms", "forward_equivalents", "wall_s", "cpu_s", "joules",
                                  "best_loss", "gamma_at_best"]
    hist_df = pd.DataFrame(hist, columns=hist_cols)
    if not fits_df.empty:
        fits_df = fits_df.sort_values(list(IDENTITY[:-1])).reset_index(drop=True)
    return fits_df, held_df, hist_df


# --------------------------------------------------------------------------- statistics


def bootstrap_ci(values: Sequence[float], stat: Callable = np.median, n_boot: int = 2000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` over ``values`` (NaNs dropped).

    Returns ``(nan, nan)`` for no values and ``(v, v)`` for a single value.
    """
    x = np.asarray([v for v in values if not math.isnan(float(v))], dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(int(n_boot), x.size))
    stats = np.apply_along_axis(stat, 1, x[idx])
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def paired_test(diffs: Sequence[float]) -> tuple[str, float]:
    """Two-sided Wilcoxon signed-rank test of paired differences against 0.

    Returns ``(name, p_value)``; p is NaN with fewer than 2 non-zero differences and 1.0 when
    every difference is zero (no evidence of any difference).
    """
    from scipy.stats import wilcoxon

    d = np.asarray([v for v in diffs if not math.isnan(float(v))], dtype=np.float64)
    name = "Wilcoxon signed-rank (two-sided, paired across targets)"
    if d.size and np.all(d == 0):
        return name, 1.0
    if np.count_nonzero(d) < 2:
        return name, math.nan
    res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    return name, float(res.pvalue)


def relative_improvement(e_ref: float, e_new: float) -> float:
    """``(e_ref - e_new) / (|e_ref| + |e_new|)``: +1 when the new error is 0 and the reference
    is not, -1 the other way round, 0 when equal (also both 0). NaN if either is NaN."""
    e_ref, e_new = float(e_ref), float(e_new)
    if math.isnan(e_ref) or math.isnan(e_new):
        return math.nan
    den = abs(e_ref) + abs(e_new)
    if den == 0:
        return 0.0
    return (e_ref - e_new) / den


def verdict(effect: float, ci95: Sequence[float], p_value: float, n_pairs: int, *,
            alpha: float = 0.05, margin: float = 0.05, min_pairs: int = 5) -> str:
    """``yes``, ``no`` or ``inconclusive`` by the rule in the module docstring."""
    lo, hi = (float(ci95[0]), float(ci95[1])) if ci95 else (math.nan, math.nan)
    if n_pairs < min_pairs or math.isnan(effect) or math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    significant = not math.isnan(p_value) and p_value < alpha
    if significant and lo > 0:
        return "yes"
    if significant and hi < 0:
        return "no"
    if -margin <= lo and hi <= margin:
        return "no"
    return "inconclusive"


def summarise(df, by: Sequence[str], metrics: Sequence[str], n_boot: int = 2000,
              seed: int = 0):
    """Median and bootstrap 95% interval of each metric per group: one row per group and
    metric with columns ``by + [metric, n, median, ci_low, ci_high]``."""
    import pandas as pd

    rows = []
    if df.empty:
        return pd.DataFrame(columns=list(by) + ["metric", "n", "median", "ci_low", "ci_high"])
    for key, g in df.groupby(list(by), dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            if m not in g:
                continue
            v = g[m].astype(float).dropna().to_numpy()
            lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
            rows.append({**dict(zip(by, key)), "metric": m, "n": int(v.size),
                         "median": float(np.median(v)) if v.size else math.nan,
                         "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def loss_curves(history, by: Sequence[str], grid: Sequence[float], n_boot: int = 1000,
                seed: int = 0):
    """Best loss against forward-equivalents: each fit's best-so-far loss as a step function
    read at ``grid``, then the median and bootstrap 95% interval across fits per group and
    grid point. Points before a fit's first record are left out."""
    import pandas as pd

    grid = np.asarray(grid, dtype=np.float64)
    rows = []
    fit_keys = [c for c in IDENTITY if c in history.columns]
    per_fit = []
    for key, g in history.groupby(fit_keys, dropna=False, sort=False):
        g = g.sort_values("forward_equivalents")
        fe = g["forward_equivalents"].to_numpy(float)
        best = np.minimum.accumulate(g["best_loss"].to_numpy(float))
        j = np.searchsorted(fe, grid, side="right") - 1
        vals = np.where(j >= 0, best[np.clip(j, 0, None)], np.nan)
        per_fit.append((dict(zip(fit_keys, key)), vals))
    groups: dict[tuple, list[np.ndarray]] = {}
    for ident, vals in per_fit:
        groups.setdefault(tuple(ident[c] for c in by), []).append(vals)
    for gkey, arrs in groups.items():
        A = np.vstack(arrs)
        for i, x in enumerate(grid):
            v = A[:, i]
            v = v[~np.isnan(v)]
            if v.size == 0:
                continue
            lo, hi = bootstrap_ci(v, n_boot=n_boot, seed=seed)
            rows.append({**dict(zip(by, gkey)), "forward_equivalents": float(x),
                         "n": int(v.size), "median": float(np.median(v)),
                         "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=list(by) + ["forward_equivalents", "n", "median",
                                                  "ci_low", "ci_high"])


# --------------------------------------------------------------------------- answers


@dataclass
class StatsConfig:
    """Statistics settings (config ``statistics``)."""

    n_boot: int = 2000
    seed: int = 0
    alpha: float = 0.05
    margin: float = 0.05
    min_pairs: int = 5

    @classmethod
    def from_config(cls, cfg: dict) -> "StatsConfig":
        """From the validated config's ``statistics`` section (other keys ignored)."""
        return cls(**{k: cfg[k] for k in ("n_boot", "seed", "alpha", "margin", "min_pairs")
                      if k in cfg})


def _error(df, metric: str):
    """Error (smaller is better) of a metric column: ``1 - gamma`` for gamma. A null Gamma
    (the fit fires at or above 1 / (2 x window), 250 Hz, where the formula is undefined)
    counts as Gamma 0, no better than chance; other nulls stay NaN and are left out."""
    v = df[metric].astype(float)
    if metric == "gamma":
        return 1.0 - v.fillna(0.0)
    return 1.0 - v if metric in HIGHER_IS_BETTER else v


def _fmt(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


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


def _verdict_words(v: str) -> str:
    return {"yes": "Yes", "no": "No", "inconclusive": "Inconclusive"}[v]


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
    h = heldout[(heldout["dim"] == "full") & (heldout["current"] == "recorded")]
    if optimizers is not None:
        h = h[h["optimizer"].isin(list(optimizers))]
    if budget is not None:
        h = h[h["budget"] == int(budget)]
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
    r = pairs["r"].tolist() if not pairs.empty else []
    by_class = {}
    for tclass, g in (pairs.groupby("target_class") if not pairs.empty else []):
        v = g["r"].to_numpy(float)
        lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
        by_class[tclass] = {"n_targets": int(v.size), "median": float(np.median(v)),
                            "ci95": [lo, hi]}
    # in-sample Gamma by model (context, not the test: more parameters can win in-sample)
    in_sample = {}
    if fits is not None and not fits.empty:
        f = fits[fits["dim"] == "full"]
        if optimizers is not None:
            f = f[f["optimizer"].isin(list(optimizers))]
        if budget is not None:
            f = f[f["budget"] == int(budget)]
        for model, g in f.groupby("model"):
            v = g.groupby("target")["gamma"].median().to_numpy(float)
            v = v[~np.isnan(v)]
            lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
            in_sample[model] = {"median_gamma": float(np.median(v)) if v.size else math.nan,
                                "ci95": [lo, hi], "n_targets": int(v.size)}
    comp = adaptation_pairs(fits, heldout, optimizers, budget, composite_everywhere=True)
    rc = comp["r"].to_numpy(float) if not comp.empty else np.array([])
    lo, hi = bootstrap_ci(rc, n_boot=stats.n_boot, seed=stats.seed)
    _, pc = paired_test(rc)
    secondary = {"metric": "as the primary, but every target judged by the mean relative "
                           "improvement over ISI-profile, latency and count errors",
                 "n_pairs": int(rc.size), "effect": float(np.median(rc)) if rc.size
                 else math.nan, "ci95": [lo, hi], "p_value": pc}
    ans = _answer(
        "Does a model with spike-frequency adaptation (AdEx, Izhikevich) fit spike times "
        "better than one without (LIF), judged on held-out sweeps?",
        "relative improvement (e_LIF - e_adaptive) / (e_LIF + e_adaptive) on the held-out "
        "sweep, mean over AdEx and Izhikevich; e = 1 - Gamma on synthetic targets, the mean "
        "over ISI-profile, latency and count errors on recordings; > 0 favours adaptation",
        ["adex+izhikevich", "lif"], r, stats, "target",
        by_class=by_class, in_sample_gamma=in_sample, secondary_isi_latency_count=secondary,
        pairs=pairs.to_dict(orient="records") if not pairs.empty else [])
    ans["summary"] = _adaptation_summary(ans)
    return _clean(ans)


def _adaptation_summary(a: dict) -> str:
    v, n = a["verdict"], a["n_pairs"]
    if n == 0:
        return ("Inconclusive: no target has a held-out sweep with fits of LIF and an "
                "adaptive model, so the question cannot be answered from this run.")
    lead = {"yes": "Yes: the adaptive models (AdEx, Izhikevich) predict held-out sweeps "
                   "better than LIF.",
            "no": "No: the adaptive models (AdEx, Izhikevich) do not predict held-out sweeps "
                  "better than LIF.",
            "inconclusive": "Inconclusive: this run cannot tell whether the adaptive models "
                            "(AdEx, Izhikevich) predict held-out sweeps better than LIF."}[v]
    s = (f"{lead} Median relative improvement over LIF {_fmt(a['effect'])} (95% bootstrap "
         f"CI {_fmt(a['ci95'][0])} to {_fmt(a['ci95'][1])}; +1 = adaptive error zero, "
         f"-1 = LIF error zero) across {n} targets; Wilcoxon signed-rank p "
         f"{_fmt_p(a['p_value'])}.")
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
    if v == "inconclusive":
        s += (" The evidence is inconclusive: the interval includes both a benefit and no "
              "benefit, or there are too few targets.")
    return s


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
    r = pairs["r"].tolist() if not pairs.empty else []
    by_k = {}
    if fits is not None and not fits.empty:
        for (model, dim), g in fits.groupby(["model", "dim"]):
            d = {"k": float(g["k"].median())}
            for m in ("gamma", "forward_equivalents", "wall_s", "joules"):
                if m not in g:
                    continue
                v = g.groupby("target")[m].median().to_numpy(float)
                v = v[~np.isnan(v)]
                lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
                d[m] = {"median": float(np.median(v)) if v.size else math.nan,
                        "ci95": [lo, hi]}
            by_k[f"{model}/{dim}"] = d
    ans = _answer(
        "Does reducing the dimensionality of the optimisation (fewer free coordinates k) "
        "help, at the same budget of forward-equivalents?",
        "relative improvement (e_full - e_reduced) / (e_full + e_reduced), e = 1 - Gamma "
        "(in-sample, median over seeds), mean over reduced settings per (target, model); "
        "> 0 favours reduction",
        ["reduced (k < full)", "full"], r, stats, "target x model", by_setting=by_k)
    ans["summary"] = _dimensionality_summary(ans)
    return _clean(ans)


def _dimensionality_summary(a: dict) -> str:
    v, n = a["verdict"], a["n_pairs"]
    if n == 0:
        return ("Inconclusive: no (target, model) pair has fits with both the full and a "
                "reduced parameter space, so the question cannot be answered from this run.")
    lead = {"yes": "Yes: reducing the number of free coordinates gives more accurate fits "
                   "at the same budget.",
            "no": "No: reducing the number of free coordinates does not give more accurate "
                  "fits at the same budget.",
            "inconclusive": "Inconclusive: this run cannot tell whether reducing the number "
                            "of free coordinates gives more accurate fits."}[v]
    s = (f"{lead} Median relative improvement in 1 - Gamma over the full space "
         f"{_fmt(a['effect'])} (95% CI {_fmt(a['ci95'][0])} to {_fmt(a['ci95'][1])}) across "
         f"{n} target-model pairs; Wilcoxon signed-rank p {_fmt_p(a['p_value'])}.")
    costs = []
    for key, d in sorted(a["by_setting"].items()):
        med = {m: (d.get(m) or {}).get("median", math.nan)
               for m in ("gamma", "wall_s", "joules")}
        costs.append(f"{key} (k = {_fmt(d['k'], 0)}): Gamma {_fmt(med['gamma'])}, "
                     f"{_fmt(med['wall_s'], 1)} s, {_fmt(med['joules'], 1)} J")
    if costs:
        s += " Medians per setting: " + "; ".join(costs) + "."
    if v == "inconclusive":
        s += (" The evidence is inconclusive: the interval includes both a benefit and a "
              "loss, or there are too few pairs.")
    return s


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


def _holm(ps: dict[str, float]) -> dict[str, float]:
    items = sorted(((p, k) for k, p in ps.items() if not math.isnan(p)))
    m, out, prev = len(items), {k: math.nan for k in ps}, 0.0
    for i, (p, k) in enumerate(items):
        adj = min(1.0, max(prev, (m - i) * p))
        out[k] = prev = adj
    return out


def answer_optimizers(fits, treatment: str = "snn", control: str = "direct",
                      stats: StatsConfig | None = None) -> dict:
    """Question 3: does the spiking-network front end (``treatment``) beat the direct-
    gradient control (``control``), and how does it compare with every other optimizer?"""
    stats = stats or StatsConfig()
    pairs = optimizer_pairs(fits, treatment, control)
    r = pairs["r"].tolist() if not pairs.empty else []
    present = sorted(set(fits["optimizer"])) if fits is not None and not fits.empty else []
    others = {}
    for o in present:
        if o == treatment:
            continue
        p = optimizer_pairs(fits, treatment, o)
        rr = p["r"].to_numpy(float) if not p.empty else np.array([])
        lo, hi = bootstrap_ci(rr, n_boot=stats.n_boot, seed=stats.seed)
        _, pv = paired_test(rr)
        others[o] = {"n_pairs": int(rr.size),
                     "effect": float(np.median(rr)) if rr.size else math.nan,
                     "ci95": [lo, hi], "p_value": pv}
    adj = _holm({o: d["p_value"] for o, d in others.items()})
    for o in others:
        others[o]["p_holm"] = adj[o]
    by_opt = {}
    if fits is not None and not fits.empty:
        for o, g in fits.groupby("optimizer"):
            d = {}
            for m in ("gamma", "forward_equivalents", "wall_s", "joules"):
                if m not in g:
                    continue
                v = g.groupby(["target", "model", "dim"])[m].median().to_numpy(float)
                v = v[~np.isnan(v)]
                lo, hi = bootstrap_ci(v, n_boot=stats.n_boot, seed=stats.seed)
                d[m] = {"median": float(np.median(v)) if v.size else math.nan,
                        "ci95": [lo, hi]}
            by_opt[o] = d
    ans = _answer(
        f"Does the spiking-network front end ({treatment}) help, against the direct-gradient "
        f"control ({control}), CMA-ES and random search?",
        f"relative improvement (e_{control} - e_{treatment}) / (e_{control} + e_{treatment}),"
        " e = 1 - Gamma (in-sample, median over seeds, same budget) per (target, model, dim);"
        f" > 0 favours {treatment}",
        [treatment, control], r, stats, "target x model x dim",
        treatment=treatment, control=control, present=present, against=others,
        by_optimizer=by_opt)
    ans["summary"] = _optimizers_summary(ans)
    return _clean(ans)


def _optimizers_summary(a: dict) -> str:
    t, c, n, v = a["treatment"], a["control"], a["n_pairs"], a["verdict"]
    if n == 0:
        missing = [o for o in (t, c) if o not in a["present"]]
        why = (f"the optimizer(s) {', '.join(missing)} were not run" if missing else
               f"no (target, model, dim) has fits with both {t} and {c}")
        return f"Inconclusive: {why}, so the question cannot be answered from this run."
    lead = {"yes": f"Yes: the spiking-network front end ({t}) fits better than the "
                   f"direct-gradient control ({c}) at the same budget.",
            "no": f"No: the spiking-network front end ({t}) does not fit better than the "
                  f"direct-gradient control ({c}) at the same budget.",
            "inconclusive": f"Inconclusive: this run cannot tell whether the spiking-network "
                            f"front end ({t}) fits better than the direct-gradient control "
                            f"({c})."}[v]
    s = (f"{lead} Median relative improvement in 1 - Gamma {_fmt(a['effect'])} (95% CI "
         f"{_fmt(a['ci95'][0])} to {_fmt(a['ci95'][1])}) across {n} target-model-space "
         f"pairs; Wilcoxon signed-rank p {_fmt_p(a['p_value'])}.")
    parts = [f"vs {o}: {_fmt(d['effect'])} [{_fmt(d['ci95'][0])}, {_fmt(d['ci95'][1])}], "
             f"Holm p {_fmt_p(d['p_holm'])}" for o, d in sorted(a["against"].items())
             if o != c]
    if parts:
        s += f" {t} against the other optimizers: " + "; ".join(parts) + "."
    if v == "inconclusive":
        s += (" The evidence is inconclusive: the interval includes both a benefit and a "
              "loss, or there are too few pairs.")
    return s


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


def in_arm(df, arm: str):
    """The rows of a study table that belong to an arm (all rows without an ``arms``
    column)."""
    if df is None or "arms" not in df.columns:
        return df
    return df[df["arms"].fillna("").str.split(";").apply(lambda a: arm in a)]


def read_tables(fits_csv: str | Path, heldout_csv: str | Path | None = None):
    """``(fits, heldout)`` DataFrames from the study's CSV tables (dim and target as str)."""
    import pandas as pd

    dtype = {"target": str, "dim": str, "optimizer": str, "model": str, "current": str,
             "target_class": str, "arms": str, "sweeps": str}
    fits = pd.read_csv(fits_csv, dtype=dtype)
    held = pd.read_csv(heldout_csv, dtype=dtype) if heldout_csv else None
    return fits, held


def relative_loss(history):
    """Add ``best_loss_rel`` to a history table: each point's best loss divided by the lowest
    final loss reached by any fit of the same (target, model, current) in the table, so that
    targets with different loss scales can be pooled (1 = the best any optimizer reached)."""
    if history.empty:
        return history.assign(best_loss_rel=[])
    keys = ["target", "model", "current"]
    final = history.groupby(list(IDENTITY))["best_loss"].min().reset_index()
    floor = final.groupby(keys)["best_loss"].min().rename("floor").reset_index()
    h = history.merge(floor, on=keys, how="left")
    h["best_loss_rel"] = (h["best_loss"] + 1e-12) / (h["floor"] + 1e-12)
    return h.drop(columns="floor")


def study_tables(fits, heldout, history, stats: StatsConfig | None = None,
                 n_grid: int = 25) -> dict:
    """The summary tables per question (median and bootstrap 95% interval per group):
    ``summary_adaptation`` (in-sample and held-out metrics by target class and model),
    ``summary_dimensionality`` (accuracy and cost by model, dim and k),
    ``summary_optimizers`` (accuracy and cost by optimizer and model) and ``loss_curves``
    (relative best loss against forward-equivalents per optimizer)."""
    import pandas as pd

    stats = stats or StatsConfig()
    cost = ["gamma", "loss", "forward_equivalents", "wall_s", "cpu_s", "joules"]
    a_fit = in_arm(fits, "adaptation").assign(set="in-sample")
    a_held = in_arm(heldout, "adaptation").assign(set="held-out")
    adapt = pd.concat([
        summarise(a_fit, ["set", "target_class", "model"], METRICS, stats.n_boot, stats.seed),
        summarise(a_held, ["set", "target_class", "model"], METRICS, stats.n_boot,
                  stats.seed)], ignore_index=True)
    dim = summarise(in_arm(fits, "dimensionality"), ["model", "dim", "k"], cost,
                    stats.n_boot, stats.seed)
    opt = summarise(in_arm(fits, "optimizers"), ["optimizer", "model"], cost, stats.n_boot,
                    stats.seed)
    h = relative_loss(in_arm(history, "optimizers"))
    if h.empty:
        curves = loss_curves(h.rename(columns={"best_loss_rel": "x"}), ["optimizer"], [])
    else:
        top = float(np.nanmax(h["forward_equivalents"]))
        grid = np.unique(np.round(np.geomspace(1, max(top, 1), n_grid)))
        curves = loss_curves(h.drop(columns="best_loss").rename(
            columns={"best_loss_rel": "best_loss"}), ["optimizer"], grid,
            n_boot=min(stats.n_boot, 1000), seed=stats.seed)
    return {"summary_adaptation": adapt, "summary_dimensionality": dim,
            "summary_optimizers": opt, "loss_curves": curves}


def best_fit_path(paths: Sequence[str | Path]) -> str:
    """The fit JSON with the highest Gamma among ``paths`` (ties: lowest loss, then the
    first); fits with null Gamma count as -inf."""
    import json

    best, best_key = None, None
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            d = json.load(fh)
        g, loss = _num(d.get("gamma")), _num(d.get("loss"))
        key = (-math.inf if math.isnan(g) else g, -(math.inf if math.isnan(loss) else loss))
        if best_key is None or key > best_key:
            best, best_key = str(p), key
    if best is None:
        raise UserError("best_fit_path: no fit files given")
    return best


def records_from_dir(fits_dir: str | Path, heldout_dir: str | Path | None = None,
                     arms: str = "adaptation;dimensionality;optimizers") -> list[FitRecord]:
    """Fit records for every ``*.json`` under ``fits_dir`` (any layout). Target, dim and
    budget come from the fit JSON; the target class from the target file the fit names
    (``kind`` and the truth's scheme), or the fit's ``target_kind`` if that file is gone.
    A held-out JSON at the same relative path under ``heldout_dir`` is attached. Every fit
    is put in every arm of ``arms`` (the study's grid is not known here)."""
    import json

    fits_dir = Path(fits_dir)
    if not fits_dir.is_dir():
        raise UserError(f"{fits_dir}: not a directory")
    out = []
    for p in sorted(fits_dir.rglob("*.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{p}: not a readable fit JSON ({exc})") from None
        if not isinstance(d, dict) or "model" not in d or "optimizer" not in d:
            raise UserError(f"{p}: not a fit JSON (no 'model' or 'optimizer')")
        tpath = Path(str(d.get("target", "")))
        cls = d.get("target_kind") or "unknown"
        target = tpath.stem or "unknown"
        if tpath.is_file():
            cls = target_class(json.loads(tpath.read_text(encoding="utf-8")))
        held = None
        if heldout_dir is not None:
            h = Path(heldout_dir) / p.relative_to(fits_dir)
            held = str(h) if h.is_file() else None
        out.append(FitRecord(str(p), target, dim_label(str(d.get("dim", "full"))),
                             int(d.get("budget") or 0), cls, held, arms))
    if not out:
        raise UserError(f"{fits_dir}: no fit JSON files found")
    return out
