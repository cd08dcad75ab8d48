"""Every catalogue entry builds the module a PyTorch user would write, with the shapes torch computes."""

import pytest
import torch
from torch import nn

from playground.core import modules
from playground.core.layers import CATEGORIES, LAYERS, by_category
from playground.core.params import Param
from playground.core.shapes import build_network, infer_shapes
from playground.core.spec import LayerSpec, NetworkSpec

# name: (input shape without batch, params given in the spec, the module written by hand)
CASES = {
    "Linear": ((20,), {"out_features": 7}, lambda: nn.Linear(20, 7)),
    "Conv1d": ((3, 32), {"out_channels": 6, "kernel_size": 5, "stride": 2, "padding": 1},
               lambda: nn.Conv1d(3, 6, 5, stride=2, padding=1)),
    "Conv2d": ((3, 16, 16), {"out_channels": 8, "kernel_size": [3, 5], "dilation": 2, "groups": 1, "bias": False},
               lambda: nn.Conv2d(3, 8, (3, 5), dilation=2, bias=False)),
    "ConvTranspose2d": ((4, 7, 7), {"out_channels": 2, "kernel_size": 4, "stride": 2, "padding": 1},
                        lambda: nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)),
    "MaxPool1d": ((3, 20), {"kernel_size": 3}, lambda: nn.MaxPool1d(3)),
    "MaxPool2d": ((3, 9, 9), {"kernel_size": 2, "stride": 1, "ceil_mode": True},
                  lambda: nn.MaxPool2d(2, stride=1, ceil_mode=True)),
    "AvgPool1d": ((3, 20), {"kernel_size": 4, "stride": 2}, lambda: nn.AvgPool1d(4, stride=2)),
    "AvgPool2d": ((3, 10, 10), {"kernel_size": 3, "padding": 1}, lambda: nn.AvgPool2d(3, padding=1)),
    "AdaptiveAvgPool2d": ((5, 13, 11), {"output_size": [2, 3]}, lambda: nn.AdaptiveAvgPool2d((2, 3))),
    "Flatten": ((3, 4, 5), {}, lambda: nn.Flatten()),
    "Unflatten": ((12,), {"dim": 1, "unflattened_size": [3, 4]}, lambda: nn.Unflatten(1, (3, 4))),
    "BatchNorm1d": ((6,), {"momentum": 0.2}, lambda: nn.BatchNorm1d(6, momentum=0.2)),
    "BatchNorm2d": ((4, 5, 5), {}, lambda: nn.BatchNorm2d(4)),
    "LayerNorm": ((3, 10), {"eps": 1e-6}, lambda: nn.LayerNorm(10, eps=1e-6)),
    "GroupNorm": ((6, 4, 4), {"num_groups": 3}, lambda: nn.GroupNorm(3, 6)),
    "Dropout": ((10,), {"p": 0.3}, lambda: nn.Dropout(0.3)),
    "Dropout2d": ((3, 4, 4), {"p": 0.2}, lambda: nn.Dropout2d(0.2)),
    "ReLU": ((5,), {}, lambda: nn.ReLU()),
    "LeakyReLU": ((5,), {"negative_slope": 0.2}, lambda: nn.LeakyReLU(0.2)),
    "PReLU": ((4, 5, 5), {"num_parameters": 4, "init": 0.1}, lambda: nn.PReLU(4, 0.1)),
    "ELU": ((5,), {"alpha": 0.5}, lambda: nn.ELU(0.5)),
    "GELU": ((5,), {"approximate": "tanh"}, lambda: nn.GELU(approximate="tanh")),
    "SiLU": ((5,), {}, lambda: nn.SiLU()),
    "Sigmoid": ((5,), {}, lambda: nn.Sigmoid()),
    "Tanh": ((5,), {}, lambda: nn.Tanh()),
    "Softmax": ((5,), {"dim": 1}, lambda: nn.Softmax(dim=1)),
    "LogSoftmax": ((5,), {"dim": -1}, lambda: nn.LogSoftmax(dim=-1)),
    "Softplus": ((5,), {"beta": 2.0}, lambda: nn.Softplus(beta=2.0)),
    "Identity": ((5,), {}, lambda: nn.Identity()),
    "RNN": ((7, 3), {"hidden_size": 5, "nonlinearity": "relu"},
            lambda: modules.RNN(3, 5, nonlinearity="relu", batch_first=True)),
    "LSTM": ((7, 3), {"hidden_size": 5, "num_layers": 2, "dropout": 0.1, "output": "sequence"},
             lambda: modules.LSTM(3, 5, num_layers=2, dropout=0.1, batch_first=True, output="sequence")),
    "GRU": ((7, 3), {"hidden_size": 4, "bidirectional": True},
            lambda: modules.GRU(3, 4, bidirectional=True, batch_first=True)),
}


