"""Training health of one step: per-layer gradient norms, update sizes, dead ReLUs and saturation, in plain words."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

# Thresholds of the warnings. They are rules of thumb for one mini-batch, not proofs.
VANISHING_GRAD = 1e-7   # a gradient norm below this moves nothing a float32 weight can feel
EXPLODING_GRAD = 1e3    # a norm above this (or inf / NaN) throws the weights far in one step
SLOW_UPDATE = 1e-6      # ||Δw|| / ||w||: the step barely moves the weights (about 1e-3 is healthy)
FAST_UPDATE = 0.1       # one step rewriting a tenth of the weights: the learning rate is likely too high
DEAD = 0.5              # share of ReLU units that output 0 for every sample of the batch
SATURATED = 0.5         # share of Sigmoid / Tanh outputs where the gradient is almost 0

RECTIFIERS = ("ReLU", "LeakyReLU")
SQUASHERS = ("Sigmoid", "Tanh")


@dataclass(frozen=True)
class LayerHealth:
    index: int
    type: str
    grad_norm: float | None       # L2 norm of all its parameters' gradients; None without parameters
    update_ratio: float | None    # ||Δw|| / ||w|| of this optimizer step; None without parameters or with w = 0
    dead_fraction: float | None   # ReLU / LeakyReLU: units ≤ 0 for every sample of the batch
    saturation: float | None      # Sigmoid: outputs < 0.01 or > 0.99; Tanh: |output| > 0.99


@dataclass(frozen=True)
class HealthEvent:
    global_step: int              # the step measured, counted like StepEvent.global_step
    layers: list[LayerHealth]     # layers with parameters or a watched activation, in network order
    warnings: list[str]           # plain words, one per problem, naming the layer
    kind: str = "health"


class HealthProbe:
    """Measures one training step at a time: `arm()` before its forward pass, `gradients()` after
    backward (before clipping, which would hide an explosion) and `finish()` after the optimizer
    step. Forward hooks exist only between `arm()` and `finish()`, so unmeasured steps pay nothing."""

    def __init__(self, model: nn.Sequential):
        self.model = model
        trainable = ([p for p in module.parameters() if p.requires_grad] for module in model)
        self._weighted = {i: params for i, params in enumerate(trainable) if params}
        self._handles: list = []
        self._activations: dict[int, Tensor] = {}
        self._grads: dict[int, Tensor] = {}
        self._before: dict[int, list[Tensor]] = {}

    def arm(self) -> None:
        self.close()
        for i, module in enumerate(self.model):
            kind = type(module).__name__
            if kind in RECTIFIERS or kind in SQUASHERS:
                hook = functools.partial(self._on_output, i, kind)
                self._handles.append(module.register_forward_hook(hook))

    def _on_output(self, index: int, kind: str, module, inputs, output: Tensor) -> None:
        # kept on the device: reading it here would sync the device inside the forward pass
        with torch.no_grad():
            if kind in RECTIFIERS:
                # LeakyReLU's slope is ≥ 0, so its output is ≤ 0 exactly where ReLU's would be
                stat = (output <= 0).flatten(1).all(dim=0).float().mean()
            elif kind == "Sigmoid":
                stat = ((output < 0.01) | (output > 0.99)).float().mean()
            else:
                stat = (output.abs() > 0.99).float().mean()
        self._activations[index] = stat

    def gradients(self) -> None:
        """Read the gradients and keep the weights the optimizer is about to change."""
        with torch.no_grad():
            for i, params in self._weighted.items():
                grads = [p.grad for p in params if p.grad is not None]
                if grads:
                    self._grads[i] = _norm(grads)
                self._before[i] = [p.detach().clone() for p in params]

    def finish(self, global_step: int, lr_share: float = 1.0) -> HealthEvent:
        """The step's health; one host sync for all its numbers. `lr_share`: the learning rate of this
        step over the schedule's peak (1 without a scheduler), see diagnose()."""
        self._remove_hooks()
        values: list[Tensor] = []
        slots: dict[tuple[int, str], int] = {}

        def put(index: int, name: str, value: Tensor) -> None:
            slots[index, name] = len(values)
            values.append(value.detach().float().reshape(()))

        with torch.no_grad():
            for i, stat in self._activations.items():
                put(i, "activation", stat)
            for i, norm in self._grads.items():
                put(i, "grad", norm)
            for i, before in self._before.items():
                params = self._weighted[i]
                put(i, "step", _norm([p.detach() - b for p, b in zip(params, before)]))
                put(i, "weight", _norm(before))
            numbers = torch.stack(values).tolist() if values else []

        def get(index: int, name: str) -> float | None:
            slot = slots.get((index, name))
            return None if slot is None else numbers[slot]

        layers = []
        for i, module in enumerate(self.model):
            kind = type(module).__name__
            if i not in self._weighted and i not in self._activations:
                continue
            step, weight = get(i, "step"), get(i, "weight")
            ratio = step / weight if step is not None and weight else None
            activation = get(i, "activation")
            layers.append(LayerHealth(
                i, kind, get(i, "grad"), ratio,
                activation if kind in RECTIFIERS else None,
                activation if kind in SQUASHERS else None,
            ))
        self._activations, self._grads, self._before = {}, {}, {}
        return HealthEvent(global_step, layers, diagnose(layers, lr_share))

    def close(self) -> None:
        """Remove any hooks and drop what a step left half measured."""
        self._remove_hooks()
        self._activations, self._grads, self._before = {}, {}, {}

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def diagnose(layers: list[LayerHealth], lr_share: float = 1.0) -> list[str]:
    """The warnings for one step's layers, in plain words.

    `lr_share` is this step's learning rate over the schedule's peak: OneCycleLR warms up from
    max_lr/25 and anneals to max_lr/1e4, so small steps early and late are the schedule working.
    An update is close to proportional to the learning rate (SGD exactly, Adam nearly), so a step
    is called too small only when it would still be at the peak: ratio / lr_share < SLOW_UPDATE."""
    warnings = []
    lr_share = min(max(lr_share, 1e-12), 1.0)
    for h in layers:
        name = f"layer {h.index} {h.type}"
        grad, ratio = h.grad_norm, h.update_ratio
        if grad is not None and not math.isfinite(grad):
            warnings.append(
                f"{name}: its gradients are not finite ({grad}) — lower the learning rate or turn on "
                "gradient clipping"
            )
        elif grad is not None and grad > EXPLODING_GRAD:
            warnings.append(
                f"{name}: gradient norm {grad:.3g} — the gradients are exploding; lower the learning "
                "rate, turn on gradient clipping or add normalisation layers"
            )
        elif grad is not None and grad < VANISHING_GRAD:
            warnings.append(
                f"{name}: gradient norm {grad:.1e} — its gradients have vanished, so it has stopped "
                "learning (dead ReLUs or saturated Sigmoid/Tanh after it, or a deep stack without "
                "normalisation)"
            )
        elif ratio is not None and ratio / lr_share < SLOW_UPDATE:
            at_peak = "" if lr_share == 1.0 else ", even at the schedule's peak learning rate"
            warnings.append(
                f"{name}: one step changed its weights by only {ratio:.1e} of their size (about 1e-3 "
                f"is healthy{at_peak}) — the learning rate may be too low"
            )
        if ratio is not None and ratio > FAST_UPDATE:
            warnings.append(
                f"{name}: one step changed its weights by {ratio:.0%} of their size (about 0.1% is "
                "healthy) — the learning rate is likely too high"
            )
        if h.dead_fraction is not None and h.dead_fraction > DEAD:
            warnings.append(
                f"{name}: {h.dead_fraction:.0%} of its units output 0 for every sample in the batch "
                "(dead ReLUs) — lower the learning rate, check the biases before it, or use LeakyReLU"
            )
        if h.saturation is not None and h.saturation > SATURATED:
            warnings.append(
                f"{name}: {h.saturation:.0%} of its outputs are saturated, where its gradient is almost "
                "0 — scale the inputs, use smaller initial weights, or add normalisation before it"
            )
    return warnings


def _norm(tensors: list[Tensor]) -> Tensor:
    """The L2 norm of several tensors taken as one vector, as a device scalar."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t.float()) for t in tensors]))
