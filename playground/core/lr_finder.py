"""The learning-rate range test (Leslie Smith, fastai's lr_find): raise the lr exponentially, watch the loss."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from . import data as datasets
from .optim import build_optimizer
from .spec import Project
from .training import initial_model, prepare_setup

SKIP_START = 0.1  # share of the first points left out: the average of a few losses is still noise
SKIP_END = 5      # the last points sit on the blow-up, where the smoothed loss lags the raw one
FLAT = 0.05       # a curve that never falls 5% below its start is noise: its steepest point means nothing


@dataclass(frozen=True)
class LRFinderStep:
    step: int              # 0-based
    steps: int
    lr: float
    loss: float            # smoothed
    raw_loss: float
    kind: str = "lr_finder"


@dataclass(frozen=True)
class LRFinderResult:
    lrs: list[float]
    losses: list[float]          # smoothed (EMA with bias correction)
    raw_losses: list[float]      # the mini-batch losses themselves
    suggested_lr: float | None   # None when too few steps ran to say
    stopped_early: bool          # the loss diverged, or should_stop said so, before end_lr


def find_lr(
    project: Project,
    *,
    dataset: datasets.Dataset | None = None,
    model_state: dict | None = None,      # test from these weights instead of the seeded start
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 200,
    smoothing: float = 0.05,              # weight of each new loss in the moving average
    diverge: float = 4.0,                 # stop once the smoothed loss exceeds this times the best
    callback: Callable[[LRFinderStep], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> LRFinderResult:
    """Train a throwaway copy of the project's model for `steps` mini-batches at exponentially growing lr.

    Nothing given is modified: the model is built fresh (seeded like the Trainer) and trains on
    its own copy of the weights; the project's optimizer is used with only its lr overridden.
    Runs in float32 (no mixed precision) and honours the project's gradient clipping."""
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, not {start_lr} and {end_lr}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, not {steps}")
    if not 0 < smoothing <= 1:
        raise ValueError(f"smoothing must be in (0, 1], not {smoothing}")
    t = project.training
    setup = prepare_setup(project, dataset)
    model = initial_model(project, setup.device, model_state)
    model.train()
    params = {**setup.optimizer_params, "lr": start_lr}   # a copy: the project's params stay as they are
    optimizer = build_optimizer(t.optimizer.type, params, model.parameters())
    batches = _cycle(setup.batches)

    lrs: list[float] = []
    losses: list[float] = []
    raw_losses: list[float] = []
    average, best = 0.0, math.inf
    beta = 1.0 - smoothing
    stopped_early = False
    for i in range(steps):
        if should_stop is not None and should_stop():
            stopped_early = True
            break
        lr = start_lr * (end_lr / start_lr) ** (i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        xb, yb = next(batches)
        loss = setup.loss_fn(model(xb), yb)
        raw = loss.item()   # every step needs the value to decide whether to go on
        if not math.isfinite(raw):
            stopped_early = True
            break
        average = beta * average + smoothing * raw
        smoothed = average / (1.0 - beta ** (i + 1))   # bias correction: the average starts at 0
        lrs.append(lr)
        losses.append(smoothed)
        raw_losses.append(raw)
        if callback is not None:
            callback(LRFinderStep(i, steps, lr, smoothed, raw))
        if smoothed > diverge * best:
            stopped_early = i < steps - 1
            break
        best = min(best, smoothed)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
    return LRFinderResult(lrs, losses, raw_losses, suggest_lr(lrs, losses), stopped_early)


def suggest_lr(lrs: list[float], losses: list[float]) -> float | None:
    """The lr where the smoothed loss falls fastest against log(lr), or the best lr / 10 on a flat curve."""
    first, last = int(len(lrs) * SKIP_START), len(lrs) - SKIP_END
    x = [math.log10(lr) for lr in lrs[first:last]]
    y = losses[first:last]
    # a slope over a window, not between neighbours: the smoothed loss still wiggles step to step
    k = max(1, len(x) // 20)
    slopes = [(y[i + k] - y[i - k]) / (x[i + k] - x[i - k]) for i in range(k, len(x) - k)]
    if not slopes:
        return None
    steepest = min(range(len(slopes)), key=slopes.__getitem__)
    if min(y) > y[0] - FLAT * abs(y[0]):
        best = min(range(len(losses)), key=losses.__getitem__)
        return lrs[best] / 10   # fastai's fallback: a decade below the lowest loss
    return lrs[first + steepest + k]


def _cycle(batches: datasets.Batches) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches without end: each pass over the training split draws a new order."""
    while True:
        yield from batches
