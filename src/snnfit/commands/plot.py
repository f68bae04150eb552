"""``snnfit plot FIT.json``: target against fitted spikes (raster) and the voltage trace."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw target vs fitted spikes and the voltage trace")
    p.add_argument("fit", help="fit JSON (snnfit fit)")
    p.add_argument("--out", help="image file (PNG/SVG/PDF; default: FIT with .png)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..io import atomic_write
    from ..study.plotting import plot_fit

    out = args.out or str(Path(args.fit).with_suffix(".png"))
    fig = plot_fit(args.fit)
    suffix = Path(out).suffix.lstrip(".") or "png"
    atomic_write(out, lambda tmp: fig.savefig(tmp, format=suffix, dpi=120,
                                              bbox_inches="tight"))
    print(f"snnfit plot: wrote {out}")
    return 0
