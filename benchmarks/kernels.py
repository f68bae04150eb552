"""Kernel benchmark (same as ``snnfit bench``): writes results/benchmarks/kernels.csv,
search.csv and fastmath.csv. Run on one thread: ``NUMBA_NUM_THREADS=1 python
benchmarks/kernels.py [--repeats R]``."""

import sys

from snnfit.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
