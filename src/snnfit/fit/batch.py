"""Many fits in one process: a batch plan, a cache of finished fits, and the study's batching.

A separate process per fit pays Python's, numpy's, numba's and pycma's start-up (about 3 s)
for every fit; a batch pays it once and warms each kernel once. :func:`run_batch` runs the
fits of a plan one after the other, writing each fit record (and its held-out evaluation)
atomically to its own output file as soon as it is done.

**Plan** (:func:`load_plan`, JSON; ``snnfit fit-batch --plan PLAN.json``)::

    {"cache": "results/.fitcache",            # optional: where finished fits are kept
     "fits": [{"target": "results/targets/T.json",
               "out": "results/fits/....json",
               "settings": {"model": "adex", "dim": "full", "optimizer": "cmaes",
                            "seed": 1, "budget": 1500, "current": "recorded",
                            "scheme": "resolved", "threads": 1,
                            "sweeps": ["0"], "inputs": null, ...},
               "heldout": {"target": "results/targets/T.json", "sweeps": ["1"],
                           "out": "results/heldout/....json"}},       # or null
              ...]}

``settings`` takes the fields of :class:`snnfit.fit.FitSettings` (as ``snnfit fit`` sets
them); ``heldout`` replays the fit on other sweeps (:func:`snnfit.fit.record.evaluate_fit`,
what ``snnfit evaluate`` does).

**Cache** (resumability). Snakemake deletes a job's declared outputs before it runs the job
again (and those of an interrupted job, under ``--rerun-incomplete``), so finished fits must
survive outside the outputs. Every finished fit is first written to
``<cache>/<key>.fit.json`` (its held-out evaluation to ``<key>.<hkey>.heldout.json``), where
``key`` is the SHA-256 of the fit's settings (all but ``threads`` and ``progress``, which do
not change a fit's numbers), the target's path and content, the inputs file's content, and
the code version (:func:`code_version`: the package's source files and the versions of the
libraries a fit's numbers depend on). A batch run again (interrupted, or re-planned) copies
what the cache holds and runs only the rest. Entries are written atomically and never
changed; deleting the directory only costs recomputation.

**Batching a study** (:func:`plan_batches`): the fits, ordered by optimizer, target and model
(:data:`BATCH_ORDER`: so a batch holds the fits of one optimizer and a few (target, model)
pairs), cut into contiguous batches of at most ``batch_size`` fits and at least
``min_batches`` batches (as many as there are cores to keep busy), balanced by budget
(forward-equivalents, the fits' simulation work). The optimizer comes first because the
gradient optimizers' fits cost their batch a one-off start-up the CMA-ES fits do not: ``snn``
imports torch and Norse (about 2 s), ``direct`` and ``snn`` load (or, in a fresh clone,
compile) the sensitivity kernels. Kept together they pay it in one or two batches, not in
every batch that holds a few of them (measured: docs/study.md, "Batches").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import UserError
from ..io import atomic_write, atomic_write_json
from .engine import FitSettings

#: settings fields that do not change a fit's numbers (left out of the cache key)
NOT_IN_KEY = ("threads", "progress")
#: libraries whose versions a fit's numbers depend on (part of the code version)
KEY_LIBRARIES = ("numpy", "numba", "llvmlite", "cma", "torch", "norse")


@dataclass(frozen=True)
class HeldoutSpec:
    """A held-out evaluation of a fit: replay it on ``sweeps`` of ``target`` -> ``out``."""

    target: str
    out: str
    sweeps: list[str] | None = None


@dataclass(frozen=True)
class BatchFit:
    """One fit of a batch: ``snnfit fit --target TARGET ... --out OUT`` and its held-out
    evaluation, if any."""

    target: str
    out: str
    settings: FitSettings
    heldout: HeldoutSpec | None = None


@dataclass
class BatchReport:
    """What a batch did: per fit ``(out, "ran" | "cached" | "failed", seconds)``."""

    rows: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)

    def count(self, what: str) -> int:
        return sum(1 for _, w, _ in self.rows if w == what)

    @property
    def failed(self) -> list[str]:
        return [out for out, w, _ in self.rows if w == "failed"]


# ---------------------------------------------------------------------- plans

_SETTINGS_FIELDS = {f.name for f in dataclasses.fields(FitSettings)} - {"optimizer_settings"}


def _str_list(v, where: str) -> list[str] | None:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, (str, int)) for x in v):
        raise UserError(f"{where}: expected a list of sweep ids or null")
    return [str(x) for x in v]


def plan_from_dict(d: Any, source: str = "plan") -> tuple[list[BatchFit], str | None]:
    """The fits and the cache directory of a plan (module docstring); a malformed plan is a
    one-line :class:`UserError` naming ``source``, the fit's index and the key."""
    if not isinstance(d, dict) or not isinstance(d.get("fits"), list):
        raise UserError(f"{source}: expected an object with a list 'fits'")
    cache = d.get("cache")
    if cache is not None and not isinstance(cache, str):
        raise UserError(f"{source}: cache: expected a directory path or null")
    fits, outs = [], set()
    for i, f in enumerate(d["fits"]):
        where = f"{source}: fits[{i}]"
        if not isinstance(f, dict):
            raise UserError(f"{where}: expected an object")
        for key in ("target", "out", "settings"):
            if key not in f:
                raise UserError(f"{where}: missing key {key!r}")
        if not isinstance(f["target"], str) or not isinstance(f["out"], str):
            raise UserError(f"{where}: target and out must be paths")
        s = f["settings"]
        if not isinstance(s, dict):
            raise UserError(f"{where}: settings: expected an object")
        unknown = sorted(set(s) - _SETTINGS_FIELDS)
        if unknown:
            raise UserError(f"{where}: settings: unknown key {unknown[0]!r} (expected "
                            f"fields of snnfit fit: {', '.join(sorted(_SETTINGS_FIELDS))})")
        if "model" not in s:
            raise UserError(f"{where}: settings: missing key 'model'")
        s = {**s, "sweeps": _str_list(s.get("sweeps"), f"{where}: settings: sweeps")}
        try:
            settings = FitSettings(**s)
        except TypeError as exc:
            raise UserError(f"{where}: settings: {exc}") from None
        h = f.get("heldout")
        heldout = None
        if h is not None:
            if not isinstance(h, dict) or not all(isinstance(h.get(k), str)
                                                   for k in ("target", "out")):
                raise UserError(f"{where}: heldout: expected {{target, out, sweeps}} or null")
            heldout = HeldoutSpec(h["target"], h["out"],
                                  _str_list(h.get("sweeps"), f"{where}: heldout: sweeps"))
        for out in (f["out"], heldout.out if heldout else None):
            if out is not None and out in outs:
                raise UserError(f"{where}: output {out} appears twice in the plan")
            outs.add(out)
        fits.append(BatchFit(f["target"], f["out"], settings, heldout))
    return fits, cache


