"""Target files: the spike times a fit tries to reproduce.

A target is a JSON file (``schema_version`` 1)::

    {"schema_version": 1,
     "kind": "preset" | "prior" | "times" | "recording",
     "provenance": {"command": ..., "source": ..., "citation": ..., "seed": ...,
                    "snnfit_version": ..., ...},
     "truth": {"model": ..., "scheme": ..., "params": {...}} or null,
     "sweeps": [{"id": "1054",
                 "protocol": {"delay_ms", "duration_ms", "t_stop_ms", "dt_ms", "holding_pA",
                              "epochs": [{"start_ms", "end_ms", "amplitude_pA"}, ...]},
                 "amplitude_pA": 119.06 or null,
                 "spike_times_ms": [...]}]}

All times are ms from the start of the sweep (see :mod:`snnfit.sim.protocol`). The protocol
is the main step (``delay_ms``, ``duration_ms``; its amplitude is the sweep's
``amplitude_pA``) and, only where the sweep has them, ``epochs``: the other stretches of
constant current recorded with it (a prepulse, a test pulse, a second step; amplitudes
relative to holding), simulated as recorded and never scaled. Sweep ids are strings (a
recording's sweep number, ``"0"`` for a single simulated or fixed sweep).

Four ways to make one (``snnfit make-target``):

- :func:`preset_target`: a published parameter set simulated at its own amplitude in the
  default protocol; ``truth`` holds the preset.
- :func:`prior_target`: a ground truth drawn uniformly from the model's prior box, kept if it
  fires :data:`PRIOR_MIN_SPIKES` to :data:`PRIOR_MAX_SPIKES` spikes at the model's prior
  amplitude (:func:`prior_amplitude_pA`).
- :func:`times_target`: fixed spike times relative to the step onset (amplitude unknown).
- :func:`recording_target`: one cell of a long-format spike CSV (``spikes.csv``) with an
  optional ``sweeps.csv`` and ``epochs.csv`` (:func:`read_epochs`) beside it.

:func:`load_target` reads and validates a target file; :func:`subset_sweeps` keeps some
sweeps (held-out evaluation); :func:`target_class` gives the study's class of a target
(:data:`TARGET_CLASSES`); :func:`recording_sweeps` lists a recording's cells and sweeps.
Bad input raises :class:`~snnfit.errors.UserError` with one line naming the file and the row
(``line N``: the physical line of the file, header = line 1) or the field.
"""

from __future__ import annotations

import csv
import hashlib
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .. import __version__
from ..errors import UserError
from ..sim.protocol import PROTOCOL_FIELDS, Epoch, StepProtocol
from .epochs import EPOCH_COLUMNS, EPOCHS_FILE
from .quality import QUALITY_OK, left_out_notice, sweep_is_fittable

SCHEMA_VERSION = 1
KINDS = ("preset", "prior", "times", "recording")
SCHEMES = ("euler", "resolved", "resolved2")
#: the study's classes of targets: the kinds, with presets simulated by the euler scheme
#: apart (``preset-euler``, the model-mismatch case: the fits use the resolved scheme)
TARGET_CLASSES = ("preset", "preset-euler", "prior", "times", "recording")

#: a prior draw is kept if it fires this many spikes (inclusive) in the sweep ...
PRIOR_MIN_SPIKES = 3
PRIOR_MAX_SPIKES = 60
#: ... at this step amplitude (pA), the same for every model ...
PRIOR_AMPLITUDE_PA = 300.0
#: ... and gives up after this many draws
PRIOR_MAX_DRAWS = 20000
_PRIOR_BATCH = 64

#: sweep length after the step when ``sweeps.csv`` is absent (ms)
DEFAULT_TAIL_MS = 100.0
DEFAULT_DT_MS = 0.1

SPIKE_COLUMNS = ("cell_id", "sweep", "amplitude_pA", "stim_start_ms", "stim_end_ms",
                 "spike_time_ms")
SWEEP_COLUMNS = ("cell_id", "sweep", "amplitude_pA", "holding_pA", "stim_start_ms",
                 "stim_end_ms", "sweep_duration_ms")  # dt_ms optional (default 0.1)


# --------------------------------------------------------------------------- data types


@dataclass
class Sweep:
    """One sweep: a step protocol, its amplitude (pA, ``None`` if unknown) and spike times
    (ms from the sweep start, strictly increasing, within ``[0, t_stop_ms)``)."""

    id: str
    protocol: StepProtocol
    amplitude_pA: float | None
    spike_times_ms: np.ndarray
    #: the recording's quality of the sweep (:mod:`snnfit.data.quality`); None: not known
    #: (the sweep counts as ``ok``). Written to the file only when known.
    quality: str | None = None

    def to_dict(self) -> dict:
        d = {
            "id": self.id,
            "protocol": self.protocol.to_dict(),
            "amplitude_pA": None if self.amplitude_pA is None else float(self.amplitude_pA),
            "spike_times_ms": [float(t) for t in self.spike_times_ms],
        }
        if self.quality is not None:
            d["quality"] = self.quality
        return d


@dataclass
class Target:
    """A validated target: ``kind``, ``provenance``, ``truth`` (or ``None``) and sweeps."""

    kind: str
    provenance: dict
    truth: dict | None
    sweeps: list[Sweep] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sweeps]

    @property
    def n_spikes(self) -> int:
        return int(sum(len(s.spike_times_ms) for s in self.sweeps))

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "provenance": self.provenance,
            "truth": self.truth,
            "sweeps": [s.to_dict() for s in self.sweeps],
        }


