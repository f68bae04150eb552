"""The study's figures (seaborn): each function takes the study tables and returns a
matplotlib Figure; :func:`save` writes it as PNG and SVG, atomically.

- :func:`gamma_by_model`: Gamma by model per target class, in-sample and on held-out sweeps.
- :func:`dimensionality`: error (1 - Gamma), forward-equivalents, seconds and joules against
  the number of free coordinates k, per model.
- :func:`optimizer_curves`: best loss (relative to the best any optimizer reached on the same
  target and model) against forward-equivalents per optimizer: median and bootstrap 95%
  interval across fits.
- :func:`joules_vs_accuracy`: joules against Gamma, per optimizer and model.
- :func:`rasters`: target spikes against the fitted spikes of each model's best fit.
- :func:`controls_forest`: each answer's effect and interval beside its controls'.
- :func:`budget_answers`: the dimensionality and optimizer answers against the budget.
- :func:`fi_curves`, :func:`isi_profiles`, :func:`heldout_rasters`: the held-out predictions:
  counts against amplitude, interspike intervals, and rasters, data against each model.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..fit.record import FitResult
from ..fit.space import DIM_KINDS, parse_dim_label
from ..io import atomic_write


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _sns():
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return sns


MODEL_ORDER = ["lif", "adex", "izhikevich"]


def _empty(ax, text="no data"):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig, stem: str | os.PathLike) -> list[str]:
    """Write ``<stem>.png`` and ``<stem>.svg`` atomically; returns the paths."""
    plt = _plt()
    out = []
    for ext in ("png", "svg"):
        path = f"{stem}.{ext}"

        def _w(tmp: str, ext=ext) -> None:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")

        atomic_write(path, _w)
        out.append(path)
    plt.close(fig)
    return out


def _models(df):
    present = list(df["model"].dropna().unique()) if not df.empty else []
    return [m for m in MODEL_ORDER if m in present] + sorted(
        m for m in present if m not in MODEL_ORDER)


def gamma_by_model(fits, heldout):
    """Two panels: in-sample Gamma and held-out Gamma by target class, hue model."""
    plt, sns = _plt(), _sns()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, df, title in ((axes[0], fits, "in-sample (fitted sweep)"),
                          (axes[1], heldout, "held-out sweep")):
        d = df[df["dim"] == "full"] if df is not None and not df.empty else df
        if d is None or d.empty or d["gamma"].notna().sum() == 0:
            _empty(ax)
        else:
            order = sorted(d["target_class"].unique())
            sns.boxplot(data=d, x="target_class", y="gamma", hue="model",
                        hue_order=_models(d), order=order, ax=ax, fliersize=0)
            sns.stripplot(data=d, x="target_class", y="gamma", hue="model",
                          hue_order=_models(d), order=order, ax=ax, dodge=True, size=3,
                          palette={m: "0.2" for m in _models(d)}, legend=False)
        ax.set_title(title)
        ax.set_xlabel("target class")
        ax.set_ylabel("Gamma (1 = perfect)")
    fig.tight_layout()
    return fig


SPACES = list(DIM_KINDS)


def space_kind(dim: str) -> str:
    """``full``, ``random``, ``pca`` or ``subset`` from a dim label (``pca-3`` -> ``pca``)."""
    return parse_dim_label(dim).kind


def dimensionality(fits):
    """Four panels against k: 1 - Gamma, forward-equivalents, wall seconds, joules; colour
    model, marker the kind of space (full, subset, random or PCA projection); medians over
    fits with bootstrap 95% intervals."""
    plt, sns = _plt(), _sns()
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    panels = [("error", "1 - Gamma"), ("forward_equivalents", "forward-equivalents"),
              ("wall_s", "wall time (s)"), ("joules", "energy (J)")]
    d = fits.assign(error=1.0 - fits["gamma"].fillna(0.0),
                    space=fits["dim"].map(space_kind)) if not fits.empty else fits
    for ax, (col, label) in zip(axes, panels):
        if d.empty or d[col].notna().sum() == 0:
            _empty(ax)
        else:
            sns.lineplot(data=d, x="k", y=col, hue="model", hue_order=_models(d),
                         style="space", style_order=[s for s in SPACES if s in
                                                     set(d["space"])],
                         estimator="median", errorbar=("ci", 95), markers=True,
                         dashes=False, ax=ax, err_style="bars", n_boot=1000, seed=0,
                         legend=ax is axes[0])
        ax.set_xlabel("free coordinates k")
        ax.set_ylabel(label)
    fig.tight_layout()
    return fig


def optimizer_curves(curves):
    """Median relative best loss against forward-equivalents per optimizer, with the
    bootstrap 95% interval as a band (log-log)."""
    plt, sns = _plt(), _sns()
    fig, ax = plt.subplots(figsize=(6, 4))
    if curves.empty:
        _empty(ax)
    else:
        pal = sns.color_palette(n_colors=curves["optimizer"].nunique())
        for color, (opt, g) in zip(pal, curves.groupby("optimizer")):
            g = g.sort_values("forward_equivalents")
            ax.plot(g["forward_equivalents"], g["median"], color=color, label=opt)
            ax.fill_between(g["forward_equivalents"], g["ci_low"], g["ci_high"],
                            color=color, alpha=0.25, linewidth=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(title="optimizer")
    ax.set_xlabel("forward-equivalents")
    ax.set_ylabel("best loss / lowest final loss")
    fig.tight_layout()
    return fig


def joules_vs_accuracy(fits):
    """Joules against Gamma per fit, hue optimizer, style model."""
    plt, sns = _plt(), _sns()
    fig, ax = plt.subplots(figsize=(6, 4))
    if fits.empty or fits["joules"].notna().sum() == 0:
        _empty(ax)
    else:
        sns.scatterplot(data=fits, x="gamma", y="joules", hue="optimizer", style="model",
                        style_order=_models(fits), ax=ax, alpha=0.8)
        ax.set_yscale("log")
    src = ", ".join(sorted(fits["energy_source"].dropna().unique())) if not fits.empty else ""
    ax.set_xlabel("Gamma (1 = perfect)")
    ax.set_ylabel(f"energy (J{'; ' + src if src else ''})")
    fig.tight_layout()
    return fig


def best_fits(fits, by=("target", "model")):
    """The row of the highest-Gamma fit per group (ties: lowest loss, then first)."""
    if fits.empty:
        return fits
    d = fits.assign(_g=fits["gamma"].fillna(-np.inf), _l=fits["loss"].fillna(np.inf))
    d = d.sort_values(["_g", "_l"], ascending=[False, True], kind="stable")
    return d.groupby(list(by), sort=True).head(1).drop(columns=["_g", "_l"]).sort_values(
        list(by))


def rasters(fits):
    """One block per target (its fitted sweep): the target's spikes in black and below them
    the spikes of each model's best fit. All blocks share one axes (one axes per target
    made the figure's layout and saving take most of the figures job: 22 of 45 s on the
    default study's 97 targets)."""
    plt, sns = _plt(), _sns()
    best = best_fits(fits[fits["dim"] == "full"] if not fits.empty else fits)
    targets = list(dict.fromkeys(best["target"])) if not best.empty else []
    models = _models(best) if not best.empty else []
    n_rows = sum(1 + int((best["target"] == t).sum()) for t in targets)
    fig, ax = plt.subplots(figsize=(9, 0.2 * max(n_rows, 4) + 0.3 * len(targets) + 0.8))
    pal = dict(zip(models, sns.color_palette(n_colors=max(1, len(models)))))
    if not targets:
        _empty(ax)
        return fig
    ticks, labels, y = [], [], 0.0
    for target in targets:
        sub = best[best["target"] == target]
        y += 1.0  # room for the target's name
        ax.text(0.0, y - 0.45, target, fontsize=7, weight="bold", va="center",
                transform=ax.get_yaxis_transform())
        for i, (_, row) in enumerate(sub.iterrows()):
            fit = FitResult.load(row["path"])
            if i == 0:
                y += 1.0
                t = (fit.target_spike_times_ms or [[]])[0]
                ax.vlines(t, y - 0.4, y + 0.4, color="black", linewidth=0.8)
                ticks.append(y)
                labels.append("target")
            y += 1.0
            sp = (fit.spike_times_ms or [[]])[0]
            ax.vlines(sp, y - 0.4, y + 0.4, color=pal[row["model"]], linewidth=0.8)
            ticks.append(y)
            labels.append(f"{row['model']} (Gamma {row['gamma']:.2f})")
        ax.axhline(y + 0.6, color="0.8", linewidth=0.5)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels, fontsize=6)
    ax.set_ylim(y + 0.7, 0.0)
    ax.grid(False)
    ax.set_xlabel("time (ms from sweep start)")
    fig.tight_layout()
    return fig


