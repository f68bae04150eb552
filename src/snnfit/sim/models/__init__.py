"""The neuron models: ``lif``, ``adex``, ``izhikevich`` (one file each) and their presets.

Each model file declares its scheme registry (``MODEL.maps``, one
:class:`~snnfit.sim.models.base.SchemeMap` per scheme): the forward and sensitivity kernels of
each scheme, the map a scheme falls back to, whose gradients a fit under it uses, and which
parameters enter it. Simulation, gradients, fit spaces and the fit engine ask it
(:func:`scheme_map`, :meth:`Model.scheme`, :meth:`Model.gradient_map`).
"""

from __future__ import annotations

from ...errors import UserError
from ..params import ModelSpec, Preset
from . import adex, izhikevich, lif
from .base import SCHEMES, STATUS_NAMES, Model, SchemeMap, check_scheme, lookup

MODELS: dict[str, Model] = {m.name: m for m in (lif.MODEL, adex.MODEL, izhikevich.MODEL)}


def get_model(name: str) -> Model:
    """The :class:`Model` called ``name`` (one-line UserError if unknown)."""
    return lookup(MODELS, name, "model")


def get_spec(name: str) -> ModelSpec:
    return get_model(name).spec


def all_presets() -> dict[str, tuple[str, Preset]]:
    """Every preset name -> (model name, preset)."""
    out = {}
    for m in MODELS.values():
        for pname, preset in m.spec.presets.items():
            out[pname] = (m.name, preset)
    return out


def resolve_preset(name: str, model: str | None = None) -> tuple[str, Preset]:
    """``(model name, Preset)`` for a preset such as ``naud2008:adapting``."""
    presets = all_presets()
    if name not in presets:
        raise UserError(
            f"preset: unknown preset {name!r} (expected one of {', '.join(sorted(presets))})"
        )
    mname, preset = presets[name]
    if model is not None and model != mname:
        raise UserError(f"preset: {name} is a {mname} preset, not {model}")
    return mname, preset


def scheme_map(model: str, scheme: str) -> SchemeMap:
    """The registry entry of ``scheme`` for the model called ``model`` (one-line UserError if
    either is unknown): its kernels, the map that runs, the parameters that enter it."""
    return get_model(model).scheme(scheme)


def kernel_for(model: Model, code: int):
    """``(kernel, scheme code to pass)`` of scheme ``code`` for ``model`` (its registry entry)."""
    entry = model.maps[_SCHEME_NAMES[code]]
    return entry.kernel, entry.code


_SCHEME_NAMES = {code: name for name, code in SCHEMES.items()}


__all__ = ["MODELS", "Model", "SchemeMap", "get_model", "get_spec", "resolve_preset",
           "all_presets", "check_scheme", "kernel_for", "scheme_map", "SCHEMES", "STATUS_NAMES"]
