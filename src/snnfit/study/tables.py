"""The study's tables: one tidy row per fit, held-out predictions, optimisation histories,
and the summary tables and loss curves built from them.

``fits.csv``
    The fit's identity (target, target class, model, dim, k, optimizer, current mode, seed,
    budget; :data:`IDENTITY`), the arms it belongs to, every metric (:data:`METRICS`),
    ``forward_equivalents``, ``wall_s``, ``cpu_s``, ``joules``, ``energy_source`` and the
    fitted parameters as ``param_<name>`` (see :func:`fit_row`).
``heldout.csv``
    One row per fit and held-out sweep (:func:`heldout_rows`): the fit's identity, the sweep,
    its role (``interpolated``, ``extrapolated``, ``repeat``: the target's split), its
    amplitude, the model's and the data's spike counts in the step, the firing-pattern score
    and its three terms (:func:`snnfit.metrics.pattern_terms`) and the per-sweep metrics
    (:data:`METRICS` but the loss).
``history.csv``
    One row per recorded point of each fit's optimisation history (:func:`history_rows`).

:func:`build_tables` makes the three from :class:`FitRecord` s (the Snakemake study's grid, or
:func:`records_from_dir` for any directory of fit JSONs); :func:`study_tables` the summaries
per question (:func:`summarise`) and the loss curves (:func:`loss_curves`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..data.targets import target_class
from ..errors import UserError
from .statistics import StatsConfig, bootstrap_ci

#: metric keys of a fit or evaluation JSON (the columns of the tables)
METRICS = ("loss", "gamma", "spike_time_rmse_ms", "count_error", "van_rossum",
           "victor_purpura", "latency_error_ms", "isi_error_ms")
#: metrics where larger is better (all others: smaller is better)
HIGHER_IS_BETTER = ("gamma",)
#: the identity columns of a fit (one fit per value; ``budget`` last)
IDENTITY = ("target", "target_class", "model", "dim", "k", "optimizer", "current", "seed",
            "budget")


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


def fit_row(fit, *, target: str, target_class_: str, dim: str, budget: int,
            path: str = "") -> dict:
    """One tidy row of a fit (a :class:`~snnfit.fit.record.FitResult`). Identity columns come
    from the study (the fit's path), metrics and costs from the record; null metrics (undefined
    for these trains, e.g. no spike pair) become NaN."""
    row: dict[str, Any] = {
        "target": target,
        "target_class": target_class_,
        "model": fit.model,
        "dim": dim,
        "k": _num(fit.k),
        "optimizer": fit.optimizer,
        "current": fit.current,
        "seed": fit.seed,
        "budget": int(budget),
        "status": fit.status,
    }
    for m in METRICS:
        row[m] = _num(getattr(fit, m))
    pe = fit.param_error
    if isinstance(pe, dict):
        vals = [_num(v) for v in pe.values()]
        vals = [v for v in vals if not math.isnan(v)]
        row["param_error"] = float(np.mean(vals)) if vals else math.nan
        for name, v in pe.items():
            row[f"param_error_{name}"] = _num(v)
    else:
        row["param_error"] = math.nan
    row["forward_equivalents"] = _num(fit.forward_equivalents)
    for c in ("wall_s", "cpu_s", "joules"):
        row[c] = _num(getattr(fit, c))
    row["energy_source"] = fit.energy_source
    row["amplitude_pA"] = _num(_first(fit.amplitude_pA))
    for name, v in fit.params.items():
        row[f"param_{name}"] = _num(v)
    row["path"] = path
    return row


def history_rows(fit, ident: dict) -> list[dict]:
    """The optimisation history of a fit (a ``FitResult``; its history rows are checked by
    ``FitResult.from_json``) as tidy rows (identity columns + one point each)."""
    out = []
    last = fit.history[-1].get("stage") if fit.history else None
    for h in fit.history:
        r = dict(ident)
        r["forward_equivalents"] = _num(h["simulations"])
        r["wall_s"] = _num(h["wall_s"])
        r["cpu_s"] = _num(h["cpu_s"])
        r["joules"] = _num(h["joules"])
        # the loss of the fit's final objective: NaN in the earlier stages of a staged loss
        # (``--loss staged``/``vr``), whose objectives are in other units
        r["best_loss"] = (_num(h["best_loss"]) if h.get("stage", last) == last
                          else math.nan)
        r["gamma_at_best"] = _num(h["gamma_at_best"])
        out.append(r)
    return out


#: the metrics of a held-out sweep summarised per model (``summary_adaptation.csv``)
HELDOUT_METRICS = ("pattern_score", "pattern_count", "pattern_isi", "pattern_latency",
                   "gamma", "spike_time_rmse_ms", "count_error", "latency_error_ms",
                   "isi_error_ms")
#: the columns of ``heldout.csv`` after the identity and ``arms``
HELDOUT_FIELDS = ("sweep", "role", "amplitude_pA", "n_model", "n_data", "pattern_score",
                  "pattern_count", "pattern_isi", "pattern_latency", "gamma",
                  "spike_time_rmse_ms", "count_error", "van_rossum", "victor_purpura",
                  "latency_error_ms", "isi_error_ms", "path")
HELDOUT_COLUMNS = list(IDENTITY) + ["arms"] + list(HELDOUT_FIELDS)


def heldout_rows(ev: dict, ident: dict, path: str, targets_cache: dict | None = None
                 ) -> list[dict]:
    """One row per sweep of a held-out evaluation (``snnfit evaluate``'s JSON): the model's
    trains in ``ev`` against the target's sweeps (read from the target file the evaluation
    names), the sweep's role from the target's split (``provenance.split.role``; ``heldout``
    when the target has none)."""
    from ..data.targets import load_target
    from ..metrics import all_metrics, pattern_terms

    cache = {} if targets_cache is None else targets_cache
    tpath = str(ev["target"])
    if tpath not in cache:
        cache[tpath] = load_target(tpath)
    target = cache[tpath]
    by_id = {sw.id: sw for sw in target.sweeps}
    roles = ((target.provenance.get("split") or {}).get("role") or {})
    out = []
    for sid, amp, times in zip(ev["sweep_ids"], ev["amplitude_pA"], ev["spike_times_ms"]):
        sw = by_id.get(str(sid))
        if sw is None:
            raise UserError(f"{path}: sweep {sid!r} is not in its target {tpath}")
        p = sw.protocol
        m = np.asarray(times, dtype=np.float64)
        d = sw.spike_times_ms
        terms = pattern_terms(m, d, p.delay_ms, p.stim_end_ms)
        met = all_metrics([m], [d], [p.t_stop_ms], [p.delay_ms])
        in_step = (lambda t: int(np.sum((t >= p.delay_ms) & (t < p.stim_end_ms))))
        row = dict(ident)
        row.update({
            "sweep": str(sid), "role": roles.get(str(sid), "heldout"),
            "amplitude_pA": float(amp), "n_model": in_step(m), "n_data": in_step(d),
            "pattern_score": (terms["count"] + terms["isi"] + terms["latency"]) / 3.0,
            "pattern_count": terms["count"], "pattern_isi": terms["isi"],
            "pattern_latency": terms["latency"],
            **{k: _num(met[k]) for k in ("gamma", "spike_time_rmse_ms", "count_error",
                                         "van_rossum", "victor_purpura", "latency_error_ms",
                                         "isi_error_ms")},
            "path": path,
        })
        out.append(row)
    return out


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
    #: the model's name in the study (``adex-nonadapting`` for a variant); default the record's
    model: str | None = None


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

    from ..fit.record import FitResult

    fits, held, hist = [], [], []
    targets_cache: dict = {}
    for rec in records:
        fit = FitResult.load(rec.path)
        row = fit_row(fit, target=rec.target, target_class_=rec.target_class, dim=rec.dim,
                      budget=rec.budget, path=rec.path)
        if rec.model:
            row["model"] = rec.model
        row["arms"] = rec.arms
        fits.append(row)
        ident = {k: row[k] for k in IDENTITY}
        ident["arms"] = rec.arms
        hist.extend(history_rows(fit, ident))
        if rec.heldout:
            with open(rec.heldout, encoding="utf-8") as fh:
                ev = json.load(fh)
            held.extend(heldout_rows(ev, ident, rec.heldout, targets_cache))
    fits_df = _order_columns(pd.DataFrame(fits))
    held_df = pd.DataFrame(held, columns=HELDOUT_COLUMNS)
    hist_cols = list(IDENTITY) + ["arms", "forward_equivalents", "wall_s", "cpu_s", "joules",
                                  "best_loss", "gamma_at_best"]
    hist_df = pd.DataFrame(hist, columns=hist_cols)
    if not fits_df.empty:
        fits_df = fits_df.sort_values(list(IDENTITY[:-1])).reset_index(drop=True)
    return fits_df, held_df, hist_df


def in_arm(df, arm: str, role: str | None = None):
    """The rows of a study table that belong to an arm (a question), and to one of its roles
    (``answer``, ``positive``, ``negative``) when given. The ``arms`` column lists
    ``question:role`` memberships joined by ``;`` (a bare ``question`` counts as its answer).
    All rows when the table has no ``arms`` column."""
    if df is None or "arms" not in df.columns:
        return df

    def member(cell) -> bool:
        for m in str(cell or "").split(";"):
            q, _, r = m.partition(":")
            if q == arm and (role is None or (r or "answer") == role):
                return True
        return False

    return df[df["arms"].apply(member)]


def read_tables(fits_csv: str | Path, heldout_csv: str | Path | None = None):
    """``(fits, heldout)`` DataFrames from the study's CSV tables (dim and target as str)."""
    import pandas as pd

    dtype = {"target": str, "dim": str, "optimizer": str, "model": str, "current": str,
             "target_class": str, "arms": str, "sweeps": str, "sweep": str, "role": str}
    fits = pd.read_csv(fits_csv, dtype=dtype)
    held = pd.read_csv(heldout_csv, dtype=dtype) if heldout_csv else None
    return fits, held


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
        best = np.fmin.accumulate(g["best_loss"].to_numpy(float))  # NaN: an earlier stage
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
    a_fit = in_arm(fits, "adaptation").assign(set="in-sample", role="train")
    a_held = in_arm(heldout, "adaptation").assign(set="held-out")
    adapt = pd.concat([
        summarise(a_fit, ["set", "role", "target_class", "model"], METRICS, stats.n_boot,
                  stats.seed),
        summarise(a_held, ["set", "role", "target_class", "model"], HELDOUT_METRICS,
                  stats.n_boot, stats.seed)], ignore_index=True)
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
    from ..fit.record import FitResult

    best, best_key = None, None
    for p in paths:
        d = FitResult.load(p)
        g, loss = _num(d.gamma), _num(d.loss)
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

    from ..fit.space import dim_label  # numba comes with the fit layer: only here

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
