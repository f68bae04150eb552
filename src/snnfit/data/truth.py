"""Synthetic targets with many sweeps: the ground truth simulated at several amplitudes.

A target with ground truth (a preset or a prior draw) holds one sweep, ``"0"``, at its base
amplitude. :func:`truth_at_factors` replaces it by the truth at ``factor x`` that amplitude for
each factor (sweep ids ``x1``, ``x1.5``, ... from :func:`factor_id`), the same protocol and
integration scheme; :func:`synthetic_split` says which sweeps a fit sees (the training
factors) and which it must predict (the others: held out, each interpolated between the
training factors or extrapolated beyond them). One fitted amplitude cannot pin down how firing
changes with the current; two or more can, and the held-out amplitudes test it with a known
answer.

:func:`add_truth_sweeps` is the older form (fit sweep ``"0"``, held-out sweeps ``"1"``,
``"2"``, ...), kept for configurations that give only ``heldout_amplitude_factors``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import UserError
from .targets import Sweep, Target


def _truth_sweep(truth: dict, base: Sweep, factor: float, sweep_id: str) -> Sweep:
    """The truth simulated at ``factor x`` the base sweep's amplitude (its protocol, the
    truth's scheme); a truth that is not ``ok`` there is a one-line UserError naming the
    amplitude."""
    from ..sim.simulate import simulate

    amp = float(base.amplitude_pA) * factor
    res = simulate(truth["model"], truth["params"], amp, base.protocol, scheme=truth["scheme"])
    if res.status != "ok":
        raise UserError(f"truth at {amp:g} pA ({factor:g} x {base.amplitude_pA:g}): "
                        f"simulation status {res.status!r}")
    return Sweep(sweep_id, base.protocol, amp, np.asarray(res.spike_times_ms, np.float64))


def add_truth_sweeps(target: Target, factors: Sequence[float]) -> Target:
    """A copy of a :class:`~snnfit.data.targets.Target` with ground truth and one sweep, with
    one more sweep per amplitude factor: the truth simulated at ``factor x`` the first sweep's
    amplitude (same protocol and scheme), sweep ids ``"1"``, ``"2"``, ... These are the
    held-out sweeps of synthetic targets (fit on sweep ``"0"``, predict the others).

    Targets without truth or amplitude, and an empty ``factors``, are returned unchanged.
    """
    if not factors or target.truth is None or len(target.sweeps) != 1:
        return target
    base = target.sweeps[0]
    if base.amplitude_pA is None:
        return target
    sweeps = [replace(base, spike_times_ms=base.spike_times_ms.copy())]
    for i, f in enumerate(factors, start=1):
        if not (f > 0):
            raise UserError(f"heldout_amplitude_factors: expected positive numbers, got {f}")
        sweeps.append(_truth_sweep(target.truth, base, float(f), str(i)))
    prov = dict(target.provenance)
    prov["heldout_amplitude_factors"] = [float(f) for f in factors]
    return Target(target.kind, prov, target.truth, sweeps)


def factor_id(factor: float) -> str:
    """The sweep id of the truth at ``factor x`` the base amplitude: ``x1``, ``x1.5``, ..."""
    return f"x{float(factor):g}"


def _check_factors(factors: Sequence[float], where: str) -> list[float]:
    out = []
    for f in factors:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not (f > 0) \
                or not np.isfinite(f):
            raise UserError(f"{where}: expected positive numbers, got {f!r}")
        out.append(float(f))
    if len(set(factor_id(f) for f in out)) != len(out):
        raise UserError(f"{where}: factors repeat ({', '.join(f'{f:g}' for f in out)})")
    return out


def synthetic_split(factors: Sequence[float], train_factors: Sequence[float]
                    ) -> tuple[list[str], list[str], dict[str, str]]:
    """``(train ids, held-out ids, role)`` of a synthetic target simulated at ``factors``:
    the sweeps of ``train_factors`` are fitted, the others held out; ``role[id]`` is
    ``train``, ``interpolated`` (between the smallest and the largest training factor) or
    ``extrapolated``."""
    factors = _check_factors(factors, "amplitude_factors")
    train = _check_factors(train_factors, "train_factors")
    missing = [f for f in train if factor_id(f) not in {factor_id(g) for g in factors}]
    if missing:
        raise UserError(f"train_factors: {', '.join(f'{f:g}' for f in missing)} not among the "
                        f"amplitude_factors ({', '.join(f'{f:g}' for f in factors)})")
    if len(train) == len(factors):
        raise UserError("train_factors: every amplitude factor is a training factor (nothing "
                        "held out)")
    lo, hi = min(train), max(train)
    train_ids = [factor_id(f) for f in sorted(train)]
    held = sorted(f for f in factors if factor_id(f) not in train_ids)
    role = {i: "train" for i in train_ids}
    for f in held:
        role[factor_id(f)] = "interpolated" if lo < f < hi else "extrapolated"
    return train_ids, [factor_id(f) for f in held], role


def truth_at_factors(target: Target, factors: Sequence[float]) -> Target:
    """The truth of a one-sweep synthetic target at ``factor x`` its amplitude for every
    factor (sorted), sweep ids :func:`factor_id`, same protocol and scheme. A target without
    truth or amplitude is returned unchanged; a truth that is not ``ok`` at some amplitude is
    a one-line UserError naming the amplitude."""
    factors = sorted(_check_factors(factors, "amplitude_factors"))
    if not factors or target.truth is None or len(target.sweeps) != 1:
        return target
    base = target.sweeps[0]
    if base.amplitude_pA is None:
        return target
    sweeps = [_truth_sweep(target.truth, base, f, factor_id(f)) for f in factors]
    prov = dict(target.provenance)
    prov["amplitude_factors"] = factors
    prov["base_amplitude_pA"] = float(base.amplitude_pA)
    return Target(target.kind, prov, target.truth, sweeps)
