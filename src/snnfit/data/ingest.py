"""From raw sweeps to the long-format tables that ``make-target --recording`` reads.

:func:`ingest` takes :class:`~snnfit.data.readers.RawSweep` records (V in mV, I in pA) and
returns the rows of ``spikes.csv``, ``sweeps.csv`` and ``epochs.csv``; :func:`write_tables`
writes them atomically. The conventions (the same as ``shared/data/recordings/sscx_l5pc``):

- **Spikes** (:func:`detect_spikes`): upward crossings of ``threshold_mV`` (-20 mV), linearly
  interpolated between the two samples; after a spike the detector re-arms only once V has
  fallen below ``threshold_mV - 10`` mV; armed at the start of the sweep. Spikes are detected
  on the recorded V (a liquid junction potential is never subtracted first).
- **Stimulus** (:func:`extract_stimulus`): the current as a holding level plus epochs of
  constant current. A recorded current is median-filtered over :data:`FILTER_MS`; an edge is
  where the filtered current crosses halfway between two levels. Holding = median current
  from the sweep start to :data:`HOLDING_GAP_MS` before the first edge; an epoch's level =
  median current from :data:`LEVEL_MARGIN_MS` after its start to as much before its end
  (at most a quarter of the epoch); amplitude = level - holding. The main step is the first
  epoch of the largest depolarising amplitude (of the most hyperpolarising one if none is
  depolarising).
- **Quality** (:mod:`snnfit.data.quality`): ``ok`` or the flags, defined in docs/ingest.md.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .. import __version__
from ..errors import UserError
from ..io import atomic_write_json, atomic_write_text
from .epochs import EPOCH_COLUMNS, EPOCHS_FILE, Epoch
from .quality import quality_value
from .readers import RawSweep, reader_versions
from .targets import SPIKE_COLUMNS

#: default spike threshold (mV); the detector re-arms REARM_BELOW_MV below it
THRESHOLD_MV = -20.0
REARM_BELOW_MV = 10.0
#: the second detector, for the ``plateau`` flag
PLATEAU_THRESHOLD_MV = 0.0
PLATEAU_REARM_MV = -10.0

#: median filter over a recorded current (ms)
FILTER_MS = 10.0
#: the holding level ends this long before the first edge (ms)
HOLDING_GAP_MS = 5.0
#: an epoch's level leaves out this much after its start and before its end (ms)
LEVEL_MARGIN_MS = 20.0
#: a level change is a step if it exceeds NOISE_FACTOR x the current's noise (robust SD of
#: current - filtered current), and never less than MIN_STEP_PA
NOISE_FACTOR = 5.0
MIN_STEP_PA = 1.0
#: a current that changes value at no more than this fraction of its samples is a noise-free
#: command waveform (ABF epoch table, an NWB stimulus series): not filtered
COMMAND_MAX_CHANGES = 0.01
#: a recorded current may take this long (ms) on each side of an edge to settle (transients)
TRANSIENT_MS = 2.0
#: in a noise-free command, an epoch shorter than this (ms) means the current is not
#: piecewise constant (a ramp or a sine sampled by the DAC)
MIN_EPOCH_MS = 1.0
#: a recorded current is not piecewise constant if more than this fraction of its samples
#: (away from the edges) is off its level by more than the step threshold
OFF_LEVEL_FRACTION = 0.01
#: a spike this long after an epoch ends still belongs to it (ms)
OUTSIDE_GRACE_MS = 5.0
#: depolarisation block: V above the spikes' onset voltage for BLOCK_MIN_MS or more without a
#: spike; a spike's onset is where dV/dt rose through ONSET_DVDT (mV/ms), searched back over
#: ONSET_SEARCH_MS from the threshold crossing
BLOCK_MIN_MS = 100.0
ONSET_DVDT = 20.0
ONSET_SEARCH_MS = 5.0

#: the columns of sweeps.csv: those of shared/data/recordings/sscx_l5pc, then n_epochs,
#: current_source and ljp_mV (spikes.csv has targets.SPIKE_COLUMNS, the ones it reads)
SWEEP_COLUMNS = ("cell_id", "protocol", "sweep", "amplitude_pA", "holding_pA",
                 "stim_start_ms", "stim_end_ms", "edge_method", "dt_ms", "sweep_duration_ms",
                 "v_pre_median_mV", "n_spikes_thr0mV", "n_spikes_thr-20mV", "n_spikes_in_stim",
                 "min_spike_peak_mV", "repeat", "step_index", "quality", "current_file",
                 "voltage_file", "n_epochs", "current_source", "ljp_mV")


# --------------------------------------------------------------------------- spikes


def detect_spikes(v_mV: np.ndarray, dt_ms: float, threshold_mV: float = THRESHOLD_MV,
                  rearm_mV: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spike times (ms from the first sample) and peaks (mV) of a voltage trace.

    A spike is an upward crossing ``v[k-1] < threshold <= v[k]``, timed by linear
    interpolation ``(k - 1 + (threshold - v[k-1]) / (v[k] - v[k-1])) * dt_ms``. After a spike
    the detector re-arms once ``v < rearm_mV`` (default ``threshold_mV - 10``); it is armed at
    the first sample. The peak is the largest V from the crossing until the re-arming sample.
    """
    v = np.asarray(v_mV, dtype=np.float64)
    rearm = threshold_mV - REARM_BELOW_MV if rearm_mV is None else float(rearm_mV)
    if rearm >= threshold_mV:
        raise ValueError("rearm_mV must be below threshold_mV")
    cand = np.flatnonzero((v[:-1] < threshold_mV) & (v[1:] >= threshold_mV)) + 1
    below = np.flatnonzero(v < rearm)
    kept: list[int] = []
    for k in cand:
        if kept:
            j = np.searchsorted(below, kept[-1], side="right")
            if j >= below.size or below[j] >= k:
                continue  # not re-armed since the last spike
        kept.append(int(k))
    ks = np.asarray(kept, dtype=np.int64)
    frac = (threshold_mV - v[ks - 1]) / (v[ks] - v[ks - 1])
    times = (ks - 1 + frac) * dt_ms
    ends = np.searchsorted(below, ks, side="right")
    peaks = np.array([v[k:(below[e] if e < below.size else v.size)].max()
                      for k, e in zip(ks, ends)], dtype=np.float64)
    return times, peaks


