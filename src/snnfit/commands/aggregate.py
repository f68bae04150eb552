"""``snnfit aggregate``: tables and answers from a directory of fit JSONs (outside Snakemake).

Writes ``fits.csv``, ``heldout.csv``, ``history.csv``, the summary tables, ``loss_curves.csv``
and ``answers.json`` into ``--out-dir`` (each atomically). The Snakemake study does the same
with its own grid (rule ``aggregate``); here every fit counts for every question.
"""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("aggregate", help="tables and answers from a directory of fit JSONs",
                       description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("fits_dir", help="directory searched for fit JSONs (recursively)")
    p.add_argument("--heldout-dir", default=None,
                   help="held-out evaluations at the same relative paths (snnfit evaluate)")
    p.add_argument("--out-dir", required=True, help="directory for the tables")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    p.add_argument("--treatment", default="snn", help="optimizer question: treatment (snn)")
    p.add_argument("--control", default="direct", help="optimizer question: control (direct)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..errors import UserError
    from ..io import atomic_write_json, atomic_write_text
    from ..study import StatsConfig, answers, build_tables, records_from_dir, study_tables

    if args.n_boot < 100:
        raise UserError(f"--n-boot: expected an integer >= 100, got {args.n_boot}")
    stats = StatsConfig(n_boot=args.n_boot, seed=args.seed)
    fits, heldout, history = build_tables(records_from_dir(args.fits_dir, args.heldout_dir))
    tables = {"fits": fits, "heldout": heldout, "history": history,
              **study_tables(fits, heldout, history, stats)}
    out = Path(args.out_dir)
    for name, df in tables.items():
        atomic_write_text(out / f"{name}.csv", df.to_csv(index=False))
    atomic_write_json(out / "answers.json", answers(fits, heldout, stats, args.treatment,
                                                    args.control))
    print(f"snnfit aggregate: {len(fits)} fit(s), {len(heldout)} held-out -> {out}")
    return 0
