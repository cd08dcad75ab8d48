"""Import from code: nn.Sequential source becomes layer specs through ast; nothing is executed."""

import ast
import textwrap

import pytest

from playground.core.code_import import CodeImportError, import_code, parse_sequential
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


# --- the constant evaluator -----------------------------------------------------------------------

@pytest.mark.parametrize("expression, value", [
    ("16 * 5 * 5", 400), ("28*28", 784), ("2 ** 10", 1024), ("-(3 - 5) // 1", 2), ("7 % 4", 3),
    ("(3, 3) * 2", (3, 3, 3, 3)), ("(1,) + (2, 3)", (1, 2, 3)), ("int(64 / 2)", 32), ("len((1, 2, 3))", 3),
    ("(4, 5, 6)[1]", 5), ("torch.Size([2, 5, 5])", (2, 5, 5)), ("0.1 * 2", 0.2),
])
def test_the_evaluator_computes_literal_arithmetic(expression, value):
    from playground.core.code_eval import evaluate

    assert evaluate(ast.parse(expression, mode="eval").body) == value


@pytest.mark.parametrize("expression, message", [
    ("10 ** 10 ** 10", "too large a power"),
    ("9 ** 40", "too large a power"),
    ("10 ** 29 * 10 ** 29", "more than 30 digits"),
    ("(1,) * 100000", "at most 10,000 items"),
    ("1 / 0", "cannot be computed"),
    ("a", "not bound to a number"),
    ("open('x').read()", "not a constant this reader computes"),
    ("(1, 2)[5]", "out of range"),
])
def test_the_evaluator_refuses_in_words(expression, message):
    from playground.core.code_eval import NotConstant, evaluate

    with pytest.raises(NotConstant, match=message):
        evaluate(ast.parse(expression, mode="eval").body)


def test_names_bound_to_literals_module_level_class_level_and_defaults():
    source = textwrap.dedent("""\
        N_HIDDEN = 300
        N, D_in, H = 64, 1000, 100

        class Net(nn.Module):
            width = N_HIDDEN // 3

            def __init__(self, classes=10, p=0.1 * 5):
                super().__init__()
                hidden = self.width * 2
                self.fc1 = nn.Linear(D_in, hidden)
                self.drop = nn.Dropout(p)
                self.fc2 = nn.Linear(hidden, classes)

            def forward(self, x):
                return self.fc2(self.drop(F.relu(self.fc1(x))))
        """)
    spec = parse_sequential(source, [1000])
    assert [(layer.type, layer.params, layer.name) for layer in spec.layers] == [
        ("Linear", {"out_features": 200}, "fc1"), ("ReLU", {}, None), ("Dropout", {"p": 0.5}, "drop"),
        ("Linear", {"out_features": 10}, "fc2")]


