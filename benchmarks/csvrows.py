"""CSV rows of the benchmark scripts (``fits.py``, ``gradient_fits.py``): read, write
atomically, format numbers (6 significant digits, empty for None and non-finite)."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return v


def num(v) -> float:
    """CSV cell -> float (empty -> NaN)."""
    if v is None or v == "":
        return math.nan
    return float(v)


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict], columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _fmt(r.get(k)) for k in columns})
    os.replace(tmp, path)
