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
    from .shapes import infer_shapes

    info = infer_shapes(project.network)
    if not info.ok:
        raise ProjectError(info.error)
    validate_settings(project)


def validate_settings(project: Project) -> None:
    """Layer parameter values, data, loss, optimizer and scheduler names and parameters.

    What opening a project checks. A layer that does not fit its input, or of an unknown type,
    still opens (its card shows the problem and the user fixes it there); values the cards and
    the training panel cannot show are refused instead."""
    from .data import check_data
    from .layers import LAYERS
    from .losses import LOSSES
    from .optim import OPTIMIZERS, SCHEDULERS
    from .params import ParamError
    from .shapes import checked_params

    # a value a card's editor cannot hold (a word for a size, a negative count) is refused here
    for index, layer in enumerate(project.network.layers):
        if layer.type in LAYERS:
            try:
                checked_params(layer, LAYERS[layer.type])
            except ParamError as e:
                raise ProjectError(f"layer {index} {layer.type}: {e}") from None
    check_data(project.data)   # settings only: a project whose table has moved still opens
    t = project.training
    check_component(t.loss, LOSSES, "loss", "training.loss")
    check_component(t.optimizer, OPTIMIZERS, "optimizer", "training.optimizer")
    if t.scheduler is not None:
        check_component(t.scheduler, SCHEDULERS, "scheduler", "training.scheduler")



# torch's recurrent layers take (*args, **kwargs); their docs make hidden_size required.
_RECURRENT_REQUIRED = ("hidden_size",)


def required_params(type_name: str) -> tuple[str, ...]:
    """The catalogue parameters torch's constructor has no default for (Linear's out_features)."""
    import inspect

    from torch import nn

    from .layers import LAYERS

    layer_type = LAYERS[type_name]
    if type_name in ("RNN", "LSTM", "GRU"):
        return _RECURRENT_REQUIRED
    try:
        signature = inspect.signature(getattr(nn, type_name))
    except (AttributeError, TypeError, ValueError):
        return ()
    names = {p.name for p in layer_type.params}
    return tuple(
        name for name, arg in signature.parameters.items()
        if arg.default is inspect.Parameter.empty and name in names
    )


def defaults_used(project: Project) -> list[str]:
    """Parameters torch requires that the file left out, each filled with its default: said, not silent.

    Optional ones (Linear's bias) are left out of hand-written files all the time and need no note."""
    from .layers import LAYERS

    notes = []
    for index, layer in enumerate(project.network.layers):
        if layer.type not in LAYERS or not isinstance(layer.params, dict):
            continue  # the layer's own error says what is wrong
        layer_type = LAYERS[layer.type]
        for name in required_params(layer.type):
            if name not in layer.params:
                default = layer_type.param(name).default
                notes.append(f"layer {index} {layer.type}: {name} was missing; using the default {default!r}")
    return notes
