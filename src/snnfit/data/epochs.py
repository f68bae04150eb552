"""Stimulus epochs: the piecewise-constant current of a sweep beyond its main step.

``snnfit ingest`` writes ``epochs.csv`` beside ``sweeps.csv``, one row per epoch (a stretch
of constant current that differs from the holding current), in time order::

    cell_id, sweep, epoch, start_ms, end_ms, amplitude_pA, main

``amplitude_pA`` is relative to the sweep's ``holding_pA`` (in ``sweeps.csv``); ``main`` is 1
for the epoch that ``sweeps.csv`` describes as the sweep's step (``stim_start_ms``,
``stim_end_ms``, ``amplitude_pA``) and 0 for the others (prepulses, test pulses, second
steps). A target made from the sweep (``make-target --recording``,
:func:`snnfit.data.targets.recording_target`) keeps the main step as its protocol's step and
the others as the protocol's extra epochs (:class:`snnfit.sim.protocol.Epoch`), which the
simulators apply as recorded. The file is optional: without it, or without rows for a sweep,
the sweep is a single step.
"""

from __future__ import annotations

from ..sim.protocol import Epoch

EPOCH_COLUMNS = ("cell_id", "sweep", "epoch", "start_ms", "end_ms", "amplitude_pA", "main")
EPOCHS_FILE = "epochs.csv"

__all__ = ["EPOCH_COLUMNS", "EPOCHS_FILE", "Epoch"]
