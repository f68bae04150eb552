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

from snnfit.study import in_arm, read_tables

answer = json.load(open(answers_json))["dimensionality"]
display(Markdown(answer["summary"]))

# %% [markdown]
# **How this is judged** (`docs/answers.md`). Every model is fitted with CMA-ES at the same
# budget of forward-equivalents in the full parameter space and in reduced spaces (a subset
# of parameters, random and PCA projections with k free coordinates). At each budget
# checkpoint the in-sample error 1 - Gamma of the best point so far is compared, per
# (target, model), between the full space and the mean of the reduced ones (seeds: median
# first); Holm-adjusted across checkpoints. Controls: truths that vary only inside the reduced
# subset (reduction must help at some budget) and truths outside it (full must win).

# %%
fits, _ = read_tables(fits_csv, heldout_csv)
display(Markdown("### The answer at each budget checkpoint"))
display(pd.DataFrame(answer.get("by_budget") or []))
display(Markdown("### Controls"))
display(pd.DataFrame({role: {k: c.get(k) for k in ("checkpoint", "verdict", "expected",
                                                   "as_expected", "effect", "ci95",
                                                   "p_value", "n_pairs")}
                      for role, c in (answer.get("controls") or {}).items()}).T)

# %%
display(Markdown("### Accuracy and cost by model and space: medians [bootstrap 95% CI]"))
s = pd.read_csv(summary_csv)
s["value"] = s.apply(lambda r: f"{r['median']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]",
                     axis=1)
display(s.pivot_table(index=["model", "k", "dim"], columns="metric", values="value",
                      aggfunc="first"))

# %%
display(Markdown("### Parameter recovery on synthetic truths: median normalised error "
                 "|fit - truth| / box width over targets [bootstrap 95% CI]"))
rec = {name: {p: f"{v['median']:.3g} [{v['ci95'][0]:.3g}, {v['ci95'][1]:.3g}]"
              for p, v in (d.get("recovery") or {}).items()}
       for name, d in (answer.get("by_setting") or {}).items()}
display(pd.DataFrame(rec).T if any(rec.values()) else Markdown("No synthetic truths."))

# %%
display(Markdown("### Is the budget enough? Share of fits whose best loss still fell by more "
                 "than 5 % in the budget's second half, and the median fall, per space"))
conv = answer.get("convergence") or {}
display(pd.DataFrame(conv).T if conv else Markdown("No fit histories."))

# %%
display(Image(f"{figures_dir}/dimensionality.png"))
