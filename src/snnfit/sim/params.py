"""Parameter specifications and the unit-box maps.

Every model declares its parameters once, as :class:`ParamSpec` records (name, unit, default,
lower and upper bound of the default fit box, one-line meaning, and the physical constraint
that ``simulate`` enforces). Optimisers only ever see the unit box ``[0, 1]^n``; the one
tested pair of maps :func:`to_physical` / :func:`to_unit` goes between the two (affine per
coordinate: ``p = lower + u * (upper - lower)``).
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
    or ``"any"`` (finite).
    """

    name: str
    unit: str
    default: float
    lower: float
    upper: float
    description: str
    constraint: str = "any"

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


def to_physical(u: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Map unit-box coordinates ``u`` (clipped to [0, 1]) to ``lower + u (upper - lower)``."""
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    return lower + u * (upper - lower)


def to_unit(p: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_physical` (for ``lower < upper``; a fixed coordinate maps to 0)."""
    p = np.asarray(p, dtype=np.float64)
    span = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(span > 0, (p - lower) / np.where(span > 0, span, 1.0), 0.0)
    return u


def parse_assignments(items: Sequence[str] | None, what: str = "--set") -> dict[str, str]:
    """Parse ``NAME=VALUE`` strings (values kept as strings; the spec checks them)."""
    out: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise UserError(f"{what} {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
