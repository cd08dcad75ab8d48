"""Checking a whole project against the catalogues, with messages that name the offending key."""

from __future__ import annotations

import difflib

from .errors import ProjectError
from .params import Choice, check_params
from .spec import ComponentSpec, Project


def check_component(spec: ComponentSpec, catalogue: dict[str, Choice], what: str, where: str) -> dict:
    """The component's params with defaults filled in; ProjectError for an unknown name or a bad value."""
    entry = catalogue.get(spec.type)
    if entry is None:
        close = difflib.get_close_matches(spec.type, catalogue, n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(catalogue)}"
        raise ProjectError(f"{where}.type: unknown {what} {spec.type!r} — {hint}")
    return check_params(entry.params, spec.params, f"{where}.params.")


def validate_project(project: Project) -> None:
    from .data import dataset_info
    from .losses import LOSSES
    from .optim import OPTIMIZERS, SCHEDULERS
    from .shapes import infer_shapes

    info = infer_shapes(project.network)
    if not info.ok:
        raise ProjectError(info.error)
    dataset_info(project.data)
    t = project.training
    check_component(t.loss, LOSSES, "loss", "training.loss")
    check_component(t.optimizer, OPTIMIZERS, "optimizer", "training.optimizer")
    if t.scheduler is not None:
        check_component(t.scheduler, SCHEDULERS, "scheduler", "training.scheduler")
