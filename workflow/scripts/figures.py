"""Rule figures: the study's summary figures (snnfit.study.figures.study_figures)."""

import sys

from snnfit.study.figures import study_figures
from snnfit.study import read_tables

sys.stderr = open(snakemake.log[0], "w")
import pandas as pd

fits, heldout = read_tables(snakemake.input.fits, snakemake.input.heldout)
curves = pd.read_csv(snakemake.input.curves, dtype={"optimizer": str})
for path in study_figures(fits, heldout, curves, snakemake.params.out_dir):
    print(path, file=sys.stderr)
