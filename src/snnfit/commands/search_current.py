"""``snnfit search-current``: the smallest step amplitude giving N spikes in the step."""

from __future__ import annotations

import json
import sys

from ._common import (add_params_args, add_protocol_args, number, params_from_args,
                      protocol_from_args, threads_arg)


def add_parser(sub) -> None:
    p = sub.add_parser("search-current", help="find the step amplitude giving N spikes (JSON)")
    add_params_args(p, required_model=False)
    p.add_argument("--n-spikes", required=True, help="target spike count in the step window")
    add_protocol_args(p)
    p.add_argument("--scheme", default="euler", help="euler (default), resolved or resolved2")
    p.add_argument("--max-amplitude", help="top of the searched range, pA (default per model)")
    p.add_argument("--threads", type=threads_arg, default=1, help="numba threads (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import UserError
    from ..sim.models import get_model
    from ..sim.search import search_current

    if not args.model and not args.preset:
        raise UserError("--model or --preset is required")
    try:
        n = int(args.n_spikes)
    except ValueError:
        raise UserError(f"--n-spikes: expected a non-negative integer, got {args.n_spikes!r}")
    if n < 0:
        raise UserError(f"--n-spikes: must be >= 0, got {n}")
    model, params, _ = params_from_args(args)
    protocol = protocol_from_args(args)
    top = None if args.max_amplitude is None else number(args.max_amplitude, "--max-amplitude")
    spec = get_model(model).spec
    vec = spec.vector(params)[None, :]
    r = search_current(model, vec, n, protocol, args.scheme, top, threads=args.threads)
    found = r.status[0] == 0
    out = {
        "model": model,
        "params": params,
        "scheme": args.scheme,
        "protocol": protocol.to_dict(),
        "n_spikes": n,
        "status": r.status_name(0),
        "amplitude_pA": float(r.amplitude_pA[0]) if found else None,
        "bracket_pA": [float(x) for x in r.bracket_pA[0]] if found else None,
        "n_spikes_at_amplitude": int(r.n_spikes[0]),
        "max_amplitude_pA": float(spec.max_amplitude_pA if top is None else top),
        "simulations": r.n_simulations,
    }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0
