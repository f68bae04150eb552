"""Simulation layer: parameters, protocols, the models' kernels, batched simulation, the current
search and exact spike-time gradients. Imports only :mod:`snnfit.errors`, :mod:`snnfit.io`,
:mod:`snnfit.metrics` and :mod:`snnfit.loss` from outside itself."""
