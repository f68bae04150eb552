"""Model variants: a model with some parameters held at fixed values, declared once.

``nonadapting``: the model with its adaptation switched off, for the nested comparison of the
study ("does adaptation help?": each adaptive model against itself without adaptation, same
budget), for the ``nonadapting`` prior draws (truths without adaptation: the negative control)
and for ``snnfit fit --variant nonadapting``.

* AdEx: ``a = 0`` nS and ``b = 0`` pA. The adaptation current ``w`` then starts at 0 and stays 0
  (``tau_w dw/dt = a (V - EL) - w``, ``w += b`` at a spike), so the model is the exponential
  integrate-and-fire neuron; ``tau_w`` has no role left and is held at its default (so the
  variant has no idle coordinate).
* Izhikevich (2007 form): ``b = 0`` nS and ``d = 0`` pA. The recovery variable ``u`` then starts
  at 0 and stays 0 (``du/dt = a (b (v - vr) - u)``, ``u += d`` at a spike): a quadratic
  integrate-and-fire neuron with reset ``c``; ``a`` has no role left and is held at its default.
* LIF has no adaptation: it has no ``nonadapting`` variant (it is the across-model reference).
"""

from __future__ import annotations

from ...errors import UserError

#: variant -> model -> {parameter: value or "default"}
VARIANTS: dict[str, dict[str, dict[str, float | str]]] = {
    "nonadapting": {
        "adex": {"a": 0.0, "b": 0.0, "tau_w": "default"},
        "izhikevich": {"b": 0.0, "d": 0.0, "a": "default"},
    },
}


def variant_values(model: str, variant: str | None) -> dict[str, float]:
    """The fixed parameter values of ``variant`` of ``model`` (``{}`` for no variant); a
    one-line UserError for an unknown variant or a model without it."""
    from . import get_model

    if variant in (None, "", "none"):
        return {}
    if variant not in VARIANTS:
        raise UserError(f"variant: unknown variant {variant!r} (expected one of "
                        f"{', '.join(VARIANTS)})")
    table = VARIANTS[variant]
    if model not in table:
        raise UserError(f"variant {variant}: model {model} has no {variant} variant (models "
                        f"with one: {', '.join(table)})")
    spec = get_model(model).spec
    return {name: (spec.spec(name).default if v == "default" else float(v))
            for name, v in table[model].items()}



def with_variant_fix(model: str, variant: str | None, fix: list[str]) -> list[str]:
    """``--fix`` items plus the variant's fixed values (``snnfit fit --variant``, the study's
    batch plans); a parameter fixed twice is an error."""
    values = variant_values(model, variant)
    given = {item.split("=", 1)[0].strip() for item in fix}
    both = sorted(given & set(values))
    if both:
        raise UserError(f"--fix {', '.join(both)}: already fixed by --variant {variant}")
    return list(fix) + [f"{k}={v!r}" for k, v in values.items()]

def variant_label(model: str, variant: str | None) -> str:
    """``adex`` or ``adex-nonadapting``: the model's name in the study's tables."""
    return model if variant in (None, "", "none") else f"{model}-{variant}"
