"""Ingestion: spike detection against a naive sample loop, stimulus extraction and the quality
flags on synthetic traces whose answer is known by construction, then the real fixtures:
the three raw SSCx cells reproduce their rows of shared/data/recordings/sscx_l5pc (extracted
independently), the two ABF files reproduce the counts per step of their README, and
``snnfit ingest`` -> ``snnfit make-target --recording`` keeps only ``ok`` sweeps."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from ingest_helpers import (ABF_DIR, CELLS, MANIFEST, RECORDINGS, needs_raw)
from snnfit import cli
from snnfit.data.epochs import Epoch
from snnfit.data.ingest import (BLOCK_MIN_MS, SWEEP_COLUMNS, detect_spikes,
                                extract_stimulus, ingest, ingest_sweep, table_texts)
from snnfit.data.quality import FLAGS, QUALITY_OK, quality_value, sweep_is_fittable
from snnfit.data.readers import RawSweep, read_recordings
from snnfit.data.targets import load_target
from snnfit.errors import UserError


def run_cli(argv, capsys):
    rc = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


# --------------------------------------------------------------------------- references


def naive_spikes(v, dt, thr, rearm):
    """The detector written as the sample loop of its definition."""
    times, peaks, armed, peak = [], [], True, None
    for k in range(1, len(v)):
        if armed and v[k - 1] < thr <= v[k]:
            times.append((k - 1 + (thr - v[k - 1]) / (v[k] - v[k - 1])) * dt)
            armed, peak = False, v[k]
        elif not armed:
            if v[k] < rearm:
                armed = True
                peaks.append(peak)
            else:
                peak = max(peak, v[k])
    if not armed:
        peaks.append(peak)
    return np.array(times), np.array(peaks)


def spike_train(dt, n, t_spikes, base, rest=-70.0, peak=30.0, rise_ms=0.5, fall_ms=1.5):
    """V: ``base`` (array or scalar) with triangular spikes (rise 200 mV/ms) at t_spikes."""
    v = np.full(n, rest, dtype=float) + 0.0
    v[:] = base if np.ndim(base) else base
    t = np.arange(n) * dt
    for ts in t_spikes:
        up = (t >= ts) & (t < ts + rise_ms)
        down = (t >= ts + rise_ms) & (t < ts + rise_ms + fall_ms)
        v[up] = np.maximum(v[up], v[up] + (peak - v[up]) * (t[up] - ts) / rise_ms)
        v[down] = peak + (v[down] - peak) * (t[down] - ts - rise_ms) / fall_ms
    return v


def raw(v, i, dt, sweep="1", cell="c"):
    return RawSweep(cell_id=cell, sweep=sweep, protocol="p", dt_ms=dt, v_mV=np.asarray(v, float),
                    i_pA=np.asarray(i, float), current_source="recorded", current_file="i",
                    voltage_file="v", where=f"x: sweep {sweep}", number=int(sweep))


def step_current(n, dt, holding, epochs, noise=0.0, seed=0):
    t = np.arange(n) * dt
    i = np.full(n, holding, dtype=float)
    for s, e, a in epochs:
        i[(t >= s) & (t < e)] += a
    if noise:
        i += np.random.default_rng(seed).normal(0.0, noise, n)
    return i


# --------------------------------------------------------------------------- detection


def test_detector_equals_naive_loop():
    rng = np.random.default_rng(3)
    dt = 0.1
    for trial in range(20):
        n = 5000
        t = np.arange(n) * dt
        # slow wave crossing -20 and -30 at random places, plus noise: many re-arm cases
        wave = 12 * np.sin(2 * np.pi * t / rng.uniform(5, 60)) + rng.normal(0, 3, n)
        for thr in (-20.0, 0.0):
            v = thr - 5.0 + wave
            rearm = thr - 10.0
            got_t, got_p = detect_spikes(v, dt, thr, rearm)
            ref_t, ref_p = naive_spikes(v, dt, thr, rearm)
            assert got_t.size == ref_t.size and got_t.size > 0
            np.testing.assert_allclose(got_t, ref_t, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(got_p, ref_p)


def test_detector_interpolates_and_rearms():
    dt = 0.25
    v = np.array([-70, -30, -10, 20, -15, -25, 5, -35, -5, -70], dtype=float)
    t, p = detect_spikes(v, dt)  # -20 mV, re-armed below -30 mV
    # first crossing between samples 1 (-30) and 2 (-10): 1 + 10/20 = 1.5 samples;
    # sample 6 (5 mV) is not a spike (V stayed above -30); sample 8 is (re-armed at 7)
    np.testing.assert_allclose(t, [1.5 * dt, (7 + 15 / 30) * dt])
    np.testing.assert_array_equal(p, [20.0, -5.0])
    t0, _ = detect_spikes(v, dt, 0.0, -10.0)  # 0 mV re-armed below -10 mV: both peaks count
    np.testing.assert_allclose(t0, [(2 + 10 / 30) * dt, (5 + 25 / 30) * dt])


# --------------------------------------------------------------------------- stimulus


@pytest.mark.parametrize("noise", [0.0, 4.0])
def test_stimulus_epochs_recovered(noise):
    dt, n = 0.25, 16000  # 4 s
    epochs = [(300.0, 800.0, -100.0), (1300.0, 1800.0, -60.0), (1800.0, 3300.0, 250.0)]
    i = step_current(n, dt, -50.0, epochs, noise=noise, seed=1)
    st = extract_stimulus(i, dt, "x")
    assert st.edge_method == ("command" if noise == 0 else "detected")
    assert st.piecewise_constant
    assert len(st.epochs) == 3
    for got, (s, e, a) in zip(st.epochs, epochs):
        assert abs(got.start_ms - s) <= dt and abs(got.end_ms - e) <= dt
        assert abs(got.amplitude_pA - a) <= (0.5 if noise else 1e-9)
    assert abs(st.holding_pA + 50.0) <= (0.5 if noise else 1e-9)
    assert st.main == 2  # the depolarising step, not the longer-ago prepulses


def test_main_step_rules():
    dt, n = 0.1, 20000
    # two equal depolarising steps: the first is the main one
    st = extract_stimulus(step_current(n, dt, 0, [(100, 600, 50), (1100, 1600, -100),
                                                   (1600, 1900, 50)]), dt, "x")
    assert st.main == 0 and [e.amplitude_pA for e in st.epochs] == [50, -100, 50]
    # none depolarising: the most hyperpolarising, first of equals
    st = extract_stimulus(step_current(n, dt, 0, [(100, 600, -75), (1100, 1600, -100)]), dt, "x")
    assert st.main == 1


def test_stimulus_not_piecewise_constant_and_no_step():
    dt, n = 0.25, 12000
    t = np.arange(n) * dt
    ramp = np.where((t > 500) & (t < 2500), (t - 500) * 0.2, 0.0)  # 0 to 400 pA in 2 s
    for noise in (0.0, 3.0):
        i = ramp + np.random.default_rng(2).normal(0, noise, n) if noise else ramp
        st = extract_stimulus(i, dt, "x")
        assert not st.piecewise_constant
    with pytest.raises(UserError, match="x: the stimulus has no step"):
        extract_stimulus(np.full(n, -30.0), dt, "x")
    with pytest.raises(UserError, match="no step"):
        extract_stimulus(np.random.default_rng(0).normal(-30.0, 3.0, n), dt, "x")


# --------------------------------------------------------------------------- quality


def test_quality_flags_on_known_traces():
    dt, n = 0.25, 12000  # 3 s, step 700-2700 ms
    i = step_current(n, dt, -50.0, [(700.0, 2700.0, 300.0)])
    base = np.where((np.arange(n) * dt >= 700) & (np.arange(n) * dt < 2700), -55.0, -70.0)
    clean = spike_train(dt, n, [800, 1100, 1500, 2000, 2500], base)
    assert ingest_sweep(raw(clean, i, dt)).row["quality"] == QUALITY_OK
    # a spike at rest, before the step
    early = spike_train(dt, n, [300, 800, 1100, 1500, 2000, 2500], base)
    assert ingest_sweep(raw(early, i, dt)).row["quality"] == "spikes_outside_stim"
    # ... and one just after the step ends (within the grace) is still in the stimulus
    late = spike_train(dt, n, [800, 1100, 2702], base)
    assert ingest_sweep(raw(late, i, dt)).row["quality"] == QUALITY_OK
    # spikes riding on a plateau: between spikes V stays at -25 mV, above the re-arm level
    t = np.arange(n) * dt
    plateau = np.where((t >= 1000) & (t < 2700), -25.0, base)
    riding = spike_train(dt, n, [800] + list(range(1050, 2700, 50)), plateau)
    tab = ingest_sweep(raw(riding, i, dt))
    assert tab.row["quality"] == "plateau"
    assert tab.row["n_spikes_thr0mV"] == 34 and tab.row["n_spikes_thr-20mV"] == 2
    # depolarisation block: fires, then sits at -35 mV (above the -55 mV onsets) silently
    block_base = np.where((t >= 1300) & (t < 2700), -35.0, base)
    blocked = spike_train(dt, n, [800, 1000, 1200], block_base)
    assert ingest_sweep(raw(blocked, i, dt)).row["quality"] == "depolarisation_block"
    # the same silence a little shorter than BLOCK_MIN_MS is not a block
    short_base = np.where((t >= 1300) & (t < 1300 + BLOCK_MIN_MS - 5), -35.0, base)
    short = spike_train(dt, n, [800, 1000, 1200, 1500, 2000], short_base)
    assert ingest_sweep(raw(short, i, dt)).row["quality"] == QUALITY_OK
    # a current that is not piecewise constant (a ramp on top of the step)
    ramp = i + np.where((t >= 700) & (t < 2700), (t - 700) * 0.1, 0.0)
    q = ingest_sweep(raw(clean, ramp, dt)).row["quality"]
    assert q == "not_piecewise_constant"
    # several flags at once, in FLAGS order
    both = ingest_sweep(raw(early, ramp, dt)).row["quality"]
    assert both == "spikes_outside_stim;not_piecewise_constant"


def test_quality_rule_is_one_place():
    assert sweep_is_fittable({"quality": "ok"}) and sweep_is_fittable({})
    assert sweep_is_fittable(None) and sweep_is_fittable("") and sweep_is_fittable(" ok ")
    for flag in FLAGS:
        assert not sweep_is_fittable(flag) and not sweep_is_fittable({"quality": flag})
    assert quality_value([]) == "ok"
    assert quality_value(["not_piecewise_constant", "plateau"]) == \
        "plateau;not_piecewise_constant"
    with pytest.raises(ValueError):
        quality_value(["bad"])


def test_ljp_never_before_detection():
    dt, n = 0.25, 12000
    t = np.arange(n) * dt
    i = step_current(n, dt, 0.0, [(700.0, 2700.0, 200.0)])
    # small late spikes peaking at -10 mV: above -20 mV as recorded, below it after -14 mV
    v = spike_train(dt, n, [800, 1000, 1200], np.where((t >= 700) & (t < 2700), -50.0, -70.0),
                    peak=-10.0)
    plain = ingest_sweep(raw(v, i, dt)).row
    corr = ingest_sweep(raw(v, i, dt), ljp_mV=14.0).row
    assert plain["n_spikes_thr-20mV"] == corr["n_spikes_thr-20mV"] == 3
    assert detect_spikes(v - 14.0, dt)[0].size == 0  # what correcting first would do
    assert corr["v_pre_median_mV"] == pytest.approx(plain["v_pre_median_mV"] - 14.0)
    assert corr["min_spike_peak_mV"] == pytest.approx(plain["min_spike_peak_mV"] - 14.0)
    assert corr["ljp_mV"] == 14.0 and plain["ljp_mV"] == 0.0


# --------------------------------------------------------------------------- real fixtures


def _reference():
    sweeps = {(r["cell_id"], r["sweep"]): r
              for r in csv.DictReader(open(RECORDINGS / "sweeps.csv"))
              if r["cell_id"] in CELLS}
    spikes = defaultdict(list)
    for r in csv.DictReader(open(RECORDINGS / "spikes.csv")):
        if r["cell_id"] in CELLS:
            spikes[(r["cell_id"], r["sweep"])].append(float(r["spike_time_ms"]))
    return sweeps, spikes


@needs_raw
def test_sscx_fixture_cells_reproduce_shared_rows():
    ref_sweeps, ref_spikes = _reference()
    tables = ingest(read_recordings([MANIFEST], notice=open("/dev/null", "w")))
    got = {(st.row["cell_id"], st.row["sweep"]): st for st in tables.sweeps}
    assert set(got) == set(ref_sweeps)  # every sweep listed, also those without spikes
    figures = {}
    for cell in CELLS:
        n_ok = n_exact = 0
        dt_max = amp_max = 0.0
        for key, ref in ref_sweeps.items():
            if key[0] != cell:
                continue
            st = got[key]
            row = st.row
            assert row["quality"] == ref["quality"], key  # no new flag fires on these cells
            for col in ("n_spikes_thr0mV", "n_spikes_thr-20mV", "n_spikes_in_stim",
                        "repeat", "step_index"):
                assert str(row[col]) == ref[col], (key, col)
            for col in ("protocol", "edge_method", "current_file", "voltage_file"):
                assert row[col] == ref[col], (key, col)
            for col in ("stim_start_ms", "stim_end_ms", "dt_ms", "sweep_duration_ms"):
                assert row[col] == pytest.approx(float(ref[col]), abs=1e-9), (key, col)
            assert row["holding_pA"] == pytest.approx(float(ref["holding_pA"]), abs=0.0051)
            assert row["v_pre_median_mV"] == pytest.approx(float(ref["v_pre_median_mV"]),
                                                           abs=0.0051)
            amp_rel = abs(row["amplitude_pA"] / float(ref["amplitude_pA"]) - 1)
            assert amp_rel <= 0.01, key
            amp_max = max(amp_max, amp_rel)
            if ref["quality"] != "ok":
                continue
            n_ok += 1
            times = st.spike_times_ms
            want = np.array(ref_spikes.get(key, []))
            if times.size == want.size:
                n_exact += 1
                if times.size:
                    assert ref["min_spike_peak_mV"] != ""
                    assert row["min_spike_peak_mV"] == pytest.approx(
                        float(ref["min_spike_peak_mV"]), abs=0.0051)
                    dt_max = max(dt_max, float(np.max(np.abs(times - want))))
        assert n_ok > 0 and n_exact == n_ok, (cell, n_exact, n_ok)
        assert dt_max <= 0.25, cell
        figures[cell] = (n_exact, n_ok, dt_max, amp_max)
    print("\nSSCx reproduction (exact counts / ok sweeps, max |dt| ms, max rel. amplitude):")
    for cell, f in figures.items():
        print(f"  {cell}: {f[0]}/{f[1]}, {f[2]:.4f} ms, {f[3]:.2e}")


# README counts of the ABF fixtures (shared/data/raw/pyabf/README.md)
FSI_STEP1 = [0, 0, 0, 0, 4, 13, 20, 28, 33, 40, 45, 49, 54, 57, 60, 62, 64]
FSI_STEP2 = [0, 0, 0, 0, 0, 5, 11, 15, 20, 25, 31, 33, 37, 42, 45, 52, 53]
FSI_SWEEP = [2, 3, 2, 4, 16, 28, 37, 48, 55, 68, 76, 83, 91, 99, 105, 114, 117]
FSI_OUTSIDE = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11}
KL_TEST = [0] * 7 + [2, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7]


def _count(times, start, end):
    return int(np.count_nonzero((times >= start) & (times < end)))


@needs_raw
def test_abf_fsi_counts_per_step():
    tables = ingest(read_recordings([ABF_DIR / "2019_07_24_0055_fsi.abf"]))
    assert len(tables.sweeps) == 17
    for k, st in enumerate(tables.sweeps):
        r, t = st.row, st.spike_times_ms
        assert r["sweep"] == str(k) and r["dt_ms"] == pytest.approx(0.05)
        assert r["sweep_duration_ms"] == pytest.approx(3000.0)
        assert r["holding_pA"] == 0.0 and r["edge_method"] == "command"
        assert _count(t, 146.85, 646.85) == FSI_STEP1[k]
        assert _count(t, 1646.85, 2146.85) == FSI_STEP2[k]
        assert t.size == FSI_SWEEP[k] == r["n_spikes_thr-20mV"] == r["n_spikes_thr0mV"]
        assert (r["quality"] == "spikes_outside_stim") == (k in FSI_OUTSIDE)
        amp = -100.0 + 25.0 * k
        eps = [(e.start_ms, e.end_ms, e.amplitude_pA) for e in st.epochs]
        if k == 0:  # both steps -100 pA: the prepulse and step 2 are one 1000 ms epoch
            want = [(146.85, 646.85, -100.0), (1146.85, 2146.85, -100.0)]
        elif k == 4:  # 0 pA steps: only the prepulse shows
            want = [(1146.85, 1646.85, -100.0)]
        else:
            want = [(146.85, 646.85, amp), (1146.85, 1646.85, -100.0),
                    (1646.85, 2146.85, amp)]
        np.testing.assert_allclose(np.array(eps), np.array(want), atol=1e-9)
        main = st.epochs[st.main]
        assert (r["stim_start_ms"], r["stim_end_ms"], r["amplitude_pA"]) == \
            (main.start_ms, main.end_ms, main.amplitude_pA)
        if amp > 0:
            assert r["stim_start_ms"] == pytest.approx(146.85)
            assert r["n_spikes_in_stim"] == FSI_STEP1[k]


@needs_raw
def test_abf_kl_counts_per_step():
    tables = ingest(read_recordings([ABF_DIR / "18711001.abf"]))
    assert len(tables.sweeps) == 30
    for k, st in enumerate(tables.sweeps):
        r, t = st.row, st.spike_times_ms
        assert _count(t, 823.4, 1323.4) == KL_TEST[k] == t.size
        assert r["quality"] == "ok" and r["sweep_duration_ms"] == pytest.approx(1500.0)
        pre = Epoch(23.4, 323.4, -100.0)
        assert st.epochs[0].start_ms == pytest.approx(pre.start_ms)
        assert st.epochs[0].end_ms == pytest.approx(pre.end_ms)
        assert st.epochs[0].amplitude_pA == -100.0
        if k == 0:
            assert len(st.epochs) == 1 and st.main == 0
        else:
            assert len(st.epochs) == 2 and st.main == 1
            assert r["amplitude_pA"] == 10.0 * k
            assert r["stim_start_ms"] == pytest.approx(823.4)
            assert r["stim_end_ms"] == pytest.approx(1323.4)
            assert r["n_spikes_in_stim"] == KL_TEST[k]


# --------------------------------------------------------------------------- command line


@needs_raw
def test_cli_ingest_then_make_target(tmp_path, capsys):
    out = tmp_path / "ing"
    rc, stdout, err = run_cli(["ingest", MANIFEST, "--out", out], capsys)
    assert rc == 0, err
    assert "73 sweep(s), 64 ok" in stdout
    files = sorted(p.name for p in out.iterdir())
    assert files == ["epochs.csv", "ingest.json", "spikes.csv", "sweeps.csv"]
    header = (out / "sweeps.csv").read_text().splitlines()[0].split(",")
    ref_header = (RECORDINGS / "sweeps.csv").read_text().splitlines()[0].split(",")
    assert header[:len(ref_header)] == ref_header and header == list(SWEEP_COLUMNS)
    assert (out / "spikes.csv").read_text().splitlines()[0] == \
        (RECORDINGS / "spikes.csv").read_text().splitlines()[0]
    prov = json.loads((out / "ingest.json").read_text())
    assert prov["n_sweeps"] == 73 and prov["quality"] == {"ok": 64, "plateau": 9}
    assert prov["conventions"]["threshold_mV"] == -20.0
    assert prov["conventions"]["rearm_mV"] == -30.0
    # the cell with plateau sweeps: make-target keeps the ok ones, one notice per other
    tgt = tmp_path / "t.json"
    rc, stdout, err = run_cli(["make-target", "--recording", out / "spikes.csv", "--cell",
                               "C070109A4-C1", "--out", tgt], capsys)
    assert rc == 0, err
    left_out = [ln for ln in err.splitlines() if "left out" in ln]
    assert len(left_out) == 9 and all("quality plateau" in ln for ln in left_out)
    t = load_target(tgt)
    ref_sweeps, ref_spikes = _reference()
    ok = [k[1] for k, r in ref_sweeps.items() if k[0] == "C070109A4-C1" and r["quality"] == "ok"]
    assert sorted(t.ids, key=int) == sorted(ok, key=int)
    for s in t.sweeps:
        ref = ref_sweeps[("C070109A4-C1", s.id)]
        assert s.protocol.delay_ms == float(ref["stim_start_ms"])
        assert s.protocol.t_stop_ms == 3000.0 and s.protocol.dt_ms == 0.25
        assert s.protocol.holding_pA == pytest.approx(float(ref["holding_pA"]), abs=0.0051)
        np.testing.assert_allclose(s.spike_times_ms, ref_spikes[("C070109A4-C1", s.id)],
                                   atol=0.0011)
    # a single plateau sweep asked for by name: left out, nothing left -> error, exit 2
    rc, _, err = run_cli(["make-target", "--recording", out / "spikes.csv", "--cell",
                          "C070109A4-C1", "--sweep", "113", "--out", tmp_path / "u.json"],
                         capsys)
    assert rc == 2 and "no sweep of quality 'ok'" in err.splitlines()[-1]
    assert not (tmp_path / "u.json").exists()


@needs_raw
def test_cli_abf_ingest_epochs_and_notice(tmp_path, capsys):
    out = tmp_path / "fsi"
    rc, _, err = run_cli(["ingest", ABF_DIR / "2019_07_24_0055_fsi.abf", "--out", out], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader(open(out / "epochs.csv")))
    assert [r["main"] for r in rows if r["sweep"] == "10"] == ["1", "0", "0"]
    sweeps = list(csv.DictReader(open(out / "sweeps.csv")))
    assert [r["n_epochs"] for r in sweeps][:5] == ["2", "3", "3", "3", "1"]
    assert {r["current_source"] for r in sweeps} == {"command"}
    assert sweeps[10]["current_file"] == "2019_07_24_0055_fsi.abf#Cmd 0 (epoch table)"
    rc, out_, err = run_cli(["make-target", "--recording", out / "spikes.csv", "--out",
                             tmp_path / "t.json"], capsys)
    assert rc == 0, err
    assert "6 sweep(s), 602 spike(s), 6 with extra stimulus epochs" in out_
    t = load_target(tmp_path / "t.json")
    assert t.ids == ["10", "12", "13", "14", "15", "16"]
    p = t.sweeps[0].protocol
    assert p.delay_ms == pytest.approx(146.85) and p.stim_end_ms == pytest.approx(646.85)
    assert t.sweeps[0].amplitude_pA == 150.0
    assert len(t.sweeps[0].spike_times_ms) == FSI_SWEEP[10]
    # the prepulse and step 2 (same amplitude as step 1) are the protocol's extra epochs
    assert [(e.start_ms, e.end_ms, e.amplitude_pA) for e in p.epochs] == \
        [(1146.85, 1646.85, -100.0), (1646.85, 2146.85, 150.0)]


@needs_raw
def test_cli_ljp_and_threshold_options(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(["ingest", MANIFEST, "--out", a], capsys)[0] == 0
    rc, _, err = run_cli(["ingest", MANIFEST, "--out", b, "--ljp-mV", "manifest"], capsys)
    assert rc == 0, err
    ra = list(csv.DictReader(open(a / "sweeps.csv")))
    rb = list(csv.DictReader(open(b / "sweeps.csv")))
    for x, y in zip(ra, rb):
        assert y["ljp_mV"] == "14.0" and x["ljp_mV"] == "0.0"
        assert float(y["v_pre_median_mV"]) == pytest.approx(float(x["v_pre_median_mV"]) - 14,
                                                            abs=0.011)
        assert x["n_spikes_thr-20mV"] == y["n_spikes_thr-20mV"]
    assert (a / "spikes.csv").read_text() == (b / "spikes.csv").read_text()
    c = tmp_path / "c"
    rc, _, err = run_cli(["ingest", ABF_DIR / "18711001.abf", "--out", c, "--threshold-mV",
                          "-10"], capsys)
    assert rc == 0, err
    rows = list(csv.DictReader(open(c / "sweeps.csv")))
    assert "n_spikes_thr-20mV" not in rows[0]
    assert [int(r["n_spikes_thr-10mV"]) for r in rows] == KL_TEST
    rc, _, err = run_cli(["ingest", ABF_DIR / "18711001.abf", "--out", tmp_path / "d",
                          "--threshold-mV", "0"], capsys)
    assert rc == 2 and "plateau detector" in err and not (tmp_path / "d").exists()


def test_table_texts_every_sweep_listed():
    dt, n = 0.25, 4000
    i = step_current(n, dt, 0.0, [(100.0, 800.0, 100.0)])
    silent = raw(np.full(n, -70.0), i, dt, sweep="1")
    firing = raw(spike_train(dt, n, [200.0, 400.0], -60.0), i, dt, sweep="2")
    texts = table_texts(ingest([silent, firing]))
    sweeps = list(csv.DictReader(texts["sweeps.csv"].splitlines()))
    spikes = list(csv.DictReader(texts["spikes.csv"].splitlines()))
    assert [r["sweep"] for r in sweeps] == ["1", "2"]
    assert sweeps[0]["min_spike_peak_mV"] == "" and sweeps[0]["n_spikes_thr-20mV"] == "0"
    assert [r["sweep"] for r in spikes] == ["2", "2"]
    assert [r["repeat"] for r in sweeps] == ["0", "0"]
    assert [r["step_index"] for r in sweeps] == ["0", "1"]


def test_quality_rule_in_recording_sweeps_and_make_target(tmp_path, capsys):
    """A hand-written recording: c1 has an ok, a plateau and an empty-quality sweep, c2 only
    a flagged one. recording_sweeps (the study's list) and make-target keep the same sweeps."""
    from snnfit.data.targets import recording_sweeps

    (tmp_path / "spikes.csv").write_text(
        "cell_id,sweep,amplitude_pA,stim_start_ms,stim_end_ms,spike_time_ms\n"
        "c1,1,100,50,550,60\nc1,2,200,50,550,70\nc1,3,300,50,550,80\nc2,9,100,50,550,90\n")
    head = "cell_id,sweep,amplitude_pA,holding_pA,stim_start_ms,stim_end_ms," \
           "sweep_duration_ms,dt_ms,quality\n"
    (tmp_path / "sweeps.csv").write_text(
        head + "c1,1,100,0,50,550,700,0.1,ok\nc1,2,200,0,50,550,700,0.1,plateau\n"
        "c1,3,300,0,50,550,700,0.1,\nc2,9,100,0,50,550,700,0.1,"
        "spikes_outside_stim;depolarisation_block\n")
    assert recording_sweeps(tmp_path / "spikes.csv") == {"c1": ["1", "3"]}
    rc, _, err = run_cli(["make-target", "--recording", tmp_path / "spikes.csv", "--cell", "c1",
                          "--out", tmp_path / "t.json"], capsys)
    assert rc == 0 and load_target(tmp_path / "t.json").ids == ["1", "3"]
    assert err.count("left out") == 1 and "cell c1 sweep 2 left out (quality plateau" in err
    rc, _, err = run_cli(["make-target", "--recording", tmp_path / "spikes.csv", "--cell", "c2",
                          "--out", tmp_path / "u.json"], capsys)
    assert rc == 2 and not (tmp_path / "u.json").exists()
    assert "quality spikes_outside_stim;depolarisation_block" in err
    assert err.strip().splitlines()[-1].endswith("cell c2: no sweep of quality 'ok' among 9")
    # without the column every sweep is ok
    (tmp_path / "sweeps.csv").write_text(
        "\n".join(",".join(r.split(",")[:8]) for r in
                  (tmp_path / "sweeps.csv").read_text().splitlines()) + "\n")
    assert recording_sweeps(tmp_path / "spikes.csv") == {"c1": ["1", "2", "3"], "c2": ["9"]}
