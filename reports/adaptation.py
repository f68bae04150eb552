# %% [markdown]
# # Does spike-frequency adaptation help?
#
# *Does a single-cell model with spike-frequency adaptation (AdEx, Izhikevich) fit spike
# times better than one without (LIF), on synthetic and on real targets, including the
# prediction of a held-out sweep?*

# %% tags=["parameters"]
fits_csv = "results/tables/fits.csv"
heldout_csv = "results/tables/heldout.csv"
summary_csv = "results/tables/summary_adaptation.csv"
curves_csv = "results/tables/loss_curves.csv"
answers_json = "results/reports/answers.json"
figures_dir = "results/figures"

# %%
import json

import pandas as pd
from IPython.display import Image, Markdown, display

from snnfit.study import adaptation_differences, heldout_scores, in_arm, read_tables

answer = json.load(open(answers_json))["adaptation"]
display(Markdown(answer["summary"]))

# %% [markdown]
# **How this is judged** (fixed before any control was run: `docs/answers.md`). Each model is
# fitted (full parameter set, CMA-ES) to some step amplitudes of each target and then
# predicts the target's other amplitudes without refitting. The error is the held-out
# firing-pattern score: per held-out sweep the mean of a count term, an ISI-profile term and a
# first-spike-latency term, each in [0, 1]; a fit's error is the mean over its interpolated and
# extrapolated held-out sweeps (seeds: median first). The effect is the paired difference
# e_reference - e_adaptive per target, its median with a bootstrap 95 % interval and a Wilcoxon
# signed-rank test; the verdict is `equivalent` when the interval lies within +-0.05.
# The same comparison runs on positive controls (adaptive truths: expected yes) and negative
# controls (truths without adaptation: expected equivalent).

# %%
fits, heldout = read_tables(fits_csv, heldout_csv)
held = in_arm(heldout, "adaptation")
scores = heldout_scores(held)
display(Markdown("### Held-out score per target and model (median over seeds)"))
display(scores.pivot_table(index=["target_class", "target"], columns="model",
                           values="score").round(3))
display(Markdown("### Across models: e_LIF - e_adaptive per target"))
display(adaptation_differences(scores, "across").round(3))

# %%
display(Markdown("### Medians and bootstrap 95% intervals by target class and model"))
summary = pd.read_csv(summary_csv)
keep = summary["metric"].isin(["pattern_score", "gamma", "isi_error_ms", "latency_error_ms",
                               "count_error"])
display(summary[keep].pivot_table(index=["set", "role", "target_class", "model"],
                                  columns="metric", values="median").round(3))
display(summary[keep].round(3))

# %%
display(Markdown("### Gamma by model per target class"))
display(Image(f"{figures_dir}/gamma_by_model.png"))
display(Markdown("### Target against fitted spikes (best fit per target and model)"))
display(Image(f"{figures_dir}/rasters.png"))

# %%
display(Markdown("### Test details"))
display(pd.Series({k: answer[k] for k in ("metric", "headline", "groups", "n_pairs",
                                          "effect", "ci95", "test", "p_value", "verdict",
                                          "trusted")}).to_frame("value"))
display(Markdown("### Controls"))
display(pd.DataFrame({role: {k: c[k] for k in ("verdict", "expected", "as_expected", "effect",
                                               "ci95", "p_value", "n_pairs")}
                      for role, c in (answer.get("controls") or {}).items()}).T)

# %%
display(Markdown("### Is the budget enough? Share of fits whose best loss still fell by more "
                 "than 5 % in the budget's second half, and the median fall"))
conv = answer.get("convergence") or {}
display(pd.DataFrame(conv).T if conv else Markdown("No fit histories."))
