"""Hints in plain words from a run's history: overfitting, a plateau, divergence, a learning rate too
high — each with the epoch it appeared and what to try.

The rules read the per-epoch losses only (the step losses are minibatch noise). Their thresholds are
deliberately coarse: a hint should be right when it speaks, and silence is cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RISE = 0.05          # validation loss this far (relative) above its lowest counts as risen
PATIENCE = 3         # epochs the validation loss must stay risen: one bad epoch is noise
FLAT = 0.01          # a training loss moving less than this (relative) over FLAT_EPOCHS is a plateau
FLAT_EPOCHS = 5
CONVERGED = 1e-3     # ... unless it is this small a share of where it began: that is done, not stuck
DIVERGED = 1.5       # training loss this many times its lowest, and still rising: divergence
SWINGS = 0.7         # share of consecutive epoch-to-epoch changes that flip sign ...
SWING_SIZE = 0.05    # ... by more than this (relative): the loss oscillates
SWING_EPOCHS = 6


@dataclass(frozen=True)
class Hint:
    kind: str         # overfitting | plateau | divergence | oscillation
    epoch: int        # the epoch it appeared
    text: str         # what the curves show
    suggestion: str   # what to try

    def __str__(self) -> str:
        return f"{self.text} — {self.suggestion}"


def curve_hints(history: dict) -> list[Hint]:
    """The hints that `history` (a run's: its "epochs" records, its "reason") shows, by epoch."""
    epochs = [e for e in history.get("epochs") or [] if _finite(e.get("train_loss"))]
    hints = [h for h in (_divergence(epochs, history.get("reason") or ""), _overfitting(epochs),
                         _oscillation(epochs), _plateau(epochs)) if h is not None]
    if any(h.kind == "divergence" for h in hints):   # a diverging loss swings and stalls on its way up
        hints = [h for h in hints if h.kind in ("divergence", "overfitting")]
    return sorted(hints, key=lambda h: h.epoch)


def _overfitting(epochs: list[dict]) -> Hint | None:
    val = [(e["epoch"], e["val_loss"], e["train_loss"]) for e in epochs if _finite(e.get("val_loss"))]
    if len(val) < PATIENCE + 1:
        return None
    i_best = min(range(len(val)), key=lambda i: val[i][1])
    best_epoch, best_val, best_train = val[i_best]
    after = val[i_best + 1:]
    if len(after) < PATIENCE or not all(v > best_val * (1 + RISE) for _, v, _ in after[-PATIENCE:]):
        return None
    last_epoch, last_val, last_train = val[-1]
    if last_train >= best_train:
        return None   # both rising is not overfitting
    start = next(e for e, v, _ in after if v > best_val * (1 + RISE))
    return Hint(
        "overfitting", start,
        f"Overfitting from epoch {start}: the validation loss rose from {best_val:.4g} (epoch {best_epoch}) to "
        f"{last_val:.4g} while the training loss kept falling ({best_train:.4g} → {last_train:.4g})",
        f"add Dropout or weight decay, use more data or augmentation, or turn on early stopping "
        f"(the best weights were at epoch {best_epoch})",
    )


def _plateau(epochs: list[dict]) -> Hint | None:
    losses = [e["train_loss"] for e in epochs]
    if len(losses) < FLAT_EPOCHS + 1 or losses[-1] <= CONVERGED * abs(losses[0]):
        return None

    def flat(window: list[float]) -> bool:
        mean = sum(window) / len(window)
        return mean != 0 and (max(window) - min(window)) / abs(mean) < FLAT

    if not flat(losses[-FLAT_EPOCHS:]):
        return None
    start = len(losses) - FLAT_EPOCHS
    while start > 0 and flat(losses[start - 1:start - 1 + FLAT_EPOCHS]):
        start -= 1
    epoch = epochs[start]["epoch"]
    return Hint(
        "plateau", epoch,
        f"A plateau from epoch {epoch}: the training loss has stayed near {losses[-1]:.4g} "
        f"(within {FLAT:.0%}) for {len(losses) - start} epochs",
        "lower the learning rate (a scheduler such as ReduceLROnPlateau does it for you); if the loss is "
        "still high, the network may be too small for the data",
    )


def _divergence(epochs: list[dict], reason: str) -> Hint | None:
    if "the loss became" in reason:   # the trainer stopped at a non-finite loss
        epoch = (epochs[-1]["epoch"] + 1) if epochs else 1
        return Hint("divergence", epoch, f"The loss diverged in epoch {epoch}: it became infinite or NaN",
                    "lower the learning rate (try a tenth of it) or add gradient clipping")
    losses = [e["train_loss"] for e in epochs]
    if len(losses) < 3:
        return None
    i_low = min(range(len(losses)), key=losses.__getitem__)
    rising = losses[-1] > losses[-2] > losses[-3]
    if not rising or losses[-1] < DIVERGED * losses[i_low] or losses[i_low] <= 0:
        return None
    epoch = epochs[i_low + 1]["epoch"] if i_low + 1 < len(epochs) else epochs[-1]["epoch"]
    return Hint(
        "divergence", epoch,
        f"Divergence from epoch {epoch}: the training loss climbed from {losses[i_low]:.4g} to {losses[-1]:.4g}",
        "lower the learning rate (try a tenth of it) or add gradient clipping",
    )


def _oscillation(epochs: list[dict]) -> Hint | None:
    losses = [e["train_loss"] for e in epochs]
    if len(losses) < SWING_EPOCHS:
        return None
    window = losses[-SWING_EPOCHS:]
    changes = [b - a for a, b in zip(window, window[1:])]
    big = [abs(c) > SWING_SIZE * abs(a) for c, a in zip(changes, window)]
    flips = sum(1 for c, d, bc, bd in zip(changes, changes[1:], big, big[1:]) if c * d < 0 and bc and bd)
    if flips < SWINGS * (len(changes) - 1):
        return None
    epoch = epochs[len(losses) - SWING_EPOCHS]["epoch"]
    return Hint(
        "oscillation", epoch,
        f"The loss oscillates from epoch {epoch}: it goes up and down by more than {SWING_SIZE:.0%} from one "
        "epoch to the next",
        "the learning rate is probably too high — try half of it, or a larger batch",
    )


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
