"""Energy of a fit: RAPL package counters where readable, else CPU time x watts per core.

:class:`EnergyMeter` is a context manager (or ``start()`` / ``read()`` / ``stop()``); every
:meth:`EnergyMeter.read` returns an :class:`EnergyReading` cumulative since ``start()``.

Two sources (``EnergyReading.energy_source``):

``"rapl"``
    The Linux powercap files ``<root>/intel-rapl:<N>/energy_uj`` of every *package* zone
    (``name`` starting with ``package``; ``psys`` and sub-zones are skipped so nothing is
    counted twice), summed over sockets. A counter that decreases has wrapped: the increment
    is ``max_energy_range_uj - last + now``. RAPL measures the **whole package**: every
    process on every core of the socket, plus the uncore. Concurrent jobs therefore inflate
    the figure; it is an upper bound on this process's share. ``read()`` must be called at
    least once per wrap period (``max_energy_range_uj`` / package power: typically
    2.6e5 J / 100 W, about 45 minutes) or a whole wrap is lost.

``"estimate"``
    ``joules = cpu_s * watts_per_core``, where ``cpu_s`` is the user + system CPU time of
    this process summed over all its threads (:func:`time.process_time`). CPU seconds
    already sum over cores (two busy threads for 1 s wall give 2 CPU s), so watts *per core*
    multiplies CPU seconds directly. Only this process's CPU time is attributed; idle,
    uncore, DRAM and other processes are not.

Default ``watts_per_core`` = :data:`DEFAULT_WATTS_PER_CORE` = 200 W / 18 cores = 11.1 W per
busy core: the thermal design power of an Intel Xeon Gold 6154 (Skylake-SP, 18 cores, 200 W
TDP, Intel ARK) divided by its core count, i.e. a typical HPC server socket running all cores
flat out. It is an order-of-magnitude figure, not a measurement of this machine; pass the
figure for your CPU (its TDP / core count) when you know it.

Detection happens once per meter, in ``start()``. A machine without RAPL (no
``/sys/class/powercap``, unreadable ``energy_uj`` -- root-only since Linux 5.10 -- or a
parse error) falls back to the estimate silently and records why in
:attr:`EnergyMeter.fallback_reason`; it never raises and never slows a fit. If RAPL fails
*during* a run, the meter keeps the joules measured up to the last good read, estimates
the CPU time from there on (readings stay monotone) and reports ``energy_source="estimate"`` from then on.

pyRAPL is not used: it reads the same files at a hard-coded root, does not handle counter
wrap-around, and its DataFrame output breaks with pandas >= 2.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

#: Intel Xeon Gold 6154: 200 W TDP / 18 cores (Intel ARK) = 11.1 W per busy core.
DEFAULT_WATTS_PER_CORE = 200.0 / 18.0

#: The Linux powercap interface (sysfs); the only hardware path this module reads.
POWERCAP_ROOT = "/sys/class/powercap"

_PREFER = ("auto", "rapl", "estimate")
_TOP_ZONE = re.compile(r"^intel-rapl:\d+$")


@dataclass(frozen=True)
class EnergyReading:
    """Cumulative since ``start()``: ``joules`` (J), ``cpu_s`` (process CPU s, all threads),
    ``wall_s`` (s), ``energy_source`` (``"rapl"`` or ``"estimate"``)."""

    joules: float
    cpu_s: float
    wall_s: float
    energy_source: str


@dataclass
class _Zone:
    energy_file: Path
    max_range_uj: int | None
    last_uj: int


def _read_int(path: Path) -> int:
    with open(path, "rb") as fh:
        return int(fh.read().strip())


def _find_zones(root: Path) -> tuple[list[_Zone], str | None]:
    """Package zones under ``root`` with a first counter reading, or ``([], reason)``."""
    if not root.is_dir():
        return [], f"no powercap directory at {root}"
    dirs = [p for p in root.iterdir() if _TOP_ZONE.match(p.name)]
    if not dirs and (root / "intel-rapl").is_dir():
        dirs = [p for p in (root / "intel-rapl").iterdir() if _TOP_ZONE.match(p.name)]
    if not dirs:
        return [], f"no intel-rapl zones under {root}"
    zones = []
    for d in sorted(dirs, key=lambda p: p.name):
        name_file = d / "name"
        try:
            name = name_file.read_text().strip() if name_file.exists() else "package"
        except OSError as exc:
            return [], f"cannot read {name_file}: {exc}"
        if not name.startswith("package"):
            continue  # psys/dram: psys contains the packages, counting it would double
        try:
            first = _read_int(d / "energy_uj")
        except (OSError, ValueError) as exc:
            return [], f"cannot read {d / 'energy_uj'}: {exc}"
        try:
            max_range = _read_int(d / "max_energy_range_uj")
            if max_range <= 0:
                max_range = None
        except (OSError, ValueError):
            max_range = None
        zones.append(_Zone(d / "energy_uj", max_range, first))
    if not zones:
        return [], f"no package zones under {root}"
    return zones, None


class EnergyMeter:
    """Measure the energy of a block of work; see the module docstring for the two sources.

    ``prefer``: ``"auto"`` (RAPL if readable, else estimate), ``"rapl"`` (same, but the
    intent is recorded: a fallback is still silent, see ``fallback_reason``) or
    ``"estimate"`` (skip RAPL). ``watts_per_core`` (W per busy core) is used by the
    estimate. ``powercap_root`` is injectable for tests; the default is the sysfs path.
    """

    def __init__(
        self,
        watts_per_core: float = DEFAULT_WATTS_PER_CORE,
        prefer: str = "auto",
        powercap_root: str | Path = POWERCAP_ROOT,
    ) -> None:
        try:
            watts = float(watts_per_core)
        except (TypeError, ValueError):
            watts = math.nan
        if not math.isfinite(watts) or watts < 0:
            raise UserError(
                f"watts_per_core: expected a finite number >= 0 (W per busy core), "
                f"got {watts_per_core!r}"
            )
        if prefer not in _PREFER:
            raise UserError(f"prefer: expected one of {', '.join(_PREFER)}, got {prefer!r}")
        self.watts_per_core = watts
        self.prefer = prefer
        self.powercap_root = Path(powercap_root)
        self.fallback_reason: str | None = None
        self._zones: list[_Zone] = []
        self._rapl_uj = 0  # RAPL micro-joules accumulated while RAPL worked
        self._est_from_cpu_s: float | None = None  # CPU s at which the estimate took over
        self._last_rapl_cpu_s = 0.0  # CPU s at the last good RAPL poll
        self._t0_cpu = self._t0_wall = None
        self._final: EnergyReading | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "EnergyMeter":
        """Detect the source (once) and zero the counters."""
        self._final = None
        self._rapl_uj = 0
        self._last_rapl_cpu_s = 0.0
        self.fallback_reason = None
        if self.prefer == "estimate":
            self._zones, self._est_from_cpu_s = [], 0.0
        else:
            try:
                zones, reason = _find_zones(self.powercap_root)
            except Exception as exc:  # never let detection fail a fit
                zones, reason = [], f"RAPL detection failed: {exc!r}"
            self._zones = zones
            self.fallback_reason = reason
            self._est_from_cpu_s = None if zones else 0.0
        self._t0_cpu = time.process_time()
        self._t0_wall = time.perf_counter()
        return self

    def read(self) -> EnergyReading:
        """Cumulative reading since ``start()``; cheap, monotone, callable any number of times."""
        if self._final is not None:
            return self._final
        if self._t0_cpu is None:
            raise RuntimeError("EnergyMeter.read() called before start()")
        cpu_s = time.process_time() - self._t0_cpu
        wall_s = time.perf_counter() - self._t0_wall
        if self._est_from_cpu_s is None:
            try:
                self._poll_rapl()
                self._last_rapl_cpu_s = cpu_s
            except Exception as exc:  # counter vanished or broke mid-run: estimate from the
                self.fallback_reason = f"RAPL read failed during the run: {exc!r}"
                self._zones = []  # last good poll on
                self._est_from_cpu_s = self._last_rapl_cpu_s
        if self._est_from_cpu_s is None:
            return EnergyReading(self._rapl_uj * 1e-6, cpu_s, wall_s, "rapl")
        joules = self._rapl_uj * 1e-6 + (cpu_s - self._est_from_cpu_s) * self.watts_per_core
        return EnergyReading(joules, cpu_s, wall_s, "estimate")

    def stop(self) -> EnergyReading:
        """Take the final reading; later ``read()`` calls return it unchanged."""
        final = self.read()
        self._final = final
        return final

    def __enter__(self) -> "EnergyMeter":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self._final is None and self._t0_cpu is not None:
            self.stop()

    @property
    def energy_source(self) -> str:
        """``"rapl"`` or ``"estimate"`` (valid after ``start()``)."""
        return "rapl" if self._est_from_cpu_s is None and self._t0_cpu is not None else "estimate"

    # -- RAPL ------------------------------------------------------------------------------
    def _poll_rapl(self) -> None:
        """Add every zone's increment since the last poll to ``_rapl_uj``, handling wrap.

        All zones are read before any state changes, so a failing zone leaves no partial sum.
        """
        nows, total = [], 0
        for zone in self._zones:
            now = _read_int(zone.energy_file)
            if now >= zone.last_uj:
                total += now - zone.last_uj
            elif zone.max_range_uj is not None:
                total += zone.max_range_uj - zone.last_uj + now
            else:
                raise ValueError(
                    f"{zone.energy_file} decreased and max_energy_range_uj is unreadable"
                )
            nows.append(now)
        for zone, now in zip(self._zones, nows):
            zone.last_uj = now
        self._rapl_uj += total
