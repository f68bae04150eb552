# %% [markdown]
# # Does reducing the dimensionality of the optimisation help?
#
# *Accuracy, forward-equivalents, seconds and joules as the number of free coordinates k
# changes.*

# %% tags=["parameters"]
fits_csv = "results/tables/fits.csv"
heldout_csv = "results/tables/heldout.csv"
summary_csv = "results/tables/summary_dimensionality.csv"
curves_csv = "results/tables/loss_curves.csv"
answers_json = "results/reports/answers.json"
figures_dir = "results/figures"

# %%
import json

import pandas as pd
from IPython.display import Image, Markdown, display

from snnfit.study import dimensionality_pairs, in_arm, read_tables

answer = json.load(open(answers_json))["dimensionality"]
display(Markdown(answer["summary"]))

# %% [markdown]
# **How this is judged.** Every model is fitted with CMA-ES at the same budget of
# forward-equivalents in the full parameter space and in reduced spaces (a subset of
# parameters, random and PCA projections with k free coordinates). Per (target, model), the
# relative improvement in 1 - Gamma of each reduced space over the full one (seeds: median
# first) is averaged over the reduced spaces. The effect is the median over pairs with a
# bootstrap 95% interval; the test is a Wilcoxon signed-rank test across pairs.

# %%
fits, _ = read_tables(fits_csv, heldout_csv)
pairs = dimensionality_pairs(in_arm(fits, "dimensionality"))
display(Markdown("### Relative improvement of the reduced spaces per (target, model)"))
display(pairs.round(3))

# %%
display(Markdown("### Accuracy and cost by model and space: medians [bootstrap 95% CI]"))
s = pd.read_csv(summary_csv)
s["value"] = s.apply(lambda r: f"{r['median']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]",
                     axis=1)
display(s.pivot_table(index=["model", "k", "dim"], columns="metric", values="value",
                      aggfunc="first"))

# %%
display(Image(f"{figures_dir}/dimensionality.png"))
