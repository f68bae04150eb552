"""The quality rule of a sweep: which sweeps may be fitted and scored.

``snnfit ingest`` writes a ``quality`` column to ``sweeps.csv``: ``ok``, or one or more flags
joined by ``;`` (in the order of :data:`FLAGS`). The flags are defined in ``docs/ingest.md``
and computed in :mod:`snnfit.data.ingest`; this module holds their names and the one rule
that every consumer (``make-target --recording``, the study, the fit engine) asks:

    a sweep is fitted and scored only if its quality is ``ok``;
    a missing column or an empty cell means ``ok``.
"""

from __future__ import annotations

from typing import Any, Mapping

#: the quality of a sweep that may be fitted
QUALITY_OK = "ok"
#: separator between flags in the ``quality`` column
FLAG_SEPARATOR = ";"

#: every flag, in the order it is written, with a one-line meaning (docs/ingest.md has the
#: exact definitions)
FLAGS: dict[str, str] = {
    "plateau": "the 0 mV detector (re-armed below -10 mV) counts more spikes than the "
               "-20 mV one: spikes riding on a plateau above -30 mV are merged",
    "spikes_outside_stim": "a -20 mV spike outside every stimulus epoch (firing at rest, "
                           "before the first epoch, or more than 5 ms after an epoch ends)",
    "depolarisation_block": "during a depolarising epoch V stays above -40 mV for 100 ms "
                            "or more without a spike",
    "not_piecewise_constant": "the injected current is not a sequence of constant levels "
                              "(ramp, noise, sine, ...)",
}


def quality_value(flags: list[str]) -> str:
    """The ``quality`` cell for a list of flags (``ok`` for none)."""
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise ValueError(f"unknown quality flag(s) {unknown}")
    ordered = [f for f in FLAGS if f in flags]
    return FLAG_SEPARATOR.join(ordered) if ordered else QUALITY_OK


def sweep_is_fittable(row: Mapping[str, Any] | str | None) -> bool:
    """True if a sweep (a ``sweeps.csv`` row as a mapping, or its ``quality`` value) may be
    fitted and scored: its quality is ``ok``, empty, or the column is absent."""
    quality = row.get("quality") if isinstance(row, Mapping) else row
    if quality is None:
        return True
    quality = str(quality).strip()
    return quality in ("", QUALITY_OK)


def left_out_notice(where: str, cell: str, sweep: str, quality: str) -> str:
    """The one-line notice for a sweep that the quality rule leaves out."""
    return (f"snnfit: notice: {where}: cell {cell} sweep {sweep} left out (quality "
            f"{quality}; only '{QUALITY_OK}' sweeps are fitted)")