def class_of(kind: str, scheme: str | None = None) -> str:
    """The class (:data:`TARGET_CLASSES`) of a target of ``kind`` whose truth was simulated
    with ``scheme`` (``None`` without truth)."""
    if kind == "preset" and scheme == "euler":
        return "preset-euler"
    if kind in TARGET_CLASSES:
        return str(kind)
    raise UserError(f"target: unknown kind {kind!r}")


def target_class(target: dict | Target) -> str:
    """The class of a target (its JSON dict or a :class:`Target`): ``preset``,
    ``preset-euler``, ``prior``, ``times`` or ``recording``."""
    if isinstance(target, Target):
        kind, truth = target.kind, target.truth
    else:
        kind, truth = target.get("kind"), target.get("truth")
    return class_of(kind, (truth or {}).get("scheme"))


def fittable_sweeps(target: Target) -> tuple[Target, list[Sweep]]:
    """``(target with the sweeps that may be fitted, the sweeps left out)``: the quality rule
    (:func:`snnfit.data.quality.sweep_is_fittable`) applied to every sweep that carries a
    ``quality``; a sweep without one counts as ``ok``. The target is returned as it is when
    nothing is left out; a UserError when nothing would be left."""
    kept = [s for s in target.sweeps if sweep_is_fittable(s.quality)]
    out = [s for s in target.sweeps if not sweep_is_fittable(s.quality)]
    if not out:
        return target, []
    if not kept:
        raise UserError(f"target: no sweep of quality '{QUALITY_OK}' (sweeps "
                        + ", ".join(f"{s.id}: {s.quality}" for s in out) + ")")
    prov = dict(target.provenance)
    prov["left_out"] = {s.id: s.quality for s in out}
    return Target(target.kind, prov, target.truth, kept), out


def subset_sweeps(target: Target, ids: Iterable[str]) -> Target:
    """A copy of ``target`` keeping the sweeps ``ids`` (in the order given).

    Ids are compared as strings (``1054`` and ``"1054"`` are the same sweep). The result may
    hold no spikes (a silent held-out sweep is legitimate); it records the kept ids in
    ``provenance["subset"]``.
    """
    wanted = [_sweep_key(i) for i in ids]
    by_id = {s.id: s for s in target.sweeps}
    seen: set[str] = set()
    out = []
    for i in wanted:
        if i not in by_id:
            raise UserError(f"sweep {i!r} not in target (available: {', '.join(by_id)})")
        if i in seen:
            raise UserError(f"sweep {i!r} given twice")
        seen.add(i)
        s = by_id[i]
        out.append(replace(s, spike_times_ms=s.spike_times_ms.copy()))
    if not out:
        raise UserError("subset_sweeps: no sweep ids given")
    prov = dict(target.provenance)
    prov["subset"] = wanted
    return Target(target.kind, prov, target.truth, out)


# --------------------------------------------------------------------------- validation


def validate_spike_times(times: Any, protocol: StepProtocol, where: str) -> np.ndarray:
    """Spike times as a float64 array, or a one-line UserError prefixed by ``where``:
    every time a finite number (no NaN), >= 0, < ``t_stop_ms`` and strictly increasing."""
    if isinstance(times, (str, bytes)) or not isinstance(times, (list, tuple, np.ndarray)):
        raise UserError(f"{where}: expected a list of numbers, got {type(times).__name__}")
    vals = []
    for j, t in enumerate(times):
        if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
            raise UserError(f"{where}[{j}]: expected a number, got {t!r}")
        vals.append(float(t))
    arr = np.asarray(vals, dtype=np.float64)
    for j, t in enumerate(arr):
        if not math.isfinite(t):
            raise UserError(f"{where}[{j}]: expected a finite number, got {t}")
        if t < 0:
            raise UserError(f"{where}[{j}]: negative spike time {t:g} ms")
        if t >= protocol.t_stop_ms:
            raise UserError(f"{where}[{j}]: spike time {t:g} ms is outside the sweep "
                            f"[0, {protocol.t_stop_ms:g}) ms")
        if j and t <= arr[j - 1]:
            raise UserError(f"{where}[{j}]: spike times not strictly increasing "
                            f"({arr[j - 1]:g} then {t:g} ms)")
    return arr


