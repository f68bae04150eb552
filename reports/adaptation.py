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

from snnfit.study import adaptation_pairs, in_arm, read_tables

answer = json.load(open(answers_json))["adaptation"]
display(Markdown(answer["summary"]))

# %% [markdown]
# **How this is judged.** Each model is fitted (full parameter set, CMA-ES) to one sweep of
# each target and then predicts the target's other sweep(s), at their own amplitudes, without
# refitting: more parameters alone cannot win there. On synthetic targets the held-out sweep
# is the ground truth at 1.5 times the fitted amplitude and the error is 1 - Gamma; on the CA1
# recordings, whose spike times jitter by tens of ms, the error combines ISI-profile, latency
# and count errors. Per target, the relative improvement (e_LIF - e_adaptive) /
# (e_LIF + e_adaptive) is averaged over AdEx and Izhikevich (seeds: median first). The effect
# is the median over targets with a percentile-bootstrap 95% interval; the test is a
# Wilcoxon signed-rank test across targets.

# %%
fits, heldout = read_tables(fits_csv, heldout_csv)
pairs = adaptation_pairs(in_arm(fits, "adaptation"), in_arm(heldout, "adaptation"))
display(Markdown("### Relative improvement over LIF per target (held-out sweep)"))
display(pairs.round(3))

# %%
display(Markdown("### Medians and bootstrap 95% intervals by target class and model"))
summary = pd.read_csv(summary_csv)
keep = summary["metric"].isin(["gamma", "isi_error_ms", "latency_error_ms", "count_error"])
display(summary[keep].pivot_table(index=["set", "target_class", "model"], columns="metric",
                                  values="median").round(3))
display(summary[keep].round(3))

# %%
display(Markdown("### Gamma by model per target class"))
display(Image(f"{figures_dir}/gamma_by_model.png"))
display(Markdown("### Target against fitted spikes (best fit per target and model)"))
display(Image(f"{figures_dir}/rasters.png"))

# %%
display(Markdown("### Test details"))
display(pd.Series({k: answer[k] for k in ("metric", "groups", "n_pairs", "effect", "ci95",
                                          "test", "p_value", "verdict")}).to_frame("value"))
