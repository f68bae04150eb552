"""``snnfit make-target``: write a target file (spike times to fit) as JSON.

Exactly one source:

- ``--preset naud2008:adapting [--scheme euler|resolved]`` (default euler)
- ``--prior MODEL --seed S [--scheme ...]`` (default resolved)
- ``--times 100,300,500,700 --duration 1000 [--delay 100]`` (times from the step onset)
- ``--recording spikes.csv [--cell ID] [--sweep N]... [--sweeps-csv F] [--epochs-csv F]
  [--citation TEXT]`` (extra stimulus epochs from epochs.csv beside it, if present)

The file is validated in full and written atomically (nothing is written on error).
See :mod:`snnfit.data.targets` for the format.
"""

from __future__ import annotations

import argparse
import shlex


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "make-target", help="write a target file (spike times to fit)",
        description=__doc__.splitlines()[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:8]))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", metavar="MODEL:NAME", help="a published preset, e.g. "
                     "naud2008:adapting, simulated at its own amplitude")
    src.add_argument("--prior", metavar="MODEL", help="a ground truth drawn uniformly from "
                     "the model's fit box (needs --seed)")
    src.add_argument("--times", metavar="T1,T2,...", help="fixed spike times in ms from the "
                     "step onset (needs --duration)")
    src.add_argument("--recording", metavar="SPIKES_CSV", help="long-format spike CSV "
                     "(cell_id, sweep, amplitude_pA, stim_start_ms, stim_end_ms, "
                     "spike_time_ms); sweeps.csv beside it is used if present")
    p.add_argument("--scheme", choices=("euler", "resolved", "resolved2"), default=None,
                   help="integration scheme for --preset (default euler) or --prior "
                   "(default resolved)")
    p.add_argument("--seed", type=int, default=None, help="seed for --prior")
    p.add_argument("--prior-kind", default=None, metavar="KIND",
                   help="restrict --prior draws: any (default), adapting, nonadapting, "
                        "subspace:NAMES (snnfit.data.priors)")
    p.add_argument("--duration", "--duration-ms", dest="duration_ms", type=float,
                   default=None, help="step duration in ms for --times")
    p.add_argument("--delay", "--delay-ms", dest="delay_ms", type=float, default=100.0,
                   help="step onset in ms for --times (default 100)")
    p.add_argument("--cell", default=None, help="cell_id for --recording (optional if the "
                   "file holds one cell)")
    p.add_argument("--sweep", action="append", default=None, metavar="N",
                   help="sweep for --recording (repeatable; default all sweeps of the cell)")
    p.add_argument("--sweeps-csv", default=None, help="sweep table for --recording "
                   "(default: sweeps.csv beside the spike CSV)")
    p.add_argument("--epochs-csv", default=None, help="stimulus epochs for --recording "
                   "(snnfit ingest's epochs.csv; default: epochs.csv beside the spike CSV, if "
                   "present): the epochs other than the main step are simulated as recorded")
    p.add_argument("--citation", default=None, help="citation for --recording (default: the "
                   "'Cite ...' line of README.md beside the CSV)")
    p.add_argument("--out", required=True, help="output JSON file (written atomically)")
    p.set_defaults(func=run)


def _command_line(args) -> str:
    argv = ["snnfit", "make-target"]
    for flag, dest in (("--preset", "preset"), ("--prior", "prior"), ("--times", "times"),
                       ("--recording", "recording"), ("--cell", "cell"),
                       ("--sweeps-csv", "sweeps_csv"), ("--epochs-csv", "epochs_csv"),
                       ("--scheme", "scheme"),
                       ("--seed", "seed"), ("--duration", "duration_ms")):
        v = getattr(args, dest)
        if v is not None:
            argv += [flag, str(v)]
    if args.times is not None and args.delay_ms != 100.0:
        argv += ["--delay", str(args.delay_ms)]
    for s in args.sweep or ():
        argv += ["--sweep", str(s)]
    if args.citation is not None:
        argv += ["--citation", args.citation]
    argv += ["--out", str(args.out)]
    return shlex.join(argv)


def _only(args, allowed: set[str], source: str) -> None:
    from ..errors import UserError

    given = {"seed": args.seed is not None, "duration": args.duration_ms is not None,
             "cell": args.cell is not None, "sweep": bool(args.sweep),
             "sweeps-csv": args.sweeps_csv is not None, "citation": args.citation is not None,
             "epochs-csv": args.epochs_csv is not None,
             "scheme": args.scheme is not None, "delay": args.delay_ms != 100.0,
             "prior-kind": args.prior_kind is not None}
    extra = [k for k, v in given.items() if v and k not in allowed]
    if extra:
        raise UserError(f"--{extra[0]} does not apply to {source}")


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str):  # a bad argument list in a plan: one line, no exit
        from ..errors import UserError

        raise UserError(message)


def parse(argv, out: str) -> argparse.Namespace:
    """The options of ``snnfit make-target ARGV --out OUT`` (``argv``: a list of arguments or
    one shell-quoted string), parsed as the command parses them (one-line UserError)."""
    argv = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
    parser = _RaisingParser(prog="snnfit")
    add_parser(parser.add_subparsers(parser_class=_RaisingParser))
    return parser.parse_args(["make-target", *argv, "--out", str(out)])


def made_target(args):
    """The target ``snnfit make-target`` writes for the parsed ``args`` (:func:`parse`), its
    command line in ``provenance["command"]``; not written."""
    from ..data import targets
    from ..errors import UserError

    cmd = _command_line(args)
    if args.preset is not None:
        _only(args, {"scheme"}, "--preset")
        t = targets.preset_target(args.preset, scheme=args.scheme or "euler", command=cmd)
    elif args.prior is not None:
        _only(args, {"scheme", "seed", "prior-kind"}, "--prior")
        if args.seed is None:
            raise UserError("--prior needs --seed (an integer)")
        t = targets.prior_target(args.prior, seed=args.seed, scheme=args.scheme or "resolved",
                                 command=cmd, kind=args.prior_kind or "any")
    elif args.times is not None:
        _only(args, {"duration", "delay"}, "--times")
        if args.duration_ms is None:
            raise UserError("--times needs --duration (the step duration in ms)")
        times = targets.parse_times(args.times)
        t = targets.times_target(times, args.duration_ms, delay_ms=args.delay_ms, command=cmd)
    else:
        _only(args, {"cell", "sweep", "sweeps-csv", "epochs-csv", "citation"}, "--recording")
        t = targets.recording_target(args.recording, cell=args.cell, sweeps=args.sweep,
                                     sweeps_csv=args.sweeps_csv, citation=args.citation,
                                     command=cmd, epochs_csv=args.epochs_csv)
    return t


def run(args) -> int:
    from ..data import targets

    t = made_target(args)
    targets.write_target(args.out, t)
    n = t.n_spikes
    n_ep = sum(bool(s.protocol.epochs) for s in t.sweeps)
    print(f"snnfit make-target: wrote {args.out} ({t.kind}, {len(t.sweeps)} sweep(s), "
          f"{n} spike(s)" + (f", {n_ep} with extra stimulus epochs" if n_ep else "") + ")")
    return 0
