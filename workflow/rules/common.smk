# Configuration validation, the study's target and fit lists, and input functions.
# The facts come from the package: the dim grammar (snnfit.fit.space), the target classes
# and a recording's cells and sweeps (snnfit.data.targets).
import itertools
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from snnfit.data.ingest import RawSource
from snnfit.data.targets import TARGET_CLASSES, class_of, recording_sweeps
from snnfit.errors import UserError
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


def ingest_dir(source):
    return f"{RESULTS}/ingest/{source}"


def _raw_sources():
    """Recording sources of raw files or a manifest, by name (rule ingest makes their tables)."""
    out = {}
    for r in config["targets"]["recordings"]:
        files = r.get("raw") or ([r["manifest"]] if "manifest" in r else [])
        if files:
            out[r["name"]] = RawSource(
                tuple(files),
                cell_id=r.get("cell_id"),
                protocols=tuple(r.get("protocols", ())),
                threshold_mV=float(r.get("threshold_mV", -20.0)),
            )
    return out


RAW_SOURCES = _raw_sources()


def _recording_cells(r):
    """(the spikes CSV its targets are made from, the files make_target reads, its cells and
    their sweeps) of a recording source; None if a file is missing. A raw source's cells
    and sweeps are read from the tables rule ingest writes (made in memory, once, while
    they are not written yet: snnfit.data.ingest.RawSource.tables)."""
    raw = RAW_SOURCES.get(r["name"])
    needed = list(raw.recordings) if raw else [r["spikes_csv"]]
    missing = [p for p in needed if not Path(p).exists()]
    if missing:
        _notice(f"recording {missing[0]} not found; skipping targets {r['name']}-*")
        return None
    if raw is None:
        cells = recording_sweeps(r["spikes_csv"], r["sweeps_csv"])
        return r["spikes_csv"], [r["spikes_csv"]], cells
    out = ingest_dir(r["name"])
    try:
        with raw.tables(out) as folder:
            cells = recording_sweeps(folder / "spikes.csv")
    except UserError as exc:
        raise ValueError(f"config: targets.recordings[{r['name']}]: {exc}") from None
    tables = [f"{out}/{name}" for name in ("spikes.csv", "sweeps.csv", "epochs.csv")]
    return tables[0], tables, cells


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
        found = _recording_cells(r)
        if found is None:
            continue
        spikes, source, cells = found
        wanted = r["cells"] or list(cells)
        for c in wanted:
            if c not in cells:
                raise ValueError(
                    f"config: targets.recordings[{r['name']}].cells: {c!r} not in {spikes}"
                )
            extra = f" --sweeps-csv {r['sweeps_csv']}" if r["sweeps_csv"] else ""
            add(
                f"{r['name']}-{c}",
                kind="recording",
                cls=class_of("recording"),
                args=f"--recording {spikes} --cell {c}{extra}",
                train=cells[c][:1],
                heldout=cells[c][1:],
                source=source,
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


def trace_candidates(wildcards):
    return [
        fit_json(r)
        for r in ARMS["adaptation"]
        if r["target"] == wildcards.target and r["model"] == wildcards.model
    ]


def figure_files():
    return expand(
        f"{RESULTS}/figures/{{name}}.{{ext}}", name=list(FIGURES), ext=["png", "svg"]
    )


def trace_files():
    return [
        f"{RESULTS}/figures/traces/{target}/{model}.png"
        for target, model in trace_pairs()
    ]


# ---------------------------------------------------------------- input functions


def target_args(wildcards):
    return TARGETS[wildcards.target]["args"]


def target_source(wildcards):
    return TARGETS[wildcards.target].get("source", [])


def ingest_inputs(wildcards):
    return RAW_SOURCES[wildcards.source].files()


def ingest_args(wildcards):
    return shlex.join(RAW_SOURCES[wildcards.source].arguments())


def fit_inputs_npz(wildcards):
    if wildcards.optimizer in config["fit"]["inputs_for"]:
        return [f"{RESULTS}/inputs/seed~{wildcards.seed}.npz"]
    return []


def fit_extra_args(wildcards, input):
    args = []
    if wildcards.optimizer in config["fit"]["inputs_for"]:
        args.append(f"--inputs {input.inputs}")
    spec = TARGETS[wildcards.target]
    if spec["heldout"]:
        args.append("--sweeps " + ",".join(spec["train"]))
    return " ".join(args)


def heldout_sweeps(wildcards):
    return ",".join(TARGETS[wildcards.target]["heldout"])


def dim_arg(wildcards):
    return dim_spec(wildcards.dim)
