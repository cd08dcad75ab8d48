"""Import from code: nn.Sequential source becomes layer specs through ast; nothing is executed."""

import textwrap

import pytest

from playground.core.code_import import CodeImportError, parse_sequential
from playground.core.codegen import panel_source, python_script
from playground.core.layers import LAYERS
from playground.core.params import check_params
from playground.core.shapes import infer_shapes
from playground.core.spec import LayerSpec, NetworkSpec, Project
from tests.core.test_codegen import networks


def effective(spec: NetworkSpec) -> list:
    """Type and every parameter's value, defaults filled: two specs that build the same network."""
    return [(layer.type, check_params(LAYERS[layer.type].params, layer.params, "")) for layer in spec.layers]


@pytest.mark.parametrize("name", ["lenet", "mnist_mlp", "images", "features", "sequences"])
def test_export_then_import_gives_the_same_spec(examples, name):
    network = networks(examples)[name]
    back = parse_sequential(panel_source(network), network.input_shape)
    assert back.layers == network.layers  # what the user set, exactly: no inferred sizes added
    # the whole exported script reads back too (its helper classes are skipped, never run)
    assert parse_sequential(python_script(network, name), network.input_shape).layers == network.layers


@pytest.mark.parametrize("type_name", sorted(LAYERS))
def test_every_catalogue_layer_round_trips_with_its_defaults(type_name):
    shape = {(2,): [6, 8], (3,): [4, 8, 8], (1, 2): [4, 8]}.get(LAYERS[type_name].ranks, [4, 8])
    if type_name == "Unflatten":
        shape = [784]
    network = NetworkSpec(shape, [LayerSpec(type_name)])
    assert infer_shapes(network).ok
    back = parse_sequential(panel_source(network), shape)
    assert effective(back) == effective(network)


def test_tutorial_code_with_imports_and_keywords():
    source = textwrap.dedent("""\
        import torch
        from torch import nn

        model = nn.Sequential(
            torch.nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.Linear(6 * 14 * 14 if False else 1176, 10) if False else nn.Linear(1176, 10),
        )
        """)
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source, [1, 28, 28])
    assert str(e.value).startswith("line 9: ")  # the conditional expression is not a layer
    source = source.replace("nn.Linear(6 * 14 * 14 if False else 1176, 10) if False else ", "")
    spec = parse_sequential(source, [1, 28, 28])
    assert [layer.type for layer in spec.layers] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert spec.layers[0].params == {"out_channels": 6, "kernel_size": 5, "padding": 2}  # in_channels inferred
    assert spec.layers[2].params == {"kernel_size": 2, "stride": 2}
    assert spec.layers[4].params == {"out_features": 10}
    assert infer_shapes(spec).output_shape == (10,)


def test_sizes_that_do_not_match_the_input_stay_and_the_card_says_so():
    spec = parse_sequential("nn.Sequential(nn.Linear(784, 10))", [2])
    assert spec.layers[0].params == {"in_features": 784, "out_features": 10}
    assert "receives 2 features but in_features is 784" in infer_shapes(spec).error


def test_tuples_become_lists_and_layer_norm_takes_an_int():
    spec = parse_sequential("nn.Sequential(nn.Conv2d(3, 4, (3, 5)), nn.LayerNorm(4))", [3, 8, 8])
    assert spec.layers[0].params == {"out_channels": 4, "kernel_size": [3, 5]}
    assert spec.layers[1].params == {}


def test_every_unsupported_construct_is_reported_with_its_line():
    source = textwrap.dedent("""\
        hidden = 64
        nn.Sequential(
            nn.Linear(2, hidden),
            make_layer(),
            *[nn.ReLU() for _ in range(2)],
            nn.Conv3d(1, 2, 3),
            nn.Dropout(p=0.1 * 2),
            nn.Linear(2, 3, device="cpu"),
            nn.Sequential(nn.ReLU()),
            nn.Lineer(3, 4),
            nn.Conv2d(1, 2, kernel_size=0),
            nn.LSTM(2, 3, batch_first=False),
            nn.ReLU,
            nn.Linear(2, 10 ** 10 ** 10),
            nn.Linear(2, undefined),
        )
        """)
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source, [2])
    # every problem at once, in line order; lines 3, 5, 7 and 9 are read now
    assert [line for line, _ in e.value.problems] == [4, 6, 8, 10, 11, 12, 13, 14, 15]
    text = str(e.value).splitlines()
    assert text[0] == "line 4: a call to make_layer() is not a torch.nn layer — write nn.Name(...)"
    assert text[1] == "line 6: nn.Conv3d is not a layer Playground knows — did you mean nn.Conv2d?"
    assert text[2].startswith("line 8: nn.Linear: parameter 'device' is not supported here (supported: bias,")
    assert "did you mean nn.Linear?" in text[3]
    assert text[4] == "line 11: nn.Conv2d: kernel_size must be at least 1, not 0"
    assert text[5] == "line 12: LSTM: batch_first must be True (Playground keeps the batch first)"
    assert text[6].startswith("line 13: the attribute 'nn.ReLU' is not supported")
    assert text[7].endswith("'10 ** 10 ** 10' is too large a power to be a layer size")
    assert text[8].endswith("the variable 'undefined' is not bound to a number in this code")


@pytest.mark.parametrize("source, message", [
    ("nn.Sequential(nn.Linear(2, 3)", "line 1: invalid Python: '(' was never closed"),
    ("x = 1", "line 1: no nn.Sequential(...) found"),
    ("a = nn.Sequential()\nb = nn.Sequential()", "line 2: a second nn.Sequential"),
    ("nn.Sequential(nn.Linear(2, 3, True, 4, 5))", "line 1: nn.Linear: takes at most"),
    ("nn.Sequential(nn.Linear(2, 3, out_features=4))", "line 1: nn.Linear: out_features is given twice"),
    ("nn.Sequential(nn.ReLU(), inplace=True)", "line 1: nn.Sequential takes the layers only"),
])
def test_bad_source_says_where(source, message):
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source, [2])
    assert str(e.value).startswith(message)


def test_nothing_is_executed(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nnn.Sequential(nn.Linear(2, 3))\n"
    parse_sequential(source, [2])
    assert not marker.exists()


def test_lenet_from_the_example(examples):
    project = Project.load(examples / "mnist_lenet.json")
    back = parse_sequential(panel_source(project.network), [1, 28, 28])
    assert back == project.network
