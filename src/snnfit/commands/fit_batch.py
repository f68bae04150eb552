"""``snnfit fit-batch --plan PLAN.json``: run many fits in one process (one start-up, kernels
warmed once), each written atomically to its own file; finished fits are kept in a cache so
that an interrupted batch resumes with only its unfinished fits (:mod:`snnfit.fit.batch`)."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit-batch", help="run the fits of a plan in one process (writes one JSON per fit)",
        description=__doc__.splitlines()[0].split(": ", 1)[1] + " " +
        " ".join(__doc__.splitlines()[1:]))
    p.add_argument("--plan", required=True,
                   help="plan JSON: {cache, fits: [{target, out, settings, heldout}]} "
                        "(format: snnfit.fit.batch)")
    p.add_argument("--cache", default=None,
                   help="cache directory of finished fits (default: the plan's 'cache'; "
                        "none: no cache)")
    p.add_argument("--threads", default=None, help="numba/torch threads of every fit "
                   "(default: each fit's settings)")
    p.set_defaults(func=run)


def run(args) -> int:
    import dataclasses

    from ..errors import UserError
    from ..fit.batch import load_plan, run_batch

    fits, cache = load_plan(args.plan)
    if args.threads is not None:
        try:
            threads = int(args.threads)
        except ValueError:
            threads = 0
        if threads < 1:
            raise UserError(f"--threads: expected a positive integer, got {args.threads!r}")
        fits = [dataclasses.replace(f, settings=dataclasses.replace(f.settings,
                                                                    threads=threads))
                for f in fits]
    if args.cache is not None:  # "none": no cache (not a directory of that name)
        cache = None if args.cache.strip().lower() == "none" else args.cache
    report = run_batch(fits, cache)
    print(f"snnfit fit-batch: {report.count('ran')} ran, {report.count('cached')} from the "
          f"cache, {report.count('failed')} failed, "
          f"{sum(dt for _, _, dt in report.rows):.1f} s", file=sys.stderr)
    if report.failed:
        print("snnfit fit-batch: failed: " + ", ".join(report.failed), file=sys.stderr)
        return 1
    return 0
