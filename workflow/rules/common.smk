# Configuration validation, the study's target and fit lists, and input functions.
# The facts come from the package: the dim grammar (snnfit.fit.space), the target classes
# and a recording's cells and sweeps (snnfit.data.targets).
import itertools
import os
import sys
from pathlib import Path

from snakemake.utils import validate

from snnfit.data.targets import TARGET_CLASSES, class_of, recording_sweeps
from snnfit.fit.batch import plan_batches
from snnfit.fit.space import check_dim, dim_label, dim_spec

validate(config, schema="../schemas/config.schema.yaml")


def _check_dims():
    """The schema's dim pattern is a first filter; the package's parser decides, and checks
    the names and K against each model's parameters."""
    for arm, ex in config["experiments"].items():
        for model, dims in ex["dims"].items():
            for dim in dims:
                check_dim(dim, model, f"config: experiments.{arm}.dims.{model}:")


_check_dims()

RESULTS = "results"
# Paramspace-style wildcard path of one fit (key~value per level)
FIT_LEVELS = ["target", "model", "dim", "optimizer", "current", "seed", "budget"]
FIT_WILDCARDS = os.path.join(*(f"{k}~{{{k}}}" for k in FIT_LEVELS))
QUESTIONS = ["adaptation", "dimensionality", "optimizers"]
TABLES = {
    "fits": f"{RESULTS}/tables/fits.csv",
    "heldout": f"{RESULTS}/tables/heldout.csv",
    "history": f"{RESULTS}/tables/history.csv",
    "loss_curves": f"{RESULTS}/tables/loss_curves.csv",
    **{f"summary_{q}": f"{RESULTS}/tables/summary_{q}.csv" for q in QUESTIONS},
}
# summary figures and their report category
FIGURES = {
    "gamma_by_model": "Adaptation",
    "dimensionality": "Dimensionality",
    "optimizer_curves": "Optimizers",
    "joules_vs_accuracy": "Optimizers",
    "rasters": "Adaptation",
}


wildcard_constraints:
    target="[A-Za-z0-9_.-]+",
    model="lif|adex|izhikevich",
    dim="[A-Za-z0-9_+-]+",
    optimizer="cmaes|random|snn|direct",
    current="search|recorded",
    seed="[0-9]+",
    budget="[0-9]+",


def _notice(msg):
    print(f"snnfit study: {msg}", file=sys.stderr)


def _targets():
    """Every target of the study: name -> {kind, class, args, train, heldout}."""
    cfg = config["targets"]
    factors = cfg["heldout_amplitude_factors"]
    synth_heldout = [str(i) for i in range(1, len(factors) + 1)]
    out = {}

    def add(name, **spec):
        if name in out:
            raise ValueError(f"config: targets: duplicate target name {name!r}")
        out[name] = spec

    for p in cfg["presets"]:
        for scheme in p["schemes"]:
            add(
                f"{p['name']}-{scheme}",
                kind="preset",
                cls=class_of("preset", scheme),
                args=f"--preset {p['preset']} --scheme {scheme}",
                train=["0"],
                heldout=synth_heldout,
            )
    for p in cfg["priors"]:
        for s in p["seeds"]:
            add(
                f"{p['name']}-s{s}",
                kind="prior",
                cls=class_of("prior"),
                args=f"--prior {p['model']} --seed {s}",
                train=["0"],
                heldout=synth_heldout,
            )
    for t in cfg["times"]:
        times = ",".join(f"{x:g}" for x in t["times_ms"])
        add(
            t["name"],
            kind="times",
            cls=class_of("times"),
            args=f"--times {times} --duration {t['duration_ms']:g} --delay {t['delay_ms']:g}",
            train=["0"],
            heldout=[],
        )
    for r in cfg["recordings"]:
        if not Path(r["spikes_csv"]).exists():
            _notice(
                f"recording {r['spikes_csv']} not found; skipping targets {r['name']}-*"
            )
            continue
        cells = recording_sweeps(r["spikes_csv"], r["sweeps_csv"])
        wanted = r["cells"] or list(cells)
        for c in wanted:
            if c not in cells:
                raise ValueError(
                    f"config: targets.recordings[{r['name']}].cells: {c!r} not in {r['spikes_csv']}"
                )
            extra = f" --sweeps-csv {r['sweeps_csv']}" if r["sweeps_csv"] else ""
            add(
                f"{r['name']}-{c}",
                kind="recording",
                cls=class_of("recording"),
                args=f"--recording {r['spikes_csv']} --cell {c}{extra}",
                train=cells[c][:1],
                heldout=cells[c][1:],
                source=r["spikes_csv"],
            )
    return out


