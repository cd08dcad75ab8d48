"""Loss functions, and the check that a loss, the network's output and the dataset's targets fit together."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .errors import TrainingError
from .params import FLOAT, Choice, Param
from .shapes import format_shape

REGRESSION, CLASSES, BINARY = "regression", "classes", "binary"


@dataclass(frozen=True)
class LossType(Choice):
    target: str = REGRESSION   # what the loss compares the output with


LOSSES: dict[str, LossType] = {
    t.name: t
    for t in (
        LossType("MSELoss", "Mean squared error: the classic regression loss."),
        LossType("L1Loss", "Mean absolute error: less swayed by outliers than MSE."),
        LossType(
            "SmoothL1Loss",
            "Squared error near zero, absolute error beyond beta.",
            (Param("beta", FLOAT, 1.0, "Where the loss turns from squared to linear.", 0.0, 1e6),),
        ),
        LossType(
            "HuberLoss",
            "Squared error near zero, linear beyond delta.",
            (Param("delta", FLOAT, 1.0, "Where the loss turns from squared to linear.", 1e-9, 1e6),),
        ),
        LossType(
            "CrossEntropyLoss",
            "Classification from raw scores (logits): log-softmax plus negative log-likelihood.",
            (Param("label_smoothing", FLOAT, 0.0, "Share of the target spread over all classes.", 0.0, 1.0),),
            target=CLASSES,
        ),
        LossType(
            "NLLLoss",
            "Negative log-likelihood: classification from log-probabilities (after LogSoftmax).",
            target=CLASSES,
        ),
        LossType("BCELoss", "Binary cross-entropy on probabilities in [0, 1] (after Sigmoid).", target=BINARY),
        LossType(
            "BCEWithLogitsLoss",
            "Binary cross-entropy on raw scores: Sigmoid and BCELoss in one, numerically stable.",
            target=BINARY,
        ),
    )
}


@dataclass(frozen=True)
class TargetPlan:
    """How the dataset's targets are turned into what the loss compares, and how accuracy is read."""

    encode: str          # "same" (as stored) | "onehot" | "column" (float (N, 1) for a single output)
    accuracy: str | None  # "argmax" | "logit" (> 0) | "probability" (> 0.5) | None for regression
    warnings: tuple[str, ...] = ()


def build_loss(name: str, params: dict) -> nn.Module:
    return getattr(nn, name)(**params)


def plan_targets(
    loss: str,
    output_shape: tuple[int, ...],
    task: str,
    n_classes: int | None,
    dataset: str,
    last_layer: str | None,
) -> TargetPlan:
    """Check that loss, output and targets fit; raise TrainingError saying what to change."""
    kind = LOSSES[loss].target
    shown = format_shape(output_shape)
    warnings = []
    if task == "regression":
        if kind != REGRESSION:
            raise TrainingError(
                f"{loss} needs class labels, but {dataset} is a regression dataset — "
                "use MSELoss, L1Loss, SmoothL1Loss or HuberLoss"
            )
        if output_shape != (1,):
            raise TrainingError(
                f"{loss} compares the output with one target value per sample, but the network "
                f"outputs {shown} — {_fix(output_shape, 1)}"
            )
        return TargetPlan("same", None)

    classes = f"{dataset} has {n_classes} classes"
    if kind == CLASSES:
        if output_shape != (n_classes,):
            raise TrainingError(
                f"{loss} needs one output per class: the network outputs {shown} but {classes} — "
                f"{_fix(output_shape, n_classes)}"
            )
        if loss == "CrossEntropyLoss" and last_layer in ("Softmax", "LogSoftmax"):
            warnings.append(
                f"the network ends with {last_layer}, but CrossEntropyLoss applies log-softmax "
                f"itself — remove the {last_layer} (it slows learning)"
            )
        if loss == "NLLLoss" and last_layer != "LogSoftmax":
            warnings.append("NLLLoss expects log-probabilities — end the network with LogSoftmax")
        return TargetPlan("same", "argmax", tuple(warnings))

    if kind == BINARY:
        if loss == "BCELoss" and last_layer != "Sigmoid":
            raise TrainingError(
                f"BCELoss needs outputs between 0 and 1, but the network ends with "
                f"{last_layer or 'its input'} — end it with a Sigmoid, or use BCEWithLogitsLoss, "
                "which applies the sigmoid itself"
            )
        accuracy = "probability" if loss == "BCELoss" else "logit"
        if output_shape == (1,) and n_classes == 2:
            return TargetPlan("column", accuracy)
        if output_shape == (n_classes,):
            return TargetPlan("onehot", "argmax")
        one = "1 (two classes) or " if n_classes == 2 else ""
        raise TrainingError(
            f"{loss} needs one output per class (or one output for two classes): the network "
            f"outputs {shown} but {classes} — {_fix(output_shape, n_classes, one)}"
        )

    # A regression loss on class labels: compare with one-hot targets, as early tutorials did.
    if output_shape != (n_classes,):
        raise TrainingError(
            f"{loss} on a classification dataset compares the output with one-hot targets, so it "
            f"needs one output per class: the network outputs {shown} but {classes} — "
            f"{_fix(output_shape, n_classes)}, or use CrossEntropyLoss"
        )
    return TargetPlan("onehot", "argmax")


def _fix(output_shape: tuple[int, ...], wanted: int, alternative: str = "") -> str:
    """What to change so the network gives `wanted` values per sample. An output with more than one
    dimension kept the input's shape (a Flatten is missing): the last layer may already be right."""
    flat = len(output_shape) <= 1
    if not flat and output_shape[-1] == wanted:
        return "insert a Flatten before the first Linear, so each sample reaches it as one flat vector"
    change = f"make the last layer a Linear with out_features {alternative}{wanted}"
    return change if flat else f"insert a Flatten before the first Linear and {change}"


def encode_targets(y: torch.Tensor, plan: TargetPlan, n_classes: int | None) -> torch.Tensor:
    """Targets in the form the loss compares; done once for the whole dataset, not per batch."""
    if plan.encode == "onehot":
        return nn.functional.one_hot(y, n_classes).float()
    if plan.encode == "column":
        return y.float().unsqueeze(1)
    return y


def count_correct(output: torch.Tensor, y: torch.Tensor, plan: TargetPlan) -> torch.Tensor:
    """Correct predictions in a batch, as a device tensor (no host sync). `y` are class indices."""
    if plan.accuracy == "argmax":
        return (output.argmax(dim=1) == y).sum()
    threshold = 0.0 if plan.accuracy == "logit" else 0.5
    return ((output[:, 0] > threshold).long() == y).sum()
