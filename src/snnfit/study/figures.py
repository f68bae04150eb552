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
    """One row per target (its fitted sweep): the target's spikes in black and below them
    the spikes of each model's best fit."""
    plt, sns = _plt(), _sns()
    best = best_fits(fits[fits["dim"] == "full"] if not fits.empty else fits)
    targets = list(dict.fromkeys(best["target"])) if not best.empty else []
    models = _models(best) if not best.empty else []
    rows = max(1, len(targets))
    fig, axes = plt.subplots(rows, 1, figsize=(9, 0.35 * (len(models) + 1) * rows + 0.8),
                             squeeze=False)
    pal = dict(zip(models, sns.color_palette(n_colors=max(1, len(models)))))
    if not targets:
        _empty(axes[0, 0])
    for ax, target in zip(axes[:, 0], targets):
        sub = best[best["target"] == target]
        labels = ["target"]
        for i, (_, row) in enumerate(sub.iterrows()):
            fit = FitResult.load(row["path"])
            if i == 0:
                t = (fit.target_spike_times_ms or [[]])[0]
                ax.vlines(t, 0.6, 1.4, color="black", linewidth=1)
            y = len(labels)
            s = (fit.spike_times_ms or [[]])[0]
            ax.vlines(s, y + 0.6, y + 1.4, color=pal[row["model"]], linewidth=1)
            labels.append(f"{row['model']} (Gamma {row['gamma']:.2f})")
        ax.set_yticks(range(1, len(labels) + 1))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(target, fontsize=8, loc="left")
        ax.grid(False)
    axes[-1, 0].set_xlabel("time (ms from sweep start)")
    fig.tight_layout()
    return fig


FIGURES = {
    "gamma_by_model": "Gamma by model per target class (in-sample and held-out)",
    "dimensionality": "error, forward-equivalents, seconds and joules against k",
    "optimizer_curves": "best loss against forward-equivalents per optimizer",
    "joules_vs_accuracy": "joules against accuracy",
    "rasters": "target against fitted spikes (best fit per target and model)",
}


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
    return made
