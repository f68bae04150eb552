"""Stimulus epochs: the piecewise-constant current of a sweep beyond its main step.

``snnfit ingest`` writes ``epochs.csv`` beside ``sweeps.csv``, one row per epoch (a stretch
of constant current that differs from the holding current), in time order::

    cell_id, sweep, epoch, start_ms, end_ms, amplitude_pA, main

``amplitude_pA`` is relative to the sweep's ``holding_pA`` (in ``sweeps.csv``); ``main`` is 1
for the epoch that ``sweeps.csv`` describes as the sweep's step (``stim_start_ms``,
``stim_end_ms``, ``amplitude_pA``) and 0 for the others (prepulses, test pulses, second
steps). Until the simulators take piecewise-constant protocols, a target made from a sweep
with several epochs uses its main step only; :func:`multi_epoch_notice` says so.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

EPOCH_COLUMNS = ("cell_id", "sweep", "epoch", "start_ms", "end_ms", "amplitude_pA", "main")
EPOCHS_FILE = "epochs.csv"


@dataclass(frozen=True)
class Epoch:
    """A stretch of constant injected current: ``[start_ms, end_ms)`` from the sweep start,
    ``amplitude_pA`` relative to the holding current."""

    start_ms: float
    end_ms: float
    amplitude_pA: float


def epoch_counts(epochs_csv: str | Path) -> dict[tuple[str, str], int]:
    """Number of epochs per ``(cell_id, sweep)`` in an ``epochs.csv`` (empty if absent or
    unreadable: the file is informative, the sweep table is the contract)."""
    path = Path(epochs_csv)
    counts: dict[tuple[str, str], int] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                key = (str(row.get("cell_id", "")).strip(), str(row.get("sweep", "")).strip())
                counts[key] = counts.get(key, 0) + 1
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    return counts


def multi_epoch_notice(spikes_csv: str | Path, cell: str, sweeps: Iterable[str],
                       notice: Any) -> None:
    """One notice line if ``epochs.csv`` beside ``spikes_csv`` gives any of ``sweeps`` more
    than one epoch (the target keeps only the main step of those sweeps)."""
    import sys

    counts = epoch_counts(Path(spikes_csv).parent / EPOCHS_FILE)
    multi = [s for s in sweeps if counts.get((cell, s), 0) > 1]
    if multi:
        shown = ", ".join(multi[:8]) + (", ..." if len(multi) > 8 else "")
        print(f"snnfit: notice: {Path(spikes_csv).parent / EPOCHS_FILE}: cell {cell} sweep(s) "
              f"{shown} have several stimulus epochs; this target simulates the main step "
              f"only (sweeps.csv)", file=notice or sys.stderr)
