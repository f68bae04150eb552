"""EnergyMeter: the estimate against CPU time, RAPL against a fake powercap tree."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest

from snnfit.fit.energy import DEFAULT_WATTS_PER_CORE, EnergyMeter, EnergyReading
from snnfit.errors import UserError


def _busy(seconds: float) -> None:
    t_end = time.process_time() + seconds
    x = 0
    while time.process_time() < t_end:
        x += 1


def _zone(root: Path, idx: int, energy_uj: int, max_uj: int | None = 2**32, name="package"):
    d = root / f"intel-rapl:{idx}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    if max_uj is not None:
        (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    if name is not None:
        (d / "name").write_text(f"{name}-{idx}\n" if name == "package" else f"{name}\n")
    return d


def _set(zone_dir: Path, energy_uj: int) -> None:
    (zone_dir / "energy_uj").write_text(f"{energy_uj}\n")


# -- estimate ------------------------------------------------------------------------------
def test_estimate_is_cpu_seconds_times_watts_per_core(tmp_path):
    watts = 7.5
    meter = EnergyMeter(watts_per_core=watts, powercap_root=tmp_path / "absent")
    cpu0 = time.process_time()
    with meter:
        _busy(0.2)
    cpu_outside = time.process_time() - cpu0
    r = meter.read()
    assert r.energy_source == "estimate"
    assert meter.fallback_reason and "absent" in meter.fallback_reason
    # cpu_s is this process's CPU time: at least the busy loop, at most what we measured around it
    assert 0.2 <= r.cpu_s <= cpu_outside + 1e-6
    assert r.joules == pytest.approx(r.cpu_s * watts, rel=1e-12)
    assert 0.2 * watts <= r.joules <= cpu_outside * watts + 1e-6
    assert r.wall_s > 0


def test_estimate_counts_cpu_of_worker_threads(tmp_path):
    # the workers spin until the process has used 0.2 s of CPU (process_time counts every
    # thread); the main thread only waits, so a main-thread-only clock would give ~0. Load on
    # the machine changes how long this takes, not what is asserted.
    def spin(cpu_end):
        x = 0
        while time.process_time() < cpu_end:
            x += 1

    with EnergyMeter(watts_per_core=10.0, prefer="estimate") as meter:
        cpu_end = time.process_time() + 0.2
        threads = [threading.Thread(target=spin, args=(cpu_end,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    r = meter.read()
    assert r.energy_source == "estimate"
    assert r.joules == pytest.approx(10.0 * r.cpu_s, rel=1e-12)
    assert r.cpu_s >= 0.2 - 1e-3


def test_prefer_estimate_ignores_rapl(tmp_path):
    _zone(tmp_path, 0, 1000)
    with EnergyMeter(prefer="estimate", powercap_root=tmp_path) as meter:
        _busy(0.02)
    assert meter.read().energy_source == "estimate"
    assert meter.fallback_reason is None


def test_default_watts_per_core_is_documented_figure():
    assert DEFAULT_WATTS_PER_CORE == pytest.approx(200.0 / 18.0)
    assert EnergyMeter().watts_per_core == DEFAULT_WATTS_PER_CORE


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "ten"])
def test_bad_watts_is_user_error(bad):
    with pytest.raises(UserError, match="watts_per_core"):
        EnergyMeter(watts_per_core=bad)


def test_bad_prefer_is_user_error():
    with pytest.raises(UserError, match="prefer"):
        EnergyMeter(prefer="gpu")


def test_read_before_start_raises():
    with pytest.raises(RuntimeError):
        EnergyMeter().read()


def test_read_is_monotone_and_stop_freezes(tmp_path):
    meter = EnergyMeter(watts_per_core=12.0, powercap_root=tmp_path / "none").start()
    readings = []
    for _ in range(50):
        _busy(0.001)
        readings.append(meter.read())
    for a, b in zip(readings, readings[1:]):
        assert b.joules >= a.joules and b.cpu_s >= a.cpu_s and b.wall_s >= a.wall_s
    assert readings[-1].joules > readings[0].joules
    final = meter.stop()
    _busy(0.02)
    assert meter.read() == final
    assert isinstance(final, EnergyReading)


def test_this_machine_never_fails():
    # whatever /sys/class/powercap holds here, the meter works and says where its joules came from
    with EnergyMeter() as meter:
        _busy(0.01)
    r = meter.read()
    assert r.energy_source in ("rapl", "estimate")
    assert r.joules >= 0
    if r.energy_source == "estimate":
        assert meter.fallback_reason


# -- RAPL against a fake powercap tree -----------------------------------------------------
def test_rapl_sums_package_zones(tmp_path):
    z0 = _zone(tmp_path, 0, 5_000_000)
    z1 = _zone(tmp_path, 1, 9_000_000)
    _zone(tmp_path, 2, 123, name="psys")  # platform zone contains the packages: must be skipped
    sub = tmp_path / "intel-rapl:0:0"  # core sub-zone: must be skipped
    sub.mkdir()
    (sub / "energy_uj").write_text("777\n")
    meter = EnergyMeter(powercap_root=tmp_path).start()
    assert meter.energy_source == "rapl" and meter.fallback_reason is None
    _set(z0, 6_500_000)  # +1.5 J
    _set(z1, 9_250_000)  # +0.25 J
    _set(tmp_path / "intel-rapl:2", 99_000_000)
    r = meter.read()
    assert r.energy_source == "rapl"
    assert r.joules == pytest.approx(1.75, abs=1e-12)
    assert r.cpu_s >= 0


def test_rapl_wrap_around(tmp_path):
    max_uj = 1_000_000_000
    z = _zone(tmp_path, 0, max_uj - 300_000, max_uj=max_uj)
    meter = EnergyMeter(powercap_root=tmp_path).start()
    _set(z, max_uj - 100_000)  # +0.2 J
    assert meter.read().joules == pytest.approx(0.2)
    _set(z, 400_000)  # wrapped: +0.1 J to the top, +0.4 J after
    assert meter.read().joules == pytest.approx(0.7)
    _set(z, 400_000)  # no change
    assert meter.read().joules == pytest.approx(0.7)
    _set(z, 1_400_000)
    r = meter.stop()
    assert r.joules == pytest.approx(1.7) and r.energy_source == "rapl"


def test_rapl_under_control_type_dir(tmp_path):
    # some kernels only show the zones under <root>/intel-rapl/
    z = _zone(tmp_path / "intel-rapl", 0, 10)
    meter = EnergyMeter(powercap_root=tmp_path).start()
    _set(z, 2_000_010)
    assert meter.read().joules == pytest.approx(2.0)
    assert meter.read().energy_source == "rapl"


def test_unreadable_rapl_falls_back(tmp_path):
    d = _zone(tmp_path, 0, 0)
    (d / "energy_uj").unlink()
    (d / "energy_uj").mkdir()  # unreadable even for root (as a 0400 file is for a user)
    with EnergyMeter(watts_per_core=5.0, prefer="rapl", powercap_root=tmp_path) as meter:
        _busy(0.02)
    r = meter.read()
    assert r.energy_source == "estimate"
    assert "energy_uj" in meter.fallback_reason
    assert r.joules == pytest.approx(5.0 * r.cpu_s)


def test_garbage_counter_falls_back(tmp_path):
    d = _zone(tmp_path, 0, 0)
    (d / "energy_uj").write_text("not a number\n")
    meter = EnergyMeter(powercap_root=tmp_path).start()
    assert meter.read().energy_source == "estimate"
    assert meter.fallback_reason


def test_no_package_zone_falls_back(tmp_path):
    _zone(tmp_path, 0, 0, name="psys")
    meter = EnergyMeter(powercap_root=tmp_path).start()
    assert meter.read().energy_source == "estimate"
    assert "package" in meter.fallback_reason


def test_rapl_failure_mid_run_keeps_joules_and_stays_monotone(tmp_path):
    z = _zone(tmp_path, 0, 0)
    meter = EnergyMeter(watts_per_core=3.0, powercap_root=tmp_path).start()
    _set(z, 2_000_000)
    r1 = meter.read()
    assert r1.energy_source == "rapl" and r1.joules == pytest.approx(2.0)
    (z / "energy_uj").unlink()
    _busy(0.05)
    r2 = meter.read()
    assert r2.energy_source == "estimate"
    assert "during the run" in meter.fallback_reason
    # the estimate covers the CPU time since the last good RAPL read
    assert r2.joules == pytest.approx(2.0 + 3.0 * (r2.cpu_s - r1.cpu_s), rel=1e-12)
    assert r2.joules >= r1.joules + 3.0 * 0.05 * 0.99
    _busy(0.01)
    assert meter.read().joules >= r2.joules


def test_decrease_without_max_range_falls_back(tmp_path):
    z = _zone(tmp_path, 0, 5_000_000, max_uj=None)
    meter = EnergyMeter(powercap_root=tmp_path).start()
    _set(z, 6_000_000)
    assert meter.read().joules == pytest.approx(1.0)
    _set(z, 10)
    r = meter.read()
    assert r.energy_source == "estimate" and r.joules >= 1.0
    assert "max_energy_range_uj" in meter.fallback_reason
