"""``snnfit evaluate``: metrics of a fit replayed on another target (held-out sweeps)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="metrics of a fit replayed on another target")
    p.add_argument("--fit", required=True, help="fit JSON (snnfit fit)")
    p.add_argument("--target", required=True, help="target JSON")
    p.add_argument("--sweeps", help="comma-separated sweep ids of the target (default all)")
    p.add_argument("--out", required=True, help="output JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fit.record import evaluate_fit
    from ..io import atomic_write_json

    sweeps = [s.strip() for s in args.sweeps.split(",") if s.strip()] if args.sweeps else None
    atomic_write_json(args.out, evaluate_fit(args.fit, args.target, sweeps))
    return 0
