"""Reduced parameter spaces: the unit-box map, its inverse and its Jacobian."""

from __future__ import annotations

import numpy as np
import pytest

from snnfit.errors import UserError
from snnfit.sim.models import get_spec
from snnfit.fit.space import (build_space, check_dim, dim_k, dim_label, dim_spec, parse_dim,
                              parse_dim_label)


@pytest.mark.parametrize("model", ["lif", "adex", "izhikevich"])
def test_full_subset_roundtrip_and_box(model):
    s = build_space(model, "full", current="recorded")
    rng = np.random.default_rng(1)
    Z = rng.uniform(size=(50, s.k))
    P = s.to_params(Z)
    spec = get_spec(model)
    assert np.all(P >= spec.lower() - 1e-12) and np.all(P <= spec.upper() + 1e-12)
    np.testing.assert_allclose(s.to_reduced(P), Z, atol=1e-12)
    # affine per coordinate: p = lo + z (hi - lo), by hand for the first free parameter
    i = s.free[0]
    np.testing.assert_allclose(P[:, i], spec.lower()[i] + Z[:, 0] * (spec.upper() - spec.lower())[i])


def test_exclusions_scaling_and_cut():
    s = build_space("adex", "full", scheme="resolved", current="search")
    assert "C" not in s.free_names and "Vpeak" not in s.free_names
    assert s.k == 8
    s2 = build_space("adex", "full", scheme="euler", current="recorded")
    assert s2.k == 10
    with pytest.raises(UserError, match="C"):
        build_space("adex", "C,gL", current="search")


def test_subset_keeps_base_and_bounds_fix():
    s = build_space("adex", "b,a", current="recorded", bounds=["b=10:20"], fix=["tau_w=77"],
                    base="naud2008:adapting")
    assert s.free_names == ["a", "b"]
    P = s.to_params(np.array([[0.0, 1.0]]))[0]
    names = list(s.names)
    assert P[names.index("b")] == pytest.approx(20.0)
    assert P[names.index("tau_w")] == pytest.approx(77.0)
    assert P[names.index("C")] == pytest.approx(200.0)  # the preset's, not the default's
    with pytest.raises(UserError, match="LO < HI"):
        build_space("adex", "b", bounds=["b=3:1"])
    with pytest.raises(UserError, match="unknown parameter"):
        build_space("adex", "nope")
    with pytest.raises(UserError, match="must be > 0"):
        build_space("adex", "b", fix=["C=-3"])


@pytest.mark.parametrize("dim", ["random:3", "pca:2"])
def test_projection_orthonormal_and_inverse(dim):
    s = build_space("adex", dim, current="recorded", projection_seed=3)
    D = s.directions
    np.testing.assert_allclose(D.T @ D, np.eye(s.k), atol=1e-12)
    # points that stay inside the box invert exactly
    Z = 0.5 + 0.05 * np.random.default_rng(0).uniform(-1, 1, (20, s.k))
    P = s.to_params(Z)
    np.testing.assert_allclose(s.to_reduced(P), Z, atol=1e-10)
    # the centre is the base point
    np.testing.assert_allclose(s.to_params(np.full((1, s.k), 0.5))[0], s.base)
    # seeded: the same projection seed gives the same directions, another seed others
    s2 = build_space("adex", dim, current="recorded", projection_seed=3)
    np.testing.assert_array_equal(s2.directions, D)
    s3 = build_space("adex", dim, current="recorded", projection_seed=4)
    assert not np.allclose(s3.directions, D)


@pytest.mark.parametrize("dim", ["full", "a,b", "random:4"])
def test_jacobian_matches_finite_differences(dim):
    s = build_space("izhikevich", dim, current="recorded")
    Z = np.full((1, s.k), 0.45) + 0.01 * np.arange(s.k)
    J = s.jacobian(Z)[0]
    h = 1e-6
    for j in range(s.k):
        e = np.zeros(s.k)
        e[j] = h
        fd = (s.to_params(Z + e)[0] - s.to_params(Z - e)[0]) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-6, atol=1e-9)


def test_bad_dim():
    for bad in ["random:0", "pca:x", "random:99", ",", "b,b"]:
        with pytest.raises(UserError):
            build_space("adex", bad)


# --------------------------------------------------------------------------- the dim grammar


@pytest.mark.parametrize("spec,kind,names,k,label,canonical", [
    ("full", "full", (), None, "full", "full"),
    ("  full ", "full", (), None, "full", "full"),
    ("b", "subset", ("b",), 1, "b", "b"),
    ("a,b,tau_w", "subset", ("a", "b", "tau_w"), 3, "a+b+tau_w", "a,b,tau_w"),
    (" a , b ", "subset", ("a", "b"), 2, "a+b", "a,b"),
    ("random:3", "random", (), 3, "random-3", "random:3"),
    ("random:03", "random", (), 3, "random-3", "random:3"),
    ("pca:2", "pca", (), 2, "pca-2", "pca:2"),
    ("pca:12", "pca", (), 12, "pca-12", "pca:12"),
])
def test_parse_dim_every_form_and_label_round_trip(spec, kind, names, k, label, canonical):
    d = parse_dim(spec)
    assert (d.kind, d.names, d.k) == (kind, names, k)
    assert d.spec == canonical and d.label == label
    assert dim_label(spec) == label
    assert dim_spec(label) == canonical
    assert parse_dim_label(label) == d
    assert dim_label(dim_spec(label)) == label
    # k: the model's free parameters for full, else the setting's own
    assert dim_k(spec, 9) == (9 if kind == "full" else k)
    assert d.label.replace("+", "").replace("-", "").replace("_", "").isalnum()  # path-safe


@pytest.mark.parametrize("bad", ["", " ", "pca:0", "random:", "random:x", "pca:-1", "pca:1.5",
                                 "pca:+2", "pca: 2", "random:３", "a,,b", "a,", ",", "1a",
                                 "a-b", "a+b", "a b", "a;b", "b,b",
                                 "pca-2", "tau_w:3"])
def test_parse_dim_bad_forms_one_line_error(bad):
    with pytest.raises(UserError) as exc:
        parse_dim(bad, where="--dim")
    msg = str(exc.value)
    assert msg.startswith(f"--dim {bad!r}: ") and "\n" not in msg
    with pytest.raises(UserError):
        dim_label(bad)
    with pytest.raises(UserError):  # build_space asks the same parser
        build_space("adex", bad if bad.strip() else "x y")


def test_parse_dim_label_rejects_what_no_spec_makes():
    for bad in ("pca-0", "random-x", "a,b", "a++b", "pca:2", ""):
        with pytest.raises(UserError, match="dim label"):
            parse_dim_label(bad)


def test_check_dim_against_the_model():
    assert check_dim("a,b,tau_w", "adex").names == ("a", "b", "tau_w")
    assert check_dim("pca:9", "adex").k == 9
    with pytest.raises(UserError, match=r"cfg 'a,tau_x': unknown parameter 'tau_x'"):
        check_dim("a,tau_x", "adex", "cfg")
    with pytest.raises(UserError, match="at most 6"):
        check_dim("random:7", "lif")
    # every name of every model forms a valid one-name subset
    for model in ("lif", "adex", "izhikevich"):
        for name in get_spec(model).names:
            assert check_dim(name, model).label == name


def test_build_space_keeps_the_dim_text_and_reads_it_by_the_parser():
    s = build_space("adex", " b , a ", current="recorded")
    assert s.dim == "b , a" and s.free_names == ["a", "b"]  # spec order
    assert build_space("adex", "random:02", projection_seed=1).k == 2
