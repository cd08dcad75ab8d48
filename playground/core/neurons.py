"""Every neuron of a small MLP on points of the plane, over that plane: the columns of neurons, what each
computes at each point of a grid, and the weights between the neurons shown (the network view's data)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import features as input_features
from .data import Dataset, model_inputs
from .errors import PlaygroundError
from .evaluation import Predictor, grid
from .insight import run_layers
from .shapes import infer_shapes
from .spec import NetworkSpec


class NotAnMLP(PlaygroundError):
    """The network is not a stack of Linear layers and activations: no columns of neurons to draw."""


@dataclass(frozen=True)
class Column:
    """One column of neurons: the inputs (layer -1) or a Linear layer with what follows it up to the next
    Linear (its activation, dropout, normalisation), whose output is what each neuron shows."""

    layer: int       # the Linear's index in the network; -1 for the inputs
    last: int        # the index of the layer whose output the neurons show; -1 for the inputs
    width: int       # neurons in the column
    title: str       # "inputs", "Linear 0 · ReLU"


def columns(network: NetworkSpec) -> list[Column]:
    """The columns of `network`, inputs first; raises NotAnMLP, saying why, for any other network: every
    output must be one row of values, and only Linear layers may change how many."""
    info = infer_shapes(network)
    if not info.ok:
        raise NotAnMLP(f"the network does not fit together yet ({info.error})")
    if len(network.input_shape) != 1:
        raise NotAnMLP(f"the network view draws networks on rows of values, not samples of shape "
                       f"{tuple(network.input_shape)}")
    out = [Column(-1, -1, network.input_shape[0], "inputs")]
    for i, (layer, shape) in enumerate(zip(network.layers, info.layers)):
        if len(shape.output_shape) != 1:
            raise NotAnMLP(f"layer {i} {layer.type} gives outputs of shape {shape.output_shape}: the network "
                           "view draws stacks of Linear layers and activations")
        if layer.type == "Linear":
            out.append(Column(i, i, shape.output_shape[0], f"Linear {i}"))
        elif shape.output_shape != shape.input_shape:
            raise NotAnMLP(f"layer {i} {layer.type} changes the number of values: the network view draws "
                           "stacks of Linear layers and activations")
        elif len(out) > 1:   # an activation (or dropout, normalisation) of the Linear before it
            last = out[-1]
            out[-1] = Column(last.layer, i, last.width, f"{last.title} · {layer.type}")
    if len(out) == 1:
        raise NotAnMLP("the network has no Linear layer: there are no neurons to draw")
    return out


def shown_neurons(values: Tensor, most: int) -> Tensor:
    """The indices of the neurons a column shows: all when they fit in `most`, else the `most` most active
    (largest mean |activation| over the grid), in the column's order. `values` is (points, width)."""
    width = values.shape[1]
    if width <= most:
        return torch.arange(width)
    activity = values.abs().mean(0)
    return activity.topk(most).indices.sort().values.cpu()


def network_data(predictor: Predictor, dataset: Dataset, bounds: tuple[float, float, float, float],
                 resolution: int, most: int) -> dict:
    """What each shown neuron computes at each point of a `resolution`² grid over `bounds`, and the
    weights between shown neurons. Data: columns, a list of dicts with title, layer, width, shown (the
    neurons' indices), heatmaps (len(shown), resolution, resolution: row i at the grid's y i, as
    evaluation.grid), weights (len(shown), len(shown of the column before); None for the inputs) and bias."""
    if not dataset.info.plane:
        raise NotAnMLP(f"{dataset.info.name} gives no points of the plane to draw the neurons over")
    cols = columns(predictor.network)
    _, _, points = grid(bounds, resolution)
    inputs = model_inputs(dataset.info, points)
    outputs = run_layers(predictor.model, inputs)
    layers = list(predictor.model)
    out, before = [], None
    for col in cols:
        values = (inputs if col.last < 0 else outputs[col.last]).float().cpu()
        shown = shown_neurons(values, most)
        entry = {"title": col.title, "layer": col.layer, "width": col.width, "shown": shown,
                 "heatmaps": values[:, shown].T.reshape(len(shown), resolution, resolution).clone(),
                 "weights": None, "bias": None}
        if col.layer >= 0:
            linear = layers[col.layer]
            entry["weights"] = linear.weight.detach().float().cpu()[shown][:, before].clone()
            entry["bias"] = linear.bias.detach().float().cpu()[shown].clone() if linear.bias is not None else None
        out.append(entry)
        before = shown
    names = dataset.info.features or input_features.RAW
    out[0]["title"] = "features" if dataset.info.features else "inputs"
    out[0]["names"] = [input_features.label(n) for n in names]
    return {"columns": out, "bounds": tuple(bounds), "resolution": resolution}
