"""What a network costs per batch: parameters, multiply-adds and activation memory, layer by layer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .layers import LAYERS
from .params import check_params
from .shapes import OK, LayerInfo, NetworkInfo, infer_shapes
from .spec import LayerSpec, NetworkSpec

FLOAT_BYTES = 4   # activations are float32 (mixed precision would halve them)
_GATES = {"LSTM": 4, "GRU": 3}   # weight blocks per recurrent cell; a plain RNN has 1
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)


@dataclass(frozen=True)
class LayerAnalysis:
    index: int
    type: str
    output_shape: tuple[int, ...] | None   # one sample; None when the layer does not fit
    params: int
    macs: int | None                       # multiply-adds for the whole batch; None when it does not fit
    activation_bytes: int | None           # float32 output of the whole batch (views like Flatten's too)
    status: str = OK                       # ok | error | unreachable, as in core.shapes


@dataclass(frozen=True)
class NetworkAnalysis:
    batch_size: int
    layers: tuple[LayerAnalysis, ...]
    params: int              # totals over the layers that fit
    trainable_params: int
    macs: int
    activation_bytes: int    # every layer's output, as kept for the backward pass
    input_bytes: int         # the float32 input batch
    info: NetworkInfo        # the shape check it came from: ok, error, output_shape

    @property
    def ok(self) -> bool:
        return self.info.ok


def analyze(network: NetworkSpec, batch_size: int = 1) -> NetworkAnalysis:
    """Count every layer's cost for `batch_size` samples; layers after a shape error get None."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    info = infer_shapes(network)
    layers = []
    for spec, layer in zip(network.layers, info.layers):
        if layer.status != OK:
            layers.append(LayerAnalysis(layer.index, layer.type, None, 0, None, None, layer.status))
            continue
        macs = layer_macs(_meta_module(spec, layer), layer.input_shape, layer.output_shape)
        activation = math.prod(layer.output_shape) * batch_size * FLOAT_BYTES
        layers.append(LayerAnalysis(
            layer.index, layer.type, layer.output_shape, layer.params, macs * batch_size, activation
        ))
    fit = [a for a in layers if a.status == OK]
    return NetworkAnalysis(
        batch_size=batch_size,
        layers=tuple(layers),
        params=info.total_params,
        trainable_params=info.trainable_params,
        macs=sum(a.macs for a in fit),
        activation_bytes=sum(a.activation_bytes for a in fit),
        input_bytes=math.prod(info.input_shape) * batch_size * FLOAT_BYTES,
        info=info,
    )


def layer_macs(module: nn.Module, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> int:
    """Multiply-adds for one sample. Bias additions are not counted (as most counters do).

    Normalisation layers count about one per output element (the scale and shift; computing
    the statistics is left out), so they are approximate. Pooling, activations, dropout and
    reshapes count 0: they compare, add or copy, but do not multiply-add."""
    out = math.prod(output_shape)
    if isinstance(module, nn.Linear):
        positions = math.prod(output_shape[:-1])   # a Linear applies to every position of a sequence
        return module.in_features * module.out_features * positions
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return out * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.ConvTranspose2d):
        # every input element scatters into a kernel-sized patch of each channel of its group
        return math.prod(input_shape) * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.RNNBase):
        gates = _GATES.get(module.mode, 1)
        h, directions = module.hidden_size, 2 if module.bidirectional else 1
        per_step = 0
        for layer in range(module.num_layers):
            inputs = module.input_size if layer == 0 else h * directions   # stacked layers read both directions
            per_step += gates * (inputs + h) * h * directions
        return input_shape[0] * per_step
    if isinstance(module, _NORMS):
        return out
    return 0


def _meta_module(spec: LayerSpec, info: LayerInfo) -> nn.Module:
    """The layer built on the meta device (no memory), so its sizes are read as torch normalised them."""
    layer_type = LAYERS[spec.type]
    skip = set(layer_type.inferred_names) | set(layer_type.fixed)   # checked against the shape already
    params = check_params(layer_type.params, {k: v for k, v in spec.params.items() if k not in skip}, "")
    with torch.device("meta"):
        return layer_type.build(info.input_shape, params)
