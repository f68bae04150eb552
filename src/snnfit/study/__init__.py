"""Study layer: everything the Snakemake study computes after the fits (reads fit records;
imports the fit, data and simulation layers and the bottom modules only). The workflow
scripts and report notebooks only call these functions.

- :mod:`.tables`: one tidy row per fit, held-out predictions, histories, summaries, loss
  curves (``fits.csv``, ``heldout.csv``, ``history.csv``, ...).
- :mod:`.statistics`: bootstrap intervals, the paired test, the relative improvement, the
  verdict rule, the Holm adjustment.
- :mod:`.answers`: the three questions' answers beside their controls, and their prose
  (``answers.json``).
- :mod:`.design`: the study's targets, fits and what each fit is for (from the config).
- :mod:`.reliability`: a recorded cell's own reliability (its repeats against each other).
- :mod:`.figures`, :mod:`.plotting`: figures.

The names below are importable from ``snnfit.study`` itself, as before the split; among them
the target classes and truth sweeps (:mod:`snnfit.data`) and the ``dim`` labels
(:mod:`snnfit.fit.space`, imported on first use: the fit layer brings numba).
"""

from ..data.targets import TARGET_CLASSES, target_class
from ..data.truth import add_truth_sweeps
from .answers import (ADAPTIVE_MODELS, adaptation_differences, answer_adaptation,
                      answer_dimensionality, answer_optimizers, answers, checkpoint_errors,
                      heldout_scores)
from .statistics import (StatsConfig, bootstrap_ci, holm, paired_effect, paired_test,
                         relative_improvement, verdict)
from .tables import (HELDOUT_COLUMNS, HIGHER_IS_BETTER, IDENTITY, METRICS, FitRecord,
                     best_fit_path, build_tables, fit_row, heldout_rows, history_rows, in_arm,
                     loss_curves, read_tables, records_from_dir, relative_loss, study_tables,
                     summarise)

_FROM_SPACE = ("dim_label", "dim_spec", "dim_k")

__all__ = [
    "ADAPTIVE_MODELS", "FitRecord", "HELDOUT_COLUMNS", "HIGHER_IS_BETTER", "IDENTITY",
    "METRICS", "StatsConfig", "TARGET_CLASSES", "adaptation_differences", "add_truth_sweeps",
    "answer_adaptation", "answer_dimensionality", "answer_optimizers", "answers",
    "best_fit_path", "bootstrap_ci", "build_tables", "checkpoint_errors", "fit_row",
    "heldout_rows", "heldout_scores", "history_rows", "holm", "in_arm", "loss_curves",
    "paired_effect", "paired_test", "read_tables", "records_from_dir", "relative_improvement",
    "relative_loss", "study_tables", "summarise", "target_class", "verdict", *_FROM_SPACE,
]


def __getattr__(name: str):
    if name in _FROM_SPACE:
        from ..fit import space

        return getattr(space, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
