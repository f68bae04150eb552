"""snnfit.study (tables, statistics, answers) and snnfit.study.figures: statistics against exact
and analytic values, answers on hand-made tables with known effects, tables from hand-made fit
JSONs. The dim grammar is tested in test_space.py, target classes and truth sweeps in
test_targets.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import snnfit.study as study
from snnfit.errors import UserError


# --------------------------------------------------------------------------- statistics


def test_paired_test_exact_wilcoxon_all_positive():
    # all n differences positive: the exact two-sided p is 2 / 2^n
    for n in (5, 6, 8):
        _, p = study.paired_test(np.arange(1, n + 1, dtype=float))
        assert p == pytest.approx(2 / 2**n)


def test_min_p_is_the_exact_tests_floor_with_ties_dropped():
    """p_min: the test's smallest p for these pairs; ties at 0 do not count. Without ties it
    is the exact test's 2 / 2^n; the test reaches it when every untied difference has one
    sign, and no other sign pattern goes below it."""
    from snnfit.study.statistics import StatsConfig, paired_effect

    d = [0.0] * 14 + [0.3, 0.1, 0.5, 0.2, 0.4, 0.6]  # 20 pairs, 6 untied, all positive
    e = paired_effect(d, StatsConfig(n_boot=200))
    assert e["n_pairs"] == 20 and e["n_untied"] == 6
    assert e["p_value"] == pytest.approx(e["p_min"])
    rng = np.random.default_rng(0)
    for _ in range(20):  # any other signs and magnitudes: p at or above the floor
        x = np.array(d) * rng.choice([-1.0, 1.0], size=len(d)) * rng.uniform(0.5, 2, len(d))
        assert study.paired_test(x)[1] >= e["p_min"] - 1e-12
    untied = paired_effect([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], StatsConfig(n_boot=50))
    assert untied["n_untied"] == 8 and untied["p_min"] == pytest.approx(2 / 2**8)
    assert paired_effect([0.0] * 5, StatsConfig(n_boot=50))["p_min"] == 1.0


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


@pytest.mark.parametrize("stat", [np.median, np.mean])  # median: one call over the rows
def test_bootstrap_ci_equals_the_sample_by_sample_bootstrap(stat):
    """The interval equals, bit for bit, the naive bootstrap: the statistic of each resample
    alone (odd and even sizes, ties, NaNs dropped)."""
    rng = np.random.default_rng(4)
    for n in (2, 3, 8, 13, 40):
        x = np.round(rng.normal(size=n) * 3, 1)
        x[0] = np.nan
        kept = x[~np.isnan(x)]
        if kept.size < 2:
            continue
        idx = np.random.default_rng(9).integers(0, kept.size, size=(500, kept.size))
        naive = np.array([stat(kept[i]) for i in idx])
        lo, hi = np.quantile(naive, [(1 - 0.95) / 2, 1 - (1 - 0.95) / 2])  # level 0.95
        assert study.bootstrap_ci(x, stat=stat, n_boot=500, seed=9) == (float(lo), float(hi))


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
        (0.01, (-0.02, 0.03), 0.6, 10, "equivalent"),  # inside the equivalence margin
        (0.02, (0.01, 0.04), 0.002, 10, "equivalent"),  # significant but not relevant
        (0.04, (0.01, 0.07), 0.002, 10, "yes"),  # the interval leaves the margin
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
    from snnfit.data.targets import Sweep, Target, write_target
    from snnfit.metrics import pattern_score
    from snnfit.sim.protocol import StepProtocol

    proto = StepProtocol()
    data = [110.0, 160.0, 230.0]
    tpath = tmp_path / "T.json"
    write_target(tpath, Target("prior", {"split": {"role": {"x1.5": "interpolated"}}},
                               {"model": "adex", "scheme": "resolved", "params": {"a": 1.0}},
                               [Sweep("x1", proto, 100.0, np.array([120.0])),
                                Sweep("x1.5", proto, 150.0, np.array(data))]))
    recs = []
    trains = {"adex": [111.0, 161.0, 229.0], "lif": [150.0], "izhikevich": [112.0, 170.0]}
    for i, (model, g) in enumerate((("adex", 0.9), ("lif", 0.2), ("izhikevich", 0.6))):
        p = tmp_path / f"f{i}.json"
        p.write_text(json.dumps(_fit_json(model=model, gamma=g)))
        h = tmp_path / f"h{i}.json"
        ev = {"target": str(tpath), "sweep_ids": ["x1.5"], "amplitude_pA": [150.0],
              "spike_times_ms": [trains[model]]}
        h.write_text(json.dumps(ev))
        recs.append(study.FitRecord(str(p), "t", "full", 100, "prior", str(h),
                                    "adaptation:answer"))
    fits, held, hist = study.build_tables(recs)
    assert len(fits) == 3 and len(held) == 3 and len(hist) == 6
    assert list(held.columns) == study.HELDOUT_COLUMNS
    assert set(held["role"]) == {"interpolated"} and set(held["sweep"]) == {"x1.5"}
    for model, row in held.set_index("model").iterrows():
        assert row["pattern_score"] == pytest.approx(
            pattern_score([trains[model]], [data], 100.0, 1100.0))
        assert row["n_model"] == len(trains[model]) and row["n_data"] == 3
    assert fits.columns[0] == "target" and "param_a" in fits.columns
    assert study.best_fit_path([r.path for r in recs]) == recs[0].path


# --------------------------------------------------------------------------- answers

RNG = np.random.default_rng(7)


def _held(targets, role, arms_role, scores, target_class="prior", seeds=(1,), noise=0.0):
    """Held-out rows: per target, model and seed two held-out sweeps with the given
    pattern score (+ noise)."""
    rows = []
    for t in targets:
        for model, e in scores.items():
            for seed in seeds:
                for sweep, r in (("x1.5", "interpolated"), ("x2.5", "extrapolated")):
                    rows.append(dict(target=t, target_class=target_class, model=model,
                                     dim="full", k=9, optimizer="cmaes", current="recorded",
                                     seed=seed, budget=100, arms=f"adaptation:{arms_role}",
                                     sweep=sweep, role=r, gamma=0.1, count_error=0,
                                     pattern_score=e + noise * RNG.standard_normal()))
    return pd.DataFrame(rows)


def test_answer_adaptation_known_effects_and_controls():
    stats = study.StatsConfig(n_boot=500, min_pairs=8)
    real = _held([f"cell{i}" for i in range(10)], "answer", "answer",
                 {"lif": 0.30, "adex": 0.10, "izhikevich": 0.12, "adex-nonadapting": 0.28,
                  "izhikevich-nonadapting": 0.27}, "recording", noise=0.02)
    pos = _held([f"pos{i}" for i in range(10)], "positive", "positive",
                {"lif": 0.25, "adex": 0.05, "izhikevich": 0.08, "adex-nonadapting": 0.22,
                 "izhikevich-nonadapting": 0.2}, noise=0.02)
    neg_lif = _held([f"lif{i}" for i in range(10)], "negative", "negative",
                    {"lif": 0.05, "adex": 0.05, "izhikevich": 0.05}, noise=0.004)
    neg_adex = _held([f"eif{i}" for i in range(10)], "negative", "negative",
                     {"adex": 0.04, "adex-nonadapting": 0.04}, noise=0.004)
    held = pd.concat([real, pos, neg_lif, neg_adex], ignore_index=True)
    a = study.answer_adaptation(None, held, stats)
    assert a["verdict"] == "yes" and a["effect"] == pytest.approx(0.19, abs=0.03)
    assert a["n_pairs"] == 10  # the real cells only; controls apart
    assert a["controls"]["positive"]["verdict"] == "yes"
    assert a["controls"]["negative"]["verdict"] == "equivalent"
    assert a["controls"]["negative"]["n_pairs"] == 10  # LIF truths: the across comparison
    assert a["trusted"] is True and "Both controls came out as expected" in a["summary"]
    nested = a["comparisons"]["nested"]["adex"]
    assert nested["verdict"] == "yes"
    assert nested["controls"]["negative"]["verdict"] == "equivalent"
    assert nested["controls"]["negative"]["n_pairs"] == 10  # AdEx-without-adaptation truths
    for key in ("verdict", "effect", "ci95", "p_value", "n_pairs"):
        assert key in a["controls"]["positive"] and key in a["controls"]["negative"]
    json.dumps(a)  # JSON-ready


def test_answer_adaptation_failed_control_is_not_trusted():
    stats = study.StatsConfig(n_boot=500)
    real = _held([f"c{i}" for i in range(10)], "answer", "answer",
                 {"lif": 0.3, "adex": 0.1, "izhikevich": 0.1}, "recording", noise=0.02)
    # the method invents an effect on LIF truths (adaptive models 0.1 better): must fail
    neg = _held([f"n{i}" for i in range(10)], "negative", "negative",
                {"lif": 0.2, "adex": 0.1, "izhikevich": 0.1}, noise=0.01)
    a = study.answer_adaptation(None, pd.concat([real, neg]), stats)
    assert a["verdict"] == "yes"
    assert a["controls"]["negative"]["verdict"] == "yes"
    assert a["trusted"] is False and "cannot be trusted" in a["summary"]


def test_each_comparison_says_whether_its_own_controls_held():
    """The adaptive families fit LIF truths worse than LIF does (a family difference, not
    adaptation): the across comparison's negative control fails, the nested one (each model
    against itself without adaptation) holds. answers.json says which is trusted."""
    stats = study.StatsConfig(n_boot=500, min_pairs=8)
    real = _held([f"c{i}" for i in range(10)], "answer", "answer",
                 {"lif": 0.3, "adex": 0.1, "izhikevich": 0.1, "adex-nonadapting": 0.3,
                  "izhikevich-nonadapting": 0.3}, "recording", noise=0.02)
    pos = _held([f"p{i}" for i in range(10)], "positive", "positive",
                {"lif": 0.3, "adex": 0.1, "izhikevich": 0.1, "adex-nonadapting": 0.3,
                 "izhikevich-nonadapting": 0.3}, noise=0.02)
    neg_lif = _held([f"l{i}" for i in range(10)], "negative", "negative",
                    {"lif": 0.05, "adex": 0.15, "izhikevich": 0.15}, noise=0.004)
    neg_plain = _held([f"e{i}" for i in range(10)], "negative", "negative",
                      {"adex": 0.04, "adex-nonadapting": 0.04, "izhikevich": 0.04,
                       "izhikevich-nonadapting": 0.04}, noise=0.004)
    a = study.answer_adaptation(None, pd.concat([real, pos, neg_lif, neg_plain]), stats)
    comp = a["comparisons"]
    assert comp["across"]["controls"]["negative"]["verdict"] == "no"
    assert comp["across"]["trusted"] is False and a["trusted"] is False
    for m in ("adex", "izhikevich"):
        assert comp["nested"][m]["verdict"] == "yes"
        assert comp["nested"][m]["trusted"] is True
        assert comp["across"]["per_model"][m]["trusted"] is False
    assert "controls as expected" in a["summary"]
    assert "a control failed" not in a["summary"].split("Nested comparison:")[1]
    assert "Across models" not in a["summary"]  # the headline itself
    # the nested headline (config headline: nested): trusted, and the across comparison
    # reported beside it with its failed control
    b = study.answer_adaptation(None, pd.concat([real, pos, neg_lif, neg_plain]), stats,
                                headline="nested")
    assert b["groups"] == ["adex", "adex-nonadapting"] and b["trusted"] is True
    assert b["effect"] == comp["nested"]["adex"]["effect"]
    assert b["controls"]["negative"]["verdict"] == "equivalent"
    tail = b["summary"].split("Across models (AdEx and Izhikevich against LIF):")[1]
    assert tail.lstrip().startswith("yes") and "a control failed, not trusted" in tail


def test_answer_adaptation_repeat_sweeps_are_not_amplitude_tests():
    rows = _held(["c"], "answer", "answer", {"lif": 0.3, "adex": 0.1})
    rep = rows.assign(role="repeat", pattern_score=5.0)
    scores = study.heldout_scores(pd.concat([rows, rep]))
    assert dict(zip(scores["model"], scores["score"])) == pytest.approx(
        {"lif": 0.3, "adex": 0.1})


def test_answer_adaptation_no_heldout_is_inconclusive():
    a = study.answer_adaptation(None, None)
    assert a["verdict"] == "inconclusive" and a["n_pairs"] == 0


def _fits_with_history(question, role, targets, errs, column, budget=1000):
    """Fits (final Gamma) and histories (gamma_at_best at 100 and 500 FE) per target and
    setting: ``errs[setting] = (err at 100, err at 500, err at the budget)``."""
    fits, hist = [], []
    for t in targets:
        for setting, (e100, e500, efull) in errs.items():
            ident = dict(target=t, target_class="prior", model="adex", dim="full", k=9,
                         optimizer="cmaes", current="recorded", seed=1, budget=budget)
            ident[column] = setting
            noise = 0.01 * RNG.standard_normal(3)
            arms = f"{question}:{role}"
            fits.append({**ident, "arms": arms, "gamma": 1 - efull - noise[2],
                         "forward_equivalents": budget, "wall_s": 1.0, "joules": 1.0})
            for fe, e, n in ((100, e100, noise[0]), (500, e500, noise[1])):
                hist.append({**ident, "arms": arms, "forward_equivalents": fe,
                             "gamma_at_best": 1 - e - n, "best_loss": e})
    return pd.DataFrame(fits), pd.DataFrame(hist)


def test_answer_dimensionality_by_budget_and_controls():
    stats = study.StatsConfig(n_boot=500)
    tg = [f"t{i}" for i in range(10)]
    # answer: reduction helps early (0.5 vs 0.2 error at 100 FE), no difference at the end
    f1, h1 = _fits_with_history("dimensionality", "answer", tg,
                                {"full": (0.5, 0.3, 0.1), "a+b": (0.2, 0.15, 0.1)}, "dim")
    # positive control (truths inside the subset): reduction helps at small budgets
    f2, h2 = _fits_with_history("dimensionality", "positive", [x + "p" for x in tg],
                                {"full": (0.6, 0.4, 0.2), "a+b": (0.1, 0.05, 0.05)}, "dim")
    # negative control (truths outside): the full space wins at the full budget
    f3, h3 = _fits_with_history("dimensionality", "negative", [x + "n" for x in tg],
                                {"full": (0.5, 0.2, 0.05), "a+b": (0.4, 0.4, 0.4)}, "dim")
    fits, hist = pd.concat([f1, f2, f3]), pd.concat([h1, h2, h3])
    a = study.answer_dimensionality(fits, hist, stats, checkpoints=[100, 500])
    by = {r["checkpoint"]: r for r in a["by_budget"]}
    assert by[100]["verdict"] == "yes" and by[100]["effect"] == pytest.approx(0.3, abs=0.05)
    assert by[1000]["verdict"] == "equivalent"
    assert a["verdict"] == "equivalent" and a["checkpoint"] == 1000
    # Holm over the three checkpoints: each adjusted p is at least the raw p
    assert all(r["p_value"] >= r["p_raw"] for r in a["by_budget"])
    assert a["controls"]["positive"]["verdict"] == "yes"
    assert a["controls"]["positive"]["checkpoint"] == 100
    assert a["controls"]["negative"]["verdict"] == "no"
    assert a["trusted"] is True


def test_answer_optimizers_by_budget_and_cmaes_control():
    stats = study.StatsConfig(n_boot=500)
    tg = [f"t{i}" for i in range(10)]
    f1, h1 = _fits_with_history("optimizers", "answer", tg,
                                {"snn": (0.8, 0.7, 0.6), "direct": (0.6, 0.4, 0.3),
                                 "cmaes": (0.5, 0.2, 0.1)}, "optimizer")
    f2, h2 = _fits_with_history("optimizers", "positive", [x + "c" for x in tg],
                                {"cmaes": (0.5, 0.2, 0.1), "random": (0.7, 0.6, 0.55)},
                                "optimizer")
    a = study.answer_optimizers(pd.concat([f1, f2]), pd.concat([h1, h2]), "snn", "direct",
                                stats, checkpoints=[100, 500])
    assert a["verdict"] == "no" and a["effect"] == pytest.approx(-0.3, abs=0.05)
    assert a["against"]["cmaes"]["verdict"] == "no"
    assert a["controls"]["positive"]["verdict"] == "yes"
    assert a["trusted"] is True
    assert set(a["present"]) == {"snn", "direct", "cmaes"}


def test_answer_optimizers_missing_treatment_is_inconclusive():
    f1, h1 = _fits_with_history("optimizers", "answer", ["t"], {"cmaes": (0.5, 0.2, 0.1)},
                                "optimizer")
    a = study.answer_optimizers(f1, h1, "snn", "direct", study.StatsConfig(n_boot=200))
    assert a["verdict"] == "inconclusive" and a["n_pairs"] == 0


def test_checkpoint_errors_null_gamma_counts_as_chance():
    f, h = _fits_with_history("optimizers", "answer", ["t"], {"cmaes": (0.5, 0.2, 0.1)},
                              "optimizer")
    f["gamma"] = None
    e = study.checkpoint_errors(f, h, [100, 500, 2000])
    full = e[e["checkpoint"] == 1000]["err"]
    assert list(full) == [1.0]
    assert sorted(e["checkpoint"]) == [100, 500, 1000]  # 2000 is past the budget


def test_holm_adjustment():
    adj = study.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})


def test_in_arm_with_roles():
    df = pd.DataFrame({"arms": ["adaptation:answer;optimizers:positive", "dimensionality",
                                None, "adaptation:negative"]})
    assert len(study.in_arm(df, "optimizers")) == 1
    assert len(study.in_arm(df, "dimensionality")) == 1
    assert len(study.in_arm(df, "dimensionality", "answer")) == 1  # bare = answer
    assert len(study.in_arm(df, "adaptation")) == 2
    assert len(study.in_arm(df, "adaptation", "negative")) == 1
    assert len(study.in_arm(df, "optimizers", "answer")) == 0


# --------------------------------------------------------------------------- figures


def test_study_figures_write_png_and_svg(tmp_path):
    # real fits and held-out evaluations of a synthetic target at four amplitudes, so every
    # figure draws from real records (f-I curves, ISI profiles, rasters)
    from snnfit.data.targets import prior_target, write_target
    from snnfit.data.truth import synthetic_split, truth_at_factors
    from snnfit.fit import FitSettings, run_fit
    from snnfit.fit.record import evaluate_fit
    from snnfit.io import atomic_write_json
    from snnfit.study.figures import ANSWER_FIGURES, FIGURES, answer_figures, study_figures

    train, held_ids, role = synthetic_split([1, 1.5, 2, 2.5], [1, 2])
    t = truth_at_factors(prior_target("adex", seed=1, kind="adapting"), [1, 1.5, 2, 2.5])
    t.provenance["split"] = {"train": train, "heldout": held_ids, "role": role}
    tpath = tmp_path / "T.json"
    write_target(tpath, t)
    recs = []
    for model in ("lif", "adex"):
        fit = run_fit(str(tpath), FitSettings(model=model, budget=200, current="recorded",
                                              sweeps=train))
        fp, hp = tmp_path / f"{model}.json", tmp_path / f"{model}-held.json"
        atomic_write_json(fp, fit.to_json())
        atomic_write_json(hp, evaluate_fit(fp, tpath, held_ids))
        recs.append(study.FitRecord(str(fp), "T", "full", 200, "prior", str(hp),
                                    "adaptation:answer"))
    fits, held, _ = study.build_tables(recs)
    assert set(held["role"]) == {"interpolated", "extrapolated"}
    curves = pd.DataFrame({"optimizer": ["cmaes", "cmaes"],
                           "forward_equivalents": [10.0, 100.0], "n": [2, 2],
                           "median": [5.0, 1.0], "ci_low": [4.0, 1.0],
                           "ci_high": [6.0, 1.2]})
    made = study_figures(fits, held, curves, tmp_path / "fig")
    assert len(made) == 2 * len(FIGURES)
    for m in made:
        assert Path(m).stat().st_size > 1000
    a = study.answers(fits, held, study.StatsConfig(n_boot=200))
    made = answer_figures(a, tmp_path / "fig")
    assert len(made) == 2 * len(ANSWER_FIGURES)
    assert all(Path(m).stat().st_size > 1000 for m in made)


def test_stats_config_from_config_ignores_other_keys():
    s = study.StatsConfig.from_config({"n_boot": 300, "alpha": 0.01, "treatment": "snn"})
    assert (s.n_boot, s.alpha, s.seed, s.min_pairs) == (300, 0.01, 0, 8)


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


def test_dimensionality_reports_parameter_recovery_per_setting():
    """by_setting carries per-parameter recovery (median over targets of fits.csv's
    normalised errors), computed here by hand from the table."""
    stats = study.StatsConfig(n_boot=200)
    f, h = _fits_with_history("dimensionality", "answer", ["t0", "t1", "t2"],
                              {"full": (0.5, 0.3, 0.1), "a+b": (0.2, 0.15, 0.1)}, "dim")
    err_a = {"t0": 0.1, "t1": 0.3, "t2": 0.2}
    f["param_error_a"] = [err_a[t] * (2 if d == "full" else 1) for t, d in zip(f.target, f.dim)]
    f["param_error_b"] = np.nan  # a parameter without truth: left out
    f["param_error"] = f["param_error_a"]
    a = study.answer_dimensionality(f, h, stats, checkpoints=[100])
    rec_full = a["by_setting"]["adex/full"]["recovery"]
    rec_sub = a["by_setting"]["adex/a+b"]["recovery"]
    assert rec_full["a"]["median"] == pytest.approx(0.4)  # median of 0.2, 0.6, 0.4
    assert rec_sub["a"]["median"] == pytest.approx(0.2)
    assert rec_sub["a"]["n_targets"] == 3 and "b" not in rec_sub
    assert rec_sub["mean"]["median"] == pytest.approx(0.2)
    lo, hi = rec_sub["a"]["ci95"]
    assert 0.1 <= lo <= 0.2 <= hi <= 0.3


def test_convergence_says_which_models_still_improve_at_the_budget():
    """Per model: the share of fits whose best loss fell by more than 5 % in the budget's
    second half, against hand-made histories."""
    rows = []
    for t in ("t0", "t1", "t2", "t3"):
        # adex: 10 at half the budget, 1 at the end (drop 0.9); lif: 1.0 -> 0.99 (0.01);
        # izhikevich: t0 drops 0.5, the others do not move
        for model, (half, end) in {"adex": (10.0, 1.0), "lif": (1.0, 0.99),
                                   "izhikevich": ((4.0, 2.0) if t == "t0" else (3.0, 3.0))
                                   }.items():
            for fe, loss in ((100, 50.0), (500, half), (900, (half + end) / 2), (1000, end)):
                rows.append(dict(target=t, model=model, dim="full", optimizer="cmaes",
                                 current="recorded", seed=1, budget=1000,
                                 arms="adaptation:answer", forward_equivalents=fe,
                                 best_loss=loss, gamma_at_best=0.5))
    from snnfit.study.answers import convergence

    c = convergence(pd.DataFrame(rows))
    assert c["adex"] == {"n_fits": 4, "still_improving": 1.0, "median_drop": pytest.approx(0.9)}
    assert c["lif"]["still_improving"] == 0.0
    assert c["lif"]["median_drop"] == pytest.approx(0.01)
    assert c["izhikevich"]["still_improving"] == 0.25
    assert c["izhikevich"]["median_drop"] == 0.0
    a = study.answer_adaptation(None, None, history=pd.DataFrame(rows))
    assert a["convergence"]["adex"]["still_improving"] == 1.0
    # grouped by another column: the dimensionality question's spaces
    h = pd.DataFrame(rows).assign(dim=lambda d: d["model"].map(
        {"adex": "full", "lif": "a+b", "izhikevich": "a+b"}))
    by_dim = convergence(h, by="dim")
    assert by_dim["full"]["still_improving"] == 1.0 and by_dim["full"]["n_fits"] == 4
    assert by_dim["a+b"]["n_fits"] == 8 and by_dim["a+b"]["still_improving"] == 1 / 8


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


def test_positive_control_that_cannot_say_yes_is_named():
    """Ties at every checkpoint (e.g. both spaces fit most truths perfectly): the positive
    control's `yes_attainable` is false and the summary says the test could not have said
    yes, instead of only 'not detected'."""
    from snnfit.study.answers import _by_budget, _budget_controls, _controls_text
    from snnfit.study.statistics import StatsConfig

    rows = []
    for cp in (250, 1000, 4000):
        for i in range(20):  # 5 untied pairs at most, all favouring the reduced space
            d = 0.3 if i < 5 else 0.0
            rows.append(dict(target=f"t{i}", checkpoint=cp, d=d,
                             arms="dimensionality:positive"))
    errs = pd.DataFrame(rows)
    bb = _by_budget(errs, lambda g: g[["target", "d"]], "dimensionality", StatsConfig())
    c = _budget_controls(bb, "dimensionality")
    pos = c["positive"]
    assert pos["n_untied"] == 5 and pos["yes_attainable"] is False
    assert not pos["as_expected"]
    text = _controls_text({"controls": c}, "dimensionality")
    assert "could the positive control have said yes" in text
    # with 14 untied pairs of one sign it could (and does)
    errs2 = errs.assign(d=[0.3 if (i % 20) < 14 else 0.0 for i in range(len(errs))])
    pos2 = _budget_controls(_by_budget(errs2, lambda g: g[["target", "d"]], "dimensionality",
                                       StatsConfig()), "dimensionality")["positive"]
    assert pos2["yes_attainable"] is True and pos2["verdict"] == "yes"


def test_history_of_a_staged_fit_keeps_only_the_final_objectives_loss():
    """A fit whose first stage minimised another objective (``--loss vr``/``staged``): its
    history's best_loss is NaN before the final stage, and the loss curves read the final
    objective only (an earlier stage's smaller numbers in other units are not a best)."""
    from types import SimpleNamespace

    hist = [dict(simulations=s, wall_s=0.1, cpu_s=0.1, joules=0.1, best_loss=b,
                 gamma_at_best=0.5, stage=st)
            for s, b, st in ((100, 0.5, "vr"), (200, 0.2, "vr"), (300, 900.0, "times"),
                             (400, 40.0, "times"))]
    ident = dict(target="t", model="adex", dim="full", k=9, optimizer="cmaes",
                 current="recorded", seed=1, budget=400)
    rows = study.history_rows(SimpleNamespace(history=hist), ident)
    assert [math.isnan(r["best_loss"]) for r in rows] == [True, True, False, False]
    h = pd.DataFrame(rows)
    curves = study.loss_curves(h, ["optimizer"], [150, 250, 350, 400])
    assert curves["forward_equivalents"].tolist() == [350.0, 400.0]
    assert curves["median"].tolist() == [900.0, 40.0]
    # a one-stage fit is unchanged
    one = study.history_rows(SimpleNamespace(history=[dict(hist[2]), dict(hist[3])]), ident)
    assert [r["best_loss"] for r in one] == [900.0, 40.0]
