"""The stimulus protocol, one definition used everywhere: a main step, plus recorded epochs.

Step ``k`` covers ``[k*dt, (k+1)*dt)``. Its input is ``holding_pA + amplitude_pA`` when
``delay_ms <= k*dt < delay_ms + duration_ms`` (the **main step**, whose amplitude is each
parameter set's own: recorded, searched or fitted), else ``holding_pA`` plus the amplitude of
the **extra epoch** that covers ``k*dt`` (0 outside every epoch). Extra epochs are fixed
currents recorded with the sweep (a prepulse, a test pulse, a second step: ``epochs.csv`` of
``snnfit ingest``); they do not overlap each other or the main step, and the current search
never scales them. A protocol without extra epochs is the single square step (and its JSON
form, :meth:`StepProtocol.to_dict`, has no ``epochs`` key). Spike times are ms from the sweep
start.

The kernels see the extra epochs as one array ``extra`` of ``n_steps`` currents (pA, relative
to holding; 0 inside the main step and outside every epoch) shared by the batch:
:meth:`StepProtocol.kernel_args`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import UserError

_EPS = 1e-9

#: the fields of an epoch in a protocol's JSON form (``protocol.epochs[i]``)
EPOCH_FIELDS = ("start_ms", "end_ms", "amplitude_pA")
#: the fields of a protocol's JSON form (``epochs`` only where the protocol has extra epochs)
PROTOCOL_FIELDS = ("delay_ms", "duration_ms", "t_stop_ms", "dt_ms", "holding_pA")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _first_step(t_ms: float, dt_ms: float) -> int:
    """First step index with ``k*dt >= t`` (within rounding)."""
    return int(math.ceil(t_ms / dt_ms - _EPS))


def _overlap(a0: float, a1: float, b0: float, b1: float) -> bool:
    """``[a0, a1)`` and ``[b0, b1)`` share more than rounding (both non-empty)."""
    tol = _EPS * max(1.0, abs(a0), abs(a1), abs(b0), abs(b1))
    return a0 < b1 - tol and b0 < a1 - tol


@dataclass(frozen=True)
class Epoch:
    """A stretch of constant injected current besides the main step: ``[start_ms, end_ms)``
    from the sweep start, ``amplitude_pA`` relative to the holding current."""

    start_ms: float
    end_ms: float
    amplitude_pA: float

    def __post_init__(self) -> None:
        for name in EPOCH_FIELDS:
            if not _finite(getattr(self, name)):
                raise UserError(f"{name}: expected a finite number, got "
                                f"{getattr(self, name)!r}")
        if self.start_ms < 0:
            raise UserError(f"start_ms: must be >= 0, got {self.start_ms:g}")
        if not self.end_ms > self.start_ms:
            raise UserError(f"end_ms: must be after start_ms ({self.start_ms:g}), got "
                            f"{self.end_ms:g}")

    def to_dict(self) -> dict:
        return {"start_ms": float(self.start_ms), "end_ms": float(self.end_ms),
                "amplitude_pA": float(self.amplitude_pA)}

    @classmethod
    def from_dict(cls, d) -> "Epoch":
        if not isinstance(d, dict):
            raise UserError(f"expected an object with {', '.join(EPOCH_FIELDS)}, got {d!r}")
        unknown = set(d) - set(EPOCH_FIELDS)
        if unknown:
            raise UserError(f"unknown field(s) {', '.join(sorted(unknown))}")
        missing = [k for k in EPOCH_FIELDS if k not in d]
        if missing:
            raise UserError(f"missing field(s) {', '.join(missing)}")
        for k in EPOCH_FIELDS:
            if not _finite(d[k]):
                raise UserError(f"{k}: expected a finite number, got {d[k]!r}")
        return cls(float(d["start_ms"]), float(d["end_ms"]), float(d["amplitude_pA"]))


@dataclass(frozen=True)
class StepProtocol:
    delay_ms: float = 100.0
    duration_ms: float = 1000.0
    t_stop_ms: float = 1200.0
    dt_ms: float = 0.1
    holding_pA: float = 0.0
    #: extra epochs (fixed, recorded currents), in time order; () for a single step
    epochs: tuple[Epoch, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in PROTOCOL_FIELDS:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise UserError(f"{name}: expected a finite number, got {v!r}")
        if self.dt_ms <= 0:
            raise UserError(f"dt_ms: must be > 0, got {self.dt_ms:g}")
        if self.delay_ms < 0:
            raise UserError(f"delay_ms: must be >= 0, got {self.delay_ms:g}")
        if self.duration_ms < 0:
            raise UserError(f"duration_ms: must be >= 0, got {self.duration_ms:g}")
        if self.t_stop_ms <= 0:
            raise UserError(f"t_stop_ms: must be > 0, got {self.t_stop_ms:g}")
        self._check_epochs()

    def _check_epochs(self) -> None:
        """Extra epochs: :class:`Epoch` records in time order, inside the sweep, not
        overlapping each other or the main step; stored as a tuple."""
        eps = self.epochs
        if isinstance(eps, (str, bytes, dict)) or not hasattr(eps, "__iter__"):
            raise UserError(f"epochs: expected a list of epochs, got {eps!r}")
        eps = tuple(eps)
        for i, ep in enumerate(eps):
            if not isinstance(ep, Epoch):
                raise UserError(f"epochs[{i}]: expected an Epoch, got {type(ep).__name__}")
        main = (self.delay_ms, self.stim_end_ms)
        for i, ep in enumerate(eps):
            where = f"epochs[{i}] [{ep.start_ms:g}, {ep.end_ms:g}) ms"
            if ep.end_ms > self.t_stop_ms + _EPS * max(1.0, self.t_stop_ms):
                raise UserError(f"{where}: ends after the sweep (t_stop_ms {self.t_stop_ms:g})")
            if self.duration_ms > 0 and _overlap(ep.start_ms, ep.end_ms, *main):
                raise UserError(f"{where}: overlaps the main step [{main[0]:g}, {main[1]:g}) "
                                f"ms")
            prev = eps[i - 1] if i else None
            if prev is not None and ep.start_ms < prev.end_ms - _EPS * max(1.0, prev.end_ms):
                raise UserError(f"{where}: starts before epochs[{i - 1}] [{prev.start_ms:g}, "
                                f"{prev.end_ms:g}) ms ends (expected epochs in time order, "
                                f"not overlapping)")
        object.__setattr__(self, "epochs", eps)

    @property
    def n_steps(self) -> int:
        """Number of steps: ``ceil(t_stop / dt)`` (within rounding)."""
        return int(math.ceil(self.t_stop_ms / self.dt_ms - _EPS))

    @property
    def step_on(self) -> int:
        """First step index with ``k*dt >= delay``."""
        return _first_step(self.delay_ms, self.dt_ms)

    @property
    def step_off(self) -> int:
        """First step index with ``k*dt >= delay + duration`` (exclusive end of the step)."""
        return _first_step(self.delay_ms + self.duration_ms, self.dt_ms)

    @property
    def stim_end_ms(self) -> float:
        return self.delay_ms + self.duration_ms

    @property
    def stim_start_ms(self) -> float:
        """When the injected current first leaves holding: the main step's onset or the first
        extra epoch's start, whichever is earlier."""
        return min([self.delay_ms] + [ep.start_ms for ep in self.epochs])

    def extra_pA(self) -> np.ndarray:
        """The extra epochs as one current per step (pA, relative to holding): ``extra[k]`` is
        the amplitude of the epoch with ``start <= k*dt < end`` (the rule of the main step), 0
        where no epoch covers step ``k`` and inside the main step. Zeros without epochs."""
        n = self.n_steps
        extra = np.zeros(n)
        k_on, k_off = self.step_on, self.step_off
        for ep in self.epochs:
            lo = min(_first_step(ep.start_ms, self.dt_ms), n)
            hi = min(_first_step(ep.end_ms, self.dt_ms), n)
            extra[lo:hi] = ep.amplitude_pA
        extra[k_on:max(k_on, min(k_off, n))] = 0.0
        return extra

    def kernel_args(self) -> tuple:
        """The protocol as the kernels take it (``base.py``, kernel conventions): ``(dt,
        n_steps, k_on, k_off, holding, extra, t_win0, t_win1)``; the window
        ``[t_win0, t_win1)`` is the main step. Built once per protocol (a fit calls it for
        every batch): the kernels only read ``extra``, and nobody else may write to it."""
        return self._kernel_args

    @cached_property
    def _kernel_args(self) -> tuple:
        return (float(self.dt_ms), self.n_steps, self.step_on, self.step_off,
                float(self.holding_pA), self.extra_pA(), float(self.delay_ms),
                float(self.stim_end_ms))

    def cut(self, t_stop_ms: float) -> "StepProtocol":
        """The same protocol ending at ``t_stop_ms`` (extra epochs clipped to it)."""
        eps = tuple(Epoch(ep.start_ms, min(ep.end_ms, t_stop_ms), ep.amplitude_pA)
                    for ep in self.epochs if ep.start_ms < t_stop_ms)
        return StepProtocol(self.delay_ms, self.duration_ms, t_stop_ms, self.dt_ms,
                            self.holding_pA, eps)

    def to_dict(self) -> dict:
        """JSON form: the five fields, and ``epochs`` (a list of ``{start_ms, end_ms,
        amplitude_pA}``) only where the protocol has extra epochs."""
        d = {name: getattr(self, name) for name in PROTOCOL_FIELDS}
        if self.epochs:
            d["epochs"] = [ep.to_dict() for ep in self.epochs]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "StepProtocol":
        keys = set(PROTOCOL_FIELDS) | {"epochs"}
        unknown = set(d) - keys
        if unknown:
            raise UserError(f"protocol: unknown field(s) {', '.join(sorted(unknown))}")
        vals = {}
        for k, v in d.items():
            if k == "epochs":
                continue
            try:
                vals[k] = float(v)
            except (TypeError, ValueError):
                raise UserError(f"protocol.{k}: expected a number, got {v!r}") from None
        raw = d.get("epochs", [])
        if not isinstance(raw, list):
            raise UserError(f"protocol.epochs: expected a list of objects with "
                            f"{', '.join(EPOCH_FIELDS)}, got {raw!r}")
        eps = []
        for i, e in enumerate(raw):
            try:
                eps.append(Epoch.from_dict(e))
            except UserError as exc:
                raise UserError(f"protocol.epochs[{i}]: {exc}") from None
        try:
            return cls(**vals, epochs=tuple(eps))
        except UserError as exc:
            msg = str(exc)
            raise UserError(msg if not msg.startswith("epochs") else f"protocol.{msg}") \
                from None


def protocol_groups(protocols) -> list[list[int]]:
    """Indices of ``protocols`` grouped by equal protocol, in order of first appearance: the
    sweeps of one group can be simulated in one kernel call, their rows stacked (rows of a
    batch are independent bit for bit; the kernels' vector loop needs
    :data:`snnfit.sim.simulate.VECTOR_SETS` rows)."""
    groups: dict = {}
    for j, p in enumerate(protocols):
        groups.setdefault(p, []).append(j)
    return list(groups.values())
