"""``snnfit fit``: fit a model to a target; writes the fit record (JSON) atomically."""

from __future__ import annotations

import sys

from ._common import number, threads_arg


def _int(value: str, field: str) -> int:
    from ..errors import UserError

    try:
        return int(value)
    except ValueError:
        raise UserError(f"{field}: expected an integer, got {value!r}") from None


def _cmaes_settings(args):
    """CMA-ES settings from ``--restarts`` / ``--screen`` (None: the optimiser's defaults)."""
    from ..errors import UserError

    if args.restarts is None and args.screen is None:
        return None
    if args.optimizer != "cmaes":
        flag = "--restarts" if args.restarts is not None else "--screen"
        raise UserError(f"{flag} applies to --optimizer cmaes only (got {args.optimizer!r})")
    from dataclasses import replace

    from ..fit.optimizers.cmaes import CMAESSettings

    s = CMAESSettings()
    if args.restarts is not None:
        s = replace(s, restarts=args.restarts)
    if args.screen is not None:
        s = replace(s, screen=_int(args.screen, "--screen"))
    s.check()
    return s


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a model to a target (writes fit JSON)")
    p.add_argument("--target", required=True, help="target JSON (snnfit make-target)")
    p.add_argument("--model", required=True, help="lif, adex or izhikevich")
    p.add_argument("--dim", default="full",
                   help="full | NAME[,NAME...] | random:K | pca:K (default full)")
    p.add_argument("--optimizer", default="cmaes", help="cmaes | random | snn | direct")
    p.add_argument("--seed", default="0", help="random seed (default 0)")
    p.add_argument("--budget", default="5000",
                   help="forward-equivalents (simulations) to spend (default 5000)")
    p.add_argument("--current", default="search",
                   help="search (default): the amplitude is searched per evaluation; "
                        "recorded: each sweep's own amplitude")
    p.add_argument("--scheme", default="resolved", help="resolved (default), resolved2 or euler")
    p.add_argument("--dt", default=None, metavar="MS",
                   help="simulation step of the fit in ms (default 0.1; the target's sampling "
                        "interval is not used)")
    p.add_argument("--threads", type=threads_arg, default=1, help="numba/torch threads")
    p.add_argument("--watts-per-core", default=None,
                   help="energy estimate where RAPL is unreadable (W per busy core)")
    p.add_argument("--inputs", help="Poisson inputs (.npz, snnfit make-inputs) for --optimizer snn")
    p.add_argument("--sweeps", help="comma-separated sweep ids to fit (default all)")
    p.add_argument("--bounds", action="append", default=[], metavar="NAME=LO:HI",
                   help="override a parameter's fit box (repeatable)")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="fix a parameter (repeatable)")
    p.add_argument("--variant", default=None,
                   help="nonadapting: the model with adaptation switched off (AdEx a = b = 0, "
                        "Izhikevich b = d = 0; snnfit.sim.models.variants), as fixed "
                        "parameters")
    p.add_argument("--base", default="defaults",
                   help="base point of parameters outside --dim: defaults or a preset")
    p.add_argument("--projection-seed", default="0", help="seed of random:K / pca:K directions")
    p.add_argument("--count-penalty-ms", default=None,
                   help="loss per missing or extra spike, as ms of timing error (default 50)")
    p.add_argument("--loss", default=None,
                   help="staged: the firing pattern first, then the spike times; times: the "
                        "spike-time loss throughout; vr: the van Rossum distance first (smooth "
                        "where a spike appears), then the spike times (default: the engine's, "
                        "docs/fit.md)")
    p.add_argument("--box", default=None,
                   help="fit box: default (the declared bounds) or cells (wide, log-scaled "
                        "C/gL/tau_w...: for real cells; docs/fit.md, Boxes)")
    p.add_argument("--restarts", default=None,
                   help="CMA-ES restart regime: ipop or bipop (default: CMAESSettings)")
    p.add_argument("--screen", default=None, metavar="N",
                   help="CMA-ES portfolio start: N box draws screened first, 0 = none "
                        "(default: CMAESSettings)")
    p.add_argument("--max-amplitude", default=None, help="top of the current search range, pA")
    p.add_argument("--lr", default=None, help="learning rate of the gradient optimisers")
    p.add_argument("--refine", action="store_true",
                   help="after the optimiser, refine the best point by Levenberg-Marquardt on "
                        "the spike-time residuals with exact Jacobians (when the counts match)")
    p.add_argument("--refine-share", default=None,
                   help="fraction of --budget reserved for --refine (default 0.05)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output fit JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..fit.energy import DEFAULT_WATTS_PER_CORE
    from ..fit.engine import DEFAULT_FIT_DT_MS, FitSettings, run_fit
    from ..fit.record import AT_BOUND_FRACTION
    from ..fit.stages import DEFAULT_LOSS
    from ..sim.params import DEFAULT_BOX
    from ..io import atomic_write_json
    from ..loss import DEFAULT_COUNT_PENALTY_MS
    from ..sim.models.variants import with_variant_fix

    settings = FitSettings(
        model=args.model,
        dim=args.dim,
        optimizer=args.optimizer,
        seed=_int(args.seed, "--seed"),
        budget=_int(args.budget, "--budget"),
        current=args.current,
        scheme=args.scheme,
        dt_ms=DEFAULT_FIT_DT_MS if args.dt is None else number(args.dt, "--dt"),
        threads=args.threads,
        watts_per_core=(DEFAULT_WATTS_PER_CORE if args.watts_per_core is None
                        else number(args.watts_per_core, "--watts-per-core")),
        inputs=args.inputs,
        sweeps=[s.strip() for s in args.sweeps.split(",") if s.strip()] if args.sweeps else None,
        bounds=args.bounds,
        fix=with_variant_fix(args.model, args.variant, args.fix),
        base=args.base,
        projection_seed=_int(args.projection_seed, "--projection-seed"),
        count_penalty_ms=(DEFAULT_COUNT_PENALTY_MS if args.count_penalty_ms is None
                          else number(args.count_penalty_ms, "--count-penalty-ms")),
        max_amplitude_pA=None if args.max_amplitude is None
        else number(args.max_amplitude, "--max-amplitude"),
        progress=(not args.no_progress) and sys.stderr.isatty(),
        lr=None if args.lr is None else number(args.lr, "--lr"),
        loss=DEFAULT_LOSS if args.loss is None else args.loss,
        box=DEFAULT_BOX if args.box is None else args.box,
        optimizer_settings=_cmaes_settings(args),
        refine=_refine(args),
    )
    result = run_fit(args.target, settings)
    if result.at_bound:
        print(f"snnfit fit: notice: {', '.join(result.at_bound)} ended at a bound of the fit "
              f"box (within {100 * AT_BOUND_FRACTION:g} % of its width); widen it with "
              f"--bounds NAME=LO:HI", file=sys.stderr)
    note = pattern_notice(result)
    if note:
        print(f"snnfit fit: notice: {note}", file=sys.stderr)
    atomic_write_json(args.out, result.to_json())
    g = result.gamma
    print(f"snnfit fit: {result.status}, loss {result.loss:.4g} ms^2, gamma "
          f"{'n/a' if g is None else f'{g:.3f}'}, {result.forward_equivalents} simulations, "
          f"{result.wall_s:.2f} s, {result.joules:.3g} J ({result.energy_source})"
          f" -> {args.out}", file=sys.stderr)
    return 0


def _refine(args):
    """``FitSettings.refine`` from ``--refine`` and ``--refine-share``."""
    from ..errors import UserError
    from ..fit.refine import RefineSettings

    if args.refine_share is None:
        return bool(args.refine)
    if not args.refine:
        raise UserError("--refine-share: only with --refine")
    return RefineSettings(share=number(args.refine_share, "--refine-share"))


#: a fit "fires the target's counts in another pattern" when every sweep's count is right,
#: Gamma is below PATTERN_NOTICE_GAMMA and, on some sweep, the intervals' distributions differ
#: by a typical factor above PATTERN_NOTICE_RATIO (exp of snnfit.loss.interval_log_distance)
PATTERN_NOTICE_GAMMA = 0.5
PATTERN_NOTICE_RATIO = 1.5


def pattern_notice(result) -> str | None:
    """One line for a fit that found the target's spike counts but not its firing pattern
    (a burst train fitted by a tonic one, say), else None: the false basin of the spike-time
    loss that docs/fit_benchmarks.md, 7.3-7.6, measures on bursting targets."""
    import numpy as np

    from ..loss import interval_log_distance

    g = result.gamma
    if g is None or g >= PATTERN_NOTICE_GAMMA or result.count_error != 0:
        return None
    worst = 0.0
    for m, t, p in zip(result.spike_times_ms, result.target_spike_times_ms, result.protocols):
        on = float(p["delay_ms"])
        off = on + float(p["duration_ms"])
        m, t = np.asarray(m, np.float64), np.asarray(t, np.float64)
        d = interval_log_distance(m[(m >= on) & (m < off)], t[(t >= on) & (t < off)])
        if d is not None:
            worst = max(worst, float(np.exp(d)))
    if worst <= PATTERN_NOTICE_RATIO:
        return None
    return (f"the fit fires the target's spike counts in another pattern (Gamma {g:.2f}; "
            f"its intervals differ from the target's by a typical factor of {worst:.1f}, "
            f"quantile by quantile): a local minimum of the spike-time loss, a common false "
            f"basin on bursting targets (docs/fit_benchmarks.md, 7.3-7.6); another --seed, "
            f"or a wider box where a parameter ended at a bound, may land elsewhere")
