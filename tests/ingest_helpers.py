"""Helpers for the ingestion tests: where the raw fixtures are, NWB files written with pynwb
from real sweeps (as acquisition systems write them), and byte-level copies of Igor waves
(other units, truncated, without units)."""

from __future__ import annotations

import datetime
import json
import shutil
import struct
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
IBW_DIR = SHARED / "raw" / "sscx_ibw"
MANIFEST = IBW_DIR / "feature_extraction_config_fixture_cells.json"
ABF_DIR = SHARED / "raw" / "pyabf"
ABF_FILES = ("18711001.abf", "2019_07_24_0055_fsi.abf")
RECORDINGS = SHARED / "recordings" / "sscx_l5pc"
CELLS = ("C061208B1-SR-C1", "C070109A4-C1", "C080501B2-SR-C1")

needs_raw = pytest.mark.skipif(
    not (MANIFEST.exists() and (RECORDINGS / "sweeps.csv").exists()
         and all((ABF_DIR / f).exists() for f in ABF_FILES)),
    reason=f"raw fixtures not found under {SHARED} (../shared beside the checkout is absent)")


# --------------------------------------------------------------------------- manifests


def manifest(path: Path, cells: dict, root: str = "./") -> Path:
    """Write a manifest in BluePyEfe's config format: ``cells = {cell: [entry, ...]}``
    (entries with ordinal, i_file, v_file), protocol IDrest."""
    data = {"path": root, "format": "igor", "cells": {
        c: {"v_corr": False, "ljp": 14, "experiments": {"IDrest": {
            "location": "soma.v", "files": [dict(e, i_unit="A", v_unit="V", t_unit="s",
                                                 dt=0.00025) for e in entries]}}}
        for c, entries in cells.items()}}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def fixture_entries(cell: str) -> list[dict]:
    data = json.loads(MANIFEST.read_text())
    return [{k: e[k] for k in ("ordinal", "i_file", "v_file")}
            for e in data["cells"][cell]["experiments"]["IDrest"]["files"]]


def copy_cell(dst_root: Path, cell: str) -> None:
    shutil.copytree(IBW_DIR / cell, dst_root / cell)


# --------------------------------------------------------------------------- Igor waves

# version-2 Igor binary waves (these fixtures): a 16-byte BinHeader2, then a 110-byte
# WaveHeader2 whose dataUnits (4 bytes) start at byte 50; the data follow at byte 126.
_V2_UNITS, _V2_DATA = 50, 126


def ibw_variant(src: Path, dst: Path, unit: str | None = None, scale: float = 1.0,
                keep_bytes: int | None = None) -> Path:
    """A copy of a version-2 wave with another unit string and data x ``scale``, or cut to
    ``keep_bytes``."""
    b = bytearray(src.read_bytes())
    assert struct.unpack(">h", b[:2])[0] == 2, "expected a big-endian version-2 wave"
    if unit is not None:
        b[_V2_UNITS:_V2_UNITS + 4] = unit.encode().ljust(4, b"\0")[:4]
    if scale != 1.0:
        n = (struct.unpack(">i", b[2:6])[0] - 110 - 16) // 4  # wfmSize = header + data + 16
        data = np.frombuffer(bytes(b[_V2_DATA:_V2_DATA + 4 * n]), ">f4") * scale
        b[_V2_DATA:_V2_DATA + 4 * n] = data.astype(">f4").tobytes()
    if keep_bytes is not None:
        b = b[:keep_bytes]
    dst.write_bytes(bytes(b))
    return dst


# --------------------------------------------------------------------------- NWB


def write_nwb(path: Path, sweeps: Sequence, table: bool = True, electrode: str = "elec0",
              kinds: str = "cc") -> Path:
    """An NWB file with one CurrentClampSeries (V stored in mV with conversion 1e-3) and one
    CurrentClampStimulusSeries (I in pA, conversion 1e-12) per sweep, float32 as amplifiers
    write them, named and numbered like MIES (``data_00076_AD0`` / ``_DA0``). ``table``: the
    pairs go into the intracellular_recordings table (NWB >= 2.4); else they are only
    acquisition + stimulus, paired by sweep number (older files). ``kinds="vc"`` writes
    voltage-clamp series instead (a file without current-clamp sweeps)."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.icephys import (CurrentClampSeries, CurrentClampStimulusSeries,
                               VoltageClampSeries, VoltageClampStimulusSeries)

    nwb = NWBFile(session_description="snnfit ingest test", identifier=path.stem,
                  session_start_time=datetime.datetime(2020, 1, 1,
                                                       tzinfo=datetime.timezone.utc))
    dev = nwb.create_device(name="amplifier")
    el = nwb.create_icephys_electrode(name=electrode, description="patch pipette", device=dev)
    for s in sweeps:
        n = int(s.number)
        rate = 1e3 / s.dt_ms
        common = dict(starting_time=0.0, rate=rate, electrode=el, gain=1.0,
                      sweep_number=np.uint32(n))
        if kinds == "cc":
            stim = CurrentClampStimulusSeries(
                name=f"data_{n:05d}_DA0", data=s.i_pA.astype(np.float32), conversion=1e-12,
                stimulus_description=s.protocol, **common)
            resp = CurrentClampSeries(name=f"data_{n:05d}_AD0", data=s.v_mV.astype(np.float32),
                                      conversion=1e-3, stimulus_description=s.protocol,
                                      **common)
        else:
            stim = VoltageClampStimulusSeries(name=f"data_{n:05d}_DA0",
                                              data=s.v_mV.astype(np.float32),
                                              conversion=1e-3, **common)
            resp = VoltageClampSeries(name=f"data_{n:05d}_AD0", data=s.i_pA.astype(np.float32),
                                      conversion=1e-12, **common)
        if table:
            nwb.add_intracellular_recording(electrode=el, stimulus=stim, response=resp)
        else:
            nwb.add_stimulus(stim)
            nwb.add_acquisition(resp)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
