"""Fit layer: reduced spaces, optimizers, the spiking front end, energy metering, the engine and
fit records. Imports the data and simulation layers and the bottom modules only.

The engine's public names and the fit result are re-exported here (``from snnfit.fit import
FitSettings, FitResult, run_fit``).
"""

from .engine import (CURRENT_MODES, OPTIMIZERS, FitProblem, FitSettings, ProgressBar,
                     SearchedSweep, SweepData, param_error, provenance, run_fit)
from .record import FitResult

__all__ = ["CURRENT_MODES", "OPTIMIZERS", "FitProblem", "FitResult", "FitSettings",
           "ProgressBar", "SearchedSweep", "SweepData", "param_error", "provenance", "run_fit"]