FIGURES = {
    "gamma_by_model": "Gamma by model per target class (in-sample and held-out)",
    "dimensionality": "error, forward-equivalents, seconds and joules against k",
    "optimizer_curves": "best loss against forward-equivalents per optimizer",
    "joules_vs_accuracy": "joules against accuracy",
    "rasters": "target against fitted spikes (best fit per target and model)",
    "fi_curves": "f-I curves: spikes in the step against amplitude, data and models",
    "isi_profiles": "ISI profiles on the largest held-out amplitude, data and models",
    "heldout_rasters": "held-out sweeps: data against each model's prediction",
}
#: figures drawn from answers.json (rule answer_figures)
ANSWER_FIGURES = {
    "controls": "each answer's effect beside its controls' (95 % intervals, margin band)",
    "budget_answers": "dimensionality and optimizer answers against the budget",
}


def answer_figures(answers: dict, out_dir: str | os.PathLike, margin: float = 0.05
                   ) -> list[str]:
    """The figures of :data:`ANSWER_FIGURES` into ``out_dir`` (PNG and SVG)."""
    out_dir = Path(out_dir)
    return (save(controls_forest(answers, margin), out_dir / "controls")
            + save(budget_answers(answers), out_dir / "budget_answers"))


def study_figures(fits, heldout, curves, out_dir: str | os.PathLike) -> list[str]:
    """Every summary figure of the study into ``out_dir`` (PNG and SVG); the arms of the
    tables (column ``arms``) select the fits of each figure."""
    from .tables import in_arm

    out_dir = Path(out_dir)
    made = []
    made += save(gamma_by_model(in_arm(fits, "adaptation"), in_arm(heldout, "adaptation")),
                 out_dir / "gamma_by_model")
    made += save(dimensionality(in_arm(fits, "dimensionality")), out_dir / "dimensionality")
    made += save(optimizer_curves(curves), out_dir / "optimizer_curves")
    made += save(joules_vs_accuracy(fits), out_dir / "joules_vs_accuracy")
    made += save(rasters(in_arm(fits, "adaptation")), out_dir / "rasters")
    held = in_arm(heldout, "adaptation")
    made += save(fi_curves(held, in_arm(fits, "adaptation")), out_dir / "fi_curves")
    made += save(isi_profiles(held), out_dir / "isi_profiles")
    made += save(heldout_rasters(held), out_dir / "heldout_rasters")
    return made


