"""Study layer: the study's tables, statistics, answers and figures (reads fit records; imports
the fit, data and simulation layers and the bottom modules only)."""

from .core import *  # noqa: F401,F403  (the public names of the study, as before the split)