def test_every_catalogue_entry_has_a_case():
    assert set(CASES) == set(LAYERS)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_entry_builds_what_a_user_writes_by_hand(name):
    shape, params, by_hand = CASES[name]
    spec = NetworkSpec(list(shape), [LayerSpec(name, params)])
    info = infer_shapes(spec)
    assert info.ok, info.error

    torch.manual_seed(1)
    built = build_network(spec)[0]
    torch.manual_seed(1)
    expected = by_hand()
    assert repr(built) == repr(expected)
    assert type(built) is type(expected)

    # Same seed, same weights, same outputs; the inferred shape is the real one.
    x = torch.randn(3, *shape)
    built.eval(), expected.eval()
    out = built(x)
    assert torch.equal(out, expected(x))
    assert info.output_shape == tuple(out.shape[1:])
    assert info.total_params == sum(p.numel() for p in expected.parameters())
    assert {k: v.shape for k, v in built.state_dict().items()} == {
        k: v.shape for k, v in expected.state_dict().items()
    }


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_entry_is_described(name):
    layer = LAYERS[name]
    assert layer.category in CATEGORIES
    assert layer.doc and "\n" not in layer.doc
    assert hasattr(nn, name), "layer types are torch.nn class names"
    for p in layer.params:
        assert isinstance(p, Param) and p.help
        assert p.check(p.default) is not None or p.optional
    # Inferred input sizes are never user parameters.
    assert not set(layer.inferred_names) & {p.name for p in layer.params}


def test_user_parameters_are_constructor_arguments():
    import inspect

    for name, layer in LAYERS.items():
        ctor = dict(inspect.signature(getattr(nn, name).__init__).parameters)
        if layer.category == "Recurrent":  # nn.RNN/LSTM/GRU take *args; RNNBase names them
            ctor.update(inspect.signature(nn.RNNBase.__init__).parameters, nonlinearity=None)
        for p in layer.params:
            if p.name == "output":  # Playground's own choice for recurrent layers
                continue
            assert p.name in ctor, f"{name}.{p.name} is not an argument of nn.{name}"
        for arg in layer.inferred_names:
            assert arg in ctor


def test_palette_groups_cover_the_catalogue():
    groups = by_category()
    assert list(groups) == list(CATEGORIES)
    assert sum(len(v) for v in groups.values()) == len(LAYERS)
    assert [t.name for t in groups["Recurrent"]] == ["RNN", "LSTM", "GRU"]


def test_recurrent_last_step_matches_torch():
    torch.manual_seed(0)
    ours = modules.LSTM(3, 5, batch_first=True)
    plain = nn.LSTM(3, 5, batch_first=True)
    plain.load_state_dict(ours.state_dict())  # same keys as torch's own LSTM
    x = torch.randn(2, 6, 3)
    y, (h, _) = plain(x)
    assert torch.equal(ours(x), y[:, -1])
    assert torch.allclose(ours(x), h[-1])


def test_bidirectional_last_step_is_both_final_states():
    torch.manual_seed(0)
    ours = modules.GRU(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(2, 6, 3)
    _, h = nn.GRU.forward(ours, x)
    assert torch.allclose(ours(x), torch.cat((h[-2], h[-1]), dim=1))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_model_built_for_given_weights_draws_no_random_numbers(name):
    """Views build a model for the live weights while a run trains in another thread; torch has one
    global generator, so a model built the usual way would shift the run's dropout masks."""
    shape, params, _ = CASES[name]
    spec = NetworkSpec(list(shape), [LayerSpec(name, params)])
    torch.manual_seed(1)
    weights = build_network(spec).state_dict()
    before = torch.get_rng_state()
    empty = build_network(spec, initialise=False)
    assert torch.equal(torch.get_rng_state(), before)
    assert empty.state_dict().keys() == weights.keys()   # nothing left uninitialised once the weights load
    empty.load_state_dict(weights)
    torch.manual_seed(1)
    reference = build_network(spec).eval()
    x = torch.randn(3, *shape)
    assert torch.equal(empty.eval()(x), reference(x))
