# %% [markdown]
# # Does the spiking-network front end help?
#
# *Against the direct-gradient control, CMA-ES and random search, at the same budget of
# forward-equivalents.*

# %% tags=["parameters"]
fits_csv = "results/tables/fits.csv"
heldout_csv = "results/tables/heldout.csv"
summary_csv = "results/tables/summary_optimizers.csv"
curves_csv = "results/tables/loss_curves.csv"
answers_json = "results/reports/answers.json"
figures_dir = "results/figures"

# %%
import json

import pandas as pd
from IPython.display import Image, Markdown, display

answer = json.load(open(answers_json))["optimizers"]
display(Markdown(answer["summary"]))

# %% [markdown]
# **How this is judged.** Each optimizer fits the same targets and models with the same
# budget of forward-equivalents and the same seeds. Per (target, model, space), the relative
# improvement in 1 - Gamma of the treatment over the control (seeds: median first) is the
# paired effect; the effect is the median over pairs with a bootstrap 95% interval and a
# Wilcoxon signed-rank test across pairs. Comparisons with the other optimizers are
# Holm-adjusted.

# %%
display(Markdown("### Treatment against each optimizer"))
display(pd.DataFrame(answer["against"]).T)

# %%
display(Markdown("### Accuracy and cost by optimizer: medians [bootstrap 95% CI]"))
s = pd.read_csv(summary_csv)
s["value"] = s.apply(lambda r: f"{r['median']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]",
                     axis=1)
display(s.pivot_table(index=["optimizer", "model"], columns="metric", values="value",
                      aggfunc="first"))

# %%
display(Markdown("### Is the budget enough? Share of fits whose best loss still fell by more "
                 "than 5 % in the budget's second half, and the median fall, per optimizer"))
conv = answer.get("convergence") or {}
display(pd.DataFrame(conv).T if conv else Markdown("No fit histories."))

# %%
display(Markdown("### Best loss against forward-equivalents"))
display(Image(f"{figures_dir}/optimizer_curves.png"))
display(Markdown("### Joules against accuracy"))
display(Image(f"{figures_dir}/joules_vs_accuracy.png"))