def test_an_argument_without_a_default_matters_only_where_a_layer_reads_it():
    # DCGAN's Generator(ngpu) stores ngpu and never sizes a layer with it: pasted alone, it imports
    source = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self, ngpu, classes):
                super().__init__()
                self.ngpu = ngpu
                self.fc = nn.Linear(4, classes)

            def forward(self, x):
                return self.fc(x)
        """)
    with pytest.raises(CodeImportError) as e:
        import_code(source, [4])
    # the line that needs the value, and how to give it; nothing about ngpu
    assert e.value.problems == [(5, "nn.Linear: the value of out_features cannot be read: 'classes' has no "
                                    "default, so its value is unknown — add a line like `model = "
                                    "Net(classes=...)` below the class")]
    spec = parse_sequential(source + "model = Net(2, 3)\n", [4])
    assert [(layer.type, layer.params) for layer in spec.layers] == [("Linear", {"out_features": 3})]
    spec = parse_sequential(source.replace("ngpu, classes", "ngpu, classes=3"), [4])
    assert [(layer.type, layer.params) for layer in spec.layers] == [("Linear", {"out_features": 3})]


def test_sizes_from_argparse_are_its_defaults_and_a_required_option_says_so():
    # the head of pytorch/examples' dcgan/main.py, as written there, then a Sequential sized from it
    source = textwrap.dedent("""\
        parser = argparse.ArgumentParser()
        parser.add_argument('--dataset', required=True, help='cifar10 | lsun | mnist |imagenet | folder | lfw | fake')
        parser.add_argument('--nz', type=int, default=100, help='size of the latent z vector')
        parser.add_argument('--ngf', type=int, default=64)
        parser.add_argument('--dry-run', action='store_true', help='check a single training cycle works')
        parser.add_argument('--width', dest='hidden', type=int, default=2 ** 5)
        opt = parser.parse_args()
        print(opt)
        nz = int(opt.nz)
        ngf = int(opt.ngf)
        net = nn.Sequential(nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.ReLU(True),
                            nn.Flatten(), nn.Linear(ngf * 8 * 16, opt.hidden))
        """)
    spec = parse_sequential(source, [100, 1, 1])
    assert [(layer.type, layer.params) for layer in spec.layers] == [
        ("ConvTranspose2d", {"out_channels": 512, "kernel_size": 4, "stride": 1, "padding": 0, "bias": False}),
        ("ReLU", {}), ("Flatten", {}), ("Linear", {"out_features": 32})]
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source.replace("opt.hidden", "len(opt.dataset)"), [100, 1, 1])
    assert e.value.problems == [(12, "nn.Linear: the value of out_features cannot be read: --dataset has no "
                                     "default: its value comes from the command line — give it a default, or "
                                     "write the size")]


# --- Sequentials as tutorials write them --------------------------------------------------------------

def test_inplace_star_lists_comprehensions_nested_and_lazy():
    source = textwrap.dedent("""\
        blocks = [nn.Linear(8, 8) for _ in range(2)]
        net = nn.Sequential(
            nn.LazyLinear(8), nn.ReLU(True),
            *blocks,
            nn.Sequential(nn.Dropout(0.5, inplace=True), nn.LeakyReLU(0.2, inplace=True)),
            *[nn.Linear(8, 8), nn.Tanh()],
            nn.LazyLinear(2),
        )
        """)
    spec = parse_sequential(source, [4])
    assert [layer.type for layer in spec.layers] == ["Linear", "ReLU", "Linear", "Linear", "Dropout", "LeakyReLU",
                                                     "Linear", "Tanh", "Linear"]
    assert spec.layers[4].params == {"p": 0.5} and spec.layers[5].params == {"negative_slope": 0.2}
    # the nested Sequential's layers keep its path, so the original's keys are known; a name that is the
    # card's own index is Playground's key anyway, and is not kept
    assert [layer.name for layer in spec.layers] == [None, None, None, None, "4.0", "4.1", "5", "6", "7"]
    assert infer_shapes(spec).output_shape == (2,)


def test_ordered_dict_keeps_the_names_and_a_plain_sequential_has_none():
    spec = parse_sequential(textwrap.dedent("""\
        from collections import OrderedDict
        model = nn.Sequential(OrderedDict([
            ('conv1', nn.Conv2d(1, 20, 5)),
            ('relu1', nn.ReLU()),
        ]))
        """), [1, 28, 28])
    assert [layer.name for layer in spec.layers] == ["conv1", "relu1"]
    assert [layer.name for layer in parse_sequential("nn.Sequential(nn.Linear(2, 3), nn.ReLU())", [2]).layers] \
        == [None, None]


def test_features_and_classifier_of_a_class_are_one_chain():
    source = textwrap.dedent("""\
        class AlexNetLike(nn.Module):
            def __init__(self, num_classes: int = 10) -> None:
                super().__init__()
                self.features = nn.Sequential(
                    nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
                self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
                self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(16 * 2 * 2, num_classes))

            def forward(self, x):
                x = self.features(x)
                x = self.avgpool(x)
                x = x.view(x.size(0), -1)
                x = self.classifier(x)
                return x
        """)
    result = import_code(source, [3, 8, 8])
    assert result.origin == "AlexNetLike"
    assert [(layer.type, layer.name) for layer in result.network.layers] == [
        ("Conv2d", "features.0"), ("ReLU", "features.1"), ("MaxPool2d", "features.2"),
        ("AdaptiveAvgPool2d", "avgpool"), ("Flatten", None), ("Dropout", "classifier.0"),
        ("Linear", "classifier.1")]


def test_layers_built_in_a_loop_and_a_block_function():
    source = textwrap.dedent("""\
        def block(c_out):
            return nn.Sequential(nn.LazyConv2d(c_out, kernel_size=3, padding=1), nn.ReLU())

        class Stack(nn.Module):
            def __init__(self, widths=(4, 8)):
                super().__init__()
                layers = []
                for w in widths:
                    layers.append(block(w))
                    layers.append(nn.MaxPool2d(2))
                self.body = nn.Sequential(*layers)
                self.head = nn.Sequential(nn.Flatten(), nn.LazyLinear(3))

            def forward(self, x):
                return self.head(self.body(x))
        """)
    spec = parse_sequential(source, [1, 8, 8])
    assert [(layer.type, layer.name) for layer in spec.layers] == [
        ("Conv2d", "body.0.0"), ("ReLU", "body.0.1"), ("MaxPool2d", "body.1"), ("Conv2d", "body.2.0"),
        ("ReLU", "body.2.1"), ("MaxPool2d", "body.3"), ("Flatten", "head.0"), ("Linear", "head.1")]
    assert spec.layers[3].params == {"out_channels": 8, "kernel_size": 3, "padding": 1}


def test_code_pasted_from_a_class_body_or_a_docstring_is_dedented():
    body = "        self.stack = nn.Sequential(\n            nn.Linear(4, 2),\n        )\n"
    assert [layer.type for layer in parse_sequential(body, [4]).layers] == ["Linear"]
    doc = "    >>> m = nn.Sequential(\n    >>>     nn.Linear(50, 50),\n    >>>     nn.Unflatten(1, (2, 5, 5))\n    >>> )\n"
    assert [layer.type for layer in parse_sequential(doc, [50]).layers] == ["Linear", "Unflatten"]


# --- chain-forward classes ------------------------------------------------------------------------

def test_functional_calls_and_views_become_cards_and_a_reused_layer_two_cards_with_a_note():
    source = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 4, 3)
                self.pool = nn.MaxPool2d(2, 2)
                self.conv2 = nn.Conv2d(4, 4, 3)
                self.fc = nn.Linear(4 * 5 * 5, 10)

            def forward(self, x):
                x = self.pool(torch.relu(self.conv1(x)))
                x = self.pool(F.relu(self.conv2(x), inplace=True))
                x = F.dropout(x, p=0.2, training=self.training)
                x = x.view(-1, 4 * 5 * 5)
                return torch.sigmoid(self.fc(x))
        """)
    result = import_code(source, [1, 26, 26])
    assert [layer.type for layer in result.network.layers] == [
        "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Dropout", "Flatten", "Linear", "Sigmoid"]
    assert result.notes == [(11, "self.pool is used more than once: each use becomes its own card")]
    with pytest.raises(CodeImportError, match="line 13: the view to 100 features gets 4×4×4"):
        import_code(source, [1, 24, 24])


