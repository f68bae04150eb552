"""Optimisers. Each module has ``run(problem, settings) -> dict`` (the record's
``optimizer_info``) over a :class:`snnfit.fit.FitProblem`, and a frozen settings dataclass whose
defaults are the frozen (tuned) values; all give the same fit result (built by the engine)."""

from __future__ import annotations

import importlib

from ...errors import UserError

#: optimiser name -> (module, settings class)
_MODULES = {"cmaes": ("cmaes", "CMAESSettings"), "random": ("random_search", "RandomSettings"),
            "snn": ("snn", "SNNSettings"), "direct": ("direct", "DirectSettings")}


def _module(name: str):
    if name not in _MODULES:
        raise UserError(f"--optimizer: expected one of {', '.join(_MODULES)}, got {name!r}")
    full = f"snnfit.fit.optimizers.{_MODULES[name][0]}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            raise UserError(f"--optimizer {name}: not available in this version") from None
        raise


def get(name: str):
    """The optimiser's ``run(problem, settings)``."""
    return _module(name).run


def settings_class(name: str) -> type:
    """The optimiser's settings dataclass (its defaults are the frozen values)."""
    return getattr(_module(name), _MODULES[name][1])
