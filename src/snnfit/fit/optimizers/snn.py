"""``snn``: the spiking front end (:mod:`snnfit.fit.frontend`) trained by gradient descent.

The weights of a Norse LIF layer produce the k latents; the fit engine's map takes them to
the model's parameters. Each step: a forward pass of the layer, the loss and its exact
spike-time gradient through the cell model (:meth:`FitProblem.loss_and_grad`, the same as
``direct``), the backward pass through the layer (Norse's surrogate gradient), Adam on the
weights. ``n_starts`` networks (independent weight sets) train side by side in one batch.
Settings: :class:`SNNSettings` (the front end's: :class:`snnfit.fit.frontend.FrontEndSettings`).

* **Initial weights.** ``n_screen`` weight sets are drawn, their latents computed in layer
  passes of at most ``max_nets_per_pass`` networks and scored with forward simulations only;
  the ``n_starts`` best are trained.
* **Schedule** (as ``direct``): per network, after ``plateau`` steps without improving its
  own best loss, its weights go back to its own best, its learning rate is multiplied by
  ``decay`` and its Adam moments are reset; below ``lr_min`` the network is re-initialised
  from a new screen.

Accounting: one pass of the layer (forward, or forward + backward) of at most
``max_nets_per_pass`` networks is charged ``snn_step_cost * T`` forward-equivalents for
``T`` input steps (measured by ``benchmarks/snn_cost.py`` and frozen; see
``docs/gradients.md`` and ``docs/gradient_fits.md``). The record's ``optimizer_info`` gives
the forward-equivalents charged for the layer (``layer_fe``) and the wall seconds spent in it
(``layer_s``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..frontend import FrontEndSettings
from .adam import PlateauSchedule


@dataclass(frozen=True)
class SNNSettings:
    """The frozen values come from the tuning protocol of docs/gradient_fits.md
    (``benchmarks/gradient_fits.py --part tune``), the costs from ``benchmarks/snn_cost.py``
    (measurements in docs/gradient_fits.md)."""

    n_screen: int = 32  # weight sets screened before a (re)start
    n_starts: int = 16  # networks trained side by side, one layer pass for all
    lr: float = 0.03  # Adam's initial learning rate on the weights
    decay: float = 0.5  # rate factor at a plateau
    plateau: int = 8  # steps without improvement that make a plateau
    lr_min: float = 1e-4  # a network is re-initialised below this rate
    #: a layer pass of more networks is charged as several passes
    max_nets_per_pass: int = 16
    #: forward-equivalents per input time step of one layer pass (forward + backward, up
    #: to ``max_nets_per_pass`` networks): the upper end of the measurements, rounded
    snn_step_cost: float = 0.8
    frontend: FrontEndSettings = field(default_factory=FrontEndSettings)

    def info(self) -> dict:
        """The settings as the record's ``optimizer_info`` gives them (the front end's:
        ``frontend.info()``)."""
        return {"N_SCREEN": self.n_screen, "N_STARTS": self.n_starts, "LR": self.lr,
                "DECAY": self.decay, "PLATEAU": self.plateau, "LR_MIN": self.lr_min,
                "MAX_NETS_PER_PASS": self.max_nets_per_pass,
                "SNN_STEP_COST": self.snn_step_cost}


class _Layer:
    """The front end with its accounting (forward-equivalents and seconds in the layer)."""

    def __init__(self, problem, fe, settings: SNNSettings):
        self.problem = problem
        self.fe = fe
        self.max_nets = settings.max_nets_per_pass
        self.pass_cost = settings.snn_step_cost * fe.T
        self.fe_charged = 0
        self.seconds = 0.0
        self.rates = []

    def _charge(self, n_nets: int) -> None:
        c = int(np.ceil(n_nets / self.max_nets)) * self.pass_cost
        before = self.problem.forward_equivalents
        self.problem.charge(c)
        self.fe_charged += self.problem.forward_equivalents - before

    def latents(self, W):
        t0 = time.perf_counter()
        Z, rate = self.fe.latents(W)  # forward only (no autograd graph)
        self.seconds += time.perf_counter() - t0
        self._charge(W.shape[0])
        return Z

    def latents_and_vjp(self, W):
        t0 = time.perf_counter()
        Z, vjp, rate = self.fe.latents_and_vjp(W)
        self.seconds += time.perf_counter() - t0
        self.rates.append(rate)
        self._charge(W.shape[0])

        def timed_vjp(g):
            t1 = time.perf_counter()
            out = vjp(g)
            self.seconds += time.perf_counter() - t1
            return out

        return Z, timed_vjp


def _screen(problem, layer, n_screen: int, n_keep: int) -> np.ndarray:
    W = layer.fe.init_weights(max(n_screen, n_keep), problem.rng)
    if W.shape[0] == n_keep:
        return W
    losses = problem.evaluate(layer.latents(W))
    return W[np.argsort(losses, kind="stable")[:n_keep]]


def run(problem, settings: SNNSettings = SNNSettings()) -> dict:
    from ..frontend import SpikingFrontEnd, default_inputs
    from ...data.inputs import load_inputs

    s = problem.settings
    inputs = load_inputs(s.inputs) if s.inputs else default_inputs(s.seed, settings.frontend)
    fe = SpikingFrontEnd(inputs["spikes"], float(inputs["dt_ms"]), problem.k, settings.frontend)
    layer = _Layer(problem, fe, settings)
    lr0 = s.lr or settings.lr
    W = _screen(problem, layer, settings.n_screen, settings.n_starts)
    sched = PlateauSchedule(W, lr0, settings.plateau, settings.decay, settings.lr_min)
    while not problem.exhausted:
        Z, vjp = layer.latents_and_vjp(W)
        loss, gZ = problem.loss_and_grad(Z)
        gW = vjp(np.where(np.isfinite(gZ), gZ, 0.0))
        W, done = sched.step(W, loss, np.where(np.isfinite(gW), gW, 0.0))
        if done.size and not problem.exhausted:
            W[done] = _screen(problem, layer, settings.n_screen, done.size)
            sched.restart(done)
    return {**sched.info(), "n_starts": settings.n_starts, "lr": lr0, "input_steps": fe.T,
            "input_channels": fe.C,
            "layer_pass_cost": layer.pass_cost, "layer_fe": int(layer.fe_charged),
            "layer_s": float(layer.seconds),
            "mean_layer_rate": float(np.mean(layer.rates)) if layer.rates else None,
            "inputs": s.inputs or f"generated from seed {s.seed}", **settings.info()}
