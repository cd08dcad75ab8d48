"""Settings a run takes while it trains (learning rate, momentum, penalties, batch size, data noise):
what they are in a project, which of them differ between two projects, and whether a value fits."""

from __future__ import annotations

import math
from typing import Any

from .data import DATASETS
from .errors import TrainingError
from .optim import OPTIMIZERS
from .spec import MAX_BATCH, MAX_PENALTY, Project

# The run's own names: "momentum" is SGD's and RMSprop's momentum, "betas" Adam's (beta1 is its
# momentum), both as the project names them; "noise" is a synthetic dataset's.
LIVE = ("lr", "momentum", "betas", "l1", "l2", "batch_size", "noise")


def live_settings(project: Project) -> dict[str, Any]:
    """The live settings `project` has, with their values (a setting its optimizer or data lacks is left out)."""
    t = project.training
    out: dict[str, Any] = {}
    entry = OPTIMIZERS.get(t.optimizer.type)
    if entry is not None:
        defaults = {p.name: p.default for p in entry.params}
        for name in ("lr", "momentum", "betas"):
            if name in defaults:
                value = t.optimizer.params.get(name, defaults[name])
                out[name] = list(value) if name == "betas" else value
    out["l1"], out["l2"], out["batch_size"] = t.l1, t.l2, t.batch_size
    kind = DATASETS.get(project.data.dataset)
    if kind is not None and any(p.name == "noise" for p in kind.params):
        out["noise"] = project.data.params.get("noise", next(p.default for p in kind.params if p.name == "noise"))
    return out


def live_changes(before: Project, after: Project) -> dict[str, Any]:
    """The live settings whose values differ from `before` to `after` (the same optimizer and data kind)."""
    if before.training.optimizer.type != after.training.optimizer.type or before.data.dataset != after.data.dataset:
        return {}
    old, new = live_settings(before), live_settings(after)
    return {k: v for k, v in new.items() if k in old and old[k] != v}


def only_live_differs(before: Project, after: Project) -> bool:
    """Whether `after` is `before` with nothing but live settings changed (what a running run can follow)."""
    import copy

    changes = live_changes(before, after)
    if not changes:
        return before == after
    patched = copy.deepcopy(before)
    apply_to_project(patched, changes)
    return patched == after


def apply_to_project(project: Project, changes: dict[str, Any]) -> None:
    """Write `changes` into `project`'s settings, as a run that took them now trains with."""
    t = project.training
    for name, value in changes.items():
        if name in ("lr", "momentum", "betas"):
            t.optimizer.params[name] = list(value) if name == "betas" else value
        elif name in ("l1", "l2", "batch_size"):
            setattr(t, name, value)
        elif name == "noise":
            project.data.params["noise"] = value


def check_change(project: Project, name: str, value: Any) -> Any:
    """`value` as the run takes it, or a TrainingError that says what would fit."""
    if name not in LIVE:
        raise TrainingError(f"{name!r} cannot change while a run trains (these can: {', '.join(LIVE)})")
    have = live_settings(project)
    if name not in have:
        where = "data" if name == "noise" else f"optimizer {project.training.optimizer.type}"
        raise TrainingError(f"the {where} has no {name} to change")
    if name == "batch_size":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BATCH:
            raise TrainingError(f"the batch size must be a whole number from 1 to {MAX_BATCH:,}, not {value!r}")
        return value
    if name == "betas":
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(_number(v) and 0 <= v < 1 for v in value)):
            raise TrainingError(f"betas must be two numbers from 0 to below 1, not {value!r}")
        return [float(v) for v in value]
    if not _number(value):
        raise TrainingError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if name == "lr" and not 0 < value <= 100:
        raise TrainingError(f"the learning rate must be above 0 and at most 100, not {value:g}")
    if name == "momentum":
        if not 0 <= value < 1:
            raise TrainingError(f"momentum must be from 0 to below 1, not {value:g}")
        params = project.training.optimizer.params
        if params.get("nesterov") and value <= 0:
            raise TrainingError("SGD with nesterov needs momentum above 0 — turn nesterov off first")
    if name in ("l1", "l2") and not 0 <= value <= MAX_PENALTY:
        raise TrainingError(f"{name} must be from 0 (off) to {MAX_PENALTY:g}, not {value:g}")
    if name == "noise" and not 0 <= value <= 10:
        raise TrainingError(f"the noise must be from 0 to 10, not {value:g}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
