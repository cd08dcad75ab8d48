"""Weight names between Playground and the code a network came from (core.naming)."""

import textwrap

import pytest
import torch
from torch import nn

from playground.core.checkpoint import apply_state_dict, load_state_dict, save_checkpoint, save_weights
from playground.core.code_import import parse_sequential
from playground.core.errors import CheckpointError
from playground.core.naming import match_in_order, original_state_dict
from playground.core.shapes import build_network
from playground.core.spec import Project

SOURCE = textwrap.dedent("""\
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.fc1 = nn.Linear(4 * 6 * 6, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.conv1(x))), 2)
            return self.fc1(torch.flatten(x, 1))
    """)


class Net(nn.Module):
    """SOURCE, written here by hand as the original the test compares against."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc1 = nn.Linear(4 * 6 * 6, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(nn.functional.relu(self.bn(self.conv1(x))), 2)
        return self.fc1(torch.flatten(x, 1))


@pytest.fixture
def network():
    return parse_sequential(SOURCE, [1, 14, 14])


def test_exported_weights_carry_the_original_names_and_load_strictly_into_the_class(network):
    torch.manual_seed(0)
    cards = build_network(network).eval()
    state = original_state_dict(network, cards.state_dict())
    assert list(state) == list(Net().state_dict())          # conv1.weight, bn.running_mean, ..., not 0.weight
    original = Net().eval()
    original.load_state_dict(state, strict=True)
    x = torch.randn(3, 1, 14, 14, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(original(x), cards(x))            # the same ops on the same weights, in order


def test_weights_trained_by_the_original_load_into_the_cards_by_their_own_names(network, tmp_path):
    torch.manual_seed(2)
    original = Net().eval()
    path = tmp_path / "net.pt"
    torch.save(original.state_dict(), path)
    cards = build_network(network, initialise=False).eval()
    apply_state_dict(cards, load_state_dict(path), network, source=path)
    x = torch.randn(2, 1, 14, 14, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(cards(x), original(x))


def test_the_names_survive_the_project_file_and_the_command_line_export(network, tmp_path, monkeypatch):
    from playground.cli import main
    from playground.core.checkpoint import Checkpoint

    project = Project(network, name="net")
    assert Project.from_json(project.to_json()).network == network
    torch.manual_seed(0)
    save_checkpoint(Checkpoint(project, build_network(network).state_dict()), tmp_path / "c.pt")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "c.pt", "--format", "state_dict", "--out", "w.pt"]) == 0
    Net().load_state_dict(torch.load(tmp_path / "w.pt"), strict=True)


def test_other_names_pair_by_order_and_shape_only_when_every_layer_matches(network):
    cards = build_network(network, initialise=False)
    theirs = {f"model.{k}": v for k, v in Net().state_dict().items()}
    with pytest.raises(CheckpointError) as e:
        apply_state_dict(cards, theirs, network)
    assert "pair with this network's in order and shape" in str(e.value)     # headless: refused, said why
    pairs = match_in_order(cards.state_dict(), theirs)
    assert pairs[0] == ("model.conv1.weight", "0.weight", (4, 1, 3, 3))
    assert [b for _, b, _ in pairs] == list(cards.state_dict())
    assert pairs[-1] == ("model.fc1.bias", "5.bias", (10,))
    apply_state_dict(cards, {ours: theirs[t] for t, ours, _ in pairs}, network)   # what the window does

    wrong = dict(theirs)
    wrong["model.fc1.weight"] = torch.zeros(10, 3)
    with pytest.raises(CheckpointError, match="does not match this network's layer 5"):
        match_in_order(cards.state_dict(), wrong)
    with pytest.raises(CheckpointError, match="weights for 2 layers and this network for 3"):
        match_in_order(cards.state_dict(), {k: v for k, v in theirs.items() if not k.startswith("model.bn")})


def test_plain_playground_keys_still_load_into_a_named_network(network, tmp_path):
    cards = build_network(network)
    save_weights(cards.state_dict(), tmp_path / "plain.pt")
    apply_state_dict(build_network(network, initialise=False), load_state_dict(tmp_path / "plain.pt"), network)


# --- the names in the code -----------------------------------------------------------------------

def _run(source: str) -> nn.Module:
    """Playground's own generated code (never pasted code) built here, to read its keys."""
    from collections import OrderedDict
    return eval(source, {"nn": nn, "OrderedDict": OrderedDict})


def test_the_code_of_named_cards_has_the_keys_of_the_exported_weights(network):
    from playground.core.codegen import panel_source, sequential_source

    source = sequential_source(network)
    assert source.startswith("nn.Sequential(OrderedDict([") and "('conv1', nn.Conv2d(1, 4, 3))" in source
    torch.manual_seed(0)
    cards = build_network(network).eval()
    exported = original_state_dict(network, cards.state_dict())
    code = _run(source).eval()
    code.load_state_dict(exported, strict=True)              # the dock's code takes the exported weights
    x = torch.randn(2, 1, 14, 14, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(code(x), cards(x))
    assert parse_sequential(panel_source(network), [1, 14, 14]).layers == network.layers   # Apply: the same cards


def test_nested_names_become_nested_sequentials_and_a_reused_relu_a_key_of_its_own():
    from playground.core.codegen import sequential_source

    source = textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
                self.act = nn.ReLU()
                self.fc = nn.Linear(4 * 4 * 4, 8)
                self.out = nn.Linear(8, 2)

            def forward(self, x):
                x = torch.flatten(self.act(self.features(x)), 1)
                return self.out(self.act(self.fc(x)))
        """)
    network = parse_sequential(source, [1, 6, 6])
    assert [layer.name for layer in network.layers] == ["features.0", "features.1", "act", None, "fc", "act", "out"]
    code = _run(sequential_source(network))
    assert list(dict(code.named_children())) == ["features", "act", "3", "fc", "act_2", "out"]
    torch.manual_seed(0)
    state = original_state_dict(network, build_network(network).state_dict())
    assert list(code.state_dict()) == list(state) == ["features.0.weight", "features.0.bias", "fc.weight",
                                                      "fc.bias", "out.weight", "out.bias"]


def test_names_that_cannot_be_a_module_tree_leave_the_code_plain(network):
    from playground.core.codegen import sequential_source
    from playground.core.naming import module_tree

    for bad in ("training", "a..b", ""):
        renamed = Project.from_json(Project(network).to_json()).network
        renamed.layers[0].name = bad
        assert module_tree(renamed) is None
        assert sequential_source(renamed).startswith("nn.Sequential(\n")
    twice = Project.from_json(Project(network).to_json()).network
    twice.layers[-1].name = "conv1"                          # two weighted layers under one name
    assert module_tree(twice) is None and original_state_dict(twice, build_network(twice).state_dict()).keys() \
        == build_network(twice).state_dict().keys()


def test_an_exported_script_of_named_cards_loads_its_weights_by_those_names(network, tmp_path):
    import runpy

    from playground.core.exporting import export_script

    torch.manual_seed(0)
    cards = build_network(network).eval()
    export_script(network, tmp_path / "net.py", "net", state_dict=cards.state_dict())
    assert "from collections import OrderedDict" in (tmp_path / "net.py").read_text()
    # Open… in the Code dock reads it back as the same named cards
    assert parse_sequential((tmp_path / "net.py").read_text(), [1, 14, 14]).layers == network.layers
    assert list(torch.load(tmp_path / "net.weights.pt")) == list(Net().state_dict())
    model = runpy.run_path(str(tmp_path / "net.py"))["build_model"]()     # Playground's script, loading strictly
    x = torch.randn(2, 1, 14, 14, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(model(x), cards(x))
