"""snnfit.study (tables, statistics, answers) and snnfit.study.figures: statistics against exact
and analytic values, answers on hand-made tables with known effects, tables from hand-made fit
JSONs. The dim grammar is tested in test_space.py, target classes and truth sweeps in
test_targets.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import snnfit.study as study
from snnfit.errors import UserError
from snnfit.study.answers import _error


# --------------------------------------------------------------------------- statistics


def test_paired_test_exact_wilcoxon_all_positive():
    # all n differences positive: the exact two-sided p is 2 / 2^n
    for n in (5, 6, 8):
        _, p = study.paired_test(np.arange(1, n + 1, dtype=float))
        assert p == pytest.approx(2 / 2**n)


def test_paired_test_degenerate():
    assert study.paired_test([0.0, 0.0, 0.0])[1] == 1.0
    assert math.isnan(study.paired_test([1.0])[1])
    assert math.isnan(study.paired_test([])[1])


def test_bootstrap_ci_constant_and_single():
    assert study.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert study.bootstrap_ci([3.5]) == (3.5, 3.5)
    lo, hi = study.bootstrap_ci([])
    assert math.isnan(lo) and math.isnan(hi)


def test_bootstrap_ci_of_median_matches_asymptotic_width():
    # median of N(0, 1): standard error sqrt(pi / 2) / sqrt(n); 95% width 2 * 1.96 * se
    rng = np.random.default_rng(1)
    n = 400
    x = rng.normal(size=n)
    lo, hi = study.bootstrap_ci(x, n_boot=4000, seed=3)
    se = math.sqrt(math.pi / 2) / math.sqrt(n)
    assert lo < np.median(x) < hi
    assert hi - lo == pytest.approx(2 * norm.ppf(0.975) * se, rel=0.25)


def test_bootstrap_ci_is_seeded():
    x = [0.1, 0.5, 0.3, 0.9, 0.2]
    assert study.bootstrap_ci(x, seed=5) == study.bootstrap_ci(x, seed=5)


def test_relative_improvement_values():
    assert study.relative_improvement(0.5, 0.1) == pytest.approx(0.4 / 0.6)
    assert study.relative_improvement(0.0, 1.0) == -1.0
    assert study.relative_improvement(1.0, 0.0) == 1.0
    assert study.relative_improvement(0.0, 0.0) == 0.0
    assert math.isnan(study.relative_improvement(float("nan"), 1.0))


@pytest.mark.parametrize(
    "effect,ci,p,n,expected",
    [
        (0.3, (0.1, 0.5), 0.01, 10, "yes"),
        (-0.3, (-0.5, -0.1), 0.01, 10, "no"),
        (0.01, (-0.02, 0.03), 0.6, 10, "no"),  # inside the equivalence margin
        (0.1, (-0.2, 0.4), 0.3, 10, "inconclusive"),
        (0.3, (0.1, 0.5), 0.01, 3, "inconclusive"),  # too few pairs
        (0.3, (-0.01, 0.5), 0.04, 10, "inconclusive"),  # test and interval disagree
    ],
)
def test_verdict(effect, ci, p, n, expected):
    assert study.verdict(effect, ci, p, n, alpha=0.05, margin=0.05, min_pairs=5) == expected


def test_summarise_median_and_interval():
    df = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 3, "x": [1, 2, 3, 4, 5, 7, 7, 7]})
    s = study.summarise(df, ["g"], ["x"], n_boot=500)
    a = s[s["g"] == "a"].iloc[0]
    b = s[s["g"] == "b"].iloc[0]
    assert (a["n"], a["median"]) == (5, 3.0)
    assert 1 <= a["ci_low"] <= 3 <= a["ci_high"] <= 5
    assert (b["median"], b["ci_low"], b["ci_high"]) == (7.0, 7.0, 7.0)


def test_loss_curves_step_function():
    ident = dict(target="t", target_class="preset", model="adex", dim="full", k=9,
                 optimizer="cmaes", current="recorded", budget=100)
    rows = [dict(ident, seed=1, forward_equivalents=fe, best_loss=l)
            for fe, l in ((10, 5.0), (20, 3.0), (40, 1.0))]
    rows += [dict(ident, seed=2, forward_equivalents=fe, best_loss=l)
             for fe, l in ((10, 7.0), (30, 2.0))]
    c = study.loss_curves(pd.DataFrame(rows), ["optimizer"], [5, 10, 25, 50], n_boot=200)
    med = dict(zip(c["forward_equivalents"], c["median"]))
    # fe 5: before any record; 10: (5, 7); 25: (3, 7); 50: (1, 2)
    assert 5.0 not in med
    assert med[10.0] == 6.0 and med[25.0] == 5.0 and med[50.0] == 1.5


# --------------------------------------------------------------------------- re-exports


def test_names_of_the_split_modules_stay_importable_from_snnfit_study():
    # users, workflow scripts and notebooks import these from snnfit.study (as before the
    # split into tables, statistics and answers); the facts live in one place each
    from snnfit.data import targets, truth
    from snnfit.fit import space
    from snnfit.study import answers as answers_fn, dim_k, dim_label, dim_spec

    assert (dim_label, dim_spec, dim_k) == (space.dim_label, space.dim_spec, space.dim_k)
    assert study.target_class is targets.target_class
    assert study.TARGET_CLASSES is targets.TARGET_CLASSES
    assert study.add_truth_sweeps is truth.add_truth_sweeps
    assert callable(answers_fn) and answers_fn.__name__ == "answers"
    for name in study.__all__:
        assert getattr(study, name) is not None
    with pytest.raises(AttributeError):
        study.no_such_name  # noqa: B018


# --------------------------------------------------------------------------- tables


def _fit_json(model="adex", gamma=0.5, seed=1, optimizer="cmaes", dim="full", loss=1.0,
              history=None):
    return {
        "target": "T.json", "model": model, "scheme": "resolved", "dim": dim, "k": 9,
        "optimizer": optimizer, "seed": seed, "current": "recorded", "status": "ok",
        "loss": loss, "params": {"a": 1.0, "b": 2.0}, "amplitude_pA": [500.0],
        "spike_times_ms": [[110.0, 150.0]], "target_spike_times_ms": [[111.0, 149.0]],
        "gamma": gamma, "spike_time_rmse_ms": None, "count_error": 0, "van_rossum": 1.0,
        "victor_purpura": 1.0, "latency_error_ms": 1.0, "isi_error_ms": 2.0,
        "param_error": {"a": 0.1, "b": 0.3}, "evaluations": 100, "wall_s": 1.0,
        "cpu_s": 0.9, "joules": 10.0, "energy_source": "estimate",
        "target_kind": "preset", "budget": 100, "sweep_ids": ["0"],
        "protocols": [{"delay_ms": 100.0, "duration_ms": 1000.0, "t_stop_ms": 1200.0,
                       "dt_ms": 0.1, "holding_pA": 0.0}],
        "candidates": 10, "energy_note": None, "space": {}, "optimizer_info": {},
        "provenance": {},
        "history": history or [{"simulations": 10, "wall_s": 0.1, "cpu_s": 0.1,
                                "joules": 1.0, "best_loss": 5.0, "gamma_at_best": 0.1},
                               {"simulations": 100, "wall_s": 1.0, "cpu_s": 0.9,
                                "joules": 10.0, "best_loss": loss, "gamma_at_best": gamma}],
    }


def test_fit_row_flattens_and_nulls_to_nan():
    from snnfit.fit.record import FitResult

    row = study.fit_row(FitResult.from_json(_fit_json()), target="t", target_class_="preset",
                        dim="full", budget=100)
    assert row["param_a"] == 1.0 and row["param_b"] == 2.0
    assert row["param_error"] == pytest.approx(0.2)
    assert row["param_error_b"] == 0.3
    assert math.isnan(row["spike_time_rmse_ms"])
    assert row["forward_equivalents"] == 100 and row["amplitude_pA"] == 500.0


def test_build_tables_and_best_fit(tmp_path):
    recs = []
    for i, (model, g) in enumerate((("adex", 0.9), ("lif", 0.2), ("izhikevich", 0.6))):
        p = tmp_path / f"f{i}.json"
        p.write_text(json.dumps(_fit_json(model=model, gamma=g)))
        h = tmp_path / f"h{i}.json"
        ev = {k: v for k, v in _fit_json(model=model, gamma=g / 2).items()
              if k not in ("history",)}  # an evaluation JSON (snnfit evaluate): no history
        ev["sweep_ids"] = ["1"]
        h.write_text(json.dumps(ev))
        recs.append(study.FitRecord(str(p), "t", "full", 100, "preset", str(h),
                                    "adaptation"))
    fits, held, hist = study.build_tables(recs)
    assert len(fits) == 3 and len(held) == 3 and len(hist) == 6
    assert set(held["gamma"]) == {0.45, 0.1, 0.3}
    assert list(held["sweeps"]) == ["1", "1", "1"]
    assert fits.columns[0] == "target" and "param_a" in fits.columns
    assert study.best_fit_path([r.path for r in recs]) == recs[0].path


# --------------------------------------------------------------------------- answers


def _adaptation_tables(n_targets, lif_err, adaptive_err):
    rows = []
    for t in range(n_targets):
        for model, e in (("lif", lif_err), ("adex", adaptive_err),
                         ("izhikevich", adaptive_err)):
            for seed in (1, 2, 3):
                rows.append(dict(target=f"t{t}", target_class="prior", model=model,
                                 dim="full", k=9, optimizer="cmaes", current="recorded",
                                 seed=seed, budget=100, gamma=1 - e, loss=e,
                                 arms="adaptation"))
    df = pd.DataFrame(rows)
    return df, df.copy()


def test_answer_adaptation_known_effect():
    fits, held = _adaptation_tables(8, lif_err=0.5, adaptive_err=0.1)
    a = study.answer_adaptation(fits, held, study.StatsConfig(n_boot=200))
    assert a["n_pairs"] == 8
    assert a["effect"] == pytest.approx(0.4 / 0.6)
    assert a["ci95"][0] == pytest.approx(0.4 / 0.6)
    assert a["p_value"] == pytest.approx(2 / 2**8)  # exact Wilcoxon, all positive
    assert a["verdict"] == "yes"
    assert a["summary"].startswith("Yes")
    for key in ("question", "metric", "groups", "n_pairs", "effect", "ci95", "test",
                "p_value", "verdict", "summary"):
        assert key in a


def test_answer_adaptation_no_difference_is_no():
    fits, held = _adaptation_tables(8, lif_err=0.3, adaptive_err=0.3)
    a = study.answer_adaptation(fits, held, study.StatsConfig(n_boot=200))
    assert a["effect"] == 0.0 and a["verdict"] == "no"


def test_answer_adaptation_too_few_targets_inconclusive():
    fits, held = _adaptation_tables(3, lif_err=0.5, adaptive_err=0.1)
    a = study.answer_adaptation(fits, held, study.StatsConfig(n_boot=200))
    assert a["verdict"] == "inconclusive" and "nconclusive" in a["summary"]


def test_answer_adaptation_recordings_use_isi_latency_count():
    rows = []
    for t in range(6):
        for model, (isi, lat, cnt) in (("lif", (20.0, 10.0, 4.0)), ("adex", (5.0, 10.0, 4.0)),
                                       ("izhikevich", (5.0, 10.0, 4.0))):
            rows.append(dict(target=f"c{t}", target_class="recording", model=model,
                             dim="full", k=9, optimizer="cmaes", current="recorded", seed=1,
                             budget=100, gamma=0.0, isi_error_ms=isi, latency_error_ms=lat,
                             count_error=cnt))
    df = pd.DataFrame(rows)
    a = study.answer_adaptation(df, df, study.StatsConfig(n_boot=200))
    # ISI improves by (20-5)/25 = 0.6, latency and count by 0: mean 0.2
    assert a["effect"] == pytest.approx(0.2)
    assert a["secondary_isi_latency_count"]["effect"] == pytest.approx(0.2)


def test_answer_adaptation_secondary_uses_isi_latency_count_on_synthetic():
    fits, held = _adaptation_tables(6, lif_err=0.5, adaptive_err=0.5)  # equal Gamma
    held = held.assign(isi_error_ms=np.where(held["model"] == "lif", 30.0, 10.0),
                       latency_error_ms=5.0, count_error=2.0)
    a = study.answer_adaptation(fits, held, study.StatsConfig(n_boot=200))
    assert a["effect"] == 0.0
    # ISI (30-10)/40 = 0.5, latency and count 0: mean 1/6
    assert a["secondary_isi_latency_count"]["effect"] == pytest.approx(1 / 6)
    assert "ISI-profile, latency and count errors instead" in a["summary"]


def test_answer_dimensionality_known_effect():
    rows = []
    for t in range(6):
        for model in ("adex", "lif"):
            for dim, e in (("full", 0.4), ("pca-2", 0.2), ("random-2", 0.2)):
                rows.append(dict(target=f"t{t}", target_class="preset", model=model,
                                 dim=dim, k=2 if dim != "full" else 9, optimizer="cmaes",
                                 current="recorded", seed=1, budget=100, gamma=1 - e,
                                 forward_equivalents=100, wall_s=1.0, joules=5.0))
    a = study.answer_dimensionality(pd.DataFrame(rows), study.StatsConfig(n_boot=200))
    assert a["n_pairs"] == 12
    assert a["effect"] == pytest.approx(0.2 / 0.6)
    assert a["verdict"] == "yes"


def test_answer_optimizers_missing_treatment_is_inconclusive():
    fits, _ = _adaptation_tables(6, 0.5, 0.1)
    a = study.answer_optimizers(fits, "snn", "direct", study.StatsConfig(n_boot=200))
    assert a["verdict"] == "inconclusive" and a["n_pairs"] == 0
    assert "not run" in a["summary"]


def test_answer_optimizers_known_effect_and_holm():
    rows = []
    for t in range(6):
        for opt, e in (("snn", 0.1), ("direct", 0.3), ("cmaes", 0.1), ("random", 0.5)):
            rows.append(dict(target=f"t{t}", target_class="preset", model="adex",
                             dim="full", k=9, optimizer=opt, current="recorded", seed=1,
                             budget=100, gamma=1 - e, forward_equivalents=100, wall_s=1.0,
                             joules=1.0))
    a = study.answer_optimizers(pd.DataFrame(rows), "snn", "direct",
                                study.StatsConfig(n_boot=200))
    assert a["effect"] == pytest.approx(0.2 / 0.4) and a["verdict"] == "yes"
    assert a["against"]["cmaes"]["effect"] == 0.0
    assert a["against"]["random"]["effect"] == pytest.approx(0.4 / 0.6)
    # Holm over {direct, random} (cmaes p = 1): both raw p = 2/64, adjusted 2 * 2/64
    assert a["against"]["random"]["p_holm"] == pytest.approx(min(1, 3 * 2 / 64))


def test_holm_adjustment():
    adj = study.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})


def test_in_arm():
    df = pd.DataFrame({"arms": ["adaptation;optimizers", "dimensionality", None]})
    assert len(study.in_arm(df, "optimizers")) == 1
    assert len(study.in_arm(df, "dimensionality")) == 1


# --------------------------------------------------------------------------- figures


def test_study_figures_write_png_and_svg(tmp_path):
    fits, held = _adaptation_tables(2, 0.5, 0.1)
    p = tmp_path / "fit.json"
    p.write_text(json.dumps(_fit_json()))
    fits = fits.assign(path=str(p), joules=1.0, wall_s=1.0, forward_equivalents=100.0,
                       energy_source="estimate", loss=0.1)
    curves = pd.DataFrame({"optimizer": ["cmaes", "cmaes"],
                           "forward_equivalents": [10.0, 100.0], "n": [2, 2],
                           "median": [5.0, 1.0], "ci_low": [4.0, 1.0],
                           "ci_high": [6.0, 1.2]})
    from snnfit.study.figures import FIGURES, study_figures

    made = study_figures(fits, held, curves, tmp_path / "fig")
    assert len(made) == 2 * len(FIGURES)
    for m in made:
        assert (tmp_path / "fig" / m.split("/")[-1]).stat().st_size > 1000


def test_stats_config_from_config_ignores_other_keys():
    s = study.StatsConfig.from_config({"n_boot": 300, "alpha": 0.01, "treatment": "snn"})
    assert (s.n_boot, s.alpha, s.seed, s.min_pairs) == (300, 0.01, 0, 5)


def test_null_gamma_counts_as_chance():
    df = pd.DataFrame({"gamma": [0.8, None]})
    assert list(_error(df, "gamma")) == pytest.approx([0.2, 1.0])


def test_aggregate_cli_on_a_directory(tmp_path):
    from snnfit import cli

    fits_dir = tmp_path / "fits"
    (fits_dir / "a").mkdir(parents=True)
    for i, (model, g) in enumerate((("adex", 0.9), ("lif", 0.2))):
        d = _fit_json(model=model, gamma=g)
        d.update(target=str(tmp_path / "missing.json"), target_kind="prior", budget=100)
        (fits_dir / "a" / f"{model}.json").write_text(json.dumps(d))
    out = tmp_path / "tables"
    assert cli.main(["aggregate", str(fits_dir), "--out-dir", str(out),
                     "--n-boot", "100"]) == 0
    fits = pd.read_csv(out / "fits.csv")
    assert sorted(fits["model"]) == ["adex", "lif"]
    assert set(fits["target_class"]) == {"prior"}
    a = json.loads((out / "answers.json").read_text())
    assert a["adaptation"]["verdict"] == "inconclusive"  # no held-out sweeps


def test_aggregate_cli_bad_dir_exits_2(tmp_path, capsys):
    from snnfit import cli

    assert cli.main(["aggregate", str(tmp_path / "nope"), "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and len(err.strip().splitlines()) == 1


def test_space_kind():
    from snnfit.study.figures import space_kind

    assert [space_kind(d) for d in ("full", "pca-3", "random-2", "a+b+tau_w")] == [
        "full", "pca", "random", "subset"]


def test_dimensionality_figure_with_spaces(tmp_path):
    from snnfit.study.figures import dimensionality, save

    rows = [dict(model=m, dim=d, k=k, gamma=g, forward_equivalents=100.0, wall_s=1.0,
                 joules=2.0) for m in ("lif", "adex")
            for d, k, g in (("full", 9, 0.9), ("pca-3", 3, 0.5), ("a+b", 2, None))]
    made = save(dimensionality(pd.DataFrame(rows)), tmp_path / "dim")
    assert all((tmp_path / p.split("/")[-1]).stat().st_size > 1000 for p in made)


def test_tables_refuse_a_record_with_a_missing_key(tmp_path):
    # a fit record read back by the study: a missing key is a one-line error naming the file
    # and the key (it used to become NaN silently)
    d = _fit_json()
    del d["count_error"]
    p = tmp_path / "f.json"
    p.write_text(json.dumps(d))
    with pytest.raises(UserError, match=r"f\.json.*count_error"):
        study.build_tables([study.FitRecord(str(p), "t", "full", 100, "preset")])