def load_plan(path: str | Path) -> tuple[list[BatchFit], str | None]:
    """Read a plan file (:func:`plan_from_dict`)."""
    from ..io import read_json

    return plan_from_dict(read_json(path), str(path))


# ---------------------------------------------------------------------- cache keys


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 of the package's source files (path and content) and of the versions of
    :data:`KEY_LIBRARIES`: a fit cached by other code is not reused."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for p in sorted(root.rglob("*.py")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    for lib in KEY_LIBRARIES:
        try:
            v = version(lib)
        except PackageNotFoundError:
            v = "-"
        h.update(f"{lib}={v}".encode())
    return h.hexdigest()


def _file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    return h.hexdigest()


def _jsonable(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {"__class__": type(v).__name__, **dataclasses.asdict(v)}
    return v


def fit_key(fit: BatchFit) -> str:
    """The cache key of a fit (module docstring)."""
    s = {f.name: _jsonable(getattr(fit.settings, f.name))
         for f in dataclasses.fields(fit.settings) if f.name not in NOT_IN_KEY}
    doc = {"settings": s, "target": fit.target, "target_sha256": _file_sha256(fit.target),
           "inputs_sha256": _file_sha256(fit.settings.inputs) if fit.settings.inputs else None,
           "code": code_version()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def heldout_key(spec: HeldoutSpec) -> str:
    doc = {"target": spec.target, "target_sha256": _file_sha256(spec.target),
           "sweeps": spec.sweeps}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _copy(src: Path, dst: str) -> None:
    """Copy a cache entry to an output atomically (a copy, not a link: the output gets its
    own inode and a fresh modification time, which Snakemake compares with the inputs')."""
    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def _through_cache(entry: Path | None, out: str, make: Callable[[], dict]) -> bool:
    """Write ``out``: a copy of the cache ``entry`` if it exists (returns True), else
    ``make()``, written to the entry first (if any) and copied."""
    if entry is not None and entry.exists():
        _copy(entry, out)
        return True
    record = make()
    if entry is None:
        atomic_write_json(out, record)
    else:
        atomic_write_json(entry, record)
        _copy(entry, out)
    return False


# ---------------------------------------------------------------------- running


def run_batch(fits: Sequence[BatchFit], cache: str | Path | None = None,
              log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)
              ) -> BatchReport:
    """Run the fits one after the other in this process (module docstring).

    A fit found in ``cache`` is copied, not run. A fit that fails (a bad target, a bug) is
    logged with its error and the batch goes on; the report lists it. Nothing is written for
    a failed fit."""
    from .engine import run_fit
    from .record import evaluate_fit

    cache_dir = Path(cache) if cache is not None else None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    report = BatchReport()
    for n, fit in enumerate(fits, 1):
        t0 = time.perf_counter()
        try:
            key = fit_key(fit) if cache_dir is not None else None
            hit = _through_cache(cache_dir / f"{key}.fit.json" if key else None, fit.out,
                                 lambda: run_fit(fit.target, fit.settings).to_json())
            h = fit.heldout
            if h is not None:
                entry = cache_dir / f"{key}.{heldout_key(h)}.heldout.json" if key else None
                _through_cache(entry, h.out, lambda: evaluate_fit(fit.out, h.target, h.sweeps))
            what = "cached" if hit else "ran"
        except Exception as exc:  # noqa: BLE001 - one fit's failure must not stop the batch
            what = "failed"
            msg = " ".join(str(exc).split()) if isinstance(exc, UserError) else \
                traceback.format_exc()
            log(f"fit-batch: [{n}/{len(fits)}] {fit.out}: error: {msg}")
        dt = time.perf_counter() - t0
        report.rows.append((fit.out, what, dt))
        log(f"fit-batch: [{n}/{len(fits)}] {what} {dt:.2f} s {fit.out}")
    return report


# ---------------------------------------------------------------------- batching a study


#: the order of a study's fits before they are cut into batches (module docstring)
BATCH_ORDER = ("optimizer", "target", "model")


def plan_batches(rows: Sequence[dict], batch_size: int, min_batches: int = 1,
                 group: Sequence[str] = BATCH_ORDER,
                 weight: Callable[[dict], float] = lambda r: float(r.get("budget", 1))
                 ) -> list[list[dict]]:
    """Cut a study's fits (dicts) into batches: ordered by ``group`` (a stable sort; a key a
    row lacks sorts as ""), then cut into ``n = max(ceil(N / batch_size), min(min_batches,
    N))`` contiguous batches of 1 to ``batch_size`` fits, each cut placed where the
    cumulative weight (default: the budget) is nearest to its share ``b / n`` of the
    total."""
    if batch_size < 1:
        raise UserError(f"fit.batch_size: must be >= 1, got {batch_size}")
    order = sorted(rows, key=lambda r: tuple(str(r.get(k, "")) for k in group))
    N = len(order)
    if N == 0:
        return []
    n = max(math.ceil(N / batch_size), min(max(min_batches, 1), N))
    w = [max(float(weight(r)), 0.0) for r in order]
    if not sum(w):
        w = [1.0] * N
    before = [0.0]  # before[j]: weight of order[:j]
    for x in w:
        before.append(before[-1] + x)
    cuts = [0]
    for b in range(1, n):
        left = n - b  # batches after this cut
        lo = max(cuts[-1] + 1, N - left * batch_size)
        hi = min(cuts[-1] + batch_size, N - left)
        goal = before[N] * b / n
        cuts.append(min(range(lo, hi + 1), key=lambda j: abs(before[j] - goal)))
    cuts.append(N)
    return [order[i:j] for i, j in zip(cuts, cuts[1:])]


def write_plan(path: str | Path, fits: list[dict], cache: str | None) -> None:
    """Write a plan file (module docstring) of fit entries ``{target, out, settings,
    heldout}``."""
    atomic_write_json(path, {"cache": cache, "fits": fits})


__all__ = ["BATCH_ORDER", "BatchFit", "BatchReport", "HeldoutSpec", "code_version", "fit_key",
           "heldout_key", "load_plan", "plan_batches", "plan_from_dict", "run_batch", "write_plan"]
