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


# ---------------------------------------------------------------- test lanes
# CI runs two lanes (the README's test command): `-m "not slow"` first, failing fast, then
# `-m slow`. The slow lane holds the real fits (regression floors), the finite-difference
# gradient checks, the kernel benchmark's smoke test, the quick study end to end and the SLURM
# integration tests. Tests are marked here, in one place, by file (every test in it) or by
# "file::test name prefix"; `@pytest.mark.slow` on a test works too.
SLOW = (
    "tests/test_fit_floors.py",
    "tests/test_gradient_fits.py",
    "tests/integration/",
    "tests/test_grad.py::test_jacobian_matches_central_fd",
    "tests/test_resolved2.py::test_resolved2_jacobian_matches_central_fd",
    "tests/test_cli_basic.py::test_bench_writes_csvs",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        rel = item.nodeid
        if any(rel.startswith(s) for s in SLOW) or item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.slow)
