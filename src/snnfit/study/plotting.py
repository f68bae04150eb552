"""Figures of single fits: target against fitted spike raster, and the voltage trace."""

from __future__ import annotations

import numpy as np


def plot_fit(fit_path):
    """A matplotlib Figure: per sweep, a raster (target above, fit below) and the trace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fit.record import load_fit_result
    from ..sim.models import get_model
    from ..sim.protocol import StepProtocol
    from ..sim.simulate import simulate

    d = load_fit_result(fit_path)
    protocols = d.protocols
    targets = d.target_spike_times_ms
    ids = d.sweep_ids
    n = len(protocols)
    fig, axes = plt.subplots(2 * n, 1, figsize=(9, 3.2 * n), sharex=False,
                             gridspec_kw={"height_ratios": [1, 2] * n})
    axes = np.atleast_1d(axes)
    state = get_model(d.model).state_names[0]
    for i, proto in enumerate(protocols):
        protocol = StepProtocol.from_dict(proto)
        amp = d.amplitude_pA[i]
        r = simulate(d.model, d.params, amp, protocol, scheme=d.scheme, trace=True)
        ax_r, ax_v = axes[2 * i], axes[2 * i + 1]
        ax_r.eventplot([targets[i], r.spike_times_ms], lineoffsets=[1, 0], linelengths=0.8,
                       colors=["k", "tab:red"])
        ax_r.set_yticks([1, 0], ["target", "fit"])
        g = d.gamma
        ax_r.set_title(f"{d.model} ({d.optimizer}, dim {d.dim}), sweep "
                       f"{ids[i]}, {amp:.1f} pA; Gamma "
                       f"{'n/a' if g is None else f'{g:.3f}'}", fontsize=9)
        ax_r.set_xlim(0, protocol.t_stop_ms)
        ax_v.plot(r.t_ms, r.trace[state], lw=0.6, color="tab:red")
        for t in targets[i]:
            ax_v.axvline(t, color="k", lw=0.4, alpha=0.4)
        ax_v.axvspan(protocol.delay_ms, protocol.stim_end_ms, color="0.9", zorder=-1)
        for ep in protocol.epochs:  # the recorded extra epochs (prepulse, test pulse, ...)
            ax_v.axvspan(ep.start_ms, ep.end_ms, color="tab:blue", alpha=0.08, zorder=-1)
        ax_v.set_xlim(0, protocol.t_stop_ms)
        ax_v.set_ylabel(state.replace("_", " (") + ")")
        ax_v.set_xlabel("time (ms from sweep start); grey: step"
                        + ("; blue: other epochs" if protocol.epochs else "")
                        + "; lines: target spikes")
    fig.tight_layout()
    return fig
