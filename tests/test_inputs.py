"""Poisson inputs: determinism, rate against a binomial bound, file round trip, CLI errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnfit.cli import main
from snnfit.errors import UserError
from snnfit.data.inputs import load_inputs, poisson_inputs, save_inputs


def test_same_seed_same_array_different_seed_differs():
    a = poisson_inputs(30, 40.0, 500, 1.0, seed=7)
    b = poisson_inputs(30, 40.0, 500, 1.0, seed=7)
    c = poisson_inputs(30, 40.0, 500, 1.0, seed=8)
    assert a.shape == (500, 30) and a.dtype == np.bool_
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_generator_seed_is_accepted_and_reproducible():
    a = poisson_inputs(5, 100.0, 200, 0.5, seed=np.random.default_rng(3))
    b = poisson_inputs(5, 100.0, 200, 0.5, seed=np.random.default_rng(3))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "n_channels,rate_hz,steps,dt_ms",
    [
        (50, 40.0, 1000, 1.0),
        (20, 150.0, 2000, 0.1),
        (150, 5.0, 400, 2.0),
        (3, 1000.0, 100, 1.0),
        # 1e6 trials: sigma ~ 0.5 % of the mean, so a 5 % error in p fails by ~10 sigma
        (200, 40.0, 5000, 1.0),
    ],
)
def test_empirical_rate_within_binomial_5_sigma(n_channels, rate_hz, steps, dt_ms):
    p = rate_hz * dt_ms / 1000.0
    n = n_channels * steps
    spikes = poisson_inputs(n_channels, rate_hz, steps, dt_ms, seed=11)
    k = int(spikes.sum())
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(k - n * p) <= 5 * sigma + 1e-9
    if p == 1.0:
        assert spikes.all()
    # each channel is a separate train: per-channel counts spread like Binomial(steps, p)
    per_channel = spikes.sum(axis=0)
    if 0 < p < 1 and n_channels >= 20:
        var = per_channel.var(ddof=1)
        expected = steps * p * (1 - p)
        assert 0.4 * expected < var < 1.8 * expected


def test_zero_rate_gives_no_spikes():
    assert not poisson_inputs(10, 0.0, 100, 1.0, seed=0).any()


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(n_channels=0), "n_channels"),
        (dict(n_channels=2.5), "n_channels"),
        (dict(steps=0), "steps"),
        (dict(rate_hz=-1.0), "rate_hz"),
        (dict(rate_hz=float("nan")), "rate_hz"),
        (dict(dt_ms=0.0), "dt_ms"),
        (dict(rate_hz=2000.0, dt_ms=1.0), "exceeds 1"),
        (dict(seed=-1), "seed"),
        (dict(seed="a"), "seed"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    args = dict(n_channels=4, rate_hz=40.0, steps=10, dt_ms=1.0, seed=0) | kwargs
    with pytest.raises(UserError, match=field):
        poisson_inputs(**args)


# -- files ---------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    spikes = poisson_inputs(7, 40.0, 300, 1.0, seed=5)
    save_inputs(tmp_path / "x.npz", spikes, dt_ms=1.0, rate_hz=40.0, seed=5)
    got = load_inputs(tmp_path / "x.npz")
    assert np.array_equal(got["spikes"], spikes) and got["spikes"].dtype == np.bool_
    assert got["dt_ms"] == 1.0 and got["rate_hz"] == 40.0
    assert got["seed"] == 5 and got["n_channels"] == 7


def test_load_accepts_uint8_spikes(tmp_path):
    spikes = np.array([[0, 1], [1, 0]], dtype=np.uint8)
    np.savez(tmp_path / "u.npz", spikes=spikes, dt_ms=1.0, rate_hz=10.0, seed=1, n_channels=2)
    got = load_inputs(tmp_path / "u.npz")
    assert got["spikes"].dtype == np.bool_ and got["spikes"].tolist() == [[False, True], [True, False]]


def _write(path, **overrides):
    data = dict(spikes=np.zeros((4, 3), bool), dt_ms=1.0, rate_hz=10.0, seed=1, n_channels=3)
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    np.savez(path, **data)
    return path


@pytest.mark.parametrize(
    "overrides,key",
    [
        (dict(spikes=None), "spikes"),
        (dict(dt_ms=None), "dt_ms"),
        (dict(seed=None), "seed"),
        (dict(spikes=np.zeros(4, bool)), "spikes"),
        (dict(spikes=np.full((4, 3), 2, np.uint8)), "spikes"),
        (dict(spikes=np.zeros((4, 3), float)), "spikes"),
        (dict(dt_ms=-1.0), "dt_ms"),
        (dict(rate_hz=np.array([1.0, 2.0])), "rate_hz"),
        (dict(n_channels=4), "n_channels"),
    ],
)
def test_load_bad_file_names_file_and_key(tmp_path, overrides, key):
    path = _write(tmp_path / "bad.npz", **overrides)
    with pytest.raises(UserError) as exc:
        load_inputs(path)
    msg = str(exc.value)
    assert "bad.npz" in msg and key in msg and "\n" not in msg


def test_save_to_directory_is_user_error(tmp_path):
    with pytest.raises(UserError, match="directory"):
        save_inputs(tmp_path, np.zeros((2, 2), bool), dt_ms=1.0, rate_hz=1.0, seed=0)
    assert list(tmp_path.iterdir()) == []


def test_load_missing_and_corrupt_files(tmp_path):
    with pytest.raises(UserError, match="nope.npz: inputs file not found"):
        load_inputs(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="junk.npz"):
        load_inputs(tmp_path / "junk.npz")


# -- CLI -----------------------------------------------------------------------------------
def test_cli_round_trip(tmp_path, capsys):
    out = tmp_path / "sub" / "inputs.npz"
    rc = main(["make-inputs", "--n-channels", "50", "--rate-hz", "40", "--steps", "1000",
               "--dt", "1", "--seed", "3", "--out", str(out)])
    assert rc == 0
    got = load_inputs(out)
    assert np.array_equal(got["spikes"], poisson_inputs(50, 40.0, 1000, 1.0, seed=3))
    assert (got["n_channels"], got["seed"], got["dt_ms"], got["rate_hz"]) == (50, 3, 1.0, 40.0)
    assert "inputs.npz" in capsys.readouterr().out
    # no temporary files left beside it
    assert [p.name for p in out.parent.iterdir()] == ["inputs.npz"]


@pytest.mark.parametrize(
    "flag,value,named",
    [
        ("--n-channels", "0", "--n-channels"),
        ("--rate-hz", "-5", "--rate-hz"),
        ("--rate-hz", "inf", "--rate-hz"),
        ("--steps", "0", "--steps"),
        ("--dt", "0", "--dt"),
        ("--dt", "-1", "--dt"),
        ("--rate-hz", "2000", "exceeds 1"),
        ("--seed", "-2", "--seed"),
        ("--n-channels", "abc", "--n-channels"),
    ],
)
def test_cli_bad_value_exits_2_and_writes_nothing(tmp_path, capsys, flag, value, named):
    args = {"--n-channels": "5", "--rate-hz": "40", "--steps": "10", "--dt": "1", "--seed": "1"}
    args[flag] = value
    out = tmp_path / "inputs.npz"
    argv = ["make-inputs", *[x for kv in args.items() for x in kv], "--out", str(out)]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse type errors exit through parser.error
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []
