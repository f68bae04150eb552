"""``snnfit models``: models, parameters (unit, default, bounds, meaning) and presets."""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list models, their parameters and presets")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sim.models import MODELS

    if args.json:
        out = {}
        for name, m in MODELS.items():
            out[name] = {
                "params": [dict(name=p.name, unit=p.unit, default=p.default, lower=p.lower,
                                upper=p.upper, description=p.description,
                                constraint=p.constraint) for p in m.spec.params],
                "max_amplitude_pA": m.spec.max_amplitude_pA,
                "presets": {k: dict(params=dict(v.params), amplitude_pA=v.amplitude_pA,
                                    citation=v.citation, note=v.note)
                            for k, v in m.spec.presets.items()},
            }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 0
    for name, m in MODELS.items():
        print(f"{name}")
        print(f"  {'param':<8} {'unit':<6} {'default':>9} {'lower':>9} {'upper':>9}  meaning")
        for p in m.spec.params:
            print(f"  {p.name:<8} {p.unit:<6} {p.default:>9g} {p.lower:>9g} {p.upper:>9g}  "
                  f"{p.description}")
        print(f"  current search range: 0 to {m.spec.max_amplitude_pA:g} pA")
        print("  presets:")
        for k, v in m.spec.presets.items():
            print(f"    {k:<34} {v.amplitude_pA:>7g} pA  {v.citation}")
        print()
    return 0