# --------------------------------------------------------------------------- stimulus


@dataclass
class Stimulus:
    """The current of a sweep as holding + epochs (``main`` indexes the main step)."""

    holding_pA: float
    epochs: list[Epoch]
    main: int
    piecewise_constant: bool
    edge_method: str  # "detected" (filtered recorded current) or "command" (noise-free)
    step_threshold_pA: float

    @property
    def main_epoch(self) -> Epoch:
        return self.epochs[self.main]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True."""
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _merge(plateaus: list[tuple[int, int]], f: np.ndarray, thr: float) -> list[list]:
    """Join neighbouring plateaus whose levels differ by less than ``thr`` where the current
    between them stays within ``thr`` of that level too."""
    out: list[list] = []
    for s, e in plateaus:
        level = float(np.median(f[s:e]))
        if out and abs(level - out[-1][2]) < thr \
                and np.all(np.abs(f[out[-1][1]:s] - out[-1][2]) < thr):
            out[-1][1] = e
        else:
            out.append([s, e, level])
    return out


def extract_stimulus(i_pA: np.ndarray, dt_ms: float, where: str) -> Stimulus:
    """Holding current and epochs of a sweep's current (see the module docstring)."""
    from scipy.ndimage import median_filter

    i = np.asarray(i_pA, dtype=np.float64)
    n = i.size
    command = np.count_nonzero(np.diff(i)) <= COMMAND_MAX_CHANGES * n
    if command:  # noise-free: every change of value is a candidate edge
        f, thr, h, method = i, MIN_STEP_PA, 0, "command"
        starts = np.concatenate(([0], np.flatnonzero(np.diff(i)) + 1, [n]))
        plateaus = list(zip(starts[:-1].tolist(), starts[1:].tolist()))
    else:
        w = 2 * int(round(FILTER_MS / 2.0 / dt_ms)) + 1
        f = median_filter(i, size=w, mode="nearest")
        sigma = 1.4826 * float(np.median(np.abs(i - f)))
        thr, h, method = max(MIN_STEP_PA, NOISE_FACTOR * sigma), w // 2, "detected"
        idx = np.arange(n)
        flat = np.abs(f[np.minimum(idx + h, n - 1)] - f[np.maximum(idx - h, 0)]) < thr
        plateaus = [(s, e) for s, e in _runs(flat) if e - s > h]
    merged = _merge(plateaus, f, thr)
    edges, wide = [0], False
    for (_, a_end, la), (b_start, _, lb) in zip(merged[:-1], merged[1:]):
        if b_start - a_end > 2 * h + 2 * int(round(TRANSIENT_MS / dt_ms)) + 2:
            # more than one edge's width between two plateaus: the current changes there
            # without settling (a ramp, a sine); that stretch becomes a segment of its own
            wide = True
            edges += [e for e in (a_end + h, b_start - h) if e > edges[-1]]
            continue
        half = 0.5 * (la + lb)
        lo = max(a_end - 1, 0)
        seg = f[lo:b_start + 1]
        past = seg > half if lb > la else seg < half
        k = int(np.argmax(past)) if past.any() else b_start - lo
        edges.append(max(lo + k, edges[-1] + 1))
    edges.append(n)
    margin, gap = int(round(LEVEL_MARGIN_MS / dt_ms)), int(round(HOLDING_GAP_MS / dt_ms))
    levels = []
    for j, (s, e) in enumerate(zip(edges[:-1], edges[1:])):
        if j == 0:
            g = min(gap, (e - s) // 2) if e < n else 0
            levels.append(float(np.median(i[s:e - g])))
        else:
            m = min(margin, (e - s) // 4)
            levels.append(float(np.median(i[s + m:e - m])))
    holding = levels[0]
    # is the current piecewise constant?
    recon = np.repeat(np.asarray(levels), np.diff(edges))
    if command:
        short = any((e - s) * dt_ms < MIN_EPOCH_MS for s, e in zip(edges[1:-1], edges[2:]))
        piecewise = not short and bool(np.all(np.abs(i - recon) <= thr))
    else:
        keep = np.ones(n, dtype=bool)
        pad = h + int(round(1.0 / dt_ms))
        for e in edges[1:-1]:
            keep[max(e - pad, 0):e + pad] = False
        off = np.abs(f - recon) > thr
        piecewise = not wide and \
            bool(np.count_nonzero(off & keep) <= OFF_LEVEL_FRACTION * max(keep.sum(), 1))
    epochs = [Epoch(edges[j] * dt_ms, edges[j + 1] * dt_ms, levels[j] - holding)
              for j in range(1, len(levels)) if abs(levels[j] - holding) >= thr]
    if not epochs and not piecewise:  # no plateau stands out: the stretch off holding
        away = np.flatnonzero(np.abs(f - holding) >= thr)
        if away.size:
            s, e = int(away[0]), int(away[-1]) + 1
            epochs = [Epoch(s * dt_ms, e * dt_ms, float(np.median(i[s:e])) - holding)]
    if not epochs:
        raise UserError(f"{where}: the stimulus has no step (the current stays at "
                        f"{holding:.4g} pA within {thr:.3g} pA)")
    amps = np.array([ep.amplitude_pA for ep in epochs])
    if amps.max() > 0:
        main = int(np.flatnonzero(amps >= amps.max() - thr)[0])
    else:
        main = int(np.flatnonzero(amps <= amps.min() + thr)[0])
    return Stimulus(holding, epochs, main, piecewise, method, thr)


# --------------------------------------------------------------------------- quality


def _outside(times: np.ndarray, epochs: Sequence[Epoch]) -> bool:
    inside = np.zeros(times.size, dtype=bool)
    for ep in epochs:
        inside |= (times >= ep.start_ms) & (times < ep.end_ms + OUTSIDE_GRACE_MS)
    return bool((~inside).any())


def spike_onsets_mV(v: np.ndarray, dt_ms: float, times_ms: np.ndarray) -> np.ndarray:
    """Onset voltage of each spike: V where dV/dt last rose through ONSET_DVDT (mV/ms) in the
    ONSET_SEARCH_MS before the threshold crossing (V at the crossing if it never did)."""
    dvdt = np.diff(v) / dt_ms
    out = np.empty(times_ms.size)
    back = int(round(ONSET_SEARCH_MS / dt_ms))
    for n, t in enumerate(times_ms):
        k = int(np.floor(t / dt_ms))  # the sample before the crossing
        j = k
        while j > max(k - back, 0) and dvdt[j - 1] >= ONSET_DVDT:
            j -= 1
        out[n] = v[j]
    return out


def _block(v: np.ndarray, dt_ms: float, epochs: Sequence[Epoch], times: np.ndarray,
           crossings: np.ndarray) -> bool:
    """Depolarisation block: in a depolarising epoch with spikes, V (median over 5 ms) stays
    above the median onset voltage of those spikes for BLOCK_MIN_MS or more without a spike
    (of either detector)."""
    from scipy.ndimage import median_filter

    vf = None
    for ep in epochs:
        inside = times[(times >= ep.start_ms) & (times < ep.end_ms)]
        if ep.amplitude_pA <= 0 or inside.size == 0:
            continue
        if vf is None:
            vf = median_filter(v, size=2 * int(round(2.5 / dt_ms)) + 1, mode="nearest")
        onset = float(np.median(spike_onsets_mV(v, dt_ms, inside)))
        s, e = int(round(ep.start_ms / dt_ms)), int(round(ep.end_ms / dt_ms))
        for a, b in _runs(vf[s:e] > onset):
            t0, t1 = (s + a) * dt_ms, (s + b) * dt_ms
            cuts = np.concatenate(([t0], crossings[(crossings > t0) & (crossings < t1)], [t1]))
            if np.max(np.diff(cuts)) >= BLOCK_MIN_MS:
                return True
    return False


# --------------------------------------------------------------------------- one sweep


@dataclass
class SweepTables:
    """The rows of one sweep in the three tables (values, not yet formatted)."""

    row: dict
    spike_times_ms: np.ndarray
    epochs: list[Epoch]
    main: int


def ingest_sweep(raw: RawSweep, threshold_mV: float = THRESHOLD_MV,
                 ljp_mV: float = 0.0) -> SweepTables:
    """Spikes, stimulus and quality of one sweep. ``ljp_mV`` is subtracted from the reported
    voltages (``v_pre_median_mV``, ``min_spike_peak_mV``) only, never before detection."""
    v, dt = raw.v_mV, raw.dt_ms
    if v.size != raw.i_pA.size:
        raise UserError(f"{raw.where}: voltage has {v.size} samples, current {raw.i_pA.size}")
    stim = extract_stimulus(raw.i_pA, dt, raw.where)
    main = stim.main_epoch
    times, peaks = detect_spikes(v, dt, threshold_mV)
    times0, _ = detect_spikes(v, dt, PLATEAU_THRESHOLD_MV, PLATEAU_REARM_MV)
    flags = []
    if times0.size > times.size:
        flags.append("plateau")
    if times.size and _outside(times, stim.epochs):
        flags.append("spikes_outside_stim")
    if _block(v, dt, stim.epochs, times, np.union1d(times, times0)):
        flags.append("depolarisation_block")
    if not stim.piecewise_constant:
        flags.append("not_piecewise_constant")
    s_main = int(round(main.start_ms / dt))
    pre = v[:max(s_main - int(round(HOLDING_GAP_MS / dt)), 1)]
    row = {
        "cell_id": raw.cell_id, "protocol": raw.protocol, "sweep": raw.sweep,
        "amplitude_pA": main.amplitude_pA, "holding_pA": stim.holding_pA,
        "stim_start_ms": main.start_ms, "stim_end_ms": main.end_ms,
        "edge_method": stim.edge_method, "dt_ms": dt, "sweep_duration_ms": v.size * dt,
        "v_pre_median_mV": float(np.median(pre)) - ljp_mV,
        "n_spikes_thr0mV": int(times0.size), "n_spikes_thr-20mV": int(times.size),
        "n_spikes_in_stim": int(np.count_nonzero((times >= main.start_ms)
                                                 & (times < main.end_ms))),
        "min_spike_peak_mV": float(peaks.min()) - ljp_mV if peaks.size else None,
        "repeat": 0, "step_index": 0, "quality": quality_value(flags),
        "current_file": raw.current_file, "voltage_file": raw.voltage_file,
        "n_epochs": len(stim.epochs), "current_source": raw.current_source,
        "ljp_mV": ljp_mV,
    }
    if threshold_mV != THRESHOLD_MV:  # the count column names the threshold used
        row[f"n_spikes_thr{threshold_mV:g}mV"] = row.pop("n_spikes_thr-20mV")
    return SweepTables(row, times, stim.epochs, stim.main)


# --------------------------------------------------------------------------- many sweeps


@dataclass
class Tables:
    """The three tables of an ingestion, one entry per sweep in reading order."""

    sweeps: list[SweepTables] = field(default_factory=list)
    threshold_mV: float = THRESHOLD_MV

    @property
    def n_spikes(self) -> int:
        return int(sum(s.spike_times_ms.size for s in self.sweeps))


def _ljp_for(raw: RawSweep, ljp: float | str | None) -> float:
    if ljp is None:
        return 0.0
    if ljp == "manifest":
        if raw.ljp_mV is None:
            raise UserError(f"{raw.where}: --ljp-mV manifest, but no liquid junction "
                            f"potential is given for this cell")
        return float(raw.ljp_mV)
    return float(ljp)


def _number_runs(sweeps: list[SweepTables], raws: Sequence[RawSweep]) -> None:
    """``repeat`` (run of consecutive sweep numbers within a cell, protocol and file) and
    ``step_index`` (position within the run)."""
    groups: dict[tuple, list[int]] = {}
    for j, r in enumerate(raws):
        groups.setdefault((r.cell_id, r.protocol, r.group), []).append(j)
    counter: dict[tuple[str, str], int] = {}
    for (cell, proto, _), members in groups.items():
        numbered = sorted((m for m in members if raws[m].number is not None),
                          key=lambda m: raws[m].number)
        others = [m for m in members if raws[m].number is None]
        runs: list[list[int]] = []
        for m in numbered:
            if runs and raws[m].number == raws[runs[-1][-1]].number + 1:
                runs[-1].append(m)
            else:
                runs.append([m])
        if others:
            runs.append(others)
        for run in runs:
            rep = counter.get((cell, proto), 0)
            counter[(cell, proto)] = rep + 1
            for pos, m in enumerate(run):
                sweeps[m].row["repeat"], sweeps[m].row["step_index"] = rep, pos


def ingest(raws: Sequence[RawSweep], threshold_mV: float = THRESHOLD_MV,
           ljp: float | str | None = None) -> Tables:
    """Ingest every sweep. ``ljp`` (mV): ``None`` (default, not corrected), a number, or
    ``"manifest"`` (each cell's ``ljp`` from its manifest)."""
    if not np.isfinite(threshold_mV):
        raise UserError(f"--threshold-mV: expected a finite number, got {threshold_mV}")
    if threshold_mV == PLATEAU_THRESHOLD_MV:
        raise UserError(f"--threshold-mV: {threshold_mV:g} mV is the plateau detector's "
                        f"threshold; choose another")
    if ljp is not None and ljp != "manifest" and not np.isfinite(float(ljp)):
        raise UserError(f"--ljp-mV: expected a finite number or 'manifest', got {ljp}")
    out = [ingest_sweep(r, threshold_mV, _ljp_for(r, ljp)) for r in raws]
    _number_runs(out, raws)
    return Tables(out, threshold_mV)


# --------------------------------------------------------------------------- writing


def _fmt(x: Any, nd: int) -> str:
    if x is None:
        return ""
    v = round(float(x), nd)
    return "0.0" if v == 0 else repr(v)


_DECIMALS = {"amplitude_pA": 2, "holding_pA": 2, "stim_start_ms": 6, "stim_end_ms": 6,
             "dt_ms": 9, "sweep_duration_ms": 6, "v_pre_median_mV": 2,
             "min_spike_peak_mV": 2, "ljp_mV": 3, "spike_time_ms": 3, "start_ms": 6,
             "end_ms": 6}


def _csv(header: Sequence[str], rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_fmt(r[c], _DECIMALS[c]) if c in _DECIMALS else r[c] for c in header])
    return buf.getvalue()


def table_texts(tables: Tables) -> dict[str, str]:
    """The text of ``spikes.csv``, ``sweeps.csv`` and ``epochs.csv``."""
    spikes, sweeps, epochs = [], [], []
    for st in tables.sweeps:
        r = st.row
        sweeps.append(r)
        for t in st.spike_times_ms:
            spikes.append({"cell_id": r["cell_id"], "sweep": r["sweep"],
                           "amplitude_pA": r["amplitude_pA"],
                           "stim_start_ms": r["stim_start_ms"],
                           "stim_end_ms": r["stim_end_ms"], "spike_time_ms": t})
        for j, ep in enumerate(st.epochs):
            epochs.append({"cell_id": r["cell_id"], "sweep": r["sweep"], "epoch": j,
                           "start_ms": ep.start_ms, "end_ms": ep.end_ms,
                           "amplitude_pA": ep.amplitude_pA, "main": int(j == st.main)})
    header = list(SWEEP_COLUMNS)
    if tables.threshold_mV != THRESHOLD_MV:
        header[header.index("n_spikes_thr-20mV")] = f"n_spikes_thr{tables.threshold_mV:g}mV"
    return {"spikes.csv": _csv(SPIKE_COLUMNS, spikes), "sweeps.csv": _csv(header, sweeps),
            EPOCHS_FILE: _csv(EPOCH_COLUMNS, epochs)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_tables(out_dir: str | Path, tables: Tables, inputs: Sequence[str | Path],
                 command: str | None = None, options: dict | None = None) -> dict[str, Path]:
    """Write ``spikes.csv``, ``sweeps.csv``, ``epochs.csv`` and ``ingest.json``
    (provenance) into ``out_dir``, each atomically; everything is computed before the first
    file is written."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: exists and is not a directory (--out)")
    texts = table_texts(tables)
    quality: dict[str, int] = {}
    for st in tables.sweeps:
        quality[st.row["quality"]] = quality.get(st.row["quality"], 0) + 1
    prov = {
        "snnfit_version": __version__, "command": command,
        "inputs": [{"path": str(Path(p).resolve()), "sha256": _sha256(Path(p))}
                   for p in inputs],
        "options": dict(options or {}),
        "conventions": {"threshold_mV": tables.threshold_mV,
                        "rearm_mV": tables.threshold_mV - REARM_BELOW_MV,
                        "plateau_threshold_mV": PLATEAU_THRESHOLD_MV,
                        "plateau_rearm_mV": PLATEAU_REARM_MV, "filter_ms": FILTER_MS,
                        "holding_gap_ms": HOLDING_GAP_MS, "level_margin_ms": LEVEL_MARGIN_MS,
                        "noise_factor": NOISE_FACTOR, "min_step_pA": MIN_STEP_PA,
                        "outside_grace_ms": OUTSIDE_GRACE_MS, "block_min_ms": BLOCK_MIN_MS,
                        "onset_dvdt_mV_per_ms": ONSET_DVDT},
        "readers": reader_versions(),
        "n_cells": len({st.row["cell_id"] for st in tables.sweeps}),
        "n_sweeps": len(tables.sweeps), "n_spikes": tables.n_spikes, "quality": quality,
    }
    paths = {name: out_dir / name for name in texts}
    for name, text in texts.items():
        atomic_write_text(paths[name], text)
    paths["ingest.json"] = out_dir / "ingest.json"
    atomic_write_json(paths["ingest.json"], prov)
    return paths


# --------------------------------------------------------------------------- study sources


def ingest_options(threshold_mV: float = THRESHOLD_MV, ljp_mV: float | str | None = None,
                   cell_id: str | None = None, protocols: Sequence[str] | None = None,
                   v_channel: str | None = None, i_channel: str | None = None) -> dict:
    """The options of an ingestion as ``ingest.json`` records them (``options``)."""
    return {"threshold_mV": float(threshold_mV), "ljp_mV": ljp_mV, "cell_id": cell_id,
            "protocol": list(protocols) if protocols else None, "v_channel": v_channel,
            "i_channel": i_channel}


@dataclass(frozen=True)
class RawSource:
    """Raw recordings that the study ingests into one recording source (a
    ``targets.recordings`` entry with ``raw`` files or a ``manifest``): the files and the
    options of ``snnfit ingest``. Its targets are made from the tables the ingestion writes
    (``results/ingest/<name>/``)."""

    recordings: tuple[str, ...]
    cell_id: str | None = None
    protocols: tuple[str, ...] = ()
    threshold_mV: float = THRESHOLD_MV

    def files(self) -> list[str]:
        """Every file the ingestion reads: the recordings, and the waves their manifests
        name (so that a changed wave re-runs it)."""
        from .readers import manifest_files

        out = [str(p) for p in self.recordings]
        for p in self.recordings:
            if Path(p).suffix.lower() == ".json" and Path(p).is_file():
                out += [str(f) for f in manifest_files(p)]
        return list(dict.fromkeys(out))

    def options(self) -> dict:
        return ingest_options(self.threshold_mV, None, self.cell_id, self.protocols)

    def arguments(self) -> list[str]:
        """The arguments of ``snnfit ingest`` for this source (all but ``--out``)."""
        args = [str(p) for p in self.recordings]
        if self.cell_id is not None:
            args += ["--cell-id", self.cell_id]
        for proto in self.protocols:
            args += ["--protocol", proto]
        if self.threshold_mV != THRESHOLD_MV:
            args += ["--threshold-mV", f"{self.threshold_mV:g}"]
        return args

    def written(self, out_dir: str | Path) -> bool:
        """Whether ``out_dir`` holds this source's tables, written (``ingest.json``, last)
        after every file it reads was last changed, by this snnfit version, with these
        inputs and options."""
        out_dir = Path(out_dir)
        prov_path = out_dir / "ingest.json"
        try:
            prov = json.loads(prov_path.read_text(encoding="utf-8"))
            t_written = prov_path.stat().st_mtime
            newest = max(Path(f).stat().st_mtime for f in self.files())
        except (OSError, ValueError):
            return False
        inputs = [str(Path(p).resolve()) for p in self.recordings]
        return (isinstance(prov, dict) and prov.get("snnfit_version") == __version__
                and prov.get("options") == self.options()
                and [i.get("path") for i in prov.get("inputs", [])] == inputs
                and all((out_dir / n).is_file() for n in ("spikes.csv", "sweeps.csv"))
                and newest <= t_written)

    @contextlib.contextmanager
    def tables(self, out_dir: str | Path, where: str = "") -> Iterator[Path]:
        """A folder holding the tables ``snnfit ingest`` writes for this source into
        ``out_dir`` (``spikes.csv``, ``sweeps.csv``, ``epochs.csv``), to list its cells and
        sweeps before the ingestion runs: ``out_dir`` itself when :meth:`written`, else a
        temporary folder (removed on exit) with the same tables made in memory by the same
        reading and analysis; nothing is written to ``out_dir``. Bad input is the
        ingestion's one-line UserError, prefixed by ``where``."""
        import tempfile

        from .readers import read_recordings

        if self.written(out_dir):
            yield Path(out_dir)
            return
        sink = io.StringIO()  # reader notices: the ingestion itself reports them
        try:
            raws = read_recordings(list(self.recordings), cell_id=self.cell_id,
                                   protocols=list(self.protocols) or None, notice=sink)
            texts = table_texts(ingest(raws, threshold_mV=self.threshold_mV))
        except UserError as exc:
            raise UserError(f"{where}{exc}") from None
        with tempfile.TemporaryDirectory(prefix="snnfit-ingest-") as tmp:
            for name, text in texts.items():
                (Path(tmp) / name).write_text(text, encoding="utf-8")
            yield Path(tmp)


def raw_source(entry: dict) -> RawSource | None:
    """The :class:`RawSource` of a study config's ``targets.recordings`` entry with ``raw``
    files or a ``manifest`` (and its ``cell_id``, ``protocols``, ``threshold_mV``); None for a
    ``spikes_csv`` entry."""
    files = entry.get("raw") or ([entry["manifest"]] if entry.get("manifest") else [])
    if not files:
        return None
    return RawSource(tuple(str(f) for f in files), cell_id=entry.get("cell_id"),
                     protocols=tuple(entry.get("protocols") or ()),
                     threshold_mV=float(entry.get("threshold_mV", THRESHOLD_MV)))
