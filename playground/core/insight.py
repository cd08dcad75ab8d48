"""What each layer makes of an input: every layer's output for a batch, with given or initial weights."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .checkpoint import apply_state_dict
from .shapes import build_network
from .spec import NetworkSpec


def initial_state(network: NetworkSpec, seed: int) -> dict[str, Tensor]:
    """The weights a run with this seed starts from (the Trainer seeds, then builds), without
    disturbing the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_network(network)
    return {k: v.detach() for k, v in model.state_dict().items()}


def layer_outputs(network: NetworkSpec, state: dict, x: Tensor) -> list[Tensor]:
    """Each layer's output for the batch `x` (CPU, eval mode, no gradients), in layer order.

    Raises ShapeError when the network does not fit together and CheckpointError when the
    weights do not fit the network.
    """
    model = build_network(network, initialise=False)
    apply_state_dict(model, state, network)
    return run_layers(model, x)


def run_layers(model: nn.Sequential, x: Tensor) -> list[Tensor]:
    """Feed `x` through `model` layer by layer, keeping every intermediate result (on the model's
    device). Leaves the model in eval mode: a live model's caller restores its modes (Predictor.evaluating)."""
    model.eval()
    outputs = []
    with torch.no_grad():
        # the model's own dtype and device: float64 data would not multiply float32 weights
        weight = next((p for p in model.parameters() if p.is_floating_point()), None)
        dtype = weight.dtype if weight is not None else torch.float32
        device = weight.device if weight is not None else torch.device("cpu")
        h = x.to(device, dtype) if x.is_floating_point() else x.to(device)
        for layer in model:
            h = layer(h)
            outputs.append(h)
    return outputs
