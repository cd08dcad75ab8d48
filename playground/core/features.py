"""Input features of points in the plane (TensorFlow Playground's x₁, x₂, x₁², x₂², x₁x₂, sin x₁, sin x₂),
computed from whole (N, 2) tensors on their own device, so training, evaluation and every view's grid
feed the network the same columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .errors import ProjectError

# key (as the project file stores it) -> the column it adds, from the (N, 2) points
FEATURES: dict[str, Callable[[Tensor], Tensor]] = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1^2": lambda p: p[:, 0] * p[:, 0],
    "x2^2": lambda p: p[:, 1] * p[:, 1],
    "x1*x2": lambda p: p[:, 0] * p[:, 1],
    "sin(x1)": lambda p: torch.sin(p[:, 0]),
    "sin(x2)": lambda p: torch.sin(p[:, 1]),
}
LABELS = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂", "sin(x1)": "sin x₁",
          "sin(x2)": "sin x₂"}
RAW = ("x1", "x2")   # what no features means: the points as they are


def check_features(raw: Any, where: str = "data.features") -> tuple[str, ...]:
    """The features a project names, checked: a list of distinct known keys, at least one."""
    if not isinstance(raw, (list, tuple)) or not all(isinstance(f, str) for f in raw):
        raise ProjectError(f"{where} must be a list of feature names like [\"x1\", \"x2\", \"x1^2\"]")
    unknown = [f for f in raw if f not in FEATURES]
    if unknown:
        raise ProjectError(f"{where}: unknown feature {unknown[0]!r} (known: {', '.join(FEATURES)})")
    if len(set(raw)) != len(raw):
        twice = next(f for f in raw if raw.count(f) > 1)
        raise ProjectError(f"{where} names {twice!r} twice: each feature is one input")
    if not raw:
        raise ProjectError(f"{where} is empty: choose at least one input feature (or remove the key for x1, x2)")
    return tuple(raw)


def ordered(names) -> list[str]:
    """`names` in the catalogue's order (the order of the panel's check boxes and of the inputs)."""
    return [f for f in FEATURES if f in set(names)]


def apply(names: tuple[str, ...] | list[str], points: Tensor) -> Tensor:
    """(N, len(names)) features of the (N, 2) `points`, on their device; the points themselves for
    no names (or exactly x1, x2)."""
    if not names or tuple(names) == RAW:
        return points
    return torch.stack([FEATURES[n](points) for n in names], 1)


def label(name: str) -> str:
    return LABELS.get(name, name)
