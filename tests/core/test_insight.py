"""core.insight: every layer's output equals the hand-sliced nn.Sequential's, with given or initial weights."""

import pytest
import torch

from playground.core.checkpoint import apply_state_dict
from playground.core.errors import CheckpointError, ShapeError
from playground.core.insight import initial_state, layer_outputs
from playground.core.shapes import build_network
from playground.core.spec import LayerSpec, NetworkSpec, Project


@pytest.fixture
def lenet(examples) -> NetworkSpec:
    return Project.load(examples / "mnist_lenet.json").network


def seeded_state(network: NetworkSpec, seed: int = 7) -> dict:
    torch.manual_seed(seed)
    return build_network(network).state_dict()


def test_layer_outputs_match_slices_of_the_sequential(lenet):
    state = seeded_state(lenet)
    model = build_network(lenet)
    model.load_state_dict(state)
    model.eval()
    x = torch.randn(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))

    outputs = layer_outputs(lenet, state, x)

    assert len(outputs) == len(lenet.layers)
    with torch.no_grad():
        for i, out in enumerate(outputs):
            torch.testing.assert_close(out, model[: i + 1](x), rtol=0, atol=0)
    assert outputs[0].shape == (3, 10, 24, 24)
    assert outputs[-1].shape == (3, 10)
    assert not any(out.requires_grad for out in outputs)


def test_layer_outputs_are_in_eval_mode():
    net = NetworkSpec([4], [LayerSpec("Linear", {"out_features": 6}), LayerSpec("Dropout", {"p": 0.9}),
                            LayerSpec("BatchNorm1d", {})])
    state = seeded_state(net)
    state["2.running_mean"] = torch.full((6,), 0.5)
    x = torch.randn(5, 4)
    first, dropped, normed = layer_outputs(net, state, x)
    torch.testing.assert_close(dropped, first)   # Dropout passes everything through in eval mode
    torch.testing.assert_close(normed, (first - 0.5) / torch.sqrt(torch.tensor(1 + 1e-5)))  # running stats


def test_layer_outputs_do_not_touch_the_given_weights(lenet):
    state = seeded_state(lenet)
    before = {k: v.clone() for k, v in state.items()}
    layer_outputs(lenet, state, torch.randn(2, 1, 28, 28))
    assert all(torch.equal(state[k], before[k]) for k in before)


def test_initial_state_is_the_trainers_seeded_start_and_keeps_the_callers_random_state(lenet):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    state = initial_state(lenet, seed=5)
    assert torch.equal(torch.rand(3), expected_next)   # the caller's random stream is left alone

    torch.manual_seed(5)   # what Trainer.prepare does before building
    reference = build_network(lenet).state_dict()
    assert state.keys() == reference.keys()
    assert all(torch.equal(state[k], reference[k]) for k in state)
    assert not torch.equal(initial_state(lenet, seed=6)["0.weight"], state["0.weight"])


def test_errors_say_what_does_not_fit(lenet):
    state = seeded_state(lenet)
    del state["3.bias"]
    with pytest.raises(CheckpointError, match="layer 3 Conv2d"):
        layer_outputs(lenet, state, torch.randn(1, 1, 28, 28))
    broken = NetworkSpec([2], [LayerSpec("Conv2d", {"out_channels": 3, "kernel_size": 3})])
    with pytest.raises(ShapeError, match="layer 0 Conv2d"):
        layer_outputs(broken, {}, torch.randn(1, 2))


def test_apply_state_dict_is_what_loads_the_weights(lenet):
    # the same weights through the checkpoint loader give the same last output
    state = seeded_state(lenet, seed=3)
    model = build_network(lenet)
    apply_state_dict(model, state, lenet)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(layer_outputs(lenet, state, x)[-1], model.eval()(x), rtol=0, atol=0)
