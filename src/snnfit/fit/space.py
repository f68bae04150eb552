"""Reduced parameter spaces: the dimensionality setting of a fit.

Optimisers search the unit box ``[0, 1]^k`` of ``k`` normalised coordinates ``z``. One map
(:meth:`ReducedSpace.to_params`, with :meth:`ReducedSpace.to_reduced` its inverse on the
subspace) takes ``z`` to physical parameters inside the fit box:

* ``full`` / a subset (``b`` or ``a,b,tau_w``): each coordinate is one free parameter,
  ``p_i = lo_i + z_i (hi_i - lo_i)``; the other parameters stay at the base point.
* ``random:K`` / ``pca:K``: ``K`` orthonormal directions ``D`` (columns) in the unit box of the
  free parameters, random (Gaussian matrix, QR; seeded by ``projection_seed``) or the principal
  directions of a sample of parameter sets that fire. With ``u0`` the base point in unit
  coordinates, ``u = clip(u0 + D ((2 z - 1) * s), 0, 1)`` and ``p = lo + u (hi - lo)``. The
  half-widths ``s`` are 0.5 (random: each direction spans a box width) or 2 standard
  deviations of the sample along the direction (pca, at most 1). Coordinates that leave the
  box are clipped (the derivative through a clipped coordinate is 0).

The ``dim`` grammar (:func:`parse_dim`, the one parser; the study's path-safe labels are
:func:`dim_label` and :func:`dim_spec`)::

    full | NAME[,NAME...] | random:K | pca:K        (K a positive integer)

Free parameters of ``full``: every parameter, except those fixed with ``--fix``, the AdEx
``Vpeak`` under the ``resolved`` scheme (its cut is VT + 5 DeltaT), and ``C`` under searched
current: the models are invariant under a common scaling (AdEx: C, gL, a, b and the current;
Izhikevich: C, k, b, d and the current; LIF: C, gL and the current), so the data cannot
determine C when the current is searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..sim.models import get_model, resolve_preset
from ..sim.params import (DEFAULT_BOX, log_mask, parse_assignments, to_physical, to_unit,
                          unit_derivative)

#: sample size and firing window (spikes) of the pca directions' sample
PCA_SAMPLE = 1024
PCA_MIN_SPIKES, PCA_MAX_SPIKES = 3, 60

#: the kinds of dimensionality setting (``full`` is the subset of every free parameter)
DIM_KINDS = ("full", "subset", "random", "pca")
_PROJECTIONS = ("random", "pca")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GRAMMAR = "expected full, NAME[,NAME...], random:K or pca:K (K a positive integer)"


@dataclass(frozen=True)
class DimSpec:
    """A parsed dimensionality setting: ``kind`` (one of :data:`DIM_KINDS`), the parameter
    ``names`` of a subset (``()`` otherwise) and ``k``, the number of free coordinates
    (``None`` for ``full``: every free parameter of the model)."""

    kind: str
    names: tuple[str, ...] = ()
    k: int | None = None

    @property
    def spec(self) -> str:
        """The canonical text: ``full``, ``a,b,tau_w``, ``random:3``, ``pca:2``."""
        if self.kind == "full":
            return "full"
        if self.kind == "subset":
            return ",".join(self.names)
        return f"{self.kind}:{self.k}"

    @property
    def label(self) -> str:
        """The path-safe label (a Snakemake wildcard value): ``full``, ``a+b+tau_w``,
        ``random-3``, ``pca-2``."""
        if self.kind == "subset":
            return "+".join(self.names)
        return self.spec.replace(":", "-")

    def n_free(self, n_params: int) -> int:
        """Free coordinates for a model with ``n_params`` free parameters."""
        return n_params if self.k is None else self.k


def parse_dim(spec: str, where: str = "--dim") -> DimSpec:
    """Parse a dimensionality setting (grammar in the module docstring; spaces around the
    whole and around names are ignored). Bad forms, and a name listed twice, raise a
    one-line UserError starting with ``where`` and the text given."""
    return _parse(str(spec).strip(), ":", ",", f"{where} {spec!r}")


def parse_dim_label(label: str) -> DimSpec:
    """Parse a path-safe label (:attr:`DimSpec.label`, e.g. ``pca-2`` or ``a+b+tau_w``)."""
    return _parse(str(label).strip(), "-", "+", f"dim label {label!r}")


def _parse(text: str, colon: str, comma: str, shown: str) -> DimSpec:
    if text == "full":
        return DimSpec("full")
    kind, sep, ktext = text.partition(colon)
    if sep and kind in _PROJECTIONS:
        if not (ktext.isascii() and ktext.isdigit()) or int(ktext) < 1:
            raise UserError(f"{shown}: expected {kind}{colon}K with K a positive integer")
        return DimSpec(kind, (), int(ktext))
    names = tuple(n.strip() for n in text.split(comma))
    if not all(_NAME.fullmatch(n) for n in names):
        raise UserError(f"{shown}: {_GRAMMAR}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"{shown}: {', '.join(twice)} listed twice")
    return DimSpec("subset", names, len(names))


def dim_label(spec: str) -> str:
    """A dimensionality setting as its path-safe label: ``full`` -> ``full``,
    ``random:3`` -> ``random-3``, ``pca:2`` -> ``pca-2``, ``a,b,tau_w`` -> ``a+b+tau_w``."""
    return parse_dim(spec, "dim").label


def dim_spec(label: str) -> str:
    """Inverse of :func:`dim_label` (the canonical setting of a label)."""
    return parse_dim_label(label).spec


def dim_k(spec: str, n_params: int) -> int:
    """Number of free coordinates of a dimensionality setting for a model with ``n_params``
    free parameters."""
    return parse_dim(spec, "dim").n_free(n_params)


def check_dim(spec: str, model: str, where: str = "dim") -> DimSpec:
    """:func:`parse_dim`, and the names and K checked against the model's parameters (whether
    a name is free depends on the scheme and current mode: :func:`build_space` checks that)."""
    d = parse_dim(spec, where)
    pspec = get_model(model).spec
    for name in d.names:
        try:
            pspec.index(name)
        except UserError as exc:
            raise UserError(f"{where} {spec!r}: {exc}") from None
    if d.kind in _PROJECTIONS and d.k > len(pspec.names):
        raise UserError(f"{where} {spec!r}: K must be at most {len(pspec.names)} "
                        f"(the parameters of {model})")
    return d


@dataclass
class ReducedSpace:
    model: str
    dim: str
    names: tuple[str, ...]  # every parameter, spec order
    lower: np.ndarray  # fit box (after --bounds / --fix)
    upper: np.ndarray
    base: np.ndarray  # physical base point
    free: np.ndarray  # indices of the free parameters
    kind: str  # subset | random | pca
    directions: np.ndarray  # (n_free, k): identity columns for a subset
    half_width: np.ndarray  # (k,)
    info: dict = field(default_factory=dict)
    #: parameters whose box maps on a log scale (spec order; None: all linear)
    log: np.ndarray | None = None

    @property
    def log_mask(self) -> np.ndarray:
        """Coordinates mapped geometrically (declared log and a positive box)."""
        return log_mask(self.lower, self.upper, self.log)

    @property
    def k(self) -> int:
        return int(self.directions.shape[1])

    @property
    def free_names(self) -> list[str]:
        return [self.names[i] for i in self.free]

    @property
    def span(self) -> np.ndarray:
        return self.upper - self.lower

    def to_unit(self, p: np.ndarray) -> np.ndarray:
        """Unit-box coordinates of a physical parameter vector (every parameter; fixed ones
        at 0)."""
        return to_unit(np.asarray(p, dtype=np.float64), self.lower, self.upper, self.log)

    def shift_inside(self, p: np.ndarray, fraction: float) -> tuple[np.ndarray, float]:
        """``(p', s)``: ``p`` with its voltages (the model's
        :attr:`~snnfit.sim.params.ModelSpec.shift_group`) shifted by a common ``s`` mV to the
        point of that line farthest from the bounds (in box widths), when one of them is
        within ``fraction`` of a bound; the spike trains are unchanged (the voltages enter
        only as differences). ``(p, 0.0)`` when none is at a bound, when no shift moves them
        further inside, for projections, or when a used member of the group is not free
        (fixed, or outside a subset); members the scheme does not use stay where they are."""
        p = np.asarray(p, dtype=np.float64).copy()
        if self.kind != "subset":
            return p, 0.0
        excluded = self.info.get("excluded", {})
        idx = []
        for name in get_model(self.model).spec.shift_group:
            i = self.names.index(name)
            if i in self.free:
                idx.append(i)
            elif name not in excluded:
                return p, 0.0
        if not idx:
            return p, 0.0
        v, lo, hi = p[idx], self.lower[idx], self.upper[idx]
        w = hi - lo

        def margin(s):
            return float(np.min(np.minimum(v + s - lo, hi - v - s) / w))

        if margin(0.0) > fraction:
            return p, 0.0
        # the margin is a minimum of lines in s: its maximum is where a rising one (distance
        # from a lower bound) meets a falling one (distance from an upper bound)
        cand = [(w[i] * (hi[j] - v[j]) - w[j] * (v[i] - lo[i])) / (w[i] + w[j])
                for i in range(len(idx)) for j in range(len(idx))]
        s = max(cand, key=margin)
        if not margin(s) > margin(0.0):
            return p, 0.0
        p[idx] = v + s
        return p, float(s)

    def core(self) -> "ReducedSpace | None":
        """The same space on the core box: the fit box intersected with the model's prior
        box (:attr:`snnfit.sim.params.ModelSpec.prior_box`), where the search of a fit
        begins (:mod:`snnfit.fit.stages`); None for projections, or when the core is the
        fit box."""
        if self.kind != "subset":
            return None
        spec = get_model(self.model).spec
        f = self.free
        lo, hi = self.lower.copy(), self.upper.copy()
        lo[f] = np.maximum(spec.prior_lower()[f], self.lower[f])
        hi[f] = np.minimum(spec.prior_upper()[f], self.upper[f])
        if np.any(hi[f] <= lo[f]) or (np.array_equal(lo, self.lower)
                                      and np.array_equal(hi, self.upper)):
            return None
        base = np.clip(self.base, lo, hi)
        info = dict(self.info, box="core")
        return ReducedSpace(self.model, self.dim, self.names, lo, hi, base, self.free,
                            self.kind, self.directions, self.half_width, info, self.log)

    def sample_prior(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` reduced points whose parameters are drawn uniformly from the model's prior
        box (:attr:`snnfit.sim.params.ModelSpec.prior_box`, the same draw as
        ``make-target --prior``), clipped to the fit box; for a projection, the least-squares
        coordinates of such draws."""
        spec = get_model(self.model).spec
        lo = np.maximum(spec.prior_lower(), self.lower)
        hi = np.minimum(spec.prior_upper(), self.upper)
        hi = np.maximum(hi, lo)
        P = np.repeat(self.base[None, :], n, axis=0)
        f = self.free
        P[:, f] = lo[f] + rng.uniform(0.0, 1.0, (n, len(f))) * (hi - lo)[f]
        return self.to_reduced(P)

    def base_unit(self) -> np.ndarray:
        return to_unit(self.base, self.lower, self.upper, self.log)

    def _free_unit(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = np.clip(np.atleast_2d(np.asarray(Z, dtype=np.float64)), 0.0, 1.0)
        if Z.shape[1] != self.k:
            raise ValueError(f"expected {self.k} coordinates, got {Z.shape[1]}")
        if self.kind == "subset":
            return Z.copy(), np.ones_like(Z, dtype=bool)
        u0 = self.base_unit()[self.free]
        raw = u0[None, :] + ((2.0 * Z - 1.0) * self.half_width[None, :]) @ self.directions.T
        inside = (raw >= 0.0) & (raw <= 1.0)
        return np.clip(raw, 0.0, 1.0), inside

    def to_params(self, Z: np.ndarray) -> np.ndarray:
        """Physical parameter matrix ``(B, n_params)`` of reduced coordinates ``Z (B, k)``."""
        return self._params(self._free_unit(Z)[0])

    def _params(self, uf: np.ndarray) -> np.ndarray:
        P = np.repeat(self.base[None, :], uf.shape[0], axis=0)
        f = self.free
        P[:, f] = to_physical(uf, self.lower[f], self.upper[f], self._free_log())
        return P

    def params_and_jacobian(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`to_params` and :meth:`jacobian` of the same ``Z`` (the gradient
        optimisers' step), mapping ``Z`` once."""
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        uf, inside = self._free_unit(Z)
        return self._params(uf), self._jacobian(Z, uf, inside)

    def _free_log(self) -> np.ndarray | None:
        return None if self.log is None else self.log[self.free]

    def jacobian(self, Z: np.ndarray) -> np.ndarray:
        """``dP/dZ`` of shape ``(B, n_params, k)`` (0 through clipped coordinates)."""
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        uf, inside = self._free_unit(Z)
        return self._jacobian(Z, uf, inside)

    def _jacobian(self, Z: np.ndarray, uf: np.ndarray, inside: np.ndarray) -> np.ndarray:
        B = Z.shape[0]
        J = np.zeros((B, len(self.names), self.k))
        f = self.free
        if self.log is not None and self.log_mask[f].any():
            span = unit_derivative(uf, self.lower[f], self.upper[f], self._free_log())
        else:
            span = np.broadcast_to(self.span[f], uf.shape)
        if self.kind == "subset":
            dfree = np.repeat(np.eye(self.k)[None], B, axis=0) * span[:, :, None]
        else:
            dfree = (self.directions * (2.0 * self.half_width)[None, :])[None] * span[:, :, None]
            dfree = dfree * inside[:, :, None]
        inside_z = (Z >= 0.0) & (Z <= 1.0)
        J[:, self.free, :] = dfree * inside_z[:, None, :]
        return J

    def to_reduced(self, P: np.ndarray) -> np.ndarray:
        """Reduced coordinates of physical parameters (exact for a subset; the least-squares
        projection onto the subspace for random/pca), clipped to the unit box."""
        P = np.atleast_2d(np.asarray(P, dtype=np.float64))
        f = self.free
        uf = to_unit(P[:, f], self.lower[f], self.upper[f], self._free_log())
        if self.kind == "subset":
            return np.clip(uf, 0.0, 1.0)
        u0 = self.base_unit()[self.free]
        coef = (uf - u0[None, :]) @ self.directions  # orthonormal columns
        return np.clip(0.5 * (coef / self.half_width[None, :] + 1.0), 0.0, 1.0)

    def start(self) -> np.ndarray:
        """The base point in reduced coordinates (where deterministic optimisers start)."""
        return self.to_reduced(self.base[None, :])[0]

    def describe(self) -> dict:
        return {
            "dim": self.dim, "kind": self.kind, "k": self.k, "free": self.free_names,
            "lower": dict(zip(self.names, self.lower.tolist())),
            "upper": dict(zip(self.names, self.upper.tolist())),
            "base": dict(zip(self.names, self.base.tolist())),
            **({"log": [n for n, lg in zip(self.names, self.log_mask) if lg]}
               if self.log is not None and self.log_mask.any() else {}),
            **({"directions": self.directions.tolist(), "half_width": self.half_width.tolist()}
               if self.kind != "subset" else {}),
            **self.info,
        }


def _parse_bounds(model, items) -> dict[str, tuple[float, float]]:
    spec = get_model(model).spec
    out = {}
    for name, text in parse_assignments(items, "--bounds").items():
        ps = spec.spec(name)
        if ":" not in text:
            raise UserError(f"--bounds {name}: expected LO:HI, got {text!r}")
        lo_s, hi_s = text.split(":", 1)
        lo = ps.check(lo_s, "--bounds ")
        hi = ps.check(hi_s, "--bounds ")
        if not lo < hi:
            raise UserError(f"--bounds {name}: expected LO < HI, got {lo:g}:{hi:g}")
        out[name] = (lo, hi)
    return out


def build_space(
    model: str,
    dim: str = "full",
    scheme: str = "resolved",
    current: str = "recorded",
    bounds=None,
    fix=None,
    base: str = "defaults",
    projection_seed: int = 0,
    threads: int | None = 1,
    box: str = DEFAULT_BOX,
) -> ReducedSpace:
    """Build the reduced space of a fit (see the module docstring) in the model's fit box
    ``box`` (:meth:`snnfit.sim.params.ModelSpec.box`), narrowed or widened by ``bounds``."""
    m = get_model(model)
    spec = m.spec
    names = spec.names
    lower, upper, log = spec.box(box)
    for name, (lo, hi) in _parse_bounds(model, bounds).items():
        i = spec.index(name)
        lower[i], upper[i] = lo, hi
    if base in (None, "", "defaults"):
        base_vec = spec.vector({})
        base_name = "defaults"
    else:
        _, preset = resolve_preset(base, model)
        base_vec = spec.vector(preset.params)
        base_name = base
    fixed = {}
    for name, text in parse_assignments(fix, "--fix").items():
        i = spec.index(name)
        fixed[name] = spec.spec(name).check(text, "--fix ")
        base_vec[i] = fixed[name]
    base_vec = np.clip(base_vec, lower, upper)
    for name, v in fixed.items():  # a fixed value may sit outside the default box
        i = spec.index(name)
        base_vec[i] = lower[i] = upper[i] = v
    excluded = set(fixed)
    reasons = {}
    for name, why in get_model(model).scheme(scheme).unused.items():  # e.g. AdEx Vpeak
        excluded.add(name)
        reasons[name] = why
    if current == "search":
        excluded.add("C")
        reasons["C"] = "held fixed under searched current (scaling invariance)"
    full_free = [i for i, n in enumerate(names) if n not in excluded]
    dim = (dim or "full").strip()
    d = parse_dim(dim)
    info = {"base_name": base_name, "fixed": fixed, "excluded": reasons}
    if box != DEFAULT_BOX:
        info["fit_box"] = box
    if d.kind == "full":
        free = np.array(full_free)
        return ReducedSpace(model, dim, names, lower, upper, base_vec, free, "subset",
                            np.eye(len(free)), np.full(len(free), 0.5), info, log)
    if d.kind in _PROJECTIONS:
        kind, k, nf = d.kind, d.k, len(full_free)
        if not k <= nf:
            raise UserError(f"--dim {dim}: K must be between 1 and {nf} (free parameters)")
        free = np.array(full_free)
        rng = np.random.default_rng(projection_seed)
        if kind == "random":
            q, r = np.linalg.qr(rng.standard_normal((nf, k)))
            D = q * np.sign(np.diag(r))[None, :]
            hw = np.full(k, 0.5)
        else:
            D, hw, pinfo = _pca_directions(model, lower, upper, base_vec, free, k, rng,
                                           scheme, threads, log)
            info.update(pinfo)
        info["projection_seed"] = projection_seed
        return ReducedSpace(model, dim, names, lower, upper, base_vec, free, kind, D, hw, info,
                            log)
    idx = []
    for name in d.names:
        i = spec.index(name)
        if name in excluded:
            why = reasons.get(name, "fixed with --fix")
            raise UserError(f"--dim {name}: not a free parameter here ({why})")
        idx.append(i)
    free = np.array(sorted(idx))
    return ReducedSpace(model, dim, names, lower, upper, base_vec, free, "subset",
                        np.eye(len(free)), np.full(len(free), 0.5), info, log)


def _pca_directions(model, lower, upper, base_vec, free, k, rng, scheme, threads, log=None):
    """Principal directions (unit coordinates of the free parameters) of sets that fire."""
    from ..sim.protocol import StepProtocol
    from ..sim.simulate import simulate_batch
    from ..data.targets import PRIOR_AMPLITUDE_PA

    nf = len(free)
    U = rng.uniform(0.0, 1.0, (PCA_SAMPLE, nf))
    P = np.repeat(base_vec[None, :], PCA_SAMPLE, axis=0)
    P[:, free] = to_physical(U, lower[free], upper[free], None if log is None else log[free])
    r = simulate_batch(model, P, np.full(PCA_SAMPLE, PRIOR_AMPLITUDE_PA), StepProtocol(),
                       scheme, threads, max_spikes=1, check=False)
    keep = (r.status == 0) & (r.counts >= PCA_MIN_SPIKES) & (r.counts <= PCA_MAX_SPIKES)
    if keep.sum() < max(2 * k, 10):
        raise UserError(f"--dim pca:{k}: only {int(keep.sum())} of {PCA_SAMPLE} sampled sets "
                        "fire 3-60 spikes at the prior amplitude; use random:K")
    X = U[keep] - U[keep].mean(axis=0)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    D = vt[:k].T.copy()
    for j in range(k):  # sign convention: largest component positive (deterministic)
        if D[np.argmax(np.abs(D[:, j])), j] < 0:
            D[:, j] *= -1
    std = s[:k] / np.sqrt(max(X.shape[0] - 1, 1))
    hw = np.minimum(2.0 * std, 1.0)
    info = {"pca_sample": PCA_SAMPLE, "pca_firing": int(keep.sum()),
            "pca_explained": (s[:k] ** 2 / np.sum(s ** 2)).tolist(),
            "setup_simulations": PCA_SAMPLE}
    return D, hw, info
