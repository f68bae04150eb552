"""Rule traces: for every (target, model), the best of its fits (highest Gamma,
snnfit.study.best_fit_path) drawn as `snnfit plot` draws it (snnfit.study.plotting.plot_fit),
all in this one process; every PNG written atomically."""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from snnfit.io import atomic_write  # noqa: E402
from snnfit.study import best_fit_path  # noqa: E402
from snnfit.study.plotting import plot_fit  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
for out, fits in snakemake.params.traces.items():
    best = best_fit_path(fits)
    print(f"{out}: best fit {best}", file=sys.stderr)
    fig = plot_fit(best)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png", dpi=120,
                                              bbox_inches="tight"))
    plt.close(fig)
