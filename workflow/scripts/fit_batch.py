"""Rule fit_batch_*: the batch's fits in this one process (snnfit.fit.batch.run_batch); exits
non-zero if a fit failed (its error is in the log; the others are written and cached)."""

import os
import sys

# numba reads its thread count at import: the rule's threads, set before snnfit is imported
for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(snakemake.threads)

from snnfit.fit.batch import plan_from_dict, run_batch  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
fits, cache = plan_from_dict({"cache": snakemake.params.cache, "fits": snakemake.params.plan},
                             f"rule {snakemake.rule}")
report = run_batch(fits, cache)
print(f"{snakemake.rule}: {report.count('ran')} ran, {report.count('cached')} from the cache, "
      f"{report.count('failed')} failed", file=sys.stderr)
sys.exit(1 if report.failed else 0)
