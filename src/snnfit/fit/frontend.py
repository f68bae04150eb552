r"""The spiking front end: a Norse LIF layer whose input weights produce the k latents.

``k`` LIF neurons (Norse ``LIF``: :math:`\tau_\mathrm{mem} = 10` ms, :math:`\tau_\mathrm{syn}
= 5` ms, threshold 1, SuperSpike surrogate gradient, Norse's defaults) are driven by fixed,
seeded Poisson input trains ``x`` (``T`` steps x ``n_channels``, from ``snnfit make-inputs``)
through trainable weights ``W`` (``n_channels x population k``; any sign): ``population``
neurons per latent (neuron ``n`` serves latent ``n mod k``). A leaky-integrator readout
(Norse ``LI``) of each neuron's spikes gives its value at the last step ``v_T``; the latent
is ``sigmoid(readout_gain * (mean of its population's v_T - readout_offset))`` in (0, 1).
The fit engine's reduced-space map takes the ``k`` latents to the model's parameters, so
parameters stay in their box whatever the weights. Settings: :class:`FrontEndSettings`.

The readout of spikes is piecewise constant in ``W`` (a latent changes only when a spike
moves by a step, appears or vanishes; the gradient is Norse's surrogate), so a population
average refines the latents' resolution. ``v_T >= 0`` (it integrates spikes), so
``readout_offset`` must be > 0 for latents below 0.5 to be reachable.

Several networks (independent weight sets, one per parallel trajectory) run as one batch:
``W`` has shape ``(n_nets, n_channels, population k)``. Float64; torch's thread count is
fixed to 1 in the layer so results do not depend on the machine's threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrontEndSettings:
    """The front end's frozen values, chosen by the tuning rounds of docs/gradient_fits.md
    (``benchmarks/gradient_fits.py --part tune``)."""

    readout_gain: float = 10.0  # latent = sigmoid(readout_gain * (v_T - readout_offset))
    readout_offset: float = 0.25  # latent 0.5 at v_T = 0.25
    weight_scale: float = 0.5  # std of the initial weights
    population: int = 8  # LIF neurons per latent (their readouts are averaged)
    # the Poisson inputs generated from the seed when no --inputs file is given
    input_channels: int = 50
    input_rate_hz: float = 60.0
    input_steps: int = 10
    input_dt_ms: float = 2.0

    def info(self) -> dict:
        """The settings under the names the benchmark tables give them."""
        return {"READOUT_GAIN": self.readout_gain, "READOUT_OFFSET": self.readout_offset,
                "WEIGHT_SCALE": self.weight_scale, "POPULATION": self.population,
                "DEFAULT_CHANNELS": self.input_channels, "DEFAULT_RATE_HZ": self.input_rate_hz,
                "DEFAULT_STEPS": self.input_steps, "DEFAULT_DT_MS": self.input_dt_ms}


def default_inputs(seed: int, settings: FrontEndSettings = FrontEndSettings()) -> dict:
    """The Poisson inputs of ``settings`` drawn from ``seed`` (the dict of ``load_inputs``)."""
    from ..data.inputs import poisson_inputs

    s = settings
    spikes = poisson_inputs(s.input_channels, s.input_rate_hz, s.input_steps, s.input_dt_ms,
                            seed)
    return {"spikes": spikes, "dt_ms": s.input_dt_ms, "rate_hz": s.input_rate_hz,
            "seed": seed, "n_channels": s.input_channels}


class SpikingFrontEnd:
    """``latents(W) -> (n_nets, k)`` torch tensor, differentiable in ``W`` (surrogate).

    Computed as Norse's ``LIF`` + ``LI`` sequence modules compute it, with the two linear
    stages taken out of the per-step loop (``tests/test_gradient_fits.py`` checks spikes,
    ``v_T`` and gradients against ``nt.LIF`` + ``nt.LI``):

    * the LIF synaptic current is linear in the input and does not depend on the spikes:
      ``i_t = (sum_s a^(t-s) x_s) W`` with ``a = 1 - dt / tau_syn`` (Norse's ``i_new``), so the
      filtered input ``xf`` is computed once (Norse's update on the unit-weight input) and
      the currents of a pass are one ``einsum``;
    * the membrane, threshold (Norse's SuperSpike surrogate) and reset run in Norse's
      ``lif_box_feed_forward_step`` (the LIF membrane update without its current term, fed
      the synaptic current above: the same arithmetic as ``lif_feed_forward_step``);
    * the LI readout is linear in the spikes: ``v_T = sum_t K_t z_t`` with ``K`` the impulse
      response of Norse's ``LI`` (computed once by running ``nt.LI`` on unit impulses).
    """

    def __init__(self, spikes: np.ndarray, dt_ms: float, k: int,
                 settings: FrontEndSettings = FrontEndSettings()):
        import torch
        import norse.torch as nt
        from norse.torch.functional.lif import LIFParameters
        from norse.torch.functional.lif_box import LIFBoxParameters, lif_box_feed_forward_step

        self.torch = torch
        self.k = k
        self.settings = settings
        self.pop = settings.population
        self.gain, self.offset = settings.readout_gain, settings.readout_offset
        self.x = torch.as_tensor(np.asarray(spikes, dtype=np.float64))  # (T, C)
        self.T, self.C = self.x.shape
        self.dt = dt_ms / 1000.0
        p = LIFParameters()  # Norse's defaults, as nt.LIF uses them
        self.p_box = LIFBoxParameters(tau_mem_inv=p.tau_mem_inv, v_leak=p.v_leak, v_th=p.v_th,
                                      v_reset=p.v_reset, method=p.method, alpha=p.alpha)
        self._step = lif_box_feed_forward_step
        with torch.no_grad():
            # Norse's current update (lif_feed_forward_step), once on the unit-weight input
            i, xf = torch.zeros(self.C, dtype=torch.float64), []
            for x_t in self.x:
                i_new = i + x_t
                xf.append(i_new)
                i = i_new + (-self.dt * p.tau_syn_inv * i_new)
            self.xf = torch.stack(xf)  # synaptic current per unit weight (T, C)
            v, _ = nt.LI(dt=self.dt)(torch.eye(self.T, dtype=torch.float64))
            self.K = v[-1].detach().clone()  # v_T of the readout per unit spike at step s

    def init_weights(self, n_nets: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, self.settings.weight_scale, (n_nets, self.C, self.pop * self.k))

    def forward(self, W):
        torch = self.torch
        from norse.torch.functional.lif_box import LIFBoxFeedForwardState

        currents = torch.einsum("tc,bck->tbk", self.xf, W)
        state = LIFBoxFeedForwardState(v=torch.zeros_like(currents[0]))
        zs = []
        for t in range(self.T):
            z, state = self._step(currents[t], state, self.p_box, self.dt)
            zs.append(z)
        z = torch.stack(zs)
        vT = torch.einsum("t,tbn->bn", self.K, z)
        vT = vT.reshape(vT.shape[0], self.pop, self.k).mean(dim=1)  # neuron n -> n mod k
        latents = torch.sigmoid(self.gain * (vT - self.offset))
        return latents, z

    def latents(self, W_np: np.ndarray):
        """Latents (numpy) and the mean spike rate, forward only (no graph: screens)."""
        torch = self.torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.no_grad():
                latents, z = self.forward(torch.as_tensor(W_np, dtype=torch.float64))
        finally:
            torch.set_num_threads(threads)
        return latents.numpy().copy(), float(z.mean())

    def latents_and_vjp(self, W_np: np.ndarray):
        """Latents (numpy) and a function taking dL/dlatents to dL/dW (numpy)."""
        torch = self.torch
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            W = torch.tensor(W_np, dtype=torch.float64, requires_grad=True)
            latents, z = self.forward(W)
        finally:
            torch.set_num_threads(threads)
        rate = float(z.detach().mean())

        def vjp(g_latents: np.ndarray) -> np.ndarray:
            torch.set_num_threads(1)
            try:
                latents.backward(torch.as_tensor(g_latents, dtype=torch.float64))
            finally:
                torch.set_num_threads(threads)
            return W.grad.detach().numpy().copy()

        return latents.detach().numpy().copy(), vjp, rate
