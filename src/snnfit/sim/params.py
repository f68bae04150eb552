"""Parameter specifications and the unit-box maps.

Every model declares its parameters once, as :class:`ParamSpec` records (name, unit, default,
lower and upper bound of the default fit box, one-line meaning, and the physical constraint
that ``simulate`` enforces). The box that prior ground truths are drawn from is declared
apart (:attr:`ModelSpec.prior_box`): it is frozen, so a prior seed keeps its truth when the
fit box changes. Optimisers only ever see the unit box ``[0, 1]^n``; the one
tested pair of maps :func:`to_physical` / :func:`to_unit` goes between the two (per
coordinate affine, ``p = lower + u * (upper - lower)``, or geometric,
``p = lower * (upper / lower)^u``, for parameters declared with ``scale="log"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class ParamSpec:
    """One model parameter.

    ``lower``/``upper`` bound the default *fit* box only; ``simulate`` accepts any physically
    possible value, checked by ``constraint``: ``"positive"`` (> 0), ``"nonnegative"`` (>= 0)
    or ``"any"`` (finite). ``scale`` is how the unit box maps onto ``[lower, upper]``:
    ``"linear"``, or ``"log"`` (equal steps in the unit box are equal ratios; for positive
    scales that span orders of magnitude, e.g. a capacitance from interneurons to large
    pyramidal cells). A log scale applies only while the box is positive (``lower > 0``); a
    box set to include 0 or negative values maps linearly.
    """

    name: str
    unit: str
    default: float
    lower: float
    upper: float
    description: str
    constraint: str = "any"
    scale: str = "linear"

    def check(self, value: float, where: str = "") -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}{self.name}: expected a number, got {value!r}") from None
        if not np.isfinite(v):
            raise UserError(f"{where}{self.name}: expected a finite number, got {value!r}")
        if self.constraint == "positive" and v <= 0:
            raise UserError(f"{where}{self.name}: must be > 0 {self.unit}, got {v:g}")
        if self.constraint == "nonnegative" and v < 0:
            raise UserError(f"{where}{self.name}: must be >= 0 {self.unit}, got {v:g}")
        return v


@dataclass(frozen=True)
class Preset:
    """A published parameter set with its citation and step amplitude (pA)."""

    name: str
    params: Mapping[str, float]
    amplitude_pA: float
    citation: str
    note: str = ""


#: the name of the declared fit box (``snnfit fit --box``)
DEFAULT_BOX = "default"


@dataclass(frozen=True)
class ModelSpec:
    """A model's declared parameters and presets."""

    name: str
    params: tuple[ParamSpec, ...]
    equations: str
    presets: Mapping[str, Preset] = field(default_factory=dict)
    # default range (pA) of the current search, from 0 to max_amplitude_pA
    max_amplitude_pA: float = 2000.0
    # parameters that scale jointly with the current (invariance under searched current)
    scaling_group: tuple[str, ...] = ()
    # voltage parameters that enter the equations only as differences (with the rest state
    # shifting with them): a common shift of all of them leaves every spike train unchanged
    shift_group: tuple[str, ...] = ()
    # the frozen box that prior ground truths are drawn from (``make-target --prior``),
    # ``{name: (lower, upper)}`` for every parameter; empty: the fit box
    prior_box: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # named fit boxes besides the default one (``snnfit fit --box NAME``),
    # ``{box: {name: (lower, upper, scale)}}``; a parameter not listed keeps its default bounds
    boxes: Mapping[str, Mapping[str, tuple]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise UserError(
                f"unknown parameter {name!r} for model {self.name} "
                f"(expected one of {', '.join(self.names)})"
            ) from None

    def spec(self, name: str) -> ParamSpec:
        return self.params[self.index(name)]

    def defaults(self) -> dict[str, float]:
        return {p.name: p.default for p in self.params}

    def lower(self) -> np.ndarray:
        return np.array([p.lower for p in self.params], dtype=np.float64)

    def upper(self) -> np.ndarray:
        return np.array([p.upper for p in self.params], dtype=np.float64)

    def log_scale(self) -> np.ndarray:
        """Parameters declared with a log scale (spec order, bool)."""
        return np.array([p.scale == "log" for p in self.params], dtype=bool)

    def box(self, name: str = DEFAULT_BOX) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(lower, upper, log)`` of the fit box ``name`` (spec order): ``default`` is the
        declared bounds and scales (``log`` None when every scale is linear), any other name
        one of :attr:`boxes`."""
        lower, upper, log = self.lower(), self.upper(), self.log_scale()
        if name != DEFAULT_BOX:
            if name not in self.boxes:
                raise UserError(f"--box: model {self.name} has no box {name!r} (expected one "
                                f"of {', '.join((DEFAULT_BOX, *self.boxes))})")
            for i, p in enumerate(self.params):
                if p.name in self.boxes[name]:
                    lo, hi, scale = self.boxes[name][p.name]
                    lower[i], upper[i], log[i] = lo, hi, scale == "log"
        return lower, upper, (log if log.any() else None)

    def prior_lower(self) -> np.ndarray:
        """Lower bounds of the prior box (spec order; the fit box where none is declared)."""
        return np.array([self.prior_box.get(p.name, (p.lower, p.upper))[0]
                         for p in self.params], dtype=np.float64)

    def prior_upper(self) -> np.ndarray:
        """Upper bounds of the prior box (spec order; the fit box where none is declared)."""
        return np.array([self.prior_box.get(p.name, (p.lower, p.upper))[1]
                         for p in self.params], dtype=np.float64)

    def complete(self, values: Mapping[str, float], where: str = "") -> dict[str, float]:
        """Defaults overridden by ``values``; every value checked (one-line UserError)."""
        out = self.defaults()
        for k, v in values.items():
            spec = self.spec(k)
            out[k] = spec.check(v, where)
        return out

    def vector(self, values: Mapping[str, float]) -> np.ndarray:
        full = self.complete(values)
        return np.array([full[n] for n in self.names], dtype=np.float64)


def log_mask(lower, upper, log) -> np.ndarray:
    """Coordinates mapped on a log scale: declared ``log`` and a positive box."""
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    if log is None:
        return np.zeros(lower.shape, dtype=bool)
    return np.asarray(log, dtype=bool) & (lower > 0) & (upper > lower)


def to_physical(u: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                log: np.ndarray | None = None) -> np.ndarray:
    """Map unit-box coordinates ``u`` (clipped to [0, 1]) to ``lower + u (upper - lower)``,
    or ``lower (upper / lower)^u`` on the coordinates where ``log`` (:func:`log_mask`)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    lin = lower + u * (upper - lower)
    lg = log_mask(lower, upper, log)
    if not lg.any():
        return lin
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(lg, upper / np.where(lg, lower, 1.0), 1.0)
        geo = np.where(lg, lower, 1.0) * ratio ** u
    return np.where(lg, geo, lin)


def to_unit(p: np.ndarray, lower: np.ndarray, upper: np.ndarray,
            log: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`to_physical` (for ``lower < upper``; a fixed coordinate maps to 0).
    Not clipped: a point outside the box maps outside ``[0, 1]``."""
    p = np.asarray(p, dtype=np.float64)
    span = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(span > 0, (p - lower) / np.where(span > 0, span, 1.0), 0.0)
        lg = log_mask(lower, upper, log)
        if lg.any():
            ul = np.log(p / lower) / np.log(upper / lower)
            ul = np.where(p > 0, ul, -np.inf)  # below a positive box
            u = np.where(lg, ul, u)
    return u


def unit_derivative(u: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    log: np.ndarray | None = None) -> np.ndarray:
    """``d physical / d u`` of :func:`to_physical` at ``u``: ``upper - lower``, or
    ``p ln(upper / lower)`` on log coordinates."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    span = np.broadcast_to(upper - lower, u.shape).astype(np.float64)
    lg = log_mask(lower, upper, log)
    if not lg.any():
        return span.copy()
    p = to_physical(u, lower, upper, log)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.log(np.where(lg, upper / np.where(lg, lower, 1.0), 1.0))
    return np.where(lg, p * k, span)


def parse_assignments(items: Sequence[str] | None, what: str = "--set") -> dict[str, str]:
    """Parse ``NAME=VALUE`` strings (values kept as strings; the spec checks them)."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