def test_an_rnn_tuple_unpacked_and_its_last_step_become_one_card():
    # pytorch/examples' mnist_rnn: reshape the images to sequences, the LSTM's output[:, -1, :]
    source = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self, bidirectional=False):
                super().__init__()
                self.rnn = nn.LSTM(input_size=28, hidden_size=8, batch_first=True, bidirectional=bidirectional)
                self.fc = nn.Linear(8 * (2 if bidirectional else 1), 10)

            def forward(self, x):
                x = x.reshape(-1, 28, 28)
                output, (h, c) = self.rnn(x)
                output = output[:, -1, :]
                return self.fc(output)
        """)
    result = import_code(source, [1, 28, 28])
    assert [(layer.type, layer.params, layer.name) for layer in result.network.layers] == [
        ("Flatten", {"end_dim": 2}, None), ("LSTM", {"hidden_size": 8, "bidirectional": False}, "rnn"),
        ("Linear", {"out_features": 10}, "fc")]
    # already (28, 28): the reshape is no card; flat features: it is an Unflatten
    assert [layer.type for layer in import_code(source, [28, 28]).network.layers] == ["LSTM", "Linear"]
    assert [(layer.type, layer.params) for layer in import_code(source, [784]).network.layers][0] == (
        "Unflatten", {"dim": 1, "unflattened_size": [28, 28]})
    with pytest.raises(CodeImportError, match="line 8: the reshape to 28×28 gets 3×28×28 values a sample"):
        import_code(source, [3, 28, 28])
    # without [:, -1, :] the whole sequence runs on
    sequence = import_code(source.replace("        output = output[:, -1, :]\n", ""), [28, 28]).network.layers
    assert sequence[0].params == {"hidden_size": 8, "bidirectional": False, "output": "sequence"}
    # torch's own default is time first: that is not the card
    with pytest.raises(CodeImportError, match="line 4: self.rnn is built without batch_first=True"):
        import_code(source.replace("batch_first=True, ", ""), [28, 28])
    # a bidirectional output[:, -1, :] is not what the card's last step is
    with pytest.raises(CodeImportError, match="line 10: 'output\\[:, -1, :\\]' of a bidirectional LSTM"):
        import_code(source.replace("bidirectional=False", "bidirectional=True"), [28, 28])


def test_a_function_applied_as_a_layer_is_read_as_its_chain():
    # the nn tutorial's Lambda: a module that applies the function it is given
    source = textwrap.dedent("""\
        class Lambda(nn.Module):
            def __init__(self, func):
                super().__init__()
                self.func = func

            def forward(self, x):
                return self.func(x)

        def preprocess(x):
            return x.view(-1, 1, 28, 28)

        model = nn.Sequential(
            Lambda(preprocess),
            nn.Conv2d(1, 4, 3),
            nn.AdaptiveAvgPool2d(1),
            Lambda(lambda x: x.view(x.size(0), -1)),
            Lambda(lambda x: x.view(-1, x.size(1))),
            nn.Linear(4, 2),
        )
        """)
    spec = parse_sequential(source, [784])
    assert [(layer.type, layer.name) for layer in spec.layers] == [
        ("Unflatten", None), ("Conv2d", None), ("AdaptiveAvgPool2d", None), ("Flatten", None), ("Flatten", None),
        ("Linear", None)]
    # already an image: the first Lambda is no card, so the conv keeps its index in the original, 1
    assert [(layer.type, layer.name) for layer in parse_sequential(source, [1, 28, 28]).layers][:2] == [
        ("Conv2d", "1"), ("AdaptiveAvgPool2d", "2")]
    with pytest.raises(CodeImportError, match="line 16: the view to 4 features gets 4×2×2 values a sample"):
        parse_sequential(source.replace("Pool2d(1)", "Pool2d(2)").replace("x.size(0), -1", "-1, x.size(1)"),
                         [784])
    with pytest.raises(CodeImportError, match=r"line 16: .* is not a layer Playground knows"):
        parse_sequential(source.replace("x.view(x.size(0), -1)", "x.exp()"), [784])
    with pytest.raises(CodeImportError, match="line 16: the lambda takes 2 inputs"):
        parse_sequential(source.replace("lambda x: x.view(x.size(0), -1)", "lambda x, y: x"), [784])
    with pytest.raises(CodeImportError, match="line 17: the view asks for dimension 5 of a sample of 4, which has 1"):
        parse_sequential(source.replace("x.size(1)", "x.size(5)"), [784])


def test_what_cannot_be_a_chain_is_refused_every_line_at_once_with_its_reason():
    source = textwrap.dedent("""\
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 4)
                self.b = nn.Linear(4, 4)
                self.unused = nn.Linear(4, 4)

            def forward(self, x, y):
                return x
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(4, 4)
                self.b = nn.Linear(4, 4)
                self.unused = nn.Linear(4, 4)

            def forward(self, x):
                identity = x
                x = self.a(x)
                if x.sum() > 0:
                    x = -x
                x = x + identity
                x = self.b(self.b(x))
                return torch.cat([x, x])
        model = Net()
        """)
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source, [4])
    text = str(e.value)
    assert "line 15: self.unused is built but forward() never uses it" in text
    assert "line 20: an if statement (a branch) in forward cannot be a chain of cards" in text
    assert "line 22: 'x + identity' combines tensors with add (a residual connection" in text
    assert "line 23: self.b is applied a second time: it shares its weights" in text
    assert "line 24: torch.cat() joins tensors" in text
    with pytest.raises(CodeImportError, match="line 8: Block.forward takes 2 inputs"):
        parse_sequential(source.replace("model = Net()", "model = Block()"), [4])


def test_nothing_in_a_pasted_class_is_executed(tmp_path):
    marker = tmp_path / "ran"
    source = textwrap.dedent(f"""\
        open({str(marker)!r}, 'w').write('module')
        class Net(nn.Module):
            side = open({str(marker)!r}, 'w')
            def __init__(self, n=__import__('os').system('touch {marker}')):
                super().__init__()
                open({str(marker)!r}, 'w')
                self.fc = nn.Linear(2, 3)
            def forward(self, x):
                return self.fc(x)
        net = Net()
        """)
    with pytest.raises(CodeImportError):
        parse_sequential(source, [2])   # the __init__ line with open() is refused, not run
    assert not marker.exists()
    # nor a command-line default, a function or a lambda applied as a layer
    source = textwrap.dedent(f"""\
        parser = argparse.ArgumentParser()
        parser.add_argument('--n', type=int, default=__import__('os').system('touch {marker}'))
        opt = parser.parse_args()
        class Lambda(nn.Module):
            def __init__(self, func):
                super().__init__()
                self.func = func
            def forward(self, x):
                return self.func(x)
        def touch(x):
            return open({str(marker)!r}, 'w')
        net = nn.Sequential(Lambda(touch), Lambda(lambda x: open({str(marker)!r}, 'w')), nn.Linear(2, opt.n))
        """)
    with pytest.raises(CodeImportError) as e:
        parse_sequential(source, [2])
    assert [line for line, _ in e.value.problems] == [2, 11, 12]   # the default, the function, the lambda
    assert not marker.exists()


@pytest.mark.parametrize("source", [
    "a = b\nb = a\nnet = nn.Sequential(a)",
    "def f():\n    return f()\nnet = nn.Sequential(f())",
])
def test_code_that_builds_itself_is_refused_not_a_crash(source):
    with pytest.raises(CodeImportError, match="nested more than 64 deep"):
        parse_sequential(source, [2])


def test_nested_loops_share_one_budget():
    source = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                layers = []
                for i in range(5000):
                    for j in range(5000):
                        layers.append(nn.ReLU())
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """)
    with pytest.raises(CodeImportError, match="line 6: Net.__init__: loops of more than 10,000 rounds in all"):
        parse_sequential(source, [2])
