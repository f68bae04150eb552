"""``snnfit make-inputs``: seeded Poisson input spike trains to an ``.npz`` file."""

from __future__ import annotations

_FLAGS = {
    "n_channels": "--n-channels",
    "rate_hz": "--rate-hz",
    "steps": "--steps",
    "dt_ms": "--dt",
    "seed": "--seed",
}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "make-inputs",
        help="write seeded Poisson input spike trains (.npz)",
        description="Bernoulli spike trains with p = rate_hz * dt_ms / 1000 per step and "
        "channel, stored as 'spikes' (bool, steps x n_channels), 'dt_ms', 'rate_hz', 'seed', "
        "'n_channels'.",
    )
    p.add_argument("--n-channels", type=int, default=50, help="number of channels (default 50)")
    p.add_argument("--rate-hz", type=float, default=40.0, help="rate per channel, Hz (default 40)")
    p.add_argument("--steps", type=int, default=1000, help="number of time steps (default 1000)")
    p.add_argument("--dt", "--dt-ms", dest="dt_ms", type=float, default=1.0,
                   help="step length, ms (default 1)")
    p.add_argument("--seed", type=int, required=True, help="random seed (integer >= 0)")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..data.inputs import check_input_args, poisson_inputs, save_inputs

    check_input_args(args.n_channels, args.rate_hz, args.steps, args.dt_ms, args.seed,
                     names=_FLAGS)
    spikes = poisson_inputs(args.n_channels, args.rate_hz, args.steps, args.dt_ms, args.seed)
    save_inputs(args.out, spikes, dt_ms=args.dt_ms, rate_hz=args.rate_hz, seed=args.seed)
    duration_s = args.steps * args.dt_ms / 1000.0
    rate = spikes.sum() / (args.n_channels * duration_s)
    print(f"wrote {args.out}: {args.steps} steps x {args.n_channels} channels, "
          f"{int(spikes.sum())} spikes ({rate:.1f} Hz per channel, asked {args.rate_hz:g} Hz)")
    return 0