# --------------------------------------------------------------------------- answers' figures

_VERDICT_COLOURS = {"yes": "tab:green", "no": "tab:red", "equivalent": "tab:blue",
                    "inconclusive": "0.5"}


def controls_forest(answers: dict, margin: float = 0.05):
    """One panel per question: the effect with its 95 % interval on the answer targets and on
    each control (colour: verdict; the shaded band is the equivalence margin; the text gives
    the verdict and, for controls, the expected one)."""
    plt = _plt()
    qs = [q for q in ("adaptation", "dimensionality", "optimizers") if q in answers]
    fig, axes = plt.subplots(1, max(1, len(qs)), figsize=(5 * max(1, len(qs)), 3.2),
                             squeeze=False)
    for ax, q in zip(axes[0], qs):
        a = answers[q]
        rows = [("answer", a)]
        rows += [(f"{r} control", c) for r, c in (a.get("controls") or {}).items()]
        if q == "adaptation":
            for m, n in ((a.get("comparisons") or {}).get("nested") or {}).items():
                rows.append((f"nested {m}", n))
        ax.axvspan(-margin, margin, color="0.9", zorder=0)
        ax.axvline(0, color="0.6", lw=0.8)
        for i, (label, d) in enumerate(rows):
            eff, ci = d.get("effect"), d.get("ci95") or [None, None]
            v = d.get("verdict", "inconclusive")
            y = len(rows) - 1 - i
            if eff is not None and None not in ci:
                ax.errorbar(eff, y, xerr=[[eff - ci[0]], [ci[1] - eff]], fmt="o",
                            color=_VERDICT_COLOURS.get(v, "0.5"), capsize=3)
            txt = v + (f" (expected {'/'.join(d['expected'])})" if d.get("expected") else "")
            ax.text(1.02, y, txt, transform=ax.get_yaxis_transform(), va="center",
                    fontsize=7)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r[0] for r in rows][::-1], fontsize=8)
        ax.set_title(q, fontsize=9)
        ax.set_xlabel("effect (> 0 favours the candidate)", fontsize=8)
    fig.tight_layout()
    return fig


