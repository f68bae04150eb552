"""Fit layer: reduced spaces, optimizers, the spiking front end, energy metering, the engine and
fit records. Imports the data and simulation layers and the bottom modules only.

The engine's public names are re-exported here (``from snnfit.fit import FitSettings, run_fit``).
"""

from .engine import (CURRENT_MODES, OPTIMIZERS, FitProblem, FitSettings, SweepData, param_error,
                     provenance, run_fit)

__all__ = ["CURRENT_MODES", "OPTIMIZERS", "FitProblem", "FitSettings", "SweepData",
           "param_error", "provenance", "run_fit"]
