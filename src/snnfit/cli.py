"""The ``snnfit`` command line: parsing and printing only.

Each sub-command lives in ``snnfit/commands/<name>.py`` and defines ``add_parser(subparsers)``
(which sets ``func`` via ``set_defaults``). Heavy imports happen inside the command, so
``snnfit --help`` is fast. Bad input raises :class:`snnfit.errors.UserError`; it is printed
on one line and the exit status is 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage first)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnfit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"snnfit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"snnfit.commands.{info.name}")
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except UserError as exc:
        msg = " ".join(str(exc).split())
        print(f"snnfit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `snnfit models | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"snnfit {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
