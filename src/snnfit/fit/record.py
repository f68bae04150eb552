"""Reading fit files back: replay a fit, evaluate it on another target (held-out sweeps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..sim.models import get_model
from ..sim.protocol import StepProtocol

FIT_REQUIRED = ("model", "scheme", "params", "amplitude_pA", "current")


def load_fit(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            d = json.load(fh)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(d, dict):
        raise UserError(f"{path}: expected a JSON object (a fit file)")
    for key in FIT_REQUIRED:
        if key not in d:
            raise UserError(f"{path}: missing field {key!r} (not a snnfit fit file?)")
    spec = get_model(d["model"]).spec
    if not isinstance(d["params"], dict):
        raise UserError(f"{path}: params: expected an object")
    d["params"] = spec.complete(d["params"], f"{path}: params.")
    return d


def replay_fit(path: str | Path) -> dict:
    """Re-simulate a fit on its own sweeps with its own scheme (``snnfit simulate --fit``)."""
    from ..sim.simulate import simulate

    d = load_fit(path)
    out = []
    for i, proto in enumerate(d.get("protocols") or [StepProtocol().to_dict()]):
        protocol = StepProtocol.from_dict(proto)
        amp = d["amplitude_pA"][i]
        r = simulate(d["model"], d["params"], amp, protocol, scheme=d["scheme"])
        out.append({"sweep": (d.get("sweep_ids") or [str(i)])[i], "amplitude_pA": amp,
                    "protocol": protocol.to_dict(), "status": r.status,
                    "spike_times_ms": [round(float(t), 6) for t in r.spike_times_ms]})
    return {"model": d["model"], "params": d["params"], "scheme": d["scheme"], "sweeps": out}


def evaluate_fit(fit_path: str | Path, target_path: str | Path, sweeps=None) -> dict:
    """Metrics of a fit replayed on (some sweeps of) another target.

    Amplitudes: with ``current == recorded`` each target sweep's own amplitude; with
    ``search`` the fit's amplitude when the target has none, else the sweep's own.
    """
    from ..metrics import all_metrics
    from ..sim.simulate import simulate
    from ..data.targets import load_target, subset_sweeps

    d = load_fit(fit_path)
    target = load_target(target_path)
    if sweeps:
        unknown = [s for s in sweeps if s not in target.ids]
        if unknown:
            raise UserError(f"--sweeps: unknown sweep(s) {', '.join(unknown)} in {target_path} "
                            f"(available: {', '.join(target.ids)})")
        target = subset_sweeps(target, sweeps)
    trains, amps = [], []
    for s in target.sweeps:
        amp = s.amplitude_pA
        if amp is None:
            amp = float(d["amplitude_pA"][0])
        r = simulate(d["model"], d["params"], amp, s.protocol, scheme=d["scheme"])
        trains.append(r.spike_times_ms)
        amps.append(float(amp))
    metrics = all_metrics(trains, [s.spike_times_ms for s in target.sweeps],
                          [s.protocol.t_stop_ms for s in target.sweeps],
                          [s.protocol.delay_ms for s in target.sweeps])
    return {
        "fit": str(fit_path),
        "target": str(target_path),
        "model": d["model"],
        "scheme": d["scheme"],
        "dim": d.get("dim"),
        "optimizer": d.get("optimizer"),
        "seed": d.get("seed"),
        "current": d["current"],
        "fit_sweep_ids": d.get("sweep_ids"),
        "sweep_ids": target.ids,
        "amplitude_pA": amps,
        "spike_times_ms": [[float(t) for t in tr] for tr in trains],
        **metrics,
    }
