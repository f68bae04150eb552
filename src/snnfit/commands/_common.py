"""Argument helpers shared by the sub-commands (protocol, parameters, threads)."""

from __future__ import annotations

import argparse

from ..errors import UserError


def add_protocol_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("protocol (ms, pA)")
    g.add_argument("--delay", type=str, default="100", help="step onset, ms (default 100)")
    g.add_argument("--duration", type=str, default="1000", help="step length, ms (default 1000)")
    g.add_argument("--t-stop", type=str, default="1200", help="sweep length, ms (default 1200)")
    g.add_argument("--dt", type=str, default="0.1", help="time step, ms (default 0.1)")
    g.add_argument("--holding", type=str, default="0", help="holding current, pA (default 0)")
    g.add_argument("--epoch", action="append", default=[], metavar="START,END,PA",
                   help="an extra epoch of fixed current beside the step (a prepulse, a test "
                   "pulse): start and end in ms from the sweep start, amplitude in pA "
                   "relative to holding (repeatable, in time order, not overlapping the step)")


def number(value: str, field: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{field}: expected a number, got {value!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise UserError(f"{field}: expected a finite number, got {value!r}")
    return v


def epoch_arg(value: str, field: str = "--epoch"):
    """``"START,END,PA"`` -> :class:`~snnfit.sim.protocol.Epoch` (one-line UserError)."""
    from ..sim.protocol import Epoch

    parts = str(value).split(",")
    if len(parts) != 3:
        raise UserError(f"{field} {value!r}: expected START_MS,END_MS,AMPLITUDE_PA")
    vals = [number(v.strip(), f"{field} {value!r}") for v in parts]
    try:
        return Epoch(*vals)
    except UserError as exc:
        raise UserError(f"{field} {value!r}: {exc}") from None


def protocol_from_args(args):
    from ..sim.protocol import StepProtocol

    epochs = tuple(epoch_arg(v) for v in getattr(args, "epoch", None) or ())
    try:
        return StepProtocol(
            delay_ms=number(args.delay, "--delay"),
            duration_ms=number(args.duration, "--duration"),
            t_stop_ms=number(args.t_stop, "--t-stop"),
            dt_ms=number(args.dt, "--dt"),
            holding_pA=number(args.holding, "--holding"),
            epochs=epochs,
        )
    except UserError as exc:
        msg = str(exc)
        raise UserError(f"--epoch: {msg}" if msg.startswith("epochs") else msg) from None


def add_params_args(p: argparse.ArgumentParser, required_model: bool = True) -> None:
    p.add_argument("--model", required=required_model, help="lif, adex or izhikevich")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="published parameter set, e.g. naud2008:adapting")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", default=[],
                   help="set a parameter (repeatable; applied on top of --preset or defaults)")


def params_from_args(args) -> tuple[str, dict, float | None]:
    """(model, complete params dict, preset amplitude or None)."""
    from ..sim.models import get_model, resolve_preset
    from ..sim.params import parse_assignments

    amp = None
    model = args.model
    base: dict = {}
    if args.preset:
        mname, preset = resolve_preset(args.preset, model)
        model = mname
        base = dict(preset.params)
        amp = preset.amplitude_pA
    m = get_model(model)
    sets = parse_assignments(args.set, "--set")
    for k, v in sets.items():
        base[k] = number(v, f"--set {k}") if k in m.spec.names else m.spec.index(k)
    return model, m.spec.complete(base, "--set "), amp


def threads_arg(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n
