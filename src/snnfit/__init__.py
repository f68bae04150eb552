"""snnfit: fit single-neuron point models (LIF, AdEx, Izhikevich) to spike times.

Units everywhere: pF, nS, mV, ms, pA (pA/pF = mV/ms, nS*mV = pA).
"""

__version__ = "0.1.0"

from . import _compat

_compat.install()
