"""Shape inference layer by layer on meta tensors (no memory, no compute), and building the real network."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import ShapeError
from .layers import LAYERS, RANK_NAMES, LayerType
from .params import ParamError, check_params
from .spec import LayerSpec, NetworkSpec

OK, ERROR, UNREACHABLE = "ok", "error", "unreachable"

# Training keeps about four float32 copies of every parameter: the weights, their gradients and
# an optimizer's two moment estimates (Adam). A network is refused when that exceeds the memory
# of the machine, before anything is allocated.
TRAINING_COPIES = 4

# How each inferred argument is said when the user's own value disagrees with the input.
_RECEIVES = {
    "in_features": "{v} features",
    "in_channels": "{v} channels",
    "num_features": "{v} channels",
    "num_channels": "{v} channels",
    "input_size": "{v} features per time step",
    "normalized_shape": "a last dimension of {v}",
}


@dataclass(frozen=True)
class LayerInfo:
    index: int
    type: str
    status: str                                  # ok | error | unreachable
    input_shape: tuple[int, ...] | None = None   # without the batch dimension
    output_shape: tuple[int, ...] | None = None
    params: int = 0                              # all parameters
    trainable: int = 0                           # those with requires_grad
    inferred: dict = field(default_factory=dict)  # input-size arguments, read-only in the GUI
    error: str | None = None                     # "layer 7 Linear: receives 500 features but ..."


@dataclass(frozen=True)
class NetworkInfo:
    input_shape: tuple[int, ...]
    layers: tuple[LayerInfo, ...]

    @property
    def error(self) -> str | None:
        """The first error, or None when every layer fits."""
        return next((info.error for info in self.layers if info.error), None)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        if not self.ok:
            return None
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.layers)

    @property
    def trainable_params(self) -> int:
        return sum(info.trainable for info in self.layers)


def infer_shapes(spec: NetworkSpec, memory_limit: int | None = None) -> NetworkInfo:
    """Check every layer against the shape it receives; layers after the first error are unreachable."""
    limit = memory_limit if memory_limit is not None else physical_memory()
    shape = tuple(spec.input_shape)
    infos: list[LayerInfo] = []
    broken = False
    total = 0  # parameters so far
    for index, layer in enumerate(spec.layers):
        if broken:
            infos.append(LayerInfo(index, layer.type, UNREACHABLE, error=None))
            continue
        info = _infer_layer(index, layer, shape, limit - 4 * TRAINING_COPIES * total, total)
        infos.append(info)
        if info.status == ERROR:
            broken = True
        else:
            shape = info.output_shape
            total += info.params
    return NetworkInfo(tuple(spec.input_shape), tuple(infos))


def build_network(spec: NetworkSpec, device: str | torch.device = "cpu", *, initialise: bool = True) -> nn.Sequential:
    """The nn.Sequential a PyTorch user would write by hand; raises ShapeError naming the first bad layer.

    initialise=False: the weights are left as uninitialised memory, for a model whose next step is
    load_state_dict. It draws no random numbers, so a view building a model for the live weights
    cannot change a run's dropout masks in another thread (torch has one global generator)."""
    if not initialise:
        return build_network(spec, "meta").to_empty(device=device)
    info = infer_shapes(spec)
    if not info.ok:
        raise ShapeError(info.error)
    modules = []
    for layer, layer_info in zip(spec.layers, info.layers):
        layer_type = LAYERS[layer.type]
        params = check_params(layer_type.params, _user_params(layer, layer_type), "")
        with torch.device(device):
            modules.append(layer_type.build(layer_info.input_shape, params))
    return nn.Sequential(*modules)


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError


def format_shape(shape: tuple[int, ...] | None) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# --- one layer ------------------------------------------------------------------------------


def _user_params(layer: LayerSpec, layer_type: LayerType) -> dict:
    """The params the user set, without inferred or fixed arguments (checked separately)."""
    skip = set(layer_type.inferred_names) | set(layer_type.fixed)
    return {k: v for k, v in layer.params.items() if k not in skip}


