"""Rule target: the raw target as the study uses it: a synthetic one at its amplitude factors
(snnfit.data.truth.truth_at_factors), every target with its split (which sweeps are fitted,
which held out with which role, which are repeats) in provenance["split"]; atomically."""

import sys

from snnfit.data.targets import load_target, write_target
from snnfit.data.truth import truth_at_factors

sys.stderr = open(snakemake.log[0], "w")
spec = snakemake.params.spec
target = load_target(snakemake.input[0])
if spec["factors"]:
    target = truth_at_factors(target, spec["factors"])
target.provenance["split"] = {
    "train": spec["train"],
    "heldout": spec["heldout"],
    "role": spec["roles"],
    "repeat_pairs": [list(p) for p in spec["repeat_pairs"]],
}
write_target(snakemake.output[0], target)
print(f"{snakemake.output[0]}: sweeps {', '.join(target.ids)}; train "
      f"{', '.join(spec['train'])}", file=sys.stderr)
