"""Fit records: the typed result of a fit (:class:`FitResult`, the JSON that ``snnfit fit``
writes, documented key by key in ``docs/fit.md``), and reading fit files back: replay a fit,
evaluate it on another target (held-out sweeps)."""

from __future__ import annotations

import json
import numbers
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import read_json
from ..sim.models import get_model
from ..sim.protocol import StepProtocol

#: keys of one ``history`` row (the state after every batch or step of a fit)
HISTORY_KEYS = ("simulations", "wall_s", "cpu_s", "joules", "best_loss", "gamma_at_best")


@dataclass
class FitResult:
    """One fit: its settings, the best point, that point's spikes and metrics, the cost.

    One attribute per key of the fit record (``docs/fit.md``), in the record's order, under
    the key's name except one: ``forward_equivalents`` is written as ``evaluations`` (the
    record's key since the first version). Counts: ``forward_equivalents`` is what the budget
    spends (one simulation = one parameter set x one amplitude x one sweep; other passes at
    their frozen multiples), ``candidates`` the parameter sets evaluated. Times in ms,
    currents in pA, ``loss`` in ms^2; ``None`` where a metric is undefined.
    """

    target: str
    target_kind: str
    model: str
    scheme: str
    dim: str
    k: int
    optimizer: str
    seed: int
    current: str
    budget: int
    status: str
    loss: float
    params: dict[str, float]
    sweep_ids: list[str]
    protocols: list[dict]
    amplitude_pA: list[float]
    spike_times_ms: list[list[float]]
    target_spike_times_ms: list[list[float]]
    gamma: float | None
    spike_time_rmse_ms: float | None
    count_error: int
    van_rossum: float
    victor_purpura: float
    latency_error_ms: float | None
    isi_error_ms: float | None
    param_error: dict[str, float | None] | None
    forward_equivalents: int
    candidates: int
    wall_s: float
    cpu_s: float
    joules: float
    energy_source: str
    energy_note: str | None
    history: list[dict]
    space: dict
    optimizer_info: dict
    provenance: dict
    # keys added later: a record written before them reads back with these defaults
    #: the loss the fit minimised (``snnfit.fit.stages.LOSSES``); records without it: times
    loss_name: str = "times"
    #: free parameters within :data:`AT_BOUND_FRACTION` of the box width of a bound
    at_bound: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """The fit record (a JSON-ready dict, keys in the documented order)."""
        return {_JSON_KEY.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d: Any, source: str = "fit record") -> FitResult:
        """A fit record read back; a missing key or a value of the wrong JSON type raises a
        one-line :class:`UserError` naming ``source`` (the file) and the key. Keys this
        version does not know are ignored."""
        if not isinstance(d, dict):
            raise UserError(f"{source}: expected a JSON object (a fit record of snnfit fit)")
        values = {}
        for f in fields(cls):
            key = _JSON_KEY.get(f.name, f.name)
            if key not in d and _has_default(f):
                continue  # a key added after the record was written
            if key not in d:
                raise UserError(f"{source}: missing key {key!r} (not a fit record of "
                                "snnfit fit?)")
            kind = _KINDS[f.name]
            if not _is(d[key], kind):
                raise UserError(f"{source}: {key}: expected {_kind_text(kind)}, got "
                                f"{_short(d[key])}")
            values[f.name] = d[key]
        n = len(values["sweep_ids"])
        for name in ("protocols", "amplitude_pA", "spike_times_ms", "target_spike_times_ms"):
            if len(values[name]) != n:
                raise UserError(f"{source}: {name}: expected one entry per sweep ({n}, as "
                                f"sweep_ids), got {len(values[name])}")
        for i, row in enumerate(values["history"]):
            if not isinstance(row, dict):
                raise UserError(f"{source}: history[{i}]: expected an object")
            for key in HISTORY_KEYS:
                if key not in row:
                    raise UserError(f"{source}: history[{i}]: missing key {key!r}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read and check a fit file (one-line :class:`UserError` on a bad file)."""
        return cls.from_json(read_json(path), str(path))


#: a free parameter is "at a bound" within this fraction of its box width
AT_BOUND_FRACTION = 0.01


def at_bound(names, unit_values, fraction: float = AT_BOUND_FRACTION) -> list[str]:
    """The parameters among ``names`` whose unit-box coordinate (``unit_values``, a mapping
    by name: 0 at the lower bound, 1 at the upper, :func:`snnfit.sim.params.to_unit`) lies
    within ``fraction`` of a bound, in the order given. On a linear scale that is within
    ``fraction`` of the box width; on a log scale within ``fraction`` of its log width."""
    return [n for n in names if min(unit_values[n], 1.0 - unit_values[n]) <= fraction]


def _has_default(f) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING


#: attribute -> JSON key, where they differ
_JSON_KEY = {"forward_equivalents": "evaluations"}

#: JSON kind of each field, checked on reading (``?``: or null)
_KINDS = {
    "target": "string", "target_kind": "string", "model": "string", "scheme": "string",
    "dim": "string", "k": "integer", "optimizer": "string", "seed": "integer",
    "current": "string", "budget": "integer", "status": "string", "loss": "number",
    "params": "object", "sweep_ids": "list", "protocols": "list", "amplitude_pA": "list",
    "spike_times_ms": "list", "target_spike_times_ms": "list", "gamma": "number?",
    "spike_time_rmse_ms": "number?", "count_error": "integer", "van_rossum": "number",
    "victor_purpura": "number", "latency_error_ms": "number?", "isi_error_ms": "number?",
    "param_error": "object?", "forward_equivalents": "integer", "candidates": "integer",
    "wall_s": "number", "cpu_s": "number", "joules": "number", "energy_source": "string",
    "energy_note": "string?", "history": "list", "space": "object", "optimizer_info": "object",
    "provenance": "object", "loss_name": "string", "at_bound": "list",
}
_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
}


