"""``snnfit bench``: neuron-steps per second of the kernels vs scalar loops; search wall time."""

from __future__ import annotations

import sys

from ._common import threads_arg


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmark the simulation kernels and the current search",
                       description="Writes KERNELS.csv (model, scheme, batch, threads, "
                       "neuron_steps_per_s, ratio_to_scalar) and, next to it, search.csv "
                       "(wall time of one current search for 1 and 256 sets) and fastmath.csv "
                       "(speed of a fastmath build: the cost of determinism).")
    p.add_argument("--threads", type=threads_arg, default=1, help="numba threads (default 1)")
    p.add_argument("--out", default="results/benchmarks/kernels.csv", metavar="KERNELS.csv",
                   help="output CSV (default results/benchmarks/kernels.csv)")
    p.add_argument("--repeats", type=threads_arg, default=5,
                   help="timed repeats per figure; medians are reported (default 5)")
    p.add_argument("--batches", default="1,64,1024,8192",
                   help="comma-separated batch sizes (default 1,64,1024,8192)")
    p.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                   help="cpu: process CPU time (default; robust on a shared machine), wall")
    p.add_argument("--no-fastmath", action="store_true",
                   help="skip the fastmath comparison (saves its compilation time)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sim.bench import run_bench
    from ..errors import UserError

    try:
        batches = tuple(int(x) for x in args.batches.split(","))
    except ValueError:
        raise UserError(f"--batches: expected comma-separated integers, got {args.batches!r}")
    if not batches or min(batches) < 1:
        raise UserError(f"--batches: sizes must be >= 1, got {args.batches!r}")
    run_bench(args.out, threads=args.threads, repeats=args.repeats, batches=batches,
              fastmath=not args.no_fastmath, clock=args.clock,
              log=lambda m: print(m, file=sys.stderr, flush=True))
    print(args.out)
    return 0
