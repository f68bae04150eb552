"""A recorded cell's own reliability: how alike its two recordings of the same step are.

A model cannot predict a cell better than the cell predicts itself. For a cell recorded twice
at the same steps (:func:`snnfit.data.splits.repeat_pairs`), :func:`cell_reliability` gives
the intrinsic Gamma (Gamma of one run against the other, 2 ms window, averaged over the
cell's repeated steps; Jolivet et al. 2008, Naud et al. 2011) and the intrinsic pattern
score (:func:`snnfit.metrics.pattern_score` between the runs): the floor of any model's
held-out score on that cell. The study reports each model's held-out Gamma normalised by the
intrinsic Gamma (:mod:`snnfit.study.answers`).

With two runs per step, the intrinsic Gamma of a step is a single noisy estimate; averaging
over a cell's steps (8-16 pairs) reduces the noise but a ratio of noisy estimates stays biased
upward (E[1/X] > 1/E[X]): normalised Gammas are orders of magnitude, not precise figures.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..metrics import gamma_factor, pattern_score


def cell_reliability(target, pairs: Sequence[tuple[str, str]]) -> dict:
    """``{n_repeat_pairs, gamma_intrinsic, pattern_intrinsic}`` of one recorded cell (a
    :class:`~snnfit.data.targets.Target` holding both runs' sweeps); NaN without pairs."""
    by_id = {s.id: s for s in target.sweeps}
    gammas, patterns = [], []
    for a, b in pairs:
        if a not in by_id or b not in by_id:
            raise UserError(f"reliability: sweep {a if a not in by_id else b} of a repeat "
                            f"pair is not in the target")
        sa, sb = by_id[a], by_id[b]
        g = gamma_factor([sa.spike_times_ms], [sb.spike_times_ms], [sa.protocol.t_stop_ms])
        if g is not None:
            gammas.append(g)
        patterns.append(pattern_score([sa.spike_times_ms], [sb.spike_times_ms],
                                      sa.protocol.delay_ms, sa.protocol.stim_end_ms))
    return {"n_repeat_pairs": len(pairs),
            "gamma_intrinsic": float(np.mean(gammas)) if gammas else math.nan,
            "pattern_intrinsic": float(np.mean(patterns)) if patterns else math.nan}
