"""``snnfit make-targets --plan PLAN.json``: write many target files in one process (one
start-up), each exactly what ``snnfit make-target`` writes, then (optionally) as the study fits
it: the truth at its amplitude factors (:func:`snnfit.data.truth.truth_at_factors`) and the
sweeps' split (:func:`snnfit.data.splits.split_target`). Every file is validated and written
atomically as soon as it is made.

**Plan** (JSON; the study's rules ``targets_*`` pass one per ``targets:`` entry)::

    {"targets": [{"make": "--prior adex --seed 11 --prior-kind adapting",
                  "out": "results/targets/adex-adapt-s11.json",
                  "command_out": "results/targets/raw/adex-adapt-s11.json",
                  "factors": [1.0, 1.5, 2.0, 2.5],
                  "split": {"train": ["x1", "x2"], "heldout": ["x1.5", "x2.5"],
                            "role": {"x1": "train", ...}, "repeat_pairs": []}},
                 ...]}

``make``: the options of ``snnfit make-target`` (without ``--out``), one shell-quoted string
or a list. ``command_out`` (default ``out``): the ``--out`` of the ``snnfit make-target``
command recorded in the file's provenance, i.e. the file that the two-step route (make-target,
then the split) would have written first; the study keeps the name it had when targets were
made one process each, so that its target files stay byte for byte the same. ``factors``
(optional, null: none) and ``split`` (optional: without it the file is make-target's).
"""

from __future__ import annotations

import sys
from typing import Any

_SPLIT_KEYS = ("train", "heldout", "role", "repeat_pairs")
_KEYS = ("make", "out", "command_out", "factors", "split")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "make-targets", help="write the target files of a plan in one process",
        description=__doc__.splitlines()[0].split(": ", 1)[1] + " " +
        " ".join(__doc__.splitlines()[1:4]))
    p.add_argument("--plan", required=True,
                   help="plan JSON: {targets: [{make, out, command_out, factors, split}]} "
                        "(format: snnfit.commands.make_targets)")
    p.set_defaults(func=run)


def _entry(e: Any, where: str) -> dict:
    """A plan entry, checked (one-line UserError naming ``where`` and the key)."""
    from ..errors import UserError

    if not isinstance(e, dict):
        raise UserError(f"{where}: expected an object")
    unknown = sorted(set(e) - set(_KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(_KEYS)})")
    for key in ("make", "out"):
        if key not in e:
            raise UserError(f"{where}: missing key {key!r}")
    if not isinstance(e["out"], str) or not isinstance(e.get("command_out", ""), str):
        raise UserError(f"{where}: out and command_out must be paths")
    if not isinstance(e["make"], (str, list)):
        raise UserError(f"{where}: make: expected the options of snnfit make-target")
    split = e.get("split")
    if split is not None:
        if not isinstance(split, dict) or set(split) - set(_SPLIT_KEYS) or not (
                {"train", "heldout", "role"} <= set(split)):
            raise UserError(f"{where}: split: expected an object with keys "
                            f"{', '.join(_SPLIT_KEYS)}")
    factors = e.get("factors")
    if factors is not None and not isinstance(factors, list):
        raise UserError(f"{where}: factors: expected a list of numbers or null")
    return e


def make_targets(plan: Any, source: str = "plan", log=None) -> list[str]:
    """Write every target of ``plan`` (module docstring), one after the other; returns the
    files written (a line each to ``log``, default standard error). The first bad entry or
    target stops with a one-line UserError naming ``source``, the entry's index and its
    output (the files written before it are whole)."""
    import json

    from ..data.splits import split_target
    from ..data.targets import target_from_dict, write_target
    from ..data.truth import truth_at_factors
    from ..errors import UserError
    from ..io import dumps_json
    from .make_target import made_target, parse

    if not isinstance(plan, dict) or not isinstance(plan.get("targets"), list):
        raise UserError(f"{source}: expected an object with a list 'targets'")
    entries = [_entry(e, f"{source}: targets[{i}]") for i, e in enumerate(plan["targets"])]
    outs = [e["out"] for e in entries]
    if len(set(outs)) != len(outs):
        raise UserError(f"{source}: an output file is listed twice")
    written = []
    for i, e in enumerate(entries):
        where = f"{source}: targets[{i}] ({e['out']})"
        try:
            command_out = e.get("command_out") or e["out"]
            target = made_target(parse(e["make"], command_out))
            # what make-target's file reads back as (JSON round trip, as the two-step route)
            target = target_from_dict(json.loads(dumps_json(target.to_dict())), command_out)
            if e.get("factors"):
                target = truth_at_factors(target, e["factors"])
            split = e.get("split")
            if split is not None:
                target = split_target(target, split["train"], split["heldout"],
                                      split["role"], split.get("repeat_pairs") or ())
            write_target(e["out"], target)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        written.append(e["out"])
        print(f"{e['out']}: {target.kind}, sweeps {', '.join(target.ids)}"
              + (f"; train {', '.join(split['train'])}" if split is not None else ""),
              file=log or sys.stderr)
    return written


def run(args) -> int:
    from ..io import read_json

    written = make_targets(read_json(args.plan), str(args.plan))
    print(f"snnfit make-targets: wrote {len(written)} target file(s)", file=sys.stderr)
    return 0
