"""``snnfit simulate``: one sweep of one parameter set; prints JSON."""

from __future__ import annotations

import json
import sys

from ._common import add_params_args, add_protocol_args, number, params_from_args, protocol_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("simulate", help="simulate one sweep and print its spike times (JSON)")
    add_params_args(p, required_model=False)
    p.add_argument("--amplitude", help="step amplitude, pA (default: the preset's)")
    add_protocol_args(p)
    p.add_argument("--scheme", default="euler", help="euler (default), resolved or resolved2")
    p.add_argument("--trace", metavar="FILE.csv", help="write the state trace to this CSV")
    p.add_argument("--fit", metavar="FIT.json", help="replay a fit (its params, amplitudes, "
                   "protocols and scheme); prints one entry per sweep")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import UserError
    from ..io import atomic_write_text, dumps_json
    from ..sim.simulate import simulate

    if args.fit:
        from ..fit.record import replay_fit

        out = replay_fit(args.fit)
        sys.stdout.write(dumps_json(out))
        return 0
    if not args.model and not args.preset:
        raise UserError("--model or --preset is required")
    model, params, preset_amp = params_from_args(args)
    if args.amplitude is not None:
        amp = number(args.amplitude, "--amplitude")
    elif preset_amp is not None:
        amp = preset_amp
    else:
        raise UserError("--amplitude is required without --preset")
    protocol = protocol_from_args(args)
    res = simulate(model, params, amp, protocol, scheme=args.scheme, trace=bool(args.trace))
    if args.trace:
        import numpy as np

        names = list(res.trace)
        rows = np.column_stack([res.t_ms] + [res.trace[k] for k in names])
        header = ",".join(["t_ms"] + names)
        lines = [header] + [",".join(f"{v:.6g}" for v in row) for row in rows]
        atomic_write_text(args.trace, "\n".join(lines) + "\n")
    out = {
        "model": model,
        "params": params,
        "amplitude_pA": amp,
        "protocol": protocol.to_dict(),
        "scheme": args.scheme,
        "status": res.status,
        "n_spikes": int(len(res.spike_times_ms)),
        "n_in_step": res.n_in_step,
        "spike_times_ms": [round(float(t), 6) for t in res.spike_times_ms],
    }
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0