def checked_params(layer: LayerSpec, layer_type: LayerType) -> dict:
    """The user's parameters with defaults filled in; ParamError names the first bad one."""
    if not isinstance(layer.params, dict):
        raise ParamError("params must be an object of name: value")
    extra = layer_type.inferred_names + tuple(layer_type.fixed)
    params = check_params(layer_type.params, layer.params, "", extra_ok=extra)
    return {k: v for k, v in params.items() if k not in extra}


def _infer_layer(index: int, layer: LayerSpec, shape: tuple[int, ...], limit: int, before: int = 0) -> LayerInfo:
    """One layer against the shape it receives; `limit` is the memory left after the `before`
    parameters of the layers in front of it."""
    prefix = f"layer {index} {layer.type}: "

    def fail(message: str) -> LayerInfo:
        return LayerInfo(index, layer.type, ERROR, input_shape=shape, error=prefix + message)

    layer_type = LAYERS.get(layer.type)
    if layer_type is None:
        close = difflib.get_close_matches(layer.type, LAYERS, n=1)
        hint = f" — did you mean {close[0]}?" if close else f" (known: {', '.join(LAYERS)})"
        return fail(f"unknown layer type{hint}")
    try:
        params = checked_params(layer, layer_type)
    except ParamError as e:
        return fail(str(e))

    if layer_type.ranks and len(shape) not in layer_type.ranks:
        return fail(_rank_message(layer_type, shape))
    inferred = layer_type.infer(shape) if layer_type.infer else {}
    problem = _check_given(layer, layer_type, inferred) or _check_dims(params, shape)
    if problem:
        return fail(problem)

    outcome = _meta_outcome(layer.type, _key(params), shape, params)
    if isinstance(outcome, str):
        return fail(outcome)
    out_shape, n_params, n_trainable, weights = outcome
    if TRAINING_COPIES * weights > limit:
        total = 4 * TRAINING_COPIES * (before + n_params)
        return fail(
            f"its {n_params:,} parameters would need {format_bytes(weights)} of memory, and about "
            f"{format_bytes(total)} to train the network (weights, gradients and optimizer state) — "
            f"more than this machine has ({format_bytes(limit + 4 * TRAINING_COPIES * before)}); make it smaller"
        )
    if not out_shape or 0 in out_shape or any(s < 0 for s in out_shape):
        return fail(
            f"receives {format_shape(shape)} and would output an empty tensor {format_shape(out_shape)}"
            " — the input is too small for these settings"
        )
    shown = {k: list(v) if isinstance(v, tuple) else v for k, v in inferred.items()}
    shown.update(layer_type.fixed)
    return LayerInfo(
        index,
        layer.type,
        OK,
        input_shape=shape,
        output_shape=out_shape,
        params=n_params,
        trainable=n_trainable,
        inferred=shown,
    )


_OUTCOMES: dict = {}
_OUTCOMES_KEPT = 4096   # layers seen recently: an edit re-runs only the layers whose input changed


def _key(params: dict) -> str:
    import json

    return json.dumps(params, sort_keys=True, default=repr)


def _meta_outcome(type_name: str, key: str, shape: tuple[int, ...], params: dict):
    """(output shape, parameters, trainable, bytes of weights and buffers), or the error text, of
    one layer built and run on the meta device. The same layer with the same input gives the same
    answer, and the editor, the code view and the analysis ask for every layer at every edit: a
    10,000-layer network took seconds per keystroke without this memo."""
    cache_key = (type_name, key, shape)
    if cache_key in _OUTCOMES:
        return _OUTCOMES[cache_key]
    layer_type = LAYERS[type_name]
    try:
        with torch.device("meta"):
            module = layer_type.build(shape, params)
        n_params = sum(p.numel() for p in module.parameters())
        n_trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        weights = 4 * (n_params + sum(b.numel() for b in module.buffers()))
        out = module.eval()(torch.empty((2, *shape), device="meta"))   # meta: no memory, however large
        outcome = (tuple(out.shape[1:]), n_params, n_trainable, weights)
    except (ValueError, RuntimeError, IndexError, TypeError) as e:
        outcome = _explain(str(e), layer_type, shape, params)
    if len(_OUTCOMES) >= _OUTCOMES_KEPT:
        _OUTCOMES.pop(next(iter(_OUTCOMES), None), None)
    _OUTCOMES[cache_key] = outcome
    return outcome