def _is(v: Any, kind: str) -> bool:
    if v is None:
        return kind.endswith("?")
    return _CHECKS[kind.rstrip("?")](v)


def _kind_text(kind: str) -> str:
    base = kind.rstrip("?")
    text = f"{'an' if base[0] in 'aeiou' else 'a'} {base}"
    return text + " or null" if kind.endswith("?") else text


def _short(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------- reading fits back


def load_fit_result(path: str | Path) -> FitResult:
    """A fit file as a :class:`FitResult`, its model known and ``params`` completed and
    checked against the model's spec (what replaying the fit needs)."""
    fit = FitResult.load(path)
    spec = get_model(fit.model).spec
    return replace(fit, params=spec.complete(fit.params, f"{path}: params."))


def load_fit(path: str | Path) -> dict:
    """:func:`load_fit_result` as the record's JSON dict (for readers of the dict form)."""
    return load_fit_result(path).to_json()


def replay_fit(path: str | Path) -> dict:
    """Re-simulate a fit on its own sweeps with its own scheme (``snnfit simulate --fit``)."""
    from ..sim.simulate import simulate

    fit = load_fit_result(path)
    out = []
    for sweep_id, proto, amp in zip(fit.sweep_ids, fit.protocols, fit.amplitude_pA):
        protocol = StepProtocol.from_dict(proto)
        r = simulate(fit.model, fit.params, amp, protocol, scheme=fit.scheme)
        out.append({"sweep": sweep_id, "amplitude_pA": amp,
                    "protocol": protocol.to_dict(), "status": r.status,
                    "spike_times_ms": [round(float(t), 6) for t in r.spike_times_ms]})
    return {"model": fit.model, "params": fit.params, "scheme": fit.scheme, "sweeps": out}


def evaluate_fit(fit_path: str | Path, target_path: str | Path, sweeps=None) -> dict:
    """Metrics of a fit replayed on (some sweeps of) another target.

    Amplitudes: with ``current == recorded`` each target sweep's own amplitude; with
    ``search`` the fit's amplitude when the target has none, else the sweep's own. The
    simulation step is the fit's (its protocols' ``dt_ms``), not the target's.
    """
    from ..metrics import all_metrics
    from ..sim.simulate import simulate
    from ..data.targets import load_target, subset_sweeps

    fit = load_fit_result(fit_path)
    target = load_target(target_path)
    if sweeps:
        unknown = [s for s in sweeps if s not in target.ids]
        if unknown:
            raise UserError(f"--sweeps: unknown sweep(s) {', '.join(unknown)} in {target_path} "
                            f"(available: {', '.join(target.ids)})")
        target = subset_sweeps(target, sweeps)
    trains, amps = [], []
    dt_ms = float(fit.protocols[0]["dt_ms"])  # the fit's simulation step
    for s in target.sweeps:
        amp = s.amplitude_pA
        if amp is None:
            amp = float(fit.amplitude_pA[0])
        r = simulate(fit.model, fit.params, amp, replace(s.protocol, dt_ms=dt_ms),
                     scheme=fit.scheme)
        trains.append(r.spike_times_ms)
        amps.append(float(amp))
    metrics = all_metrics(trains, [s.spike_times_ms for s in target.sweeps],
                          [s.protocol.t_stop_ms for s in target.sweeps],
                          [s.protocol.delay_ms for s in target.sweeps])
    return {
        "fit": str(fit_path),
        "target": str(target_path),
        "model": fit.model,
        "scheme": fit.scheme,
        "dim": fit.dim,
        "optimizer": fit.optimizer,
        "seed": fit.seed,
        "current": fit.current,
        "fit_sweep_ids": fit.sweep_ids,
        "sweep_ids": target.ids,
        "amplitude_pA": amps,
        "spike_times_ms": [[float(t) for t in tr] for tr in trains],
        **metrics,
    }
