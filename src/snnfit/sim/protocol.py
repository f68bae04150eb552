"""The square step-current protocol, one definition used everywhere.

Step ``k`` covers ``[k*dt, (k+1)*dt)``; its input is ``holding_pA`` plus ``amplitude_pA`` when
``delay_ms <= k*dt < delay_ms + duration_ms``. Spike times are ms from the sweep start.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import UserError

_EPS = 1e-9


@dataclass(frozen=True)
class StepProtocol:
    delay_ms: float = 100.0
    duration_ms: float = 1000.0
    t_stop_ms: float = 1200.0
    dt_ms: float = 0.1
    holding_pA: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay_ms", "duration_ms", "t_stop_ms", "dt_ms", "holding_pA"):
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

    @property
    def n_steps(self) -> int:
        """Number of steps: ``ceil(t_stop / dt)`` (within rounding)."""
        return int(math.ceil(self.t_stop_ms / self.dt_ms - _EPS))

    @property
    def step_on(self) -> int:
        """First step index with ``k*dt >= delay``."""
        return int(math.ceil(self.delay_ms / self.dt_ms - _EPS))

    @property
    def step_off(self) -> int:
        """First step index with ``k*dt >= delay + duration`` (exclusive end of the step)."""
        return int(math.ceil((self.delay_ms + self.duration_ms) / self.dt_ms - _EPS))

    @property
    def stim_end_ms(self) -> float:
        return self.delay_ms + self.duration_ms

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StepProtocol":
        keys = {"delay_ms", "duration_ms", "t_stop_ms", "dt_ms", "holding_pA"}
        unknown = set(d) - keys
        if unknown:
            raise UserError(f"protocol: unknown field(s) {', '.join(sorted(unknown))}")
        vals = {}
        for k, v in d.items():
            try:
                vals[k] = float(v)
            except (TypeError, ValueError):
                raise UserError(f"protocol.{k}: expected a number, got {v!r}") from None
        return cls(**vals)