def _rank_message(layer_type: LayerType, shape: tuple[int, ...]) -> str:
    wanted = " or ".join(RANK_NAMES[r] for r in layer_type.ranks)
    if len(shape) < min(layer_type.ranks):
        fix = "add an Unflatten before it to give the input that shape"
        if layer_type.ranks == (3,) and len(shape) == 1:
            side = round(shape[0] ** 0.5)
            if side * side == shape[0]:
                fix += f" (unflattened_size [1, {side}, {side}])"
    else:
        fix = "add a Flatten before it, or use the 2-D version of this layer"
    return f"needs input shaped {wanted} but receives {format_shape(shape)} — {fix}"


def _check_given(layer: LayerSpec, layer_type: LayerType, inferred: dict) -> str | None:
    """A user may write an inferred argument (imported code does); it must match the input."""
    for name, value in inferred.items():
        if name not in layer.params:
            continue
        given = layer.params[name]
        same = list(given) == list(value) if isinstance(value, tuple) else given == value
        if isinstance(value, tuple) and isinstance(given, int):
            same = [given] == list(value)
        if not same:
            shown = value[0] if isinstance(value, tuple) else value
            receives = _RECEIVES.get(name, "{v}").format(v=shown)
            return (
                f"receives {receives} but {name} is {given} — remove {name} to let Playground "
                f"infer it, or change the layers before it to output {given}"
            )
    for name, value in layer_type.fixed.items():
        if name in layer.params and layer.params[name] != value:
            return f"{name} must be {value} here (Playground keeps the batch first)"
    return None


_DIM_PARAMS = ("dim", "start_dim", "end_dim")


def _check_dims(params: dict, shape: tuple[int, ...]) -> str | None:
    """Dimension arguments count the batch as 0; they must exist and must not be the batch."""
    rank = len(shape) + 1
    for name in _DIM_PARAMS:
        if name not in params:
            continue
        dim = params[name]
        if not -rank <= dim < rank:
            return (
                f"{name} is {dim} but the input {format_shape(shape)} plus the batch has only "
                f"{rank} dimensions (0 to {rank - 1}, or -1 for the last)"
            )
        if dim % rank == 0:
            return f"{name} 0 is the batch dimension — use 1 for the first dimension of a sample"
    return None


_TOO_SMALL = re.compile(
    r"kernel size can't be greater|too small|output size is|non-positive|"
    r"negative output size|padding should be smaller|pad should be",
    re.IGNORECASE,
)


def _explain(message: str, layer_type: LayerType, shape: tuple[int, ...], params: dict) -> str:
    """torch's message in plain words, with the fix where we know it."""
    first = message.strip().splitlines()[0] if message.strip() else type(message).__name__
    if _TOO_SMALL.search(first):
        if "pad should be" in first or "padding should be" in first:
            return f"padding {params.get('padding')} is more than half of kernel_size {params.get('kernel_size')} — lower the padding"
        knobs = ", ".join(
            f"{k}={params[k]}" for k in ("kernel_size", "stride", "padding", "dilation") if k in params
        )
        return (
            f"input {format_shape(shape)} is too small for {knobs} — use a smaller kernel_size, "
            "add padding, or remove a pooling layer before it"
        )
    if "divisible by groups" in first or "divisible by num_groups" in first:
        return f"{first} — change groups / num_groups so it divides the {shape[0]} channels it receives"
    return first.removeprefix("unflatten: ")
