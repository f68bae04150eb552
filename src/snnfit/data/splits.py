"""Which sweeps of a recorded cell a fit sees, which it must predict, which are repeats.

A cell recorded at many step amplitudes (an f-I series, often run twice) is split once, here,
for every consumer (the study, the fit benchmarks):

* :func:`recording_split`: the first run's ``ok`` sweeps sorted by amplitude; ``n_train`` of
  them, at evenly spaced positions between the :data:`TRAIN_LOW` and :data:`TRAIN_HIGH`
  quantiles of that order, are fitted; every other ``ok`` sweep of the cell is held out, with a
  role: ``interpolated`` (amplitude between the smallest and largest training amplitude),
  ``extrapolated`` (outside), or ``repeat`` (a second-run recording of a training step: a new
  trial, not a new amplitude). The quality rule is :mod:`snnfit.data.quality`'s.
* :func:`repeat_pairs`: the two runs' recordings of the same nominal step that count as
  repeats: same ``step_index``, amplitudes within :data:`REPEAT_AMPLITUDE_TOL` (relative) and
  holding currents within :data:`REPEAT_HOLDING_TOL_PA`. In 6 of the 22 SSCx cells the second
  run's amplitudes differ by 11-27 % (the reference current was changed): those are not
  repeats.
* :func:`split_target`: a target with its split (any target's: these, or a synthetic one's,
  :func:`snnfit.data.truth.synthetic_split`) in ``provenance["split"]``, as the study's
  target files carry it (``snnfit make-targets``).

Runs and steps come from ``sweeps.csv``'s ``repeat`` and ``step_index`` columns; a file without
them is one run, its steps in amplitude order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from .quality import sweep_is_fittable
from .targets import Target, _sweep_key

#: training sweeps sit between these quantiles of the first run's amplitude order (steps 2, 5,
#: 8, 11 of a 16-step run), so that held-out amplitudes lie both between them (interpolated)
#: and beyond them (extrapolated)
TRAIN_LOW, TRAIN_HIGH = 0.13, 0.74
#: a second-run sweep is a repeat of a first-run one if the amplitudes agree within 5 % ...
REPEAT_AMPLITUDE_TOL = 0.05
#: ... and the holding currents within 20 pA
REPEAT_HOLDING_TOL_PA = 20.0


@dataclass(frozen=True)
class SweepRow:
    sweep: str
    amplitude_pA: float
    holding_pA: float
    repeat: int
    step_index: int
    fittable: bool


def cell_sweeps(sweeps_csv: str | Path, cell: str) -> list[SweepRow]:
    """The rows of ``cell`` in a ``sweeps.csv`` (one-line UserError for a missing file, column,
    cell or a bad number)."""
    path = Path(sweeps_csv)
    if not path.is_file():
        raise UserError(f"{path}: file not found (the recording's sweeps.csv)")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for c in ("cell_id", "sweep", "amplitude_pA", "holding_pA"):
            if c not in cols:
                raise UserError(f"{path}: missing column {c}")
        rows = [(reader.line_num, r) for r in reader if r["cell_id"] == cell]
    if not rows:
        raise UserError(f"{path}: unknown cell {cell!r}")
    out = []
    order = np.argsort([float(r["amplitude_pA"]) for _, r in rows], kind="stable")
    rank = {int(j): i for i, j in enumerate(order)}
    for j, (line, r) in enumerate(rows):
        try:
            out.append(SweepRow(
                sweep=_sweep_key(r["sweep"]), amplitude_pA=float(r["amplitude_pA"]),
                holding_pA=float(r["holding_pA"]),
                repeat=int(float(r["repeat"])) if r.get("repeat") not in (None, "") else 0,
                step_index=(int(float(r["step_index"])) if r.get("step_index") not in (None, "")
                            else rank[j]),
                fittable=sweep_is_fittable(r)))
        except ValueError:
            raise UserError(f"{path}: line {line}: a number column of cell {cell} is not a "
                            f"number") from None
    return out


def repeat_pairs(rows: list[SweepRow]) -> list[tuple[str, str]]:
    """``(first-run sweep, second-run sweep)`` pairs that are repeats of one step (both
    ``ok``; amplitude and holding within the tolerances), in step order."""
    first = {r.step_index: r for r in rows if r.repeat == 0 and r.fittable}
    pairs = []
    for r in sorted((r for r in rows if r.repeat == 1 and r.fittable),
                    key=lambda r: r.step_index):
        a = first.get(r.step_index)
        if a is None:
            continue
        if abs(r.amplitude_pA - a.amplitude_pA) > REPEAT_AMPLITUDE_TOL * abs(a.amplitude_pA):
            continue
        if abs(r.holding_pA - a.holding_pA) > REPEAT_HOLDING_TOL_PA:
            continue
        pairs.append((a.sweep, r.sweep))
    return pairs


def recording_split(rows: list[SweepRow], n_train: int = 4
                    ) -> tuple[list[str], list[str], dict[str, str]]:
    """``(train sweeps, held-out sweeps, role)`` of one cell (see the module docstring)."""
    run0 = sorted((r for r in rows if r.repeat == 0 and r.fittable),
                  key=lambda r: (r.amplitude_pA, r.step_index))
    if n_train < 1:
        raise UserError(f"n_train: expected >= 1, got {n_train}")
    if len(run0) < n_train + 2:
        raise UserError(f"cell has {len(run0)} 'ok' first-run sweeps; a split into {n_train} "
                        f"training sweeps and held-out ones needs at least {n_train + 2}")
    pos = np.round(np.linspace(TRAIN_LOW, TRAIN_HIGH, n_train) * (len(run0) - 1)).astype(int)
    pos = sorted(set(int(p) for p in pos))
    if len(pos) != n_train:
        raise UserError(f"cell has too few 'ok' first-run sweeps for {n_train} distinct "
                        f"training amplitudes")
    train = [run0[p].sweep for p in pos]
    lo, hi = run0[pos[0]].amplitude_pA, run0[pos[-1]].amplitude_pA
    repeats_of_train = {b for a, b in repeat_pairs(rows) if a in train}
    role = {s: "train" for s in train}
    held = []
    for r in sorted((r for r in rows if r.fittable and r.sweep not in role),
                    key=lambda r: (r.repeat, r.amplitude_pA, r.step_index)):
        held.append(r.sweep)
        if r.sweep in repeats_of_train:
            role[r.sweep] = "repeat"
        else:
            role[r.sweep] = "interpolated" if lo < r.amplitude_pA < hi else "extrapolated"
    return train, held, role


def split_target(target: Target, train: Sequence[str], heldout: Sequence[str],
                 role: dict[str, str], pairs: Sequence[Sequence[str]] = ()) -> Target:
    """A copy of ``target`` with its split in ``provenance["split"]``: ``{"train", "heldout",
    "role", "repeat_pairs"}`` (which sweeps a fit sees, which it must predict and with which
    role, which pairs of sweeps record the same step): the target as the study fits it."""
    prov = dict(target.provenance)
    prov["split"] = {"train": list(train), "heldout": list(heldout), "role": dict(role),
                     "repeat_pairs": [list(p) for p in pairs]}
    return replace(target, provenance=prov)
