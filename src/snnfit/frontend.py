r"""The spiking front end: a Norse LIF layer whose input weights produce the k latents.

``k`` LIF neurons (Norse ``LIF``: :math:`\tau_\mathrm{mem} = 10` ms, :math:`\tau_\mathrm{syn}
= 5` ms, threshold 1, SuperSpike surrogate gradient, Norse's defaults) are driven by fixed,
seeded Poisson input trains ``x`` (``T`` steps x ``n_channels``, from ``snnfit make-inputs``)
through trainable weights ``W`` (``n_channels x POPULATION k``; any sign): ``POPULATION``
neurons per latent (neuron ``n`` serves latent ``n mod k``). A leaky-integrator readout
(Norse ``LI``) of each neuron's spikes gives its value at the last step ``v_T``; the latent
is ``sigmoid(READOUT_GAIN * (mean of its population's v_T - READOUT_OFFSET))`` in (0, 1).
The fit engine's reduced-space map takes the ``k`` latents to the model's parameters, so
parameters stay in their box whatever the weights.

The readout of spikes is piecewise constant in ``W`` (a latent changes only when a spike
moves by a step, appears or vanishes; the gradient is Norse's surrogate): one neuron's
``v_T`` jumps by a median ~0.03 (T = 20) or ~0.001 (T = 100) when a spike moves, so a
population average refines the latents' resolution. ``v_T >= 0`` (it integrates spikes), so
``READOUT_OFFSET`` must be > 0 for latents below 0.5 to be reachable (with offset 0 half of
every parameter's range was out of reach).

Several networks (independent weight sets, one per parallel trajectory) run as one batch:
``W`` has shape ``(n_nets, n_channels, POPULATION k)``. Float64; torch's thread count is fixed to 1 in
the layer so results do not depend on the machine's threads.
"""

from __future__ import annotations

import numpy as np

#: latent = sigmoid(READOUT_GAIN * (v_T - READOUT_OFFSET))
#: (v_T spans ~0-0.8 at the initial weights: latents ~0.08-0.99; 0.5 at v_T = 0.25)
READOUT_GAIN = 10.0
READOUT_OFFSET = 0.25
#: std of the initial weights
WEIGHT_SCALE = 1.0
#: LIF neurons per latent (their readouts are averaged)
POPULATION = 8
#: Poisson inputs generated from the seed when no --inputs file is given
DEFAULT_CHANNELS, DEFAULT_RATE_HZ, DEFAULT_STEPS, DEFAULT_DT_MS = 50, 40.0, 100, 1.0


def settings() -> dict:
    return {"READOUT_GAIN": READOUT_GAIN, "READOUT_OFFSET": READOUT_OFFSET,
            "WEIGHT_SCALE": WEIGHT_SCALE, "POPULATION": POPULATION,
            "DEFAULT_CHANNELS": DEFAULT_CHANNELS, "DEFAULT_RATE_HZ": DEFAULT_RATE_HZ,
            "DEFAULT_STEPS": DEFAULT_STEPS, "DEFAULT_DT_MS": DEFAULT_DT_MS}


def default_inputs(seed: int) -> dict:
    from .inputs import poisson_inputs

    spikes = poisson_inputs(DEFAULT_CHANNELS, DEFAULT_RATE_HZ, DEFAULT_STEPS, DEFAULT_DT_MS,
                            seed)
    return {"spikes": spikes, "dt_ms": DEFAULT_DT_MS, "rate_hz": DEFAULT_RATE_HZ,
            "seed": seed, "n_channels": DEFAULT_CHANNELS}


class SpikingFrontEnd:
    """``latents(W) -> (n_nets, k)`` torch tensor, differentiable in ``W`` (surrogate)."""

    def __init__(self, spikes: np.ndarray, dt_ms: float, k: int):
        import torch
        import norse.torch as nt

        self.torch = torch
        self.k = k
        self.pop = POPULATION
        self.gain, self.offset = READOUT_GAIN, READOUT_OFFSET
        self.x = torch.as_tensor(np.asarray(spikes, dtype=np.float64))  # (T, C)
        self.T, self.C = self.x.shape
        self.lif = nt.LIF(dt=dt_ms / 1000.0)
        self.li = nt.LI(dt=dt_ms / 1000.0)

    def init_weights(self, n_nets: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, WEIGHT_SCALE, (n_nets, self.C, self.pop * self.k))

    def forward(self, W):
        torch = self.torch
        currents = torch.einsum("tc,bck->tbk", self.x, W)
        z, _ = self.lif(currents)
        v, _ = self.li(z)
        vT = v[-1].reshape(v.shape[1], self.pop, self.k).mean(dim=1)  # neuron n -> n mod k
        latents = torch.sigmoid(self.gain * (vT - self.offset))
        return latents, z

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
