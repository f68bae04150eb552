"""The neuron models: ``lif``, ``adex``, ``izhikevich`` (one file each) and their presets."""

from __future__ import annotations

from ...errors import UserError
from ..params import ModelSpec, Preset
from . import adex, izhikevich, lif
from .base import SCHEMES, STATUS_NAMES, Model

MODELS: dict[str, Model] = {m.name: m for m in (lif.MODEL, adex.MODEL, izhikevich.MODEL)}


def get_model(name: str) -> Model:
    """The :class:`Model` called ``name`` (one-line UserError if unknown)."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(
            f"model: unknown model {name!r} (expected one of {', '.join(MODELS)})"
        ) from None


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


def kernel_for(model: Model, code: int):
    """``(kernel, scheme code to pass)`` of scheme ``code`` for ``model``.

    ``resolved2`` improves the crossing of a fast upswing. LIF has none (a threshold crossing
    of a slow trajectory), and Izhikevich's quadratic upswing is already resolved well enough at
    0.1 ms (usefulness of its resolved map's gradients 0.034 / 0.051 / 0.109 on
    izhikevich2007:RS / IB / CH against AdEx's 0.134, ``benchmarks/gradient.py``): for both,
    ``resolved2`` is their ``resolved`` map.
    """
    if code == SCHEMES["resolved2"]:
        if model.kernel_resolved2 is not None:
            return model.kernel_resolved2, code
        return model.kernel, SCHEMES["resolved"]
    return model.kernel, code


def check_scheme(scheme: str) -> int:
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise UserError(
            f"scheme: unknown scheme {scheme!r} (expected one of {', '.join(SCHEMES)})"
        ) from None


__all__ = ["MODELS", "Model", "get_model", "get_spec", "resolve_preset", "all_presets",
           "check_scheme", "kernel_for", "SCHEMES", "STATUS_NAMES"]
