"""Rule target: the raw target plus held-out sweeps for targets with ground truth
(snnfit.data.truth.add_truth_sweeps); written atomically."""

import sys

from snnfit.data.truth import add_truth_sweeps
from snnfit.data.targets import load_target, write_target

sys.stderr = open(snakemake.log[0], "w")
target = load_target(snakemake.input[0])
target = add_truth_sweeps(target, snakemake.params.factors)
write_target(snakemake.output[0], target)
print(f"{snakemake.output[0]}: sweeps {', '.join(target.ids)}", file=sys.stderr)
