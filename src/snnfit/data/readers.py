"""Readers for raw current-clamp recordings: Axon ABF, NWB (icephys) and Igor IBW.

Each reader returns :class:`RawSweep` records: the membrane potential (mV) and the injected
current (pA) of one sweep on one time base, with where they came from. Nothing here detects
spikes or steps (that is :mod:`snnfit.data.ingest`).

The field's own libraries do the reading:

- ABF: ``pyabf`` (the epoch table becomes the command waveform where no current is recorded);
- NWB: ``pynwb`` (``CurrentClampSeries`` with its stimulus series, through the
  ``intracellular_recordings`` table where the file has one, else paired by sweep number);
- IBW: ``neo.io.IgorIO`` (on ``igor2``), one wave per sweep and channel, listed in a manifest
  in BluePyEfe's config format.

Channel roles come from the units the file states (:func:`unit_role`): a channel in volts is the
membrane potential, one in amperes the current. Bad input raises
:class:`~snnfit.errors.UserError` with one line naming the file (and the sweep).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import UserError

#: file types that :func:`read_recordings` accepts, by extension
FORMATS = {".abf": "Axon ABF", ".nwb": "NWB", ".json": "IBW manifest (BluePyEfe config)"}

#: unit spellings (as files write them) -> (role, factor to mV or pA)
_UNITS: dict[str, tuple[str, float]] = {
    "v": ("voltage", 1e3), "volt": ("voltage", 1e3), "volts": ("voltage", 1e3),
    "mv": ("voltage", 1.0), "millivolt": ("voltage", 1.0), "millivolts": ("voltage", 1.0),
    "uv": ("voltage", 1e-3), "µv": ("voltage", 1e-3), "μv": ("voltage", 1e-3),
    "a": ("current", 1e12), "amp": ("current", 1e12), "amps": ("current", 1e12),
    "ampere": ("current", 1e12), "amperes": ("current", 1e12),
    "ma": ("current", 1e9), "ua": ("current", 1e6), "µa": ("current", 1e6),
    "μa": ("current", 1e6), "na": ("current", 1e3), "pa": ("current", 1.0),
    "fa": ("current", 1e-3),
}


def unit_role(unit: Any) -> tuple[str, float] | None:
    """``("voltage", factor to mV)`` or ``("current", factor to pA)`` for a unit string
    (``"V"``, ``"mV"``, ``"volts"``, ``"A"``, ``"pA"``, ``"amperes"``, ...); ``None`` for no
    or another unit."""
    if unit is None:
        return None
    if isinstance(unit, bytes):
        unit = unit.decode("utf-8", "replace")
    key = str(unit).strip().lower().replace(" ", "")
    if key.startswith("1.0"):  # quantities' dimensionality string, e.g. "1.0 pA"
        key = key[3:]
    return _UNITS.get(key)


def _unit_text(unit: Any) -> str:
    text = unit.decode("utf-8", "replace") if isinstance(unit, bytes) else str(unit or "")
    text = text.strip()
    return repr(text) if text and text != "dimensionless" else "no units"


@dataclass
class RawSweep:
    """One current-clamp sweep as read from a file: V (mV) and I (pA) on one time base
    (``dt_ms``, t = 0 at the first sample)."""

    cell_id: str
    sweep: str
    protocol: str
    dt_ms: float
    v_mV: np.ndarray
    i_pA: np.ndarray
    current_source: str  # "recorded" channel, "command" (ABF epoch table), NWB "stimulus" series
    current_file: str
    voltage_file: str
    where: str  # "<file>: sweep <N>", for messages
    number: int | None = None  # the sweep number, where it is an integer (runs, repeats)
    group: str = ""  # sweeps of one file (or manifest protocol) share a group
    ljp_mV: float | None = None  # a liquid junction potential the file states (manifest)


@contextlib.contextmanager
def _quiet():
    """Silence the reading libraries' warnings and log lines (igor2 logs a whole damaged wave
    at ERROR level); their failures reach the user as one UserError line instead."""
    loggers = [logging.getLogger(n) for n in ("igor2", "neo", "pyabf", "hdmf", "pynwb", "h5py")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _say(notice: Any, text: str) -> None:
    print(f"snnfit: notice: {text}", file=notice or sys.stderr)


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def check_file(path: Path, what: str) -> None:
    """A readable, non-empty regular file, or a one-line error."""
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected {what}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise UserError(f"{path}: empty file (expected {what})")


def _check_trace(values: np.ndarray, where: str, what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise UserError(f"{where}: {what} has {x.size} sample(s)")
    if not np.all(np.isfinite(x)):
        k = int(np.flatnonzero(~np.isfinite(x))[0])
        raise UserError(f"{where}: {what} has a non-finite value at sample {k}")
    return x


def _sweep_number(value: Any) -> int | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return int(v) if np.isfinite(v) and v == int(v) else None


# --------------------------------------------------------------------------- ABF


def read_abf(path: str | Path, cell_id: str | None = None, v_channel: str | None = None,
             i_channel: str | None = None, notice: Any = None) -> list[RawSweep]:
    """The current-clamp sweeps of an Axon ABF file (pyabf).

    The membrane potential is the recorded channel in V (``v_channel`` names it where there
    are several); the current is a recorded channel in A (``i_channel``) if there is one,
    else the command of the voltage channel's DAC, built from the protocol's epoch table.
    Sweep ids are the sweep indices (0, 1, ...); ``cell_id`` defaults to the file stem.
    """
    import pyabf

    path = Path(path)
    check_file(path, "an Axon ABF file")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic not in (b"ABF2", b"ABF "):
        raise UserError(f"{path}: not an Axon ABF file (it starts with {magic!r}, expected "
                        f"'ABF2' or 'ABF ')")
    try:
        with _quiet():
            abf = pyabf.ABF(str(path), loadData=True)
    except Exception as exc:  # pyabf raises many kinds on damaged files
        raise UserError(f"{path}: cannot read as an Axon ABF file (damaged or truncated? "
                        f"{_why(exc)})") from None
    names = [str(n) for n in abf.adcNames]
    units = [str(u) for u in abf.adcUnits]
    listing = ", ".join(f"{n} [{u}]" for n, u in zip(names, units))

    def pick(name: str | None, role: str, option: str) -> int | None:
        if name is not None:
            if name not in names:
                raise UserError(f"{path}: no channel {name!r} ({option}; channels: {listing})")
            k = names.index(name)
            r = unit_role(units[k])
            if r is None or r[0] != role:
                raise UserError(f"{path}: channel {name!r} ({option}) is in {units[k]!r}, not "
                                f"a {role} (channels: {listing})")
            return k
        found = [k for k, u in enumerate(units) if (unit_role(u) or ("", 0))[0] == role]
        if len(found) > 1:
            raise UserError(f"{path}: {len(found)} channels in {role} units ({listing}); "
                            f"choose one with {option}")
        return found[0] if found else None

    kv = pick(v_channel, "voltage", "--v-channel")
    if kv is None:
        raise UserError(f"{path}: no current-clamp sweeps (no recorded channel in volts; "
                        f"channels: {listing})")
    ki = pick(i_channel, "current", "--i-channel")
    if ki is None:  # the command waveform of the voltage channel's DAC
        dac_units = list(abf.dacUnits)
        if kv >= len(dac_units) or (unit_role(dac_units[kv]) or ("", 0))[0] != "current":
            du = dac_units[kv] if kv < len(dac_units) else "none"
            raise UserError(f"{path}: no current-clamp sweeps (channel {names[kv]!r} is in "
                            f"{units[kv]!r} but its command is in {du!r}, not a current, and "
                            f"no current is recorded)")
        source = int(abf._dacSection.nWaveformSource[kv]) if abf.abfVersion["major"] == 2 \
            else int(abf._headerV1.nWaveformSource[kv])
        enabled = int(abf._dacSection.nWaveformEnable[kv]) if abf.abfVersion["major"] == 2 \
            else int(abf._headerV1.nWaveformEnable[kv])
        if enabled and source == 2:
            raise UserError(f"{path}: the command of channel {names[kv]!r} comes from a "
                            f"stimulus file, which is not read; record the current on an "
                            f"input channel")
        i_factor = unit_role(dac_units[kv])[1]
        i_label = f"{abf.dacNames[kv]} (epoch table)"
    else:
        i_factor = unit_role(units[ki])[1]
        i_label = names[ki]
    v_factor = unit_role(units[kv])[1]
    dt_ms = 1e3 / float(abf.dataRate)
    cell = cell_id or path.stem
    protocol = str(abf.protocol or "").strip() or "unknown"
    out = []
    for k in abf.sweepList:
        where = f"{path}: sweep {k}"
        try:
            with _quiet():
                abf.setSweep(k, channel=kv)
                v = np.array(abf.sweepY, dtype=np.float64)
                if ki is None:
                    i = np.array(abf.stimulusByChannel[kv].stimulusWaveform(k), dtype=np.float64)
                else:
                    abf.setSweep(k, channel=ki)
                    i = np.array(abf.sweepY, dtype=np.float64)
        except Exception as exc:
            raise UserError(f"{where}: cannot read ({_why(exc)})") from None
        if i.size != v.size:
            raise UserError(f"{where}: current has {i.size} samples, voltage {v.size}")
        out.append(RawSweep(
            cell_id=cell, sweep=str(k), protocol=protocol, dt_ms=dt_ms,
            v_mV=_check_trace(v * v_factor, where, f"channel {names[kv]!r}"),
            i_pA=_check_trace(i * i_factor, where, f"current {i_label!r}"),
            current_source="command" if ki is None else "recorded",
            current_file=f"{path.name}#{i_label}", voltage_file=f"{path.name}#{names[kv]}",
            where=where, number=int(k), group=str(path)))
    if not out:
        raise UserError(f"{path}: no sweeps")
    return out


# --------------------------------------------------------------------------- NWB


def _series_values(ts: Any, start: int, count: int, where: str,
                   what: str) -> tuple[str, np.ndarray]:
    role = unit_role(getattr(ts, "unit", None))
    if role is None:
        raise UserError(f"{where}: {what} {ts.name!r} is in {_unit_text(ts.unit)}, expected "
                        f"volts or amperes")
    data = ts.data
    n = len(data)
    if count is None or count < 0:
        count = n - start
    if start < 0 or start + count > n:
        raise UserError(f"{where}: {what} {ts.name!r} has {n} samples; the table refers to "
                        f"samples {start} to {start + count}")
    try:
        raw = np.asarray(data[start:start + count], dtype=np.float64)
    except Exception as exc:
        raise UserError(f"{where}: cannot read {what} {ts.name!r} ({_why(exc)})") from None
    conversion = float(getattr(ts, "conversion", 1.0) or 1.0)
    offset = float(getattr(ts, "offset", 0.0) or 0.0)
    return role[0], (raw * conversion + offset) * role[1]


def _series_dt_ms(ts: Any, where: str) -> float:
    rate = getattr(ts, "rate", None)
    if rate:
        return 1e3 / float(rate)
    stamps = getattr(ts, "timestamps", None)
    if stamps is None or len(stamps) < 2:
        raise UserError(f"{where}: {ts.name!r} has neither a rate nor timestamps")
    d = np.diff(np.asarray(stamps[:], dtype=np.float64))
    dt = float(np.median(d))
    if dt <= 0 or np.max(np.abs(d - dt)) > 1e-3 * dt:
        raise UserError(f"{where}: {ts.name!r} is not sampled at a constant rate")
    return dt * 1e3


def _nwb_pairs(nwb: Any, path: Path, notice: Any) -> list[tuple]:
    """(response, start, count, stimulus, start, count, electrode) per current-clamp sweep."""
    from pynwb.icephys import (CurrentClampSeries, CurrentClampStimulusSeries,
                               IZeroClampSeries)

    pairs = []
    table = getattr(nwb, "intracellular_recordings", None)
    if table is not None and len(table) > 0:
        responses = table["responses"]["response"]
        stimuli = table["stimuli"]["stimulus"]
        for row in range(len(table)):
            resp = responses[row]
            ts = resp.timeseries
            if ts is None or not isinstance(ts, CurrentClampSeries) \
                    or isinstance(ts, IZeroClampSeries):
                continue
            stim = stimuli[row]
            if stim.timeseries is None or stim.idx_start < 0:
                raise UserError(f"{path}: intracellular_recordings row {row} ({ts.name!r}): "
                                f"no stimulus")
            pairs.append((ts, int(resp.idx_start), int(resp.count), stim.timeseries,
                          int(stim.idx_start), int(stim.count),
                          getattr(ts, "electrode", None), f"row {row}"))
        return pairs
    stim_list = [s for s in nwb.stimulus.values() if isinstance(s, CurrentClampStimulusSeries)]
    for ts in nwb.acquisition.values():
        if not isinstance(ts, CurrentClampSeries) or isinstance(ts, IZeroClampSeries):
            continue
        match = [s for s in stim_list if s.sweep_number == ts.sweep_number
                 and getattr(s, "electrode", None) is getattr(ts, "electrode", None)]
        if ts.sweep_number is None or len(match) != 1:
            how = "no" if not match else f"{len(match)}"
            raise UserError(f"{path}: acquisition {ts.name!r} (sweep {ts.sweep_number}): "
                            f"{how} CurrentClampStimulusSeries with its sweep number and "
                            f"electrode (expected one)")
        pairs.append((ts, 0, -1, match[0], 0, -1, getattr(ts, "electrode", None),
                      f"acquisition {ts.name!r}"))
    return pairs


def read_nwb(path: str | Path, cell_id: str | None = None, notice: Any = None) -> list[RawSweep]:
    """The current-clamp sweeps of an NWB file (pynwb): each ``CurrentClampSeries`` with its
    ``CurrentClampStimulusSeries``, from the ``intracellular_recordings`` table where the file
    has one, else paired by sweep number and electrode. Sweep ids are the series' sweep
    numbers (else the table row); ``cell_id`` defaults to the file stem (plus the electrode
    name where the file has several electrodes)."""
    import h5py
    from pynwb import NWBHDF5IO

    path = Path(path)
    check_file(path, "an NWB file")
    if not h5py.is_hdf5(str(path)):
        raise UserError(f"{path}: not an NWB (HDF5) file")
    try:
        with _quiet():
            io = NWBHDF5IO(str(path), "r", load_namespaces=True)
            nwb = io.read()
    except Exception as exc:
        raise UserError(f"{path}: cannot read as an NWB file (damaged or truncated? "
                        f"{_why(exc)})") from None
    try:
        with _quiet():
            return _nwb_sweeps(nwb, path, cell_id, notice)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path}: cannot read ({_why(exc)})") from None
    finally:
        io.close()


def _nwb_sweeps(nwb: Any, path: Path, cell_id: str | None, notice: Any) -> list[RawSweep]:
    pairs = _nwb_pairs(nwb, path, notice)
    if not pairs:
        raise UserError(f"{path}: no current-clamp sweeps (no CurrentClampSeries with a "
                        f"stimulus)")
    electrodes = []
    for p in pairs:
        name = getattr(p[6], "name", "")
        if name not in electrodes:
            electrodes.append(name)
    base = cell_id or path.stem
    out = []
    for k, (resp, r0, rn, stim, s0, sn, electrode, label) in enumerate(pairs):
        number = resp.sweep_number if resp.sweep_number is not None else k
        where = f"{path}: sweep {number}"
        vrole, v = _series_values(resp, r0, rn, where, "response")
        irole, i = _series_values(stim, s0, sn, where, "stimulus")
        if vrole != "voltage" or irole != "current":
            raise UserError(f"{where}: the response {resp.name!r} is in {resp.unit!r} and the "
                            f"stimulus {stim.name!r} in {stim.unit!r}; expected volts and "
                            f"amperes")
        dt_v, dt_i = _series_dt_ms(resp, where), _series_dt_ms(stim, where)
        if abs(dt_v - dt_i) > 1e-9 * dt_v:
            raise UserError(f"{where}: response sampled every {dt_v:g} ms, stimulus every "
                            f"{dt_i:g} ms (expected the same)")
        if v.size != i.size:
            raise UserError(f"{where}: response has {v.size} samples, stimulus {i.size}")
        cell = base if len(electrodes) == 1 else f"{base}_{getattr(electrode, 'name', '')}"
        desc = str(getattr(stim, "stimulus_description", "") or "").strip()
        out.append(RawSweep(
            cell_id=cell, sweep=str(number),
            protocol=desc if desc and desc != "N/A" else "unknown", dt_ms=dt_v,
            v_mV=_check_trace(v, where, f"response {resp.name!r}"),
            i_pA=_check_trace(i, where, f"stimulus {stim.name!r}"),
            current_source="stimulus",
            current_file=f"{path.name}#{stim.name}", voltage_file=f"{path.name}#{resp.name}",
            where=where, number=_sweep_number(number), group=f"{path}#{cell}"))
    return out


# --------------------------------------------------------------------------- IBW


def _read_ibw(path: Path, where: str) -> tuple[np.ndarray, Any, float]:
    """(values, unit text, dt in ms) of one Igor binary wave."""
    import neo

    check_file(path, "an Igor binary wave (.ibw)")
    try:
        with _quiet():
            sig = neo.io.IgorIO(str(path)).read_analogsignal()
    except Exception as exc:
        why = _why(exc)
        hint = "truncated? " if "buffer" in why or "reshape" in why else ""
        raise UserError(f"{path}: cannot read as an Igor binary wave ({hint}{why}) "
                        f"[{where}]") from None
    unit = sig.units.dimensionality.string
    try:
        dt_ms = float(sig.sampling_period.rescale("ms").magnitude)
    except Exception:
        raise UserError(f"{path}: the time axis is in {sig.sampling_period.units}, not a "
                        f"time [{where}]") from None
    if not dt_ms > 0:
        raise UserError(f"{path}: sampling interval {dt_ms:g} ms (expected > 0) [{where}]")
    return np.asarray(sig.magnitude, dtype=np.float64).ravel(), unit, dt_ms


def _manifest_json(path: Path) -> dict:
    check_file(path, "a JSON manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (JSON) file") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON "
                        f"({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), dict):
        raise UserError(f"{path}: expected a manifest object with 'cells' (BluePyEfe's config "
                        f"format: cells -> experiments -> files)")
    return data


def read_manifest(path: str | Path, protocols: Sequence[str] | None = None,
                  notice: Any = None) -> list[RawSweep]:
    """The sweeps listed in a manifest in BluePyEfe's config format::

        {"path": "./", "cells": {CELL: {"ljp": 14, "experiments": {PROTOCOL:
            {"files": [{"ordinal": "76", "i_file": "CELL/..._ch0_76.ibw",
                        "v_file": "CELL/..._ch1_76.ibw", "i_unit": "A", "v_unit": "V"}]}}}}}

    Files are relative to ``path`` below the manifest's folder. The units of the waves decide
    which is the current and which the voltage: a manifest that names them the other way
    round is followed by the units (with a notice); waves without units, or not one in
    amperes and one in volts, are an error. ``protocols`` keeps only those experiments.
    """
    path = Path(path)
    data = _manifest_json(path)
    base = path.parent / str(data.get("path", "./") or "./")
    out = []
    seen_protocols = set()
    for cell, cdata in data["cells"].items():
        wc = f"{path}: cells.{cell}"
        if not isinstance(cdata, dict) or not isinstance(cdata.get("experiments"), dict):
            raise UserError(f"{wc}: expected an object with 'experiments'")
        ljp = cdata.get("ljp")
        if ljp is not None and (isinstance(ljp, bool) or not isinstance(ljp, (int, float))):
            raise UserError(f"{wc}.ljp: expected a number (mV), got {ljp!r}")
        for proto, pdata in cdata["experiments"].items():
            seen_protocols.add(proto)
            if protocols and proto not in protocols:
                continue
            wp = f"{wc}.experiments.{proto}"
            files = pdata.get("files") if isinstance(pdata, dict) else None
            if not isinstance(files, list) or not files:
                raise UserError(f"{wp}: expected a non-empty list 'files'")
            for j, entry in enumerate(files):
                out.append(_manifest_sweep(path, base, cell, proto, f"{wp}.files[{j}]",
                                           entry, ljp, notice))
    if protocols:
        missing = [p for p in protocols if p not in seen_protocols]
        if missing:
            raise UserError(f"{path}: no experiment {missing[0]!r} (has: "
                            f"{', '.join(sorted(seen_protocols))})")
    if not out:
        raise UserError(f"{path}: lists no sweeps")
    return out


def manifest_files(path: str | Path) -> list[Path]:
    """The wave files a manifest names (``i_file`` and ``v_file`` of every entry, below its
    ``path``), in manifest order: what reading it reads besides the manifest itself. Entries
    that are not objects with file names are skipped (:func:`read_manifest` names them)."""
    path = Path(path)
    data = _manifest_json(path)
    base = path.parent / str(data.get("path", "./") or "./")
    out: list[Path] = []
    for cdata in data["cells"].values():
        exps = cdata.get("experiments") if isinstance(cdata, dict) else None
        for pdata in (exps if isinstance(exps, dict) else {}).values():
            files = pdata.get("files") if isinstance(pdata, dict) else None
            for entry in files if isinstance(files, list) else ():
                for key in ("i_file", "v_file"):
                    if isinstance(entry, dict) and isinstance(entry.get(key), str):
                        out.append(base / entry[key])
    return list(dict.fromkeys(out))


def _manifest_sweep(path: Path, base: Path, cell: str, proto: str, wf: str, entry: Any,
                    ljp: float | None, notice: Any) -> RawSweep:
    if not isinstance(entry, dict):
        raise UserError(f"{wf}: expected an object with i_file and v_file")
    for key in ("i_file", "v_file"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise UserError(f"{wf}.{key}: missing (expected a file path)")
    ordinal = entry.get("ordinal", entry.get("sweep"))
    if ordinal is None or str(ordinal).strip() == "":
        raise UserError(f"{wf}.ordinal: missing (the sweep number)")
    sweep = str(ordinal).strip()
    where = f"{path}: cell {cell} sweep {sweep}"
    waves = {}
    for key in ("i_file", "v_file"):
        f = base / entry[key]
        if not f.exists():
            raise UserError(f"{f}: file not found (named by {wf}.{key}) [{where}]")
        waves[key] = (entry[key],) + _read_ibw(f, where)
    roles = {key: unit_role(w[2]) for key, w in waves.items()}
    for key, r in roles.items():
        if r is None:
            raise UserError(f"{base / waves[key][0]}: wave is in {_unit_text(waves[key][2])}; "
                            f"expected amperes or volts, so its role (current or voltage) "
                            f"cannot be decided [{where}]")
    ri, rv = roles["i_file"][0], roles["v_file"][0]
    if (ri, rv) == ("voltage", "current"):
        _say(notice, f"{where}: the manifest names {entry['i_file']} as the current but it is "
                     f"in {waves['i_file'][2]} and {entry['v_file']} is in "
                     f"{waves['v_file'][2]}; the units decide (swapped)")
        waves["i_file"], waves["v_file"] = waves["v_file"], waves["i_file"]
        roles["i_file"], roles["v_file"] = roles["v_file"], roles["i_file"]
    elif (ri, rv) != ("current", "voltage"):
        raise UserError(f"{where}: {entry['i_file']} is in {waves['i_file'][2]} and "
                        f"{entry['v_file']} in {waves['v_file'][2]}; expected one wave in "
                        f"amperes (current) and one in volts (voltage)")
    i_name, i_val, _, i_dt = waves["i_file"]
    v_name, v_val, _, v_dt = waves["v_file"]
    if abs(i_dt - v_dt) > 1e-9 * v_dt:
        raise UserError(f"{where}: {i_name} is sampled every {i_dt:g} ms and {v_name} every "
                        f"{v_dt:g} ms (expected the same)")
    if i_val.size != v_val.size:
        raise UserError(f"{where}: {i_name} has {i_val.size} samples and {v_name} "
                        f"{v_val.size} (expected the same)")
    mdt = entry.get("dt")
    if isinstance(mdt, (int, float)) and not isinstance(mdt, bool) and mdt > 0 \
            and abs(mdt * 1e3 - v_dt) > 1e-6 * v_dt:
        _say(notice, f"{where}: the manifest says dt {mdt:g} s, the file {v_dt:g} ms; using the "
                     f"file's")
    return RawSweep(
        cell_id=str(cell), sweep=sweep, protocol=str(proto), dt_ms=v_dt,
        v_mV=_check_trace(v_val * roles["v_file"][1], where, v_name),
        i_pA=_check_trace(i_val * roles["i_file"][1], where, i_name),
        current_source="recorded", current_file=i_name, voltage_file=v_name, where=where,
        number=_sweep_number(sweep), group=f"{path}#{cell}",
        ljp_mV=None if ljp is None else float(ljp))


# --------------------------------------------------------------------------- dispatch


def read_recordings(paths: Sequence[str | Path], cell_id: str | None = None,
                    v_channel: str | None = None, i_channel: str | None = None,
                    protocols: Sequence[str] | None = None,
                    notice: Any = None) -> list[RawSweep]:
    """Read every file (by extension: ``.abf``, ``.nwb``, ``.json`` manifest) and check that
    no (cell, sweep) pair comes twice. ``cell_id`` names the cell of ABF and NWB files; where
    it joins several files, each sweep id gets the file's stem as a prefix
    (``18711001_5``)."""
    if not paths:
        raise UserError("no recording given")
    readers: dict[str, Callable[[Path], list[RawSweep]]] = {
        ".abf": lambda p: read_abf(p, cell_id, v_channel, i_channel, notice),
        ".nwb": lambda p: read_nwb(p, cell_id, notice),
        ".json": lambda p: read_manifest(p, protocols, notice),
    }
    sweeps: list[RawSweep] = []
    joined = cell_id is not None and sum(Path(p).suffix.lower() in (".abf", ".nwb")
                                         for p in paths) > 1
    for p in paths:
        p = Path(p)
        ext = p.suffix.lower()
        if ext == ".ibw":
            raise UserError(f"{p}: an Igor wave holds one channel of one sweep; list the "
                            f"waves in a manifest (.json, BluePyEfe's config format; see "
                            f"docs/ingest.md)")
        if ext not in readers:
            raise UserError(f"{p}: unknown file type {ext or '(none)'!r} (expected "
                            f"{', '.join(f'{k} ({v})' for k, v in FORMATS.items())})")
        if ext == ".json" and cell_id is not None:
            raise UserError(f"{p}: --cell-id does not apply to a manifest (it names its cells)")
        if ext != ".abf" and (v_channel or i_channel):
            raise UserError(f"{p}: --v-channel/--i-channel apply to ABF files only")
        if ext != ".json" and protocols:
            raise UserError(f"{p}: --protocol applies to manifests only")
        got = readers[ext](p)
        if joined:
            for s in got:
                s.sweep = f"{p.stem}_{s.sweep}"
        sweeps.extend(got)
    seen: dict[tuple[str, str], str] = {}
    for s in sweeps:
        key = (s.cell_id, s.sweep)
        if key in seen:
            raise UserError(f"{s.where}: cell {s.cell_id} sweep {s.sweep} is also in "
                            f"{seen[key]} (give the files different --cell-id)")
        seen[key] = s.where
    return sweeps


def reader_versions() -> dict[str, str]:
    """Versions of the reading libraries (for provenance)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pyabf", "pynwb", "hdmf", "neo", "igor2", "numpy", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out

