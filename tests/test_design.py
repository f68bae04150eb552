"""The study's design (snnfit.study.design) on hand-written configurations: which fits each
question runs on its answer and control targets, what each fit is for, budgets per model,
splits, and selector errors. Expected grids counted by hand."""

from __future__ import annotations

import pytest

from snnfit.errors import UserError
from snnfit.study.design import FIT_WILDCARDS, select_targets, split_model_label, study_design


def _config(**experiments):
    base = {"targets": [], "models": ["lif", "adex", "izhikevich"], "dims": {},
            "optimizers": ["cmaes"], "seeds": [1], "budget": 100, "budgets": {},
            "controls": {}, "control_dims": {}, "headline": "across"}
    return {
        "targets": {
            "synthetic": {"amplitude_factors": [1.0, 1.5, 2.0, 2.5],
                          "train_factors": [1.0, 2.0]},
            "presets": [{"name": "ad", "preset": "naud2008:adapting", "schemes": ["resolved"]}],
            "priors": [{"name": "plain", "model": "adex", "kind": "nonadapting",
                        "seeds": [1, 2]},
                       {"name": "lifp", "model": "lif", "kind": "any", "seeds": [3]},
                       {"name": "sub", "model": "adex", "kind": "subspace:a,b",
                        "seeds": [4]}],
            "times": [],
            "recordings": [{"name": "gone", "spikes_csv": "/nonexistent/spikes.csv",
                            "sweeps_csv": None, "cells": [], "n_train": 4}],
        },
        "current": {"preset": ["recorded"], "prior": ["recorded"], "times": ["search"],
                    "recording": ["recorded"]},
        "experiments": {q: {**base, **experiments.get(q, {})}
                        for q in ("adaptation", "dimensionality", "optimizers")},
    }


def test_adaptation_models_per_role_and_budgets():
    cfg = _config(adaptation={"targets": ["ad"], "budgets": {"lif": 50},
                              "controls": {"positive": ["ad"], "negative": ["plain", "lifp"]}},
                  dimensionality={"targets": []}, optimizers={"targets": []})
    d = study_design(cfg, notice=lambda m: None)
    by_target: dict = {}
    for key, f in d.fits.items():
        by_target.setdefault(f["target"], set()).add(f["model"])
        assert f["budget"] == (50 if f["model"] == "lif" else 100)
    every = {"lif", "adex", "izhikevich", "adex-nonadapting", "izhikevich-nonadapting"}
    assert by_target["ad-resolved"] == every
    assert by_target["plain-s1"] == {"adex", "adex-nonadapting"}  # nested negative
    assert by_target["lifp-s3"] == {"lif", "adex", "izhikevich"}  # across negative
    ad_adex = FIT_WILDCARDS.format(target="ad-resolved", model="adex", dim="full",
                                   optimizer="cmaes", current="recorded", seed=1, budget=100)
    assert d.memberships[ad_adex] == ["adaptation:answer", "adaptation:positive"]
    assert d.has_heldout(d.fits[ad_adex])
    t = d.targets["ad-resolved"]
    assert (t.train, t.heldout) == (["x1", "x2"], ["x1.5", "x2.5"])
    assert "--prior adex --seed 1 --prior-kind nonadapting" == d.targets["plain-s1"].args


def test_dimensionality_and_optimizer_controls():
    cfg = _config(adaptation={"targets": []},
                  dimensionality={"targets": ["ad"], "models": ["adex"],
                                  "dims": {"adex": ["full", "a,b", "pca:3"]},
                                  "control_dims": {"adex": "a,b"},
                                  "controls": {"positive": ["sub"], "negative": ["plain"]}},
                  optimizers={"targets": ["ad"], "models": ["adex"],
                              "optimizers": ["snn", "direct", "cmaes", "random"],
                              "controls": {"positive": ["ad"]}})
    d = study_design(cfg, notice=lambda m: None)
    dims = {(f["target"], f["dim"]) for f in d.in_question("dimensionality")}
    assert dims == {("ad-resolved", "full"), ("ad-resolved", "a+b"), ("ad-resolved", "pca-3"),
                    ("sub-s4", "full"), ("sub-s4", "a+b"), ("plain-s1", "full"),
                    ("plain-s1", "a+b"), ("plain-s2", "full"), ("plain-s2", "a+b")}
    opts = {f["optimizer"] for f in d.in_question("optimizers")}
    assert opts == {"snn", "direct", "cmaes", "random"}
    # the full CMA-ES fit of the preset serves three memberships, and runs once
    key = FIT_WILDCARDS.format(target="ad-resolved", model="adex", dim="full",
                               optimizer="cmaes", current="recorded", seed=1, budget=100)
    assert d.memberships[key] == ["dimensionality:answer", "optimizers:answer",
                                  "optimizers:positive"]
    assert len(d.fits) == 9 + 3  # snn, direct, random on the preset
    assert not any(d.has_heldout(f) for f in d.fits.values())  # no adaptation fit


def test_selectors():
    cfg = _config(adaptation={"targets": ["gone", "plain"]}, dimensionality={"targets": []},
                  optimizers={"targets": []})
    d = study_design(cfg, notice=lambda m: None)  # a missing recording selects nothing
    assert {f["target"] for f in d.fits.values()} == {"plain-s1", "plain-s2"}
    with pytest.raises(UserError, match="unknown target, class or entry 'nope'"):
        select_targets(d.targets, ["nope"], "experiments.adaptation")
    assert select_targets(d.targets, ["prior"], "x") == ["plain-s1", "plain-s2", "lifp-s3",
                                                        "sub-s4"]
    assert split_model_label("adex-nonadapting") == ("adex", "nonadapting")
    assert split_model_label("lif") == ("lif", None)


def test_missing_recording_gives_a_notice():
    notices = []
    study_design(_config(), notice=notices.append)
    assert notices == ["recording /nonexistent/spikes.csv not found; skipping targets gone-*"]
