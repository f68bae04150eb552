"""Shared fixtures: the project root, the shared data folder, single-threaded numba."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CA1 = SHARED / "data" / "recordings" / "ca1_pyramidal"

# subprocesses (snnfit, snakemake) come from the same environment as the tests
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def ca1_dir() -> Path:
    if not (CA1 / "spikes.csv").exists():
        pytest.skip(f"CA1 recordings not found at {CA1} (../shared absent)")
    return CA1
