"""Optimisers. Each is ``run(problem) -> dict`` (extra info) over a
:class:`snnfit.fit.FitProblem`; all give the same fit record (built by the engine)."""

from __future__ import annotations

import importlib

from ...errors import UserError

_MODULES = {"cmaes": "cmaes", "random": "random_search", "snn": "snn", "direct": "direct"}


def get(name: str):
    if name not in _MODULES:
        raise UserError(f"--optimizer: expected one of {', '.join(_MODULES)}, got {name!r}")
    try:
        mod = importlib.import_module(f"snnfit.fit.optimizers.{_MODULES[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == f"snnfit.fit.optimizers.{_MODULES[name]}":
            raise UserError(f"--optimizer {name}: not available in this version") from None
        raise
    return mod.run
