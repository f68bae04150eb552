"""The study's design: its targets, its fits, and what each fit is for.

The Snakemake workflow (``workflow/rules/common.smk``) asks this module, with the validated
configuration, for everything it runs; nothing here touches files other than the recordings'
tables (to list cells and split their sweeps).

Targets (:class:`TargetSpec`), named as before: ``<preset entry>-<scheme>``, ``<prior
entry>-s<seed>``, ``<times entry>``, ``<recording entry>-<cell_id>``. Each knows which of its
sweeps a fit sees (``train``) and which it must predict (``heldout``, each with a role:
``interpolated``, ``extrapolated`` or ``repeat``):

* synthetic targets (presets, priors) are the truth at the ``targets.synthetic``
  amplitude factors (:mod:`snnfit.data.truth`); the training factors are fitted;
* recordings with many steps are split by :func:`snnfit.data.splits.recording_split`; a cell
  with too few ``ok`` sweeps for that (the CA1 cells: two sweeps) is fitted on all of them
  and predicts none (in-sample context only);
* fixed-times targets hold one sweep and predict none.

Fits: for each question, its answer targets and its control targets (``controls.positive``,
``controls.negative``), each with the models, spaces and optimizers that question compares
there (:func:`question_fits`). A fit shared by several questions runs once; each fit carries
its memberships ``question:role`` (``role`` = ``answer``, ``positive`` or ``negative``).

* adaptation: on answer and positive targets every model and every adaptive model's
  ``nonadapting`` variant (:mod:`snnfit.sim.models.variants`); on a negative target whose truth
  is LIF the models (the across-model comparison), on one whose truth is an adaptive model
  without adaptation that model and its variant (the nested comparison).
* dimensionality: on answer targets every space of ``dims``; on control targets (truths that
  vary inside the subset ``control_dims[model]``, or outside it) the full space and that
  subset, for the truth's model.
* optimizers: on answer targets every optimizer; on positive-control targets CMA-ES and random
  search (the test machinery's known effect).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..data.targets import TARGET_CLASSES, class_of
from ..errors import UserError
from ..sim.models.variants import VARIANTS, variant_label

#: Paramspace-style levels of a fit's path (key~value per level)
FIT_LEVELS = ("target", "model", "dim", "optimizer", "current", "seed", "budget")
FIT_WILDCARDS = os.path.join(*(f"{k}~{{{k}}}" for k in FIT_LEVELS))
QUESTIONS = ("adaptation", "dimensionality", "optimizers")
ROLES = ("answer", "positive", "negative")


@dataclass
class TargetSpec:
    """One target of the study (see the module docstring)."""

    name: str
    kind: str
    cls: str
    group: str
    args: str
    truth_model: str | None = None
    truth_kind: str = ""
    train: list[str] = field(default_factory=list)
    heldout: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    factors: list[float] | None = None
    source: str | None = None
    #: first-run / second-run sweeps that record the same step (the cell's reliability)
    repeat_pairs: list[tuple[str, str]] = field(default_factory=list)


def split_model_label(label: str) -> tuple[str, str | None]:
    """``adex-nonadapting`` -> ``("adex", "nonadapting")``; ``lif`` -> ``("lif", None)``."""
    model, _, variant = label.partition("-")
    return model, (variant or None)


def model_labels(models) -> list[str]:
    """The models and the ``nonadapting`` variants of the adaptive ones among them."""
    nested = [variant_label(m, "nonadapting") for m in models if m in VARIANTS["nonadapting"]]
    return list(models) + nested


# ---------------------------------------------------------------------------- targets


def _synthetic_split(cfg: dict):
    from ..data.truth import synthetic_split

    syn = cfg.get("synthetic") or {}
    factors = syn.get("amplitude_factors") or []
    train = syn.get("train_factors") or []
    if not factors:
        return None, ["0"], [], {"0": "train"}
    train_ids, held, role = synthetic_split(factors, train)
    return [float(f) for f in factors], train_ids, held, role


def _recording_tables(r: dict, ingest_dir: Callable[[str], str], notice):
    """``(spikes CSV its targets are made from, a context giving the folder of its tables)``
    of a recordings entry, or None (notice) if a file is missing. A ``raw``/``manifest`` entry's
    tables are those rule ingest writes to ``ingest_dir(name)``
    (:meth:`snnfit.data.ingest.RawSource.tables`: read there when written, else made in
    memory once)."""
    import contextlib

    from ..data.ingest import raw_source

    raw = raw_source(r)
    needed = list(raw.recordings) if raw else [r["spikes_csv"]]
    missing = [p for p in needed if not Path(p).exists()]
    if missing:
        notice(f"recording {missing[0]} not found; skipping targets {r['name']}-*")
        return None
    if raw is None:
        return r["spikes_csv"], contextlib.nullcontext(None)
    out = ingest_dir(r["name"])
    return f"{out}/spikes.csv", raw.tables(out, f"config: targets.recordings[{r['name']}]: ")


def study_targets(config: dict, notice: Callable[[str], None] = print,
                  ingest_dir: Callable[[str], str] = lambda name: f"results/ingest/{name}"
                  ) -> dict[str, TargetSpec]:
    """Every target of the study, by name. ``ingest_dir(name)``: where rule ingest writes
    the tables of a raw recording source."""
    from ..data.splits import cell_sweeps, recording_split, repeat_pairs
    from ..data.targets import recording_sweeps
    from ..sim.models import resolve_preset

    cfg = config["targets"]
    factors, train, held, role = _synthetic_split(cfg)
    out: dict[str, TargetSpec] = {}

    def add(spec: TargetSpec):
        if spec.name in out:
            raise UserError(f"config: targets: duplicate target name {spec.name!r}")
        out[spec.name] = spec

    for p in cfg.get("presets", []):
        model, _ = resolve_preset(p["preset"])
        for scheme in p["schemes"]:
            add(TargetSpec(f"{p['name']}-{scheme}", "preset", class_of("preset", scheme),
                           p["name"], f"--preset {p['preset']} --scheme {scheme}", model,
                           "preset", list(train), list(held), dict(role), factors))
    for p in cfg.get("priors", []):
        kind = p.get("kind", "any")
        extra = "" if kind == "any" else f" --prior-kind {kind}"
        for s in p["seeds"]:
            add(TargetSpec(f"{p['name']}-s{s}", "prior", class_of("prior"), p["name"],
                           f"--prior {p['model']} --seed {s}{extra}", p["model"], kind,
                           list(train), list(held), dict(role), factors))
    for t in cfg.get("times", []):
        times = ",".join(f"{x:g}" for x in t["times_ms"])
        add(TargetSpec(t["name"], "times", class_of("times"), t["name"],
                       f"--times {times} --duration {t['duration_ms']:g} "
                       f"--delay {t['delay_ms']:g}", None, "times", ["0"], [], {"0": "train"}))
    for r in cfg.get("recordings", []):
        found = _recording_tables(r, ingest_dir, notice)
        if found is None:
            continue
        spikes, tables = found
        with tables as folder:  # a raw source's tables; None: a spikes_csv entry's own files
            listed = Path(folder, "spikes.csv") if folder else Path(spikes)
            sweeps_csv = None if folder else r.get("sweeps_csv")
            cells = recording_sweeps(listed, sweeps_csv)
            table = Path(sweeps_csv or listed.parent / "sweeps.csv")
            wanted = r.get("cells") or list(cells)
            n_train = int(r.get("n_train", 4))
            for c in wanted:
                if c not in cells:
                    raise UserError(f"config: targets.recordings[{r['name']}].cells: {c!r} "
                                    f"not in {spikes}")
                sweeps = cells[c]
                pairs: list[tuple[str, str]] = []
                try:
                    rows = cell_sweeps(table, c)
                    tr, ho, rl = recording_split(rows, n_train)
                    pairs = repeat_pairs(rows)
                except UserError:  # too few ok sweeps to hold any out: in-sample context only
                    tr, ho, rl = list(sweeps), [], {s: "train" for s in sweeps}
                extra = f" --sweeps-csv {sweeps_csv}" if sweeps_csv else ""
                add(TargetSpec(f"{r['name']}-{c}", "recording", class_of("recording"),
                               r["name"], f"--recording {spikes} --cell {c}{extra}", None,
                               "recording", tr, ho, rl, None, spikes, pairs))
    return out


def target_entries(targets: dict[str, TargetSpec]) -> dict[str, list[str]]:
    """The targets of each config entry (``group``: a preset entry's schemes, a prior entry's
    seeds, a recording entry's cells, a times entry), in the order of ``targets``."""
    out: dict[str, list[str]] = {}
    for name, spec in targets.items():
        out.setdefault(spec.group, []).append(name)
    return out


def target_plan(spec: TargetSpec, out: str, command_out: str) -> dict:
    """The ``snnfit make-targets`` plan entry (:mod:`snnfit.commands.make_targets`) of one
    target: ``snnfit make-target`` with its ``args``, the truth at its amplitude factors and
    its split (train, held out with roles, repeat pairs), written to ``out``; ``command_out``
    is the ``--out`` its provenance's make-target command names."""
    return {"make": spec.args, "out": out, "command_out": command_out,
            "factors": spec.factors,
            "split": {"train": list(spec.train), "heldout": list(spec.heldout),
                      "role": dict(spec.roles),
                      "repeat_pairs": [list(p) for p in spec.repeat_pairs]}}


def entry_names(config: dict) -> set[str]:
    """The names of the config's target entries (also those skipped: a missing recording)."""
    cfg = config["targets"]
    return {e["name"] for key in ("presets", "priors", "times", "recordings")
            for e in cfg.get(key, [])}


def select_targets(targets: dict[str, TargetSpec], selectors, where: str,
                   entries: set[str] = frozenset()) -> list[str]:
    """Target names for selectors: ``all``, a class (:data:`TARGET_CLASSES`), a target name, or
    a config entry's name (all its targets: a prior's seeds, a recording's cells; none for a
    recording skipped because its file is missing)."""
    if "all" in selectors:
        return list(targets)
    names = []
    for s in selectors:
        if s in TARGET_CLASSES:
            names += [t for t, spec in targets.items() if spec.cls == s]
        elif s in targets:
            names.append(s)
        elif s in entries or any(spec.group == s for spec in targets.values()):
            names += [t for t, spec in targets.items() if spec.group == s]
        else:
            raise UserError(f"config: {where}: unknown target, class or entry {s!r} (expected "
                            f"one of {', '.join([*TARGET_CLASSES, *targets])})")
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------- fits


def _budget(ex: dict, model_label: str) -> int:
    model, _ = split_model_label(model_label)
    return int((ex.get("budgets") or {}).get(model, ex["budget"]))


def _adaptation_models(role: str, spec: TargetSpec, models) -> list[str]:
    if role in ("answer", "positive"):
        return model_labels(models)
    if spec.truth_model in VARIANTS["nonadapting"]:
        return [spec.truth_model, variant_label(spec.truth_model, "nonadapting")]
    return list(models)


def question_fits(question: str, ex: dict, targets: dict[str, TargetSpec], current: dict,
                  entries: set[str] = frozenset()) -> list[tuple[dict, str]]:
    """``(fit, role)`` pairs of one question (see the module docstring)."""
    from ..fit.space import dim_label

    out = []
    groups = [("answer", ex.get("targets", []))]
    controls = ex.get("controls") or {}
    groups += [(role, controls.get(role, [])) for role in ("positive", "negative")]
    for role, selectors in groups:
        if not selectors:
            continue
        for t in select_targets(targets, selectors, f"experiments.{question}", entries):
            spec = targets[t]
            optimizers = list(ex.get("optimizers", ["cmaes"]))
            if question == "adaptation":
                labels = _adaptation_models(role, spec, ex["models"])
            elif role != "answer" and spec.truth_model is not None:
                labels = [spec.truth_model]
            else:
                labels = list(ex["models"])
            if question == "optimizers" and role != "answer":
                optimizers = ["cmaes", "random"]
            for label in labels:
                model, _ = split_model_label(label)
                dims = (ex.get("dims") or {}).get(model, ["full"])
                if question == "dimensionality" and role != "answer":
                    sub = (ex.get("control_dims") or {}).get(model)
                    dims = ["full"] + ([sub] if sub else [])
                for dim, opt, cur, seed in itertools.product(
                        dims, optimizers, current[spec.kind], ex["seeds"]):
                    out.append((dict(target=t, model=label, dim=dim_label(dim),
                                     optimizer=opt, current=cur, seed=seed,
                                     budget=_budget(ex, label)), role))
    return out


@dataclass
class Design:
    """The study: targets, the union of fits (by path key) and each fit's memberships."""

    targets: dict[str, TargetSpec]
    fits: dict[str, dict]
    memberships: dict[str, list[str]]

    def in_question(self, question: str) -> list[dict]:
        return [self.fits[k] for k, m in self.memberships.items()
                if any(x.split(":", 1)[0] == question for x in m)]

    def has_heldout(self, fit: dict) -> bool:
        """Held-out predictions: adaptation fits with recorded current on targets that hold
        sweeps out."""
        key = FIT_WILDCARDS.format(**fit)
        return (bool(self.targets[fit["target"]].heldout) and fit["current"] == "recorded"
                and any(x.startswith("adaptation:") for x in self.memberships[key]))


def study_design(config: dict, notice: Callable[[str], None] = print,
                 ingest_dir: Callable[[str], str] = lambda name: f"results/ingest/{name}"
                 ) -> Design:
    """The whole design from the validated configuration (``ingest_dir``: as
    :func:`study_targets`)."""
    targets = study_targets(config, notice, ingest_dir)
    fits: dict[str, dict] = {}
    memberships: dict[str, list[str]] = {}
    for question in QUESTIONS:
        ex = config["experiments"][question]
        for fit, role in question_fits(question, ex, targets, config["current"],
                                       entry_names(config)):
            key = FIT_WILDCARDS.format(**fit)
            fits.setdefault(key, fit)
            tag = f"{question}:{role}"
            if tag not in memberships.setdefault(key, []):
                memberships[key].append(tag)
    return Design(targets, fits, memberships)