def budget_answers(answers: dict):
    """The dimensionality and optimizer answers against the budget: effect and 95 % interval
    at every checkpoint, for the answer targets and each control."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, q in zip(axes, ("dimensionality", "optimizers")):
        a = answers.get(q) or {}
        series = [("answer", a.get("by_budget") or [])]
        series += [(f"{r} control", c.get("by_budget") or [])
                   for r, c in (a.get("controls") or {}).items()]
        drawn = False
        for label, rows in series:
            rows = [r for r in rows if r.get("effect") is not None]
            if not rows:
                continue
            x = [r["checkpoint"] for r in rows]
            y = [r["effect"] for r in rows]
            lo = [r["ci95"][0] if r["ci95"][0] is not None else r["effect"] for r in rows]
            hi = [r["ci95"][1] if r["ci95"][1] is not None else r["effect"] for r in rows]
            ax.plot(x, y, marker="o", label=label)
            ax.fill_between(x, lo, hi, alpha=0.2)
            drawn = True
        if not drawn:
            _empty(ax)
            continue
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("budget checkpoint (forward-equivalents)")
        ax.set_ylabel("effect (error difference)")
        ax.set_title(q)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _heldout_trains(heldout, max_targets: int):
    """Per target (answer targets first), per model: the first seed's held-out evaluation,
    with the data and model trains of each sweep: ``{target: {model: [(sweep, role, amp,
    data, model)]}}``."""
    import json

    from ..data.targets import load_target

    out: dict = {}
    if heldout is None or heldout.empty:
        return out
    h = heldout.copy()
    h["_answer"] = h["arms"].fillna("").str.contains(":answer")
    order = (h.sort_values(["_answer", "target"], ascending=[False, True])["target"]
             .drop_duplicates().tolist())[:max_targets]
    targets_cache: dict = {}
    for t in order:
        ht = h[h["target"] == t]
        for model, g in ht.groupby("model"):
            seed = sorted(g["seed"])[0]
            path = g[g["seed"] == seed]["path"].iloc[0]
            with open(path, encoding="utf-8") as fh:
                ev = json.load(fh)
            tp = ev["target"]
            if tp not in targets_cache:
                targets_cache[tp] = load_target(tp)
            by_id = {s.id: s for s in targets_cache[tp].sweeps}
            role = dict(zip(g["sweep"], g["role"]))
            rows = []
            for sid, amp, times in zip(ev["sweep_ids"], ev["amplitude_pA"],
                                       ev["spike_times_ms"]):
                sw = by_id[str(sid)]
                rows.append((str(sid), role.get(str(sid), "heldout"), float(amp),
                             sw.spike_times_ms, np.asarray(times), sw.protocol))
            out.setdefault(t, {})[model] = sorted(rows, key=lambda r: r[2])
    return out


def _finish_grid(fig, axes, n_used: int):
    """A grid of per-target panels: unused panels off, one legend (the first panel's) on
    top, tight layout below it."""
    for ax in list(axes.flat)[n_used:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=7,
                   frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def fi_curves(heldout, fits=None, max_targets: int = 8):
    """f-I curves per target: spikes in the step against the amplitude, the data (black) and
    each model's prediction on the held-out sweeps (lines); training amplitudes (from the fit
    records) as open markers."""
    plt = _plt()
    data = _heldout_trains(heldout, max_targets)
    n = max(1, len(data))
    cols = min(4, n)
    rows_n = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.9 * rows_n), squeeze=False)
    models_all = sorted({m for d in data.values() for m in d})
    pal = dict(zip(models_all, _sns().color_palette(n_colors=max(1, len(models_all)))))
    if not data:
        _empty(axes[0, 0], "no held-out sweeps")
    for ax, (t, per_model) in zip(axes.flat, data.items()):
        first = next(iter(per_model.values()))
        in_step = (lambda tr, p: int(np.sum((tr >= p.delay_ms) & (tr < p.stim_end_ms))))
        ax.plot([r[2] for r in first], [in_step(r[3], r[5]) for r in first], "ko-", ms=3,
                lw=1, label="data (held out)")
        for m, rows in per_model.items():
            ax.plot([r[2] for r in rows], [in_step(r[4], r[5]) for r in rows], "-",
                    color=pal[m], lw=1.2, label=m)
        if fits is not None and not fits.empty:
            f = fits[(fits["target"] == t) & (fits["dim"] == "full")]
            if len(f):
                rec = FitResult.load(f["path"].iloc[0])
                for amp, tr, proto in zip(rec.amplitude_pA, rec.target_spike_times_ms,
                                          rec.protocols):
                    p0 = proto
                    tt = np.asarray(tr)
                    k = int(np.sum((tt >= p0["delay_ms"])
                                   & (tt < p0["delay_ms"] + p0["duration_ms"])))
                    ax.plot([amp], [k], "o", mfc="white", mec="k", ms=6)
        ax.set_title(t, fontsize=7)
        ax.set_xlabel("step amplitude (pA)", fontsize=7)
        ax.set_ylabel("spikes in the step", fontsize=7)
    return _finish_grid(fig, axes, len(data))


def isi_profiles(heldout, max_targets: int = 8):
    """ISI profiles: interspike interval against interval index on each target's largest
    held-out amplitude, data (black) and each model."""
    plt = _plt()
    data = _heldout_trains(heldout, max_targets)
    n = max(1, len(data))
    cols = min(4, n)
    rows_n = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 2.9 * rows_n), squeeze=False)
    models_all = sorted({m for d in data.values() for m in d})
    pal = dict(zip(models_all, _sns().color_palette(n_colors=max(1, len(models_all)))))
    if not data:
        _empty(axes[0, 0], "no held-out sweeps")
    for ax, (t, per_model) in zip(axes.flat, data.items()):
        first = next(iter(per_model.values()))
        sid, role, amp, d, _, p = first[-1]

        def isi(tr):
            tr = tr[(tr >= p.delay_ms) & (tr < p.stim_end_ms)]
            return np.diff(tr)

        ax.plot(isi(d), "ko-", ms=2.5, lw=1, label="data")
        for m, rows in per_model.items():
            r = [x for x in rows if x[0] == sid]
            if r:
                ax.plot(isi(r[0][4]), "-", color=pal[m], lw=1.2, label=m)
        ax.set_yscale("log")
        ax.set_title(f"{t}\nsweep {sid} ({role}, {amp:.0f} pA)", fontsize=7)
        ax.set_xlabel("interval index", fontsize=7)
        ax.set_ylabel("ISI (ms)", fontsize=7)
    return _finish_grid(fig, axes, len(data))


def heldout_rasters(heldout, max_targets: int = 6):
    """Held-out rasters: per target, each held-out sweep (by amplitude) of the data (black)
    and of each model's prediction."""
    plt = _plt()
    data = _heldout_trains(heldout, max_targets)
    n = max(1, len(data))
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n), squeeze=False)
    models_all = sorted({m for d in data.values() for m in d})
    pal = dict(zip(models_all, _sns().color_palette(n_colors=max(1, len(models_all)))))
    if not data:
        _empty(axes[0, 0], "no held-out sweeps")
    for ax, (t, per_model) in zip(axes[:, 0], data.items()):
        first = next(iter(per_model.values()))
        y, ticks, labels = 0, [], []
        for i, (sid, role, amp, d, _, p) in enumerate(first):
            ax.vlines(d, y, y + 0.8, color="black", lw=0.7)
            ticks.append(y + 0.4)
            labels.append(f"{amp:.0f} pA {role[:5]}: data")
            y += 1
            for m, rows in per_model.items():
                ax.vlines(rows[i][4], y, y + 0.8, color=pal[m], lw=0.7)
                ticks.append(y + 0.4)
                labels.append(m)
                y += 1
            y += 0.5
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=5)
        ax.invert_yaxis()
        ax.set_title(t, fontsize=8, loc="left")
        ax.grid(False)
    axes[-1, 0].set_xlabel("time (ms from sweep start)")
    fig.tight_layout()
    return fig
