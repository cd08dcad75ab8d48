"""core.analysis: multiply-adds counted by hand for LeNet, and against torch's own count for every costed layer."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from playground.cli import main
from playground.core.analysis import analyze
from playground.core.shapes import build_network
from playground.core.spec import LayerSpec, NetworkSpec, Project

L = LayerSpec

IMAGE = NetworkSpec([3, 12, 12], [
    L("Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}),
    L("BatchNorm2d"),
    L("ReLU"),
    L("Conv2d", {"out_channels": 8, "kernel_size": [3, 1], "groups": 4, "dilation": 2}),
    L("ConvTranspose2d", {"out_channels": 6, "kernel_size": 3, "stride": 2, "groups": 2}),
    L("GroupNorm", {"num_groups": 3}),
    L("MaxPool2d"),
    L("Flatten"),
    L("Linear", {"out_features": 10}),
    L("LayerNorm"),
])
SEQUENCE = NetworkSpec([10, 6], [
    L("Conv1d", {"out_channels": 4, "kernel_size": 3, "groups": 2}),
    L("LSTM", {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "output": "sequence"}),
    L("Linear", {"out_features": 7}),        # on every time step
    L("GRU", {"hidden_size": 3, "bidirectional": True, "output": "sequence"}),
    L("RNN", {"hidden_size": 4, "num_layers": 2}),
    L("Linear", {"out_features": 2}),
])


def hooked_costs(model: nn.Sequential, x: torch.Tensor) -> tuple[list[int], list[int]]:
    """Multiply-adds and output bytes per layer, read off the real tensors: each weight element
    is used once per output position (Conv, Linear), input position (ConvTranspose) or time step."""
    macs, nbytes = [], []

    def hook(module, inputs, out):
        batch = inputs[0].shape[0]
        if isinstance(module, nn.Linear):
            count = module.weight.numel() * out.shape[:-1].numel() // batch
        elif isinstance(module, nn.ConvTranspose2d):
            count = module.weight.numel() * inputs[0][0, 0].numel()
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            count = module.weight.numel() * out[0, 0].numel()
        elif isinstance(module, nn.RNNBase):
            weights = sum(p.numel() for name, p in module.named_parameters() if name.startswith("weight"))
            count = weights * inputs[0].shape[1]
        else:
            count = 0
        macs.append(count * batch)
        nbytes.append(out.numel() * out.element_size())

    handles = [m.register_forward_hook(hook) for m in model]
    try:
        model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return macs, nbytes


def test_lenet_multiply_adds_by_hand(examples):
    network = Project.load(examples / "mnist_lenet.json").network
    a = analyze(network)
    # conv1 10·24·24·25, conv2 20·8·8·(10·25), fc1 320·50, fc2 50·10; pooling and ReLU none
    assert [x.macs for x in a.layers] == [144_000, 0, 0, 320_000, 0, 0, 0, 16_000, 0, 500]
    assert a.macs == 480_500 and a.params == 21_840
    assert [x.output_shape for x in a.layers][:2] == [(10, 24, 24), (10, 12, 12)]
    assert a.layers[0].activation_bytes == 10 * 24 * 24 * 4 and a.input_bytes == 28 * 28 * 4

    batch = analyze(network, batch_size=8)
    assert [x.macs for x in batch.layers] == [8 * x.macs for x in a.layers]
    assert batch.activation_bytes == 8 * a.activation_bytes and batch.params == a.params

    macs, nbytes = hooked_costs(build_network(network), torch.zeros(8, 1, 28, 28))
    assert [x.macs for x in batch.layers] == macs
    assert [x.activation_bytes for x in batch.layers] == nbytes


@pytest.mark.parametrize("network", [IMAGE, SEQUENCE], ids=["image", "sequence"])
def test_costs_match_the_real_tensors(network):
    a = analyze(network, batch_size=3)
    model = build_network(network)
    x = torch.randn(3, *network.input_shape)
    macs, nbytes = hooked_costs(model, x)
    norms = [i for i, layer in enumerate(network.layers) if "Norm" in layer.type]
    assert [x.macs for i, x in enumerate(a.layers) if i not in norms] == [
        m for i, m in enumerate(macs) if i not in norms
    ]
    assert [x.activation_bytes for x in a.layers] == nbytes
    assert a.params == sum(p.numel() for p in model.parameters())
    # normalisation: about one multiply-add per output element (documented as approximate)
    assert all(a.layers[i].macs == nbytes[i] // 4 for i in norms)


def test_torch_flop_counter_agrees():
    """torch's FlopCounterMode counts 2 flops per multiply-add of its matrix products and convolutions;
    the LSTM is left out because torch's CPU kernel for it is fused and escapes the counter."""
    network = NetworkSpec(SEQUENCE.input_shape, [l for l in SEQUENCE.layers if l.type != "LSTM"])
    for net in (IMAGE, network):
        a = analyze(net, batch_size=2)
        model = build_network(net).eval()   # outside the counter: its shape check runs layers on meta tensors
        with FlopCounterMode(display=False) as counter:
            model(torch.randn(2, *net.input_shape))
        costed = sum(x.macs for x, layer in zip(a.layers, net.layers) if "Norm" not in layer.type)
        assert 2 * costed == counter.get_total_flops()


def test_recurrent_formula():
    # per time step gates·(input + hidden)·hidden per layer and direction; layer 2 reads both directions
    a = analyze(NetworkSpec([9, 6], [L("LSTM", {"hidden_size": 5, "num_layers": 2, "bidirectional": True})]))
    assert a.layers[0].macs == 9 * (4 * (6 + 5) * 5 * 2 + 4 * (10 + 5) * 5 * 2)
    gru = analyze(NetworkSpec([9, 6], [L("GRU", {"hidden_size": 5})]), batch_size=4)
    assert gru.layers[0].macs == 4 * 9 * 3 * (6 + 5) * 5


def test_a_broken_network_costs_the_layers_that_fit():
    network = NetworkSpec([4], [L("Linear", {"out_features": 3}), L("Conv2d"), L("ReLU")])
    a = analyze(network, batch_size=2)
    assert not a.ok and a.info.error.startswith("layer 1 Conv2d")
    assert [(x.status, x.macs, x.activation_bytes) for x in a.layers] == [
        ("ok", 24, 24), ("error", None, None), ("unreachable", None, None)
    ]
    assert (a.macs, a.activation_bytes, a.params) == (24, 24, 15)
    with pytest.raises(ValueError, match="batch_size"):
        analyze(network, batch_size=0)


def test_inspect_prints_costs_for_a_batch_size(examples, capsys):
    assert main(["inspect", str(examples / "mnist_lenet.json"), "--batch-size", "64"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^#\s+layer\s+output shape\s+parameters\s+multiply-adds\s+activations$", text, re.M)
    assert re.search(r"^0\s+Conv2d\s+\(10, 24, 24\)\s+260\s+9,216,000\s+1\.4 MiB$", text, re.M)
    assert "multiply-adds: 30,752,000 for a batch of 64" in text
    assert "activation memory: 2.7 MiB for a batch of 64 (float32; input 196.0 KiB)" in text
    assert main(["inspect", str(examples / "mnist_lenet.json"), "--batch-size", "0"]) == 1
    assert "--batch-size must be at least 1" in capsys.readouterr().err
