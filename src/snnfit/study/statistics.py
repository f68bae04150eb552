"""The study's statistics: bootstrap intervals, the paired test, the scale-free effect, the
verdict rule and the Holm adjustment.

- :func:`bootstrap_ci`: percentile bootstrap interval of a statistic (seeded).
- :func:`paired_test`: two-sided Wilcoxon signed-rank test of paired differences.
- :func:`relative_improvement`: ``(e_ref - e_new) / (|e_ref| + |e_new|)`` in [-1, 1], scale
  free, so errors in ms and spike counts can be compared and averaged.
- :func:`verdict`: fewer than ``min_pairs`` pairs -> ``inconclusive``; the bootstrap
  interval of the median effect inside ``[-margin, margin]`` -> ``equivalent`` (no
  practically relevant difference, whatever the test says); else Wilcoxon ``p < alpha`` and
  the interval excludes 0 -> ``yes`` (effect > 0) or ``no`` (effect < 0); otherwise
  ``inconclusive``. The rule, the margin and the effect are fixed in ``docs/answers.md``.
- :func:`paired_effect`: the median, interval, test and verdict of paired differences.
- :func:`holm`: Holm's step-down adjustment of several p-values.

:class:`StatsConfig` holds the settings (config ``statistics``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass
class StatsConfig:
    """Statistics settings (config ``statistics``): bootstrap resamples and seed, test level,
    equivalence margin, fewest pairs for a verdict."""

    n_boot: int = 2000
    seed: int = 0
    alpha: float = 0.05
    margin: float = 0.05
    min_pairs: int = 8

    @classmethod
    def from_config(cls, cfg: dict) -> "StatsConfig":
        """From the validated config's ``statistics`` section (other keys ignored)."""
        return cls(**{k: cfg[k] for k in ("n_boot", "seed", "alpha", "margin", "min_pairs")
                      if k in cfg})


#: statistics computed for all bootstrap samples in one call (``stat(samples, axis=1)``, row by
#: row the same arithmetic as on each sample alone; not np.mean: its pairwise sums differ in
#: the last bit along an axis)
_ROW_WISE = (np.median,)


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
    if stat in _ROW_WISE:  # one call over the rows: the same numbers, 20x faster
        stats = stat(x[idx], axis=1)
    else:
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
            alpha: float = 0.05, margin: float = 0.05, min_pairs: int = 8) -> str:
    """``yes``, ``no``, ``equivalent`` or ``inconclusive`` by the rule in the module
    docstring."""
    lo, hi = (float(ci95[0]), float(ci95[1])) if ci95 else (math.nan, math.nan)
    if n_pairs < min_pairs or math.isnan(effect) or math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    if -margin <= lo and hi <= margin:
        return "equivalent"
    significant = not math.isnan(p_value) and p_value < alpha
    if significant and lo > 0:
        return "yes"
    if significant and hi < 0:
        return "no"
    return "inconclusive"


def paired_effect(diffs: Sequence[float], stats: "StatsConfig", p_adjusted: float | None = None
                  ) -> dict:
    """``{n_pairs, effect, ci95, test, p_value, verdict}`` of paired differences (NaNs left
    out): the median, its bootstrap interval, the Wilcoxon p (or ``p_adjusted``, e.g. Holm's,
    which then decides the verdict) and :func:`verdict`."""
    d = np.asarray([v for v in diffs if not math.isnan(float(v))], dtype=np.float64)
    effect = float(np.median(d)) if d.size else math.nan
    ci = bootstrap_ci(d, n_boot=stats.n_boot, seed=stats.seed)
    test, p = paired_test(d)
    p_used = p if p_adjusted is None else p_adjusted
    n_untied = int(np.count_nonzero(d))
    return {"n_pairs": int(d.size), "effect": effect, "ci95": [ci[0], ci[1]], "test": test,
            "p_value": p_used, "verdict": verdict(effect, ci, p_used, int(d.size),
                                                  alpha=stats.alpha, margin=stats.margin,
                                                  min_pairs=stats.min_pairs),
            "n_untied": n_untied, "p_min": min_signed_rank_p(int(d.size), n_untied)}


def min_signed_rank_p(n_pairs: int, n_untied: int) -> float:
    """The smallest p :func:`paired_test` can give for ``n_pairs`` differences of which
    ``n_untied`` are non-zero: its p for the most extreme case (every non-zero difference of
    one sign, ranks 1..n). With no zeros that is the exact test's ``2 / 2**n``; zeros (e.g.
    both fits at Gamma 1) are dropped by the test, so a comparison with few untied pairs
    cannot reach ``alpha`` whatever the effect (before any multiplicity adjustment)."""
    if n_untied < 2:
        return 1.0
    return paired_test([0.0] * (n_pairs - n_untied) + list(range(1, n_untied + 1)))[1]


def holm(ps: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values of a family of tests (NaN p-values stay NaN and do not count
    in the family's size)."""
    items = sorted(((p, k) for k, p in ps.items() if not math.isnan(p)))
    m, out, prev = len(items), {k: math.nan for k in ps}, 0.0
    for i, (p, k) in enumerate(items):
        adj = min(1.0, max(prev, (m - i) * p))
        out[k] = prev = adj
    return out
