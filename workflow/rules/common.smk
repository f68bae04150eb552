# Configuration validation, the study's target and fit lists, and input functions.
# The facts come from the package: the dim grammar (snnfit.fit.space), the target classes
# and a recording's cells and sweeps (snnfit.data.targets).
import itertools
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from snnfit.data.ingest import raw_source
from snnfit.errors import UserError
from snnfit.fit.batch import plan_batches
from snnfit.fit.space import check_dim, dim_spec
from snnfit.study.design import FIT_LEVELS, FIT_WILDCARDS, QUESTIONS, split_model_label
from snnfit.study.design import study_design, target_entries, target_plan
from snnfit.sim.models.variants import with_variant_fix

validate(config, schema="../schemas/config.schema.yaml")


def _check_dims():
    """The schema's dim pattern is a first filter; the package's parser decides, and checks
    the names and K against each model's parameters."""
    for arm, ex in config["experiments"].items():
        for model, dims in ex["dims"].items():
            for dim in dims:
                check_dim(dim, model, f"config: experiments.{arm}.dims.{model}:")
        for model, dim in ex.get("control_dims", {}).items():
            check_dim(dim, model, f"config: experiments.{arm}.control_dims.{model}:")


_check_dims()

RESULTS = "results"
# Paramspace-style wildcard path of one fit (key~value per level): snnfit.study.design
TABLES = {
    "fits": f"{RESULTS}/tables/fits.csv",
    "heldout": f"{RESULTS}/tables/heldout.csv",
    "history": f"{RESULTS}/tables/history.csv",
    "loss_curves": f"{RESULTS}/tables/loss_curves.csv",
    "reliability": f"{RESULTS}/tables/reliability.csv",
    **{f"summary_{q}": f"{RESULTS}/tables/summary_{q}.csv" for q in QUESTIONS},
}
# summary figures and their report category
FIGURES = {
    "gamma_by_model": "Adaptation",
    "dimensionality": "Dimensionality",
    "optimizer_curves": "Optimizers",
    "joules_vs_accuracy": "Optimizers",
    "rasters": "Adaptation",
    "fi_curves": "Adaptation",
    "isi_profiles": "Adaptation",
    "heldout_rasters": "Adaptation",
}
# figures drawn from answers.json (snnfit.study.figures.ANSWER_FIGURES)
ANSWER_FIGURES = {"controls": "Answers", "budget_answers": "Answers"}


wildcard_constraints:
    target="[A-Za-z0-9_.-]+",
    model="lif|adex|izhikevich|adex-nonadapting|izhikevich-nonadapting",
    dim="[A-Za-z0-9_+-]+",
    optimizer="cmaes|random|snn|direct",
    current="search|recorded",
    seed="[0-9]+",
    budget="[0-9]+",


def _notice(msg):
    print(f"snnfit study: {msg}", file=sys.stderr)


def ingest_dir(source):
    """Where rule ingest writes a raw recording source's tables."""
    return f"{RESULTS}/ingest/{source}"


def _design():
    """The study's targets, fits and each fit's memberships (snnfit.study.design)."""
    from dataclasses import asdict

    try:
        d = study_design(config, notice=_notice, ingest_dir=ingest_dir)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    targets = {name: dict(asdict(t), cls=t.cls) for name, t in d.targets.items()}
    arms = {q: d.in_question(q) for q in QUESTIONS}
    return d, targets, arms


DESIGN, TARGETS, ARMS = _design()
FITS = DESIGN.fits


def fit_json(r):
    return f"{RESULTS}/fits/{FIT_WILDCARDS.format(**r)}.json"


def heldout_json(r):
    return f"{RESULTS}/heldout/{FIT_WILDCARDS.format(**r)}.json"


def has_heldout(r):
    return DESIGN.has_heldout(r)


def all_fit_jsons():
    return [fit_json(r) for r in FITS.values()]


def all_heldout_jsons():
    return [heldout_json(r) for r in FITS.values() if has_heldout(r)]


def fit_records():
    """Plain dicts for snnfit.study.FitRecord (passed to the aggregate script)."""
    return [
        dict(
            path=fit_json(r),
            target=r["target"],
            dim=r["dim"],
            budget=r["budget"],
            target_class=TARGETS[r["target"]]["cls"],
            heldout=heldout_json(r) if has_heldout(r) else None,
            arms=";".join(DESIGN.memberships[key]),
            model=r["model"],
        )
        for key, r in FITS.items()
    ]


def input_seeds():
    seeds = set()
    for r in FITS.values():
        if r["optimizer"] in config["fit"]["inputs_for"]:
            seeds.add(r["seed"])
    return sorted(seeds)


def trace_pairs():
    """(target, model) pairs of the adaptation arm, for voltage-trace figures."""
    pairs = list(dict.fromkeys((r["target"], r["model"]) for r in ARMS["adaptation"]))
    return pairs[: config["report"]["traces_max"]]


# ---------------------------------------------------------------- batches of fits
# The fits run in batch jobs (many fits per process: snnfit.fit.batch), one rule per batch
# (rules/fit.smk). Finished fits are kept in FIT_CACHE, so a batch run again (interrupted, or
# re-planned after the grid changed) copies them and runs only the rest.
FIT_CACHE = f"{RESULTS}/.fitcache"


def _batches():
    rows = list(FITS.values())
    # the schema lets these be digit strings (nested --config values arrive as strings)
    fit = config["fit"]
    cut = plan_batches(rows, int(fit["batch_size"]), int(fit["min_batches"]))
    width = len(str(max(len(cut) - 1, 0)))
    return {f"fit_batch_{i:0{width}d}": b for i, b in enumerate(cut)}


