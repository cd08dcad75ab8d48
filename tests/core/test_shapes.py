"""Shape inference, the seeds' networks built exactly, and errors that name the layer and the fix."""

import pytest
import torch
from torch import nn

from playground.core.errors import ShapeError
from playground.core.shapes import build_network, format_bytes, format_shape, infer_shapes
from playground.core.spec import LayerSpec as L
from playground.core.spec import NetworkSpec


def lenet_spec() -> NetworkSpec:
    return NetworkSpec([1, 28, 28], [
        L("Conv2d", {"out_channels": 10, "kernel_size": 5}), L("MaxPool2d", {"kernel_size": 2}), L("ReLU"),
        L("Conv2d", {"out_channels": 20, "kernel_size": 5}), L("MaxPool2d", {"kernel_size": 2}), L("ReLU"),
        L("Flatten"), L("Linear", {"out_features": 50}), L("ReLU"), L("Linear", {"out_features": 10}),
    ])


def lenet_by_hand() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10),
    )


def test_lenet_builds_exactly():
    torch.manual_seed(0)
    built = build_network(lenet_spec())
    torch.manual_seed(0)
    by_hand = lenet_by_hand()
    assert repr(built) == repr(by_hand)
    assert sum(p.numel() for p in built.parameters()) == 21_840
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(built(x), by_hand(x))


def test_lenet_shapes_and_counts():
    info = infer_shapes(lenet_spec())
    assert info.ok
    assert [layer.output_shape for layer in info.layers] == [
        (10, 24, 24), (10, 12, 12), (10, 12, 12), (20, 8, 8), (20, 4, 4), (20, 4, 4),
        (320,), (50,), (50,), (10,),
    ]
    assert [layer.params for layer in info.layers] == [260, 0, 0, 5020, 0, 0, 0, 16050, 0, 510]
    assert info.total_params == info.trainable_params == 21_840
    assert info.output_shape == (10,)
    assert info.layers[7].inferred == {"in_features": 320}
    assert info.layers[3].inferred == {"in_channels": 10}


