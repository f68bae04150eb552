"""``snnfit ingest``: raw recordings (ABF, NWB, IBW manifest) to spike and sweep tables.

Reads every current-clamp sweep of the files given, detects spikes and the stimulus, and
writes into ``--out DIR``: ``spikes.csv`` (one row per spike), ``sweeps.csv`` (one row per
sweep, with ``quality``), ``epochs.csv`` (the stimulus epochs) and ``ingest.json``
(provenance). ``snnfit make-target --recording DIR/spikes.csv`` reads them.
See docs/ingest.md for the conventions, the quality flags and the errors.
"""

from __future__ import annotations

import argparse
import shlex


def add_parser(subparsers) -> None:
    summary = __doc__.splitlines()[0].split(": ", 1)[1]
    p = subparsers.add_parser(
        "ingest", help="read raw recordings (ABF, NWB, IBW manifest) into spikes.csv and "
        "sweeps.csv", description=summary[0].upper() + summary[1:],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("recordings", nargs="+", metavar="RECORDING",
                   help=".abf, .nwb, or a .json manifest listing .ibw waves (BluePyEfe's "
                   "config format)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (files are "
                   "written atomically; nothing is written on error)")
    p.add_argument("--cell-id", default=None, help="cell id for ABF/NWB files (default: the "
                   "file stem); joins several files into one cell")
    p.add_argument("--threshold-mV", dest="threshold_mV", type=str, default="-20",
                   help="spike threshold in mV (default -20; re-armed 10 mV below)")
    p.add_argument("--ljp-mV", dest="ljp_mV", default=None, metavar="MV|manifest",
                   help="liquid junction potential subtracted from the reported voltages "
                   "(not before spike detection); a number, or 'manifest' for each cell's "
                   "'ljp'. Default: not corrected")
    p.add_argument("--protocol", action="append", default=None, metavar="NAME",
                   help="manifest experiments to read (repeatable; default all)")
    p.add_argument("--v-channel", default=None, help="ABF: the voltage channel's name "
                   "(e.g. 'IN 0'), where several are in volts")
    p.add_argument("--i-channel", default=None, help="ABF: a recorded current channel's "
                   "name; default: a channel in amperes if any, else the epoch table")
    p.set_defaults(func=run)


def _command_line(args) -> str:
    argv = ["snnfit", "ingest", *map(str, args.recordings), "--out", str(args.out)]
    for flag, dest in (("--cell-id", "cell_id"), ("--ljp-mV", "ljp_mV"),
                       ("--v-channel", "v_channel"), ("--i-channel", "i_channel")):
        v = getattr(args, dest)
        if v is not None:
            argv += [flag, str(v)]
    if args.threshold_mV != "-20":
        argv += ["--threshold-mV", args.threshold_mV]
    for proto in args.protocol or ():
        argv += ["--protocol", proto]
    return shlex.join(argv)


def run(args) -> int:
    from snnfit.commands._common import number
    from snnfit.data.ingest import ingest, ingest_options, write_tables
    from snnfit.data.readers import read_recordings

    threshold = number(args.threshold_mV, "--threshold-mV")
    ljp = args.ljp_mV
    if ljp is not None and ljp != "manifest":
        ljp = number(ljp, "--ljp-mV")
    raws = read_recordings(args.recordings, cell_id=args.cell_id, v_channel=args.v_channel,
                           i_channel=args.i_channel, protocols=args.protocol)
    tables = ingest(raws, threshold_mV=threshold, ljp=ljp)
    options = ingest_options(threshold, ljp, args.cell_id, args.protocol, args.v_channel,
                             args.i_channel)
    write_tables(args.out, tables, args.recordings, command=_command_line(args),
                 options=options)
    rows = [st.row for st in tables.sweeps]
    cells = len({r["cell_id"] for r in rows})
    ok = sum(r["quality"] == "ok" for r in rows)
    print(f"snnfit ingest: wrote {args.out}/spikes.csv, sweeps.csv, epochs.csv ({cells} "
          f"cell(s), {len(rows)} sweep(s), {ok} ok, {tables.n_spikes} spike(s))")
    return 0
