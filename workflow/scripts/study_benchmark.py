"""Rule study_benchmark: results/benchmarks/study.csv (snnfit.study.throughput)."""

import os
import sys

os.environ["NUMBA_NUM_THREADS"] = "1"  # the kernel benchmark runs on one thread

from snnfit.study.throughput import study_benchmark  # noqa: E402

sys.stderr = open(snakemake.log[0], "w")
rows = study_benchmark(snakemake.params.bench_dir, {"fit_batch": list(snakemake.input.fits)},
                       snakemake.params.scheme, int(snakemake.resources.study_cores),
                       snakemake.output.study, snakemake.output.kernels)
for r in rows:
    print(r, file=sys.stderr)