TARGETS = _targets()


def _select_targets(selectors):
    if "all" in selectors:
        return list(TARGETS)
    names = []
    for s in selectors:
        if s in TARGET_CLASSES:
            names += [t for t, spec in TARGETS.items() if spec["cls"] == s]
        elif s in TARGETS:
            names.append(s)
        elif any(r["name"] == s for r in config["targets"]["recordings"]):
            names += [t for t in TARGETS if t.startswith(f"{s}-")]
        else:
            raise ValueError(
                f"config: experiments: unknown target or class {s!r} "
                f"(expected one of {', '.join([*TARGET_CLASSES, *TARGETS])})"
            )
    return list(dict.fromkeys(names))


def _fits():
    """Every fit of the study (the union of the experiments), and each experiment's fits."""
    arms = {}
    for arm, ex in config["experiments"].items():
        rows = []
        for t in _select_targets(ex["targets"]):
            kind = TARGETS[t]["kind"]
            for model in ex["models"]:
                dims = ex["dims"].get(model, ["full"])
                for dim, opt, cur, seed in itertools.product(
                    dims, ex["optimizers"], config["current"][kind], ex["seeds"]
                ):
                    rows.append(
                        dict(
                            target=t,
                            model=model,
                            dim=dim_label(dim),
                            optimizer=opt,
                            current=cur,
                            seed=seed,
                            budget=ex["budget"],
                        )
                    )
        arms[arm] = rows
    union = {}
    for rows in arms.values():
        for r in rows:
            union[FIT_WILDCARDS.format(**r)] = r
    return union, arms


FITS, ARMS = _fits()
# held-out predictions are made for the fits of the adaptation arm (the question that uses
# them)
HELDOUT_ARM = {FIT_WILDCARDS.format(**r) for r in ARMS["adaptation"]}


def fit_json(r):
    return f"{RESULTS}/fits/{FIT_WILDCARDS.format(**r)}.json"


def heldout_json(r):
    return f"{RESULTS}/heldout/{FIT_WILDCARDS.format(**r)}.json"


def has_heldout(r):
    return (
        bool(TARGETS[r["target"]]["heldout"])
        and r["current"] == "recorded"
        and FIT_WILDCARDS.format(**r) in HELDOUT_ARM
    )


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
        )
        for r in FITS.values()
    ]


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


def fit_entry(r):
    """One fit of a batch plan (snnfit.fit.batch): what `snnfit fit` would be given."""
    spec = TARGETS[r["target"]]
    settings = dict(
        model=r["model"],
        dim=dim_spec(r["dim"]),
        optimizer=r["optimizer"],
        seed=r["seed"],
        budget=r["budget"],
        current=r["current"],
        scheme=config["fit"]["scheme"],
        threads=config["fit"]["threads"],
        inputs=(
            f"{RESULTS}/inputs/seed~{r['seed']}.npz"
            if r["optimizer"] in config["fit"]["inputs_for"]
            else None
        ),
        sweeps=list(spec["train"]) if spec["heldout"] else None,
    )
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
        f"{RESULTS}/figures/{{name}}.{{ext}}", name=list(FIGURES), ext=["png", "svg"]
    )


def trace_files():
    return [trace_png(target, model) for target, model in trace_pairs()]


# ---------------------------------------------------------------- input functions


def target_args(wildcards):
    return TARGETS[wildcards.target]["args"]


def target_source(wildcards):
    src = TARGETS[wildcards.target].get("source")
    return [src] if src else []