BATCHES = _batches()


def target_json(name):
    return f"{RESULTS}/targets/{name}.json"


# ---------------------------------------------------------------- targets, one job per entry
# The targets of each config entry (snnfit.study.design.target_entries), made by one job
# (rules/targets.smk).
TARGET_ENTRIES = target_entries(DESIGN.targets)
_NOT_WORD = re.compile(r"\W")


def target_rule(entry):
    """The name of the job making an entry's targets, targets_<entry> (other characters than
    letters, digits and '_' become '_')."""
    return f"targets_{_NOT_WORD.sub('_', entry)}"


def _check_target_rules():
    rules = [target_rule(e) for e in TARGET_ENTRIES]
    twice = sorted({r for r in rules if rules.count(r) > 1})
    if twice:
        raise ValueError(
            f"config: targets: entry names that differ only in '-' or '.' "
            f"share the rule {twice[0]}; rename one"
        )


_check_target_rules()


def target_entry_sources(names):
    """The files an entry's targets are made from (a recording's spike table)."""
    return list(
        dict.fromkeys(
            DESIGN.targets[t].source for t in names if DESIGN.targets[t].source
        )
    )


def target_entry_plan(names):
    """The `snnfit make-targets` plan of an entry's targets. Provenance names the make-target
    command with --out results/targets/raw/<target>.json, as when each target was two jobs
    (make-target, then the split), so that the files stay byte for byte the same."""
    return [
        target_plan(
            DESIGN.targets[t], target_json(t), f"{RESULTS}/targets/raw/{t}.json"
        )
        for t in names
    ]


def fit_entry(r):
    """One fit of a batch plan (snnfit.fit.batch): what `snnfit fit` would be given (a
    variant's label, e.g. adex-nonadapting, becomes the model and the variant's --fix items,
    as `snnfit fit --variant` does)."""
    spec = TARGETS[r["target"]]
    model, variant = split_model_label(r["model"])
    settings = dict(
        model=model,
        dim=dim_spec(r["dim"]),
        optimizer=r["optimizer"],
        seed=int(r["seed"]),
        budget=int(r["budget"]),
        current=r["current"],
        scheme=config["fit"]["scheme"],
        threads=config["fit"]["threads"],
        loss=config["fit"]["loss"],
        inputs=(
            f"{RESULTS}/inputs/seed~{r['seed']}.npz"
            if r["optimizer"] in config["fit"]["inputs_for"]
            else None
        ),
        sweeps=list(spec["train"]) if spec["heldout"] else None,
    )
    fix = with_variant_fix(model, variant, [])
    if fix:
        settings["fix"] = fix
    heldout = None
    if has_heldout(r):
        heldout = dict(
            target=target_json(r["target"]),
            sweeps=list(spec["heldout"]),
            out=heldout_json(r),
        )
    return dict(
        target=target_json(r["target"]),
        out=fit_json(r),
        settings=settings,
        heldout=heldout,
    )


def batch_plan(rows):
    return [fit_entry(r) for r in rows]


def batch_inputs(rows):
    """Target files and Poisson input files the batch's fits read."""
    out = []
    for e in batch_plan(rows):
        out.append(e["target"])
        if e["settings"]["inputs"]:
            out.append(e["settings"]["inputs"])
    return list(dict.fromkeys(out))


def batch_outputs(rows):
    return [fit_json(r) for r in rows] + [
        heldout_json(r) for r in rows if has_heldout(r)
    ]


def trace_candidates(target, model):
    return [
        fit_json(r)
        for r in ARMS["adaptation"]
        if r["target"] == target and r["model"] == model
    ]


def trace_png(target, model):
    return f"{RESULTS}/figures/traces/{target}/{model}.png"


def trace_inputs():
    return list(
        dict.fromkeys(f for t, m in trace_pairs() for f in trace_candidates(t, m))
    )


def study_outputs():
    """What the study makes (rule all, and the study benchmark after it all)."""
    return [
        TABLES["fits"],
        TABLES["heldout"],
        TABLES["reliability"],
        f"{RESULTS}/reports/answers.json",
        *expand(f"{RESULTS}/reports/{{question}}.html", question=QUESTIONS),
        *figure_files(),
        *trace_files(),
    ]


def run_cores():
    """The cores Snakemake runs jobs on (--cores; else --jobs, e.g. on a cluster)."""
    try:
        return int(workflow.cores)
    except Exception:  # no --cores given (cluster executors): the parallel jobs instead
        return int(workflow.nodes or 1)


def figure_files():
    return expand(
        f"{RESULTS}/figures/{{name}}.{{ext}}",
        name=[*FIGURES, *ANSWER_FIGURES],
        ext=["png", "svg"],
    )


def trace_files():
    return [trace_png(target, model) for target, model in trace_pairs()]


# ---------------------------------------------------------------- input functions


def _raw(name):
    """The raw recording source (files and ingest options) of a recordings entry."""
    entry = next(r for r in config["targets"]["recordings"] if r["name"] == name)
    return raw_source(entry)


def ingest_inputs(wildcards):
    return _raw(wildcards.source).files()


def ingest_args(wildcards):
    return shlex.join(_raw(wildcards.source).arguments())


def recording_targets():
    """Final target files of the recordings (the reliability of each cell)."""
    return [
        f"{RESULTS}/targets/{t}.json"
        for t, spec in TARGETS.items()
        if spec["kind"] == "recording"
    ]