def test_quickstart_mlp_builds_exactly():
    spec = NetworkSpec([1, 28, 28], [
        L("Flatten"), L("Linear", {"out_features": 512}), L("ReLU"),
        L("Linear", {"out_features": 512}), L("ReLU"), L("Linear", {"out_features": 10}),
    ])
    torch.manual_seed(3)
    built = build_network(spec)
    torch.manual_seed(3)
    by_hand = nn.Sequential(
        nn.Flatten(), nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    assert repr(built) == repr(by_hand)
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(built(x), by_hand(x))
    assert infer_shapes(spec).total_params == 669_706


def test_shape_inference_allocates_nothing():
    # 10^5 x 10^5 weights would be 37 GiB; inference on meta tensors is instant and free.
    spec = NetworkSpec([100_000], [L("Linear", {"out_features": 100_000})])
    info = infer_shapes(spec, memory_limit=2**50)
    assert info.ok and info.total_params == 100_000 * 100_000 + 100_000


def test_wrong_given_in_features_names_layer_and_fix():
    spec = lenet_spec()
    spec.layers[7].params["in_features"] = 500
    info = infer_shapes(spec)
    assert info.error == (
        "layer 7 Linear: receives 320 features but in_features is 500 — remove in_features to let "
        "Playground infer it, or change the layers before it to output 500"
    )
    assert [layer.status for layer in info.layers] == ["ok"] * 7 + ["error", "unreachable", "unreachable"]
    assert info.output_shape is None
    with pytest.raises(ShapeError, match="layer 7 Linear"):
        build_network(spec)


def test_matching_given_in_features_is_accepted():
    spec = lenet_spec()
    spec.layers[7].params["in_features"] = 320
    assert infer_shapes(spec).ok
    assert "Linear(in_features=320" in repr(build_network(spec))


def test_conv_on_flat_input_suggests_unflatten():
    info = infer_shapes(NetworkSpec([784], [L("Conv2d"), L("ReLU")]))
    assert info.error.startswith("layer 0 Conv2d: needs input shaped (channels, height, width) but receives (784,)")
    assert "Unflatten" in info.error and "[1, 28, 28]" in info.error
    assert info.layers[1].status == "unreachable"


def test_kernel_larger_than_input():
    info = infer_shapes(NetworkSpec([1, 4, 4], [L("Conv2d", {"kernel_size": 5})]))
    assert info.error.startswith("layer 0 Conv2d: input (1, 4, 4) is too small for kernel_size=5")
    assert "smaller kernel_size" in info.error


def test_pooling_too_far_is_named():
    spec = lenet_spec()
    spec.layers.insert(6, L("MaxPool2d", {"kernel_size": 8}))
    info = infer_shapes(spec)
    assert info.error.startswith("layer 6 MaxPool2d: input (20, 4, 4) is too small")


@pytest.mark.parametrize("layers, message", [
    ([L("Linaer")], "layer 0 Linaer: unknown layer type — did you mean Linear?"),
    ([L("Linear", {"out_features": 0})], "layer 0 Linear: out_features must be at least 1, not 0"),
    ([L("Linear", {"out_features": "ten"})], "layer 0 Linear: out_features must be a whole number, not 'ten'"),
    ([L("Linear", {"out_features": 10, "size": 3})], "layer 0 Linear: unknown parameter 'size'"),
    ([L("Dropout", {"p": 1.5})], "layer 0 Dropout: p must be at most 1, not 1.5"),
    ([L("GELU", {"approximate": "fast"})], "layer 0 GELU: approximate must be one of 'none', 'tanh'"),
    ([L("Softmax", {"dim": 3})], "layer 0 Softmax: dim is 3 but the input (4,) plus the batch has only 2"),
    ([L("Flatten", {"start_dim": 0})], "layer 0 Flatten: start_dim 0 is the batch dimension"),
    ([L("Unflatten", {"unflattened_size": [3, 3]})], "layer 0 Unflatten: Provided sizes [3, 3] don't multiply"),
    ([L("Linear", {"out_features": 6}), L("GroupNorm", {"num_groups": 4})], "layer 1 GroupNorm: "),
    ([L("LSTM")], "layer 0 LSTM: needs input shaped (channels, length) but receives (4,)"),
])
def test_bad_layers_say_what_is_wrong(layers, message):
    info = infer_shapes(NetworkSpec([4], layers))
    assert info.error.startswith(message), info.error


def test_conv_groups_must_divide_channels():
    info = infer_shapes(NetworkSpec([3, 8, 8], [L("Conv2d", {"groups": 2})]))
    assert info.error.startswith("layer 0 Conv2d: in_channels must be divisible by groups")
    assert "3 channels" in info.error


def test_absurd_size_is_refused_with_its_memory():
    info = infer_shapes(NetworkSpec([784], [L("Linear", {"out_features": 10**9})]), memory_limit=24 * 2**30)
    assert info.error == (
        "layer 0 Linear: its 785,000,000,000 parameters would need 2.9 TiB of memory, and about "
        "11.4 TiB to train the network (weights, gradients and optimizer state) — more than this "
        "machine has (24.0 GiB); make it smaller"
    )


def test_a_layer_that_fits_alone_but_not_to_train_is_refused():
    """3e9 weights take 11 GiB, which fits in 24 GiB, but training needs four copies of them."""
    info = infer_shapes(NetworkSpec([2], [L("Linear", {"out_features": 10**9})]), memory_limit=24 * 2**30)
    assert "about 44.7 GiB to train the network" in info.error


def test_the_memory_limit_counts_every_layer_before():
    layers = [L("Linear", {"out_features": 1000}), L("Linear", {"out_features": 1000})]
    limit = 4 * 4 * 1_500_000   # room for 1.5 million parameters; each layer has about a million
    info = infer_shapes(NetworkSpec([1000], layers), memory_limit=limit)
    assert info.layers[0].status == "ok"
    assert info.error.startswith("layer 1 Linear: its 1,001,000 parameters would need 3.8 MiB")
    assert "about 30.5 MiB to train the network" in info.error


def test_recurrent_network_fits_a_sequential():
    spec = NetworkSpec([10, 3], [
        L("LSTM", {"hidden_size": 8, "output": "sequence"}), L("GRU", {"hidden_size": 6}),
        L("Linear", {"out_features": 2}),
    ])
    info = infer_shapes(spec)
    assert [layer.output_shape for layer in info.layers] == [(10, 8), (6,), (2,)]
    assert info.layers[0].inferred == {"input_size": 3, "batch_first": True}
    model = build_network(spec)
    assert model(torch.randn(5, 10, 3)).shape == (5, 2)


def test_batch_first_cannot_be_turned_off():
    info = infer_shapes(NetworkSpec([10, 3], [L("RNN", {"batch_first": False})]))
    assert "batch_first must be True" in info.error


def test_empty_network_passes_input_through():
    info = infer_shapes(NetworkSpec([2], []))
    assert info.ok and info.output_shape == (2,) and info.total_params == 0


def test_formatting_helpers():
    assert format_shape((320,)) == "(320,)"
    assert format_shape((1, 28, 28)) == "(1, 28, 28)"
    assert format_bytes(3 * 2**40) == "3.0 TiB"
    assert format_bytes(512) == "512 bytes"
