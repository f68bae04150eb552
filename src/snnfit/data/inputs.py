"""Seeded Poisson input spike trains for the spiking front end.

Each of ``n_channels`` channels spikes independently in each of ``steps`` time steps of
``dt_ms`` with probability ``p = rate_hz * dt_ms / 1000`` (a Bernoulli approximation of a
Poisson process of rate ``rate_hz``; exact in the limit of small ``p``; the expected spike
count per channel is ``steps * p``). The notebook this project grew from used 20-150
channels at p = 0.04 per 1 ms step, i.e. ``rate_hz=40, dt_ms=1``.

An inputs file (``.npz``, written by ``snnfit make-inputs``) holds:

``spikes``      bool, shape (steps, n_channels): True where a channel spikes in a step
``dt_ms``       float, step length (ms)
``rate_hz``     float, rate the trains were drawn at (Hz)
``seed``        int, the seed they were drawn with
``n_channels``  int, equal to ``spikes.shape[1]``
"""

from __future__ import annotations

import math
import numbers
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError

INPUT_KEYS = ("spikes", "dt_ms", "rate_hz", "seed", "n_channels")


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def spike_probability(rate_hz: float, dt_ms: float) -> float:
    """Per-step spike probability ``p = rate_hz * dt_ms / 1000``."""
    return float(rate_hz) * float(dt_ms) / 1000.0


def check_input_args(n_channels, rate_hz, steps, dt_ms, seed, names: dict | None = None) -> None:
    """Raise a one-line :class:`UserError` naming the first bad argument.

    ``names`` maps argument names to the names shown to the user (e.g. CLI flags); an
    argument not in it is shown under its own name.
    """
    def nm(arg: str) -> str:
        return (names or {}).get(arg, arg)

    if not _is_int(n_channels) or n_channels < 1:
        raise UserError(f"{nm('n_channels')}: expected an integer >= 1, got {n_channels!r}")
    if not _is_int(steps) or steps < 1:
        raise UserError(f"{nm('steps')}: expected an integer >= 1, got {steps!r}")
    if not _is_real(rate_hz) or not math.isfinite(rate_hz) or rate_hz < 0:
        raise UserError(f"{nm('rate_hz')}: expected a finite rate >= 0 Hz, got {rate_hz!r}")
    if not _is_real(dt_ms) or not math.isfinite(dt_ms) or dt_ms <= 0:
        raise UserError(f"{nm('dt_ms')}: expected a finite step > 0 ms, got {dt_ms!r}")
    p = spike_probability(rate_hz, dt_ms)
    if p > 1:
        raise UserError(
            f"{nm('rate_hz')} x {nm('dt_ms')}: spike probability per step "
            f"rate_hz * dt_ms / 1000 = {p:g} exceeds 1; lower the rate or the step"
        )
    if not isinstance(seed, np.random.Generator) and (not _is_int(seed) or seed < 0):
        raise UserError(
            f"{nm('seed')}: expected an integer >= 0 or a numpy Generator, got {seed!r}"
        )


def poisson_inputs(
    n_channels: int, rate_hz: float, steps: int, dt_ms: float, seed
) -> np.ndarray:
    """Bernoulli-per-step spike trains, bool array of shape ``(steps, n_channels)``.

    ``P(spike in a step) = rate_hz * dt_ms / 1000``, independent over steps and channels.
    ``seed`` is an int >= 0 or a :class:`numpy.random.Generator`; the same int gives the
    same array.
    """
    check_input_args(n_channels, rate_hz, steps, dt_ms, seed)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    p = spike_probability(rate_hz, dt_ms)
    return rng.random((int(steps), int(n_channels))) < p


def _check_inputs_dict(data: dict, where: str) -> dict:
    """Validate the contents of an inputs file; return them as plain Python/NumPy values."""
    missing = [k for k in INPUT_KEYS if k not in data]
    if missing:
        raise UserError(f"{where}: missing key '{missing[0]}' (expected keys {', '.join(INPUT_KEYS)})")
    spikes = np.asarray(data["spikes"])
    if spikes.ndim != 2 or spikes.shape[0] < 1 or spikes.shape[1] < 1:
        raise UserError(
            f"{where}: key 'spikes' must be a 2-D array (steps, n_channels), got shape "
            f"{spikes.shape}"
        )
    if spikes.dtype != np.bool_:
        if spikes.dtype.kind not in "iu" or not np.isin(spikes, (0, 1)).all():
            raise UserError(
                f"{where}: key 'spikes' must hold bool or 0/1 integers, got dtype {spikes.dtype}"
            )
        spikes = spikes.astype(bool)

    def scalar(key, kind):
        arr = np.asarray(data[key])
        if arr.ndim != 0 or arr.dtype.kind not in kind:
            raise UserError(f"{where}: key '{key}' must be a scalar number, got {arr!r}")
        return arr.item()

    dt_ms = float(scalar("dt_ms", "iuf"))
    rate_hz = float(scalar("rate_hz", "iuf"))
    seed = int(scalar("seed", "iu"))
    n_channels = int(scalar("n_channels", "iu"))
    if not math.isfinite(dt_ms) or dt_ms <= 0:
        raise UserError(f"{where}: key 'dt_ms' must be > 0 ms, got {dt_ms!r}")
    if not math.isfinite(rate_hz) or rate_hz < 0:
        raise UserError(f"{where}: key 'rate_hz' must be >= 0 Hz, got {rate_hz!r}")
    if seed < 0:
        raise UserError(f"{where}: key 'seed' must be >= 0, got {seed}")
    if n_channels != spikes.shape[1]:
        raise UserError(
            f"{where}: key 'n_channels' is {n_channels} but 'spikes' has {spikes.shape[1]} "
            "columns"
        )
    return {
        "spikes": spikes,
        "dt_ms": dt_ms,
        "rate_hz": rate_hz,
        "seed": seed,
        "n_channels": n_channels,
    }


def load_inputs(path: str | os.PathLike) -> dict:
    """Read and validate an inputs ``.npz``; bad files raise a one-line :class:`UserError`.

    Returns ``{"spikes": bool (steps, n_channels), "dt_ms": float, "rate_hz": float,
    "seed": int, "n_channels": int}``.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: inputs file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        msg = " ".join(str(exc).split())
        raise UserError(f"{path}: not a readable .npz inputs file ({msg})") from None
    return _check_inputs_dict(data, str(path))


def save_inputs(path: str | os.PathLike, spikes: np.ndarray, dt_ms: float, rate_hz: float,
                seed: int) -> None:
    """Validate, then write an inputs ``.npz`` atomically (nothing is written on bad input)."""
    from ..io import atomic_write

    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: output path is a directory, expected a .npz file name")
    spikes = np.asarray(spikes)
    data = {
        "spikes": spikes,
        "dt_ms": np.float64(dt_ms),
        "rate_hz": np.float64(rate_hz),
        "seed": np.int64(seed),
        "n_channels": np.int64(spikes.shape[1] if spikes.ndim == 2 else -1),
    }
    data = _check_inputs_dict(data, str(path))

    def _w(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **data)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, _w)