def _check_stimulus(protocol: StepProtocol, where: str) -> None:
    if protocol.delay_ms + protocol.duration_ms > protocol.t_stop_ms + 1e-9:
        raise UserError(f"{where}: step ends at {protocol.stim_end_ms:g} ms, after the sweep "
                        f"ends (t_stop_ms {protocol.t_stop_ms:g})")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def target_from_dict(d: Any, source: str = "target") -> Target:
    """Validate a parsed target JSON (see module docstring); errors name ``source`` and the
    field, e.g. ``T.json: sweeps[1].spike_times_ms[3]: ...``."""
    w = f"{source}:"
    if not isinstance(d, dict):
        raise UserError(f"{w} expected a JSON object at the top level")
    for key in ("schema_version", "kind", "provenance", "truth", "sweeps"):
        if key not in d:
            raise UserError(f"{w} missing field {key!r}")
    unknown = set(d) - {"schema_version", "kind", "provenance", "truth", "sweeps"}
    if unknown:
        raise UserError(f"{w} unknown field(s) {', '.join(sorted(unknown))}")
    if d["schema_version"] != SCHEMA_VERSION or isinstance(d["schema_version"], bool):
        raise UserError(f"{w} schema_version: expected {SCHEMA_VERSION}, "
                        f"got {d['schema_version']!r}")
    kind = d["kind"]
    if kind not in KINDS:
        raise UserError(f"{w} kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    prov = d["provenance"]
    if not isinstance(prov, dict):
        raise UserError(f"{w} provenance: expected an object")
    truth = d["truth"]
    if truth is not None:
        if not isinstance(truth, dict):
            raise UserError(f"{w} truth: expected an object or null")
        for key in ("model", "scheme", "params"):
            if key not in truth:
                raise UserError(f"{w} truth: missing field {key!r}")
        if not isinstance(truth["model"], str) or not truth["model"]:
            raise UserError(f"{w} truth.model: expected a model name")
        if truth["scheme"] not in SCHEMES:
            raise UserError(f"{w} truth.scheme: expected one of {', '.join(SCHEMES)}, "
                            f"got {truth['scheme']!r}")
        params = truth["params"]
        if not isinstance(params, dict) or not params:
            raise UserError(f"{w} truth.params: expected an object of numbers")
        for k, v in params.items():
            if not _is_number(v) or not math.isfinite(v):
                raise UserError(f"{w} truth.params.{k}: expected a finite number, got {v!r}")
    elif kind in ("preset", "prior"):
        raise UserError(f"{w} truth: a {kind} target needs the ground truth, got null")
    sweeps_raw = d["sweeps"]
    if not isinstance(sweeps_raw, list) or not sweeps_raw:
        raise UserError(f"{w} sweeps: expected a non-empty list (empty target)")
    sweeps = []
    seen: set[str] = set()
    for i, s in enumerate(sweeps_raw):
        ws = f"{w} sweeps[{i}]"
        if not isinstance(s, dict):
            raise UserError(f"{ws}: expected an object")
        for key in ("id", "protocol", "amplitude_pA", "spike_times_ms"):
            if key not in s:
                raise UserError(f"{ws}: missing field {key!r}")
        unknown = set(s) - {"id", "protocol", "amplitude_pA", "spike_times_ms", "quality"}
        if unknown:
            raise UserError(f"{ws}: unknown field(s) {', '.join(sorted(unknown))}")
        sid = s["id"]
        if not isinstance(sid, str) or not sid:
            raise UserError(f"{ws}.id: expected a non-empty string, got {sid!r}")
        if sid in seen:
            raise UserError(f"{ws}.id: duplicate sweep id {sid!r}")
        seen.add(sid)
        if not isinstance(s["protocol"], dict):
            raise UserError(f"{ws}.protocol: expected an object")
        missing = set(PROTOCOL_FIELDS) - set(s["protocol"])
        if missing:
            raise UserError(f"{ws}.protocol: missing field(s) {', '.join(sorted(missing))}")
        for k, v in s["protocol"].items():
            if k != "epochs" and not _is_number(v):
                raise UserError(f"{ws}.protocol.{k}: expected a number, got {v!r}")
        try:
            proto = StepProtocol.from_dict(s["protocol"])
        except UserError as exc:
            msg = str(exc).removeprefix("protocol: ").removeprefix("protocol.")
            raise UserError(f"{ws}.protocol{'.' if msg.startswith('epochs') else ': '}{msg}") \
                from None
        _check_stimulus(proto, f"{ws}.protocol")
        amp = s["amplitude_pA"]
        if amp is not None and (not _is_number(amp) or not math.isfinite(amp)):
            raise UserError(f"{ws}.amplitude_pA: expected a finite number or null, got {amp!r}")
        times = validate_spike_times(s["spike_times_ms"], proto, f"{ws}.spike_times_ms")
        quality = s.get("quality")
        if quality is not None and not isinstance(quality, str):
            raise UserError(f"{ws}.quality: expected a string (ok, or flags joined by ';') "
                            f"or null, got {quality!r}")
        sweeps.append(Sweep(sid, proto, None if amp is None else float(amp), times, quality))
    target = Target(kind, prov, truth, sweeps)
    if target.n_spikes == 0:
        raise UserError(f"{w} sweeps: no spikes in any sweep (empty target)")
    return target


def load_target(path: str | Path) -> Target:
    """Read and validate a target JSON file (one-line UserError naming the file and field)."""
    import json

    path = Path(path)
    text = _read_text(path)
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return target_from_dict(d, str(path))


def write_target(path: str | Path, target: Target) -> None:
    """Validate ``target`` (as :func:`load_target` would) and write it atomically."""
    from ..io import atomic_write_json

    d = target.to_dict()
    target_from_dict(d, str(path))  # nothing written if invalid
    atomic_write_json(path, d)


# --------------------------------------------------------------------------- provenance


def _provenance(command: str | None, **extra: Any) -> dict:
    prov = {"command": command, "snnfit_version": __version__}
    prov.update(extra)
    return prov


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _readme_citation(folder: Path) -> str | None:
    """The sentence starting with ``Cite`` in ``README.md`` beside a recording, if any."""
    readme = folder / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith("cite "):
            return line
    return None


# --------------------------------------------------------------------------- simulated targets


def _check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise UserError(f"--scheme: expected one of {', '.join(SCHEMES)}, got {scheme!r}")
    return scheme


def preset_target(name: str, scheme: str = "euler", command: str | None = None) -> Target:
    """The preset's own spike train: its params at its amplitude in the default
    :class:`StepProtocol` (delay 100, duration 1000, t_stop 1200, dt 0.1 ms, holding 0)."""
    from ..sim.models import resolve_preset
    from ..sim.simulate import simulate

    _check_scheme(scheme)
    model_name, preset = resolve_preset(name)
    protocol = StepProtocol()
    params = {k: float(v) for k, v in preset.params.items()}
    res = simulate(model_name, params, preset.amplitude_pA, protocol, scheme=scheme)
    if res.status != "ok":
        raise UserError(f"preset {name}: simulation status {res.status!r} with scheme "
                        f"{scheme} (expected 'ok')")
    times = np.asarray(res.spike_times_ms, dtype=np.float64)
    if times.size == 0:
        raise UserError(f"preset {name}: fires no spikes at {preset.amplitude_pA:g} pA "
                        f"(empty target)")
    prov = _provenance(command, source=f"preset {name}", citation=preset.citation, seed=None,
                       scheme=scheme)
    truth = {"model": model_name, "scheme": scheme, "params": params}
    sweep = Sweep("0", protocol, float(preset.amplitude_pA), times)
    return Target("preset", prov, truth, [sweep])


def prior_amplitude_pA(model: str) -> float:
    """The step amplitude of prior targets: :data:`PRIOR_AMPLITUDE_PA` (300 pA) for every
    model, fixed so that a draw is judged on its parameters alone. With the prior boxes and
    the ``resolved`` scheme, about 17 % (lif), 52 % (adex) and 42 % (izhikevich) of the
    uniform draws fire 3 to 60 spikes at 300 pA."""
    from ..sim.models import get_model

    get_model(model)  # one-line UserError for an unknown model
    return PRIOR_AMPLITUDE_PA


def prior_target(model: str, seed: int, scheme: str = "resolved",
                 command: str | None = None, kind: str = "any") -> Target:
    """A ground truth drawn uniformly from the model's prior box (``ModelSpec.prior_box``,
    frozen apart from the fit box so that a seed keeps its truth: ``docs/fit.md``) with a
    seeded ``numpy.random.Generator``; draws are simulated in batches of
    64 and the first draw (in draw order) with status ``ok`` and
    ``PRIOR_MIN_SPIKES <= count <= PRIOR_MAX_SPIKES`` at :func:`prior_amplitude_pA` in the
    default protocol, none of them before the step onset, is kept;
    ``provenance["rejected_draws"]`` counts the draws before it. ``kind`` restricts the box
    and adds an acceptance test (:mod:`snnfit.data.priors`: ``adapting``, ``nonadapting``,
    ``subspace:NAMES``); ``any`` (default) is the whole box."""
    from .priors import kind_box

    from ..sim.models import get_model
    from ..sim.simulate import STATUS_OK, simulate, simulate_batch

    _check_scheme(scheme)
    spec = get_model(model).spec
    model_name = spec.name
    amplitude = prior_amplitude_pA(model_name)
    protocol = StepProtocol()
    lo, hi = spec.prior_lower(), spec.prior_upper()
    lo, hi, accept = kind_box(spec, kind, lo, hi)
    rng = np.random.default_rng(seed)
    n_drawn = 0
    while n_drawn < PRIOR_MAX_DRAWS:
        P = rng.uniform(lo, hi, size=(_PRIOR_BATCH, len(lo)))
        br = simulate_batch(model_name, P, np.full(_PRIOR_BATCH, amplitude), protocol,
                            scheme=scheme, threads=1)
        counts = np.asarray(br.counts)
        ok = br.status == STATUS_OK
        with np.errstate(invalid="ignore"):
            early = np.nan_to_num(np.asarray(br.times)[:, 0], nan=np.inf) < protocol.delay_ms
        good = ok & ~early & (counts >= PRIOR_MIN_SPIKES) & (counts <= PRIOR_MAX_SPIKES)
        if accept is not None:
            good &= accept(np.asarray(br.times), counts, protocol.delay_ms, protocol.stim_end_ms)
        if good.any():
            j = int(np.argmax(good))
            params = {n: float(v) for n, v in zip(spec.names, P[j])}
            # the stored times come from the single-sweep simulator (the reference)
            res = simulate(model_name, params, amplitude, protocol, scheme=scheme)
            times = np.asarray(res.spike_times_ms, dtype=np.float64)
            if (res.status == "ok" and PRIOR_MIN_SPIKES <= times.size <= PRIOR_MAX_SPIKES
                    and times[0] >= protocol.delay_ms):
                prov = _provenance(
                    command, source=f"prior {model_name}", citation=None, seed=int(seed),
                    scheme=scheme, amplitude_pA=amplitude, rejected_draws=n_drawn + j,
                    accept_spikes=[PRIOR_MIN_SPIKES, PRIOR_MAX_SPIKES],
                    **({} if kind in (None, "", "any") else {"prior_kind": kind}),
                    box={n: [float(a), float(b)] for n, a, b in zip(spec.names, lo, hi)})
                truth = {"model": model_name, "scheme": scheme, "params": params}
                return Target("prior", prov, truth, [Sweep("0", protocol, amplitude, times)])
            raise UserError(  # not user input, but say it plainly
                f"prior {model_name}: simulate and simulate_batch disagree on draw "
                f"{n_drawn + j} ({res.status}, {times.size} spikes vs {counts[j]})")
        n_drawn += _PRIOR_BATCH
    raise UserError(f"prior {model_name}: no draw fired {PRIOR_MIN_SPIKES}-{PRIOR_MAX_SPIKES} "
                    f"spikes at {amplitude:g} pA in {n_drawn} draws (seed {seed})")


# --------------------------------------------------------------------------- fixed times


def parse_times(text: str, where: str = "--times") -> list[float]:
    """``"100,300,500"`` -> ``[100.0, 300.0, 500.0]`` (one-line UserError otherwise)."""
    parts = [p.strip() for p in str(text).split(",")]
    if parts == [""]:
        raise UserError(f"{where}: no spike times given (empty target)")
    out = []
    for j, p in enumerate(parts, 1):
        try:
            v = float(p)
        except ValueError:
            raise UserError(f"{where}: item {j} {p!r} is not a number (expected "
                            f"comma-separated ms, e.g. 100,300,500)") from None
        if not math.isfinite(v):
            raise UserError(f"{where}: item {j} {p!r} is not a finite number")
        out.append(v)
    return out


def times_target(times_ms: Sequence[float], duration_ms: float, delay_ms: float = 100.0,
                 dt_ms: float = DEFAULT_DT_MS, command: str | None = None) -> Target:
    """Fixed spike times given relative to the step onset, each in ``[0, duration_ms)`` and
    strictly increasing; stored from the sweep start (``delay_ms + t``), with
    ``t_stop = delay + duration + 100`` ms, holding 0 and amplitude unknown (null)."""
    if not _is_number(duration_ms) or not math.isfinite(duration_ms) or duration_ms <= 0:
        raise UserError(f"--duration: expected a positive number of ms, got {duration_ms!r}")
    if not list(times_ms):
        raise UserError("--times: no spike times given (empty target)")
    rel = np.asarray([float(t) for t in times_ms], dtype=np.float64)
    for j, t in enumerate(rel, 1):
        if not math.isfinite(t):
            raise UserError(f"--times: item {j} is not a finite number")
        if t < 0 or t >= duration_ms:
            raise UserError(f"--times: item {j} ({t:g} ms) is outside the step "
                            f"[0, {duration_ms:g}) ms (times are relative to the step onset)")
        if j > 1 and t <= rel[j - 2]:
            raise UserError(f"--times: not strictly increasing at item {j} "
                            f"({rel[j - 2]:g} then {t:g} ms)")
    protocol = StepProtocol(delay_ms=float(delay_ms), duration_ms=float(duration_ms),
                            t_stop_ms=float(delay_ms) + float(duration_ms) + DEFAULT_TAIL_MS,
                            dt_ms=float(dt_ms), holding_pA=0.0)
    prov = _provenance(command, source="fixed times relative to step onset", citation=None,
                       seed=None, times_from_onset_ms=[float(t) for t in rel])
    return Target("times", prov, None, [Sweep("0", protocol, None, rel + protocol.delay_ms)])


# --------------------------------------------------------------------------- recordings


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"{path}: cannot read as UTF-8 text (is it a CSV/JSON file?)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_csv(path: Path, required: Sequence[str]) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row dict)`` pairs of a comma-separated file with the
    ``required`` columns (extra columns are ignored)."""
    text = _read_text(path)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise UserError(f"{path}: empty file (expected a header line with columns "
                        f"{', '.join(required)})")
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    if len(header) == 1:
        for delim, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delim in header[0]:
                raise UserError(f"{path}: line 1 looks {name}-separated ({delim!r}); expected "
                                f"comma-separated columns {', '.join(required)}")
    missing = [c for c in required if c not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)} in the header "
                        f"(line 1 has: {', '.join(header)})")
    dup = sorted({h for h in header if header.count(h) > 1 and h in required})
    if dup:
        raise UserError(f"{path}: line 1: duplicate column(s) {', '.join(dup)}")
    rows = []
    for fields in reader:
        line = reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue  # blank line
        if len(fields) != len(header):
            raise UserError(f"{path}: line {line}: expected {len(header)} comma-separated "
                            f"fields, got {len(fields)}")
        rows.append((line, {h: f.strip() for h, f in zip(header, fields)}))
    return header, rows


def _num(path: Path, line: int, row: dict, col: str) -> float:
    s = row[col]
    if s == "":
        raise UserError(f"{path}: line {line}: {col} is empty (expected a number)")
    try:
        v = float(s)
    except ValueError:
        raise UserError(f"{path}: line {line}: {col} {s!r} is not a number") from None
    if math.isnan(v):
        raise UserError(f"{path}: line {line}: {col} is NaN (expected a number)")
    if not math.isfinite(v):
        raise UserError(f"{path}: line {line}: {col} {s!r} is not finite")
    return v


def _sweep_key(s: Any) -> str:
    """Sweep ids as strings; an integral number is written without decimals (``1054.0`` ->
    ``"1054"``) so CSV cells and ``--sweep`` arguments compare equal."""
    s = str(s).strip()
    try:
        v = float(s)
    except ValueError:
        return s
    if math.isfinite(v) and v == int(v):
        return str(int(v))
    return s


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@dataclass
class _SweepInfo:
    cell: str
    sweep: str
    amplitude_pA: float
    stim_start_ms: float
    stim_end_ms: float
    line: int  # first line that defined it
    holding_pA: float = 0.0
    t_stop_ms: float | None = None
    dt_ms: float = DEFAULT_DT_MS
    spikes: list[tuple[int, float]] = field(default_factory=list)
    quality: str | None = None  # sweeps.csv's quality column (None: absent)


def _stimulus_differs(info: _SweepInfo, amp: float, start: float,
                      end: float) -> tuple[str, float, float] | None:
    """The first of amplitude, step start and step end that differs from ``info``'s, as
    ``(column, value, info's value)``; None if the stimulus is the same."""
    for col, v, ref in (("amplitude_pA", amp, info.amplitude_pA),
                        ("stim_start_ms", start, info.stim_start_ms),
                        ("stim_end_ms", end, info.stim_end_ms)):
        if not _close(v, ref):
            return col, v, ref
    return None


def _stim(path: Path, line: int, row: dict) -> tuple[float, float, float]:
    amp = _num(path, line, row, "amplitude_pA")
    start = _num(path, line, row, "stim_start_ms")
    end = _num(path, line, row, "stim_end_ms")
    if start < 0:
        raise UserError(f"{path}: line {line}: stim_start_ms {start:g} is negative")
    if end <= start:
        raise UserError(f"{path}: line {line}: stimulus ends (stim_end_ms {end:g}) before it "
                        f"starts (stim_start_ms {start:g})")
    return amp, start, end


def _id_fields(path: Path, line: int, row: dict) -> tuple[str, str]:
    cell = row["cell_id"]
    if not cell:
        raise UserError(f"{path}: line {line}: cell_id is empty")
    sweep = _sweep_key(row["sweep"])
    if not sweep:
        raise UserError(f"{path}: line {line}: sweep is empty")
    return cell, sweep


def read_recording(spikes_csv: str | Path, sweeps_csv: str | Path | None = None,
                   notice: Any = None) -> dict[str, dict[str, _SweepInfo]]:
    """Parse and check a recording: ``{cell_id: {sweep: info}}`` in file order.

    ``sweeps_csv`` defaults to ``sweeps.csv`` beside ``spikes_csv``; where absent, holding
    is 0, ``t_stop = stim_end + 100`` ms, dt 0.1 ms, and a one-line notice goes to
    ``notice`` (default stderr).
    """
    spikes_csv = Path(spikes_csv)
    _, rows = _read_csv(spikes_csv, SPIKE_COLUMNS)
    cells: dict[str, dict[str, _SweepInfo]] = {}
    for line, row in rows:
        cell, sweep = _id_fields(spikes_csv, line, row)
        amp, start, end = _stim(spikes_csv, line, row)
        t = _num(spikes_csv, line, row, "spike_time_ms")
        info = cells.setdefault(cell, {}).get(sweep)
        if info is None:
            info = _SweepInfo(cell, sweep, amp, start, end, line)
            cells[cell][sweep] = info
        elif diff := _stimulus_differs(info, amp, start, end):
            col, v, ref = diff
            raise UserError(
                f"{spikes_csv}: line {line}: {col} {v:g} differs from {ref:g} on line "
                f"{info.line} for cell {cell} sweep {sweep} (stimulus must be the "
                f"same for every spike of a sweep)")
        if t < 0:
            raise UserError(f"{spikes_csv}: line {line}: negative spike_time_ms {t:g}")
        if info.spikes and t <= info.spikes[-1][1]:
            prev_line, prev = info.spikes[-1]
            raise UserError(f"{spikes_csv}: line {line}: spike_time_ms {t:g} is not after "
                            f"{prev:g} (line {prev_line}) in cell {cell} sweep {sweep} "
                            f"(expected strictly increasing times within a sweep)")
        info.spikes.append((line, t))

    sweeps_path = Path(sweeps_csv) if sweeps_csv is not None else spikes_csv.parent / "sweeps.csv"
    if sweeps_path.exists() or sweeps_csv is not None:
        header, srows = _read_csv(sweeps_path, SWEEP_COLUMNS)
        has_dt = "dt_ms" in header
        ordered: dict[str, dict[str, _SweepInfo]] = {}
        for line, row in srows:
            cell, sweep = _id_fields(sweeps_path, line, row)
            if sweep in ordered.get(cell, {}):
                raise UserError(f"{sweeps_path}: line {line}: cell {cell} sweep {sweep} "
                                f"listed twice")
            amp, start, end = _stim(sweeps_path, line, row)
            holding = _num(sweeps_path, line, row, "holding_pA")
            t_stop = _num(sweeps_path, line, row, "sweep_duration_ms")
            dt = DEFAULT_DT_MS
            if has_dt and row["dt_ms"]:
                dt = _num(sweeps_path, line, row, "dt_ms")
            if t_stop <= 0:
                raise UserError(f"{sweeps_path}: line {line}: sweep_duration_ms must be > 0, "
                                f"got {t_stop:g}")
            if dt <= 0:
                raise UserError(f"{sweeps_path}: line {line}: dt_ms must be > 0, got {dt:g}")
            if end > t_stop:
                raise UserError(f"{sweeps_path}: line {line}: stim_end_ms {end:g} is after "
                                f"the sweep ends (sweep_duration_ms {t_stop:g})")
            info = cells.get(cell, {}).get(sweep)
            if info is None:  # a sweep without spikes
                info = _SweepInfo(cell, sweep, amp, start, end, line)
            elif diff := _stimulus_differs(info, amp, start, end):
                col, v, ref = diff
                raise UserError(
                    f"{sweeps_path}: line {line}: {col} {v:g} for cell {cell} sweep "
                    f"{sweep} differs from {ref:g} in {spikes_csv} line {info.line}")
            info.holding_pA, info.t_stop_ms, info.dt_ms = holding, t_stop, dt
            info.quality = row.get("quality")
            ordered.setdefault(cell, {})[sweep] = info
        for cell, sw in cells.items():
            for sweep, info in sw.items():
                if sweep not in ordered.get(cell, {}):
                    raise UserError(f"{sweeps_path}: no row for cell {cell} sweep {sweep} "
                                    f"(used by {spikes_csv} line {info.line})")
        cells = ordered
    else:
        print(f"snnfit: notice: no {sweeps_path.name} beside {spikes_csv}; assuming holding "
              f"0 pA, sweep end = stim_end + {DEFAULT_TAIL_MS:g} ms, dt "
              f"{DEFAULT_DT_MS:g} ms", file=notice or sys.stderr)
        for sw in cells.values():
            for info in sw.values():
                info.t_stop_ms = info.stim_end_ms + DEFAULT_TAIL_MS

    for sw in cells.values():
        for info in sw.values():
            for line, t in info.spikes:
                if t >= info.t_stop_ms:
                    raise UserError(f"{spikes_csv}: line {line}: spike_time_ms {t:g} is "
                                    f"outside the sweep [0, {info.t_stop_ms:g}) ms of cell "
                                    f"{info.cell} sweep {info.sweep}")
    return cells


def recording_sweeps(spikes_csv: str | Path, sweeps_csv: str | Path | None = None,
                     notice: Any = None) -> dict[str, list[str]]:
    """The cells of a recording and their sweeps, ``{cell_id: [sweep id, ...]}``: cells in
    file order, each cell's sweeps in numeric order (the first is the one the study fits).
    Ids are named as :func:`recording_target` and ``make-target --sweep`` name them
    (``1054.0`` -> ``"1054"``); silent sweeps count where ``sweeps.csv`` lists them. Only
    sweeps that may be fitted are listed (quality ``ok``, :mod:`snnfit.data.quality`), as
    :func:`recording_target` keeps them, and cells that have any. The files are read and checked by
    :func:`read_recording` (same errors and notice)."""
    cells = read_recording(spikes_csv, sweeps_csv, notice=notice)
    out = {cell: sorted((k for k, info in sweeps.items() if sweep_is_fittable(info.quality)),
                        key=_numeric_first) for cell, sweeps in cells.items()}
    return {cell: keys for cell, keys in out.items() if keys}


def _quality_cell(quality: str | None) -> str | None:
    """A ``sweeps.csv`` quality cell as a target stores it (None: no column; an empty cell
    means ``ok``)."""
    if quality is None:
        return None
    return str(quality).strip() or QUALITY_OK


def _numeric_first(sweep: str) -> tuple[int, float, str]:
    """Sort key: ids written as plain decimals by value, then the others by text."""
    numeric = sweep.isascii() and sweep.replace(".", "", 1).isdigit()
    return (0, float(sweep), sweep) if numeric else (1, 0.0, sweep)


def _fittable_keys(spikes_csv: Path, cell: str, keys: list[str], available: dict,
                   notice: Any) -> list[str]:
    """The sweeps the quality rule keeps (one notice per sweep left out)."""
    kept = [k for k in keys if sweep_is_fittable(available[k].quality)]
    for k in keys:
        if k not in kept:
            print(left_out_notice(str(spikes_csv), cell, k, available[k].quality),
                  file=notice or sys.stderr)
    if not kept:
        raise UserError(f"{spikes_csv}: cell {cell}: no sweep of quality 'ok' among "
                        f"{', '.join(keys)}")
    return kept


@dataclass
class _EpochRow:
    line: int
    start_ms: float
    end_ms: float
    amplitude_pA: float
    main: bool


def read_epochs(epochs_csv: str | Path) -> dict[tuple[str, str], list[_EpochRow]]:
    """The rows of an ``epochs.csv`` (:mod:`snnfit.data.epochs`) by ``(cell_id, sweep)``, in
    file order; every row checked (numbers, ``end_ms > start_ms >= 0``, ``main`` 0 or 1).
    One-line UserError naming the file and line otherwise."""
    path = Path(epochs_csv)
    _, rows = _read_csv(path, EPOCH_COLUMNS)
    out: dict[tuple[str, str], list[_EpochRow]] = {}
    for line, row in rows:
        cell, sweep = _id_fields(path, line, row)
        start = _num(path, line, row, "start_ms")
        end = _num(path, line, row, "end_ms")
        amp = _num(path, line, row, "amplitude_pA")
        if start < 0:
            raise UserError(f"{path}: line {line}: start_ms {start:g} is negative")
        if end <= start:
            raise UserError(f"{path}: line {line}: end_ms {end:g} is not after start_ms "
                            f"{start:g}")
        if row["main"] not in ("0", "1"):
            raise UserError(f"{path}: line {line}: main {row['main']!r} (expected 1 for the "
                            f"sweep's main step, 0 for the other epochs)")
        out.setdefault((cell, sweep), []).append(
            _EpochRow(line, start, end, amp, row["main"] == "1"))
    return out


#: how far (ms, pA) an epochs.csv main row may be from the step of sweeps.csv (rounding)
_MAIN_TOL = 1e-6


def sweep_epochs(epochs_csv: Path, rows: list[_EpochRow] | None,
                 info: _SweepInfo) -> tuple[Epoch, ...]:
    """The extra epochs of one sweep: its ``epochs.csv`` rows other than the main step
    (``()`` without rows). The sweep has exactly one main row, and it is the step that
    ``sweeps.csv``/``spikes.csv`` give (start, end, amplitude)."""
    if not rows:
        return ()
    where = f"{epochs_csv}: cell {info.cell} sweep {info.sweep}"
    main = [r for r in rows if r.main]
    if len(main) != 1:
        raise UserError(f"{where}: {len(main)} rows with main = 1 (lines "
                        f"{', '.join(str(r.line) for r in rows)}); expected exactly one, the "
                        f"sweep's step")
    m = main[0]
    step = (info.stim_start_ms, info.stim_end_ms, info.amplitude_pA)
    if any(abs(a - b) > _MAIN_TOL for a, b in zip((m.start_ms, m.end_ms, m.amplitude_pA),
                                                   step)):
        raise UserError(f"{epochs_csv}: line {m.line}: main epoch [{m.start_ms:g}, "
                        f"{m.end_ms:g}) ms, {m.amplitude_pA:g} pA differs from the step of "
                        f"cell {info.cell} sweep {info.sweep} ([{step[0]:g}, {step[1]:g}) ms, "
                        f"{step[2]:g} pA)")
    return tuple(Epoch(r.start_ms, r.end_ms, r.amplitude_pA) for r in rows if not r.main)


def recording_target(spikes_csv: str | Path, cell: str | None = None,
                     sweeps: Sequence[Any] | None = None, sweeps_csv: str | Path | None = None,
                     citation: str | None = None, command: str | None = None,
                     notice: Any = None, epochs_csv: str | Path | None = None) -> Target:
    """One cell of a recording (see :func:`read_recording`) as a target.

    ``cell`` may be omitted when the file holds a single cell; ``sweeps`` (default all, in
    file order) selects sweeps by number. Per sweep: ``delay_ms = stim_start``,
    ``duration_ms = stim_end - stim_start``, holding, ``t_stop_ms`` and ``dt_ms`` from
    ``sweeps.csv``; the protocol's extra ``epochs`` from ``epochs_csv`` (default
    ``epochs.csv`` beside the spike CSV, if present: :func:`sweep_epochs`), simulated as
    recorded. ``citation`` defaults to the ``Cite ...`` line of a ``README.md`` beside
    the CSV. Only sweeps whose ``quality`` is ``ok`` are used (:mod:`snnfit.data.quality`);
    each other sweep is left out with a one-line notice.
    """
    spikes_csv = Path(spikes_csv)
    cells = read_recording(spikes_csv, sweeps_csv, notice=notice)
    if not cells:
        raise UserError(f"{spikes_csv}: no spikes and no sweeps (empty target)")
    if cell is None:
        if len(cells) != 1:
            raise UserError(f"{spikes_csv}: holds {len(cells)} cells; choose one with --cell "
                            f"(available: {', '.join(cells)})")
        cell = next(iter(cells))
    if cell not in cells:
        raise UserError(f"{spikes_csv}: unknown cell {cell!r} (available: "
                        f"{', '.join(cells)})")
    available = cells[cell]
    if sweeps:
        keys = []
        for s in sweeps:
            k = _sweep_key(s)
            if k not in available:
                raise UserError(f"{spikes_csv}: unknown sweep {k!r} for cell {cell} "
                                f"(available: {', '.join(available)})")
            if k in keys:
                raise UserError(f"--sweep {k} given twice")
            keys.append(k)
    else:
        keys = list(available)
    keys = _fittable_keys(spikes_csv, cell, keys, available, notice)
    epochs_path = Path(epochs_csv) if epochs_csv is not None else spikes_csv.parent / EPOCHS_FILE
    epoch_rows = read_epochs(epochs_path) if epochs_csv is not None or epochs_path.exists() \
        else {}
    out = []
    for k in keys:
        info = available[k]
        extra = sweep_epochs(epochs_path, epoch_rows.get((cell, k)), info)
        try:
            proto = StepProtocol(delay_ms=info.stim_start_ms,
                                 duration_ms=round(info.stim_end_ms - info.stim_start_ms, 9),
                                 t_stop_ms=info.t_stop_ms, dt_ms=info.dt_ms,
                                 holding_pA=info.holding_pA, epochs=extra)
        except UserError as exc:
            raise UserError(f"{epochs_path}: cell {cell} sweep {k}: {exc}") from None
        times = np.array([t for _, t in info.spikes], dtype=np.float64)
        out.append(Sweep(k, proto, info.amplitude_pA, times, _quality_cell(info.quality)))
    if sum(len(s.spike_times_ms) for s in out) == 0:
        raise UserError(f"{spikes_csv}: cell {cell} sweep(s) {', '.join(keys)} have no spikes "
                        f"(empty target)")
    sweeps_path = Path(sweeps_csv) if sweeps_csv is not None else spikes_csv.parent / "sweeps.csv"
    files = {str(spikes_csv.resolve()): _sha256(spikes_csv)}
    if sweeps_path.exists():
        files[str(sweeps_path.resolve())] = _sha256(sweeps_path)
    if epoch_rows:
        files[str(epochs_path.resolve())] = _sha256(epochs_path)
    if citation is None:
        citation = _readme_citation(spikes_csv.parent)
    prov = _provenance(command, source=str(spikes_csv.resolve()), citation=citation, seed=None,
                       cell_id=cell, sweeps=keys, files_sha256=files)
    return Target("recording", prov, None, out)
