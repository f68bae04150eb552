"""Held-out sweeps of synthetic targets: the ground truth simulated at other amplitudes.

A target with ground truth (a preset or a prior draw) holds one sweep, ``"0"``. The study
fits that sweep and predicts the truth at ``factor x`` its amplitude (sweeps ``"1"``,
``"2"``, ...), the same protocol and integration scheme: a held-out test with a known answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import UserError
from .targets import Sweep, Target


def add_truth_sweeps(target: Target, factors: Sequence[float]) -> Target:
    """A copy of a :class:`~snnfit.data.targets.Target` with ground truth and one sweep, with
    one more sweep per amplitude factor: the truth simulated at ``factor x`` the first sweep's
    amplitude (same protocol and scheme), sweep ids ``"1"``, ``"2"``, ... These are the
    held-out sweeps of synthetic targets (fit on sweep ``"0"``, predict the others).

    Targets without truth or amplitude, and an empty ``factors``, are returned unchanged.
    """
    from ..sim.simulate import simulate

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
