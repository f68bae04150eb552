"""Kinds of prior draws: restrictions of the prior box for the study's controls.

``make-target --prior MODEL --seed S --prior-kind KIND`` draws a ground truth uniformly from the
model's prior box (:func:`snnfit.data.targets.prior_target`), restricted by ``KIND``:

* ``any`` (default): the whole box.
* ``adapting`` (AdEx, Izhikevich): clearly adapting truths, the positive control of "does
  adaptation help?". The adaptation parameters are drawn from a sub-box
  (:data:`ADAPTING_BOX`) and a draw is kept only if it adapts visibly at the prior amplitude:
  its last interspike interval in the step is at least :data:`MIN_ISI_RATIO` times its first.
* ``nonadapting`` (AdEx, Izhikevich): truths without adaptation (the model's ``nonadapting``
  variant: :mod:`snnfit.sim.models.variants`, AdEx a = b = 0, Izhikevich b = d = 0), the
  nested comparison's negative control.
* ``subspace:NAMES`` (e.g. ``subspace:a,b,tau_w,VT``): only the listed parameters are drawn;
  every other parameter sits at the model's default (the base point of a reduced fit with
  ``--dim NAMES --base defaults``), the dimensionality question's control where reduction
  should help.

Each kind is a box (lower, upper with some coordinates pinned: lower = upper) and an
acceptance test on the simulated batch; the rest of the draw rule (spike count window,
no spike before onset, seeded generator) is the prior's own.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import UserError

#: adaptation parameters of ``adapting`` draws (inside today's prior box)
ADAPTING_BOX = {
    "adex": {"a": (2.0, 20.0), "b": (30.0, 200.0), "tau_w": (50.0, 500.0)},
    "izhikevich": {"a": (0.01, 0.1), "b": (0.0, 10.0), "d": (50.0, 300.0)},
}
#: an ``adapting`` draw's last ISI in the step is at least this many times its first
MIN_ISI_RATIO = 1.5

KINDS = ("any", "adapting", "nonadapting", "subspace:NAMES")


def _isi_ratio_ok(times: np.ndarray, counts: np.ndarray, onset: float, offset: float):
    out = np.zeros(times.shape[0], bool)
    for i in range(times.shape[0]):
        t = times[i, : min(int(counts[i]), times.shape[1])]
        t = t[(t >= onset) & (t < offset)]
        if t.size >= 3:
            isi = np.diff(t)
            out[i] = isi[-1] >= MIN_ISI_RATIO * isi[0]
    return out


def kind_box(spec, kind: str, lower: np.ndarray, upper: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, Callable | None]:
    """``(lower, upper, accept)`` of ``kind`` inside the prior box ``lower..upper`` of model
    ``spec``; ``accept(times, counts, onset_ms, offset_ms) -> bool (B,)`` or None (keep all)."""
    from ..sim.models.variants import variant_values

    lo, hi = lower.copy(), upper.copy()
    model = spec.name
    if kind in (None, "", "any"):
        return lo, hi, None
    if kind == "adapting":
        if model not in ADAPTING_BOX:
            raise UserError(f"--prior-kind adapting: model {model} has no adaptation (expected "
                            f"one of {', '.join(ADAPTING_BOX)})")
        for name, (a, b) in ADAPTING_BOX[model].items():
            j = spec.index(name)
            lo[j], hi[j] = a, b
        return lo, hi, _isi_ratio_ok
    if kind == "nonadapting":
        try:
            values = variant_values(model, "nonadapting")
        except UserError as exc:
            raise UserError(f"--prior-kind nonadapting: {exc}") from None
        for name, v in values.items():
            j = spec.index(name)
            lo[j] = hi[j] = v
        return lo, hi, None
    if kind.startswith("subspace:"):
        names = [n.strip() for n in kind.split(":", 1)[1].split(",") if n.strip()]
        if not names:
            raise UserError("--prior-kind subspace:NAMES: no parameter names given")
        for n in names:
            spec.index(n)  # one-line UserError for an unknown name
        defaults = spec.defaults()
        for j, n in enumerate(spec.names):
            if n not in names:
                lo[j] = hi[j] = defaults[n]
        return lo, hi, None
    raise UserError(f"--prior-kind: expected one of {', '.join(KINDS)}, got {kind!r}")
