"""core.neurons and the network / surface view jobs: each neuron's heatmap is that neuron's activation at each
grid point, computed by hand with torch; the columns, the chosen neurons and the weights between them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from playground.core import features
from playground.core.data import load
from playground.core.evaluation import Predictor, grid
from playground.core.neurons import NotAnMLP, columns, shown_neurons
from playground.core.shapes import build_network
from playground.core.spec import DataSpec, LayerSpec, NetworkSpec
from playground.core.view_jobs import ViewRequest, compute

BOUNDS = (-1.5, 1.0, -0.5, 2.0)


def mlp(inputs: int, outputs: int = 2) -> NetworkSpec:
    return NetworkSpec([inputs], [LayerSpec("Linear", {"out_features": 5}), LayerSpec("Tanh"),
                                  LayerSpec("Linear", {"out_features": 4}), LayerSpec("ReLU"),
                                  LayerSpec("Dropout", {"p": 0.3}), LayerSpec("Linear", {"out_features": outputs})])


def predictor_for(network: NetworkSpec, loss: str = "CrossEntropyLoss", n_classes: int | None = 2) -> Predictor:
    torch.manual_seed(3)
    state = build_network(network).state_dict()
    return Predictor(network, state, loss, n_classes)


def network_result(predictor, dataset, resolution=6, most=8, output_resolution=5) -> dict:
    request = ViewRequest("networkView", "network", {"bounds": BOUNDS, "resolution": resolution, "most": most,
                                                      "output_resolution": output_resolution})
    result = compute(request, predictor, dataset)
    assert result.error == "", result.error
    return result.data


def test_the_columns_of_an_mlp():
    cols = columns(mlp(2))
    assert [(c.layer, c.last, c.width, c.title) for c in cols] == [
        (-1, -1, 2, "inputs"), (0, 1, 5, "Linear 0 · Tanh"), (2, 4, 4, "Linear 2 · ReLU · Dropout"),
        (5, 5, 2, "Linear 5")]
    with pytest.raises(NotAnMLP, match=r"not samples of shape \(1, 4, 4\)"):
        columns(NetworkSpec([1, 4, 4], [LayerSpec("Conv2d", {"out_channels": 2, "kernel_size": 3})]))
    with pytest.raises(NotAnMLP, match="layer 1 Unflatten gives outputs of shape"):
        columns(NetworkSpec([4], [LayerSpec("Linear", {"out_features": 4}),
                                  LayerSpec("Unflatten", {"dim": 1, "unflattened_size": [2, 2]})]))
    with pytest.raises(NotAnMLP, match="no Linear layer"):
        columns(NetworkSpec([2], [LayerSpec("ReLU")]))


def test_each_heatmap_is_the_neurons_activation_on_the_grid():
    spec = DataSpec("circles", {"samples": 40}, features=["x1", "x2", "x1^2", "sin(x2)"])
    dataset = load(spec)
    predictor = predictor_for(mlp(4))
    data = network_result(predictor, dataset)
    model = predictor.model
    _, _, points = grid(BOUNDS, 6)
    x = features.apply(spec.features, points)
    # the same torch functions the layers call, on the same float32 values in the same order: exact
    h1 = torch.tanh(F.linear(x, model[0].weight, model[0].bias))
    h2 = torch.relu(F.linear(h1, model[2].weight, model[2].bias))       # Dropout is off in eval mode
    out = F.linear(h2, model[5].weight, model[5].bias)
    cols = data["columns"]
    assert [c["title"] for c in cols] == ["features", "Linear 0 · Tanh", "Linear 2 · ReLU · Dropout", "Linear 5"]
    assert cols[0]["names"] == ["x₁", "x₂", "x₁²", "sin x₂"]
    for col, values in zip(cols, (x, h1, h2, out)):
        assert torch.equal(col["shown"], torch.arange(values.shape[1]))
        assert col["heatmaps"].shape == (values.shape[1], 6, 6)
        # row i of a heatmap is the grid's y i, column j its x j (evaluation.grid's order)
        assert torch.equal(col["heatmaps"], values.T.reshape(-1, 6, 6))
    assert torch.equal(cols[0]["heatmaps"][2, 1, 4], points[1 * 6 + 4, 0] ** 2)
    assert torch.equal(cols[2]["weights"], model[2].weight) and torch.equal(cols[3]["bias"], model[5].bias)
    assert cols[0]["weights"] is None
    # the output, large: the decision surface on the same features
    assert data["output_kind"] == "boundary"
    _, _, big = grid(BOUNDS, 5)
    labels = predictor.probabilities(features.apply(spec.features, big)).argmax(1)
    assert torch.equal(data["output"]["labels"], labels)


def test_a_wide_layer_shows_its_most_active_neurons_and_the_weights_between_them():
    net = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 30}), LayerSpec("ReLU"),
                            LayerSpec("Linear", {"out_features": 12}), LayerSpec("Linear", {"out_features": 2})])
    predictor = predictor_for(net)
    data = network_result(predictor, load(DataSpec("xor", {"samples": 20})), most=4)
    model = predictor.model
    _, _, points = grid(BOUNDS, 6)
    h1 = torch.relu(F.linear(points, model[0].weight, model[0].bias))
    first, second = data["columns"][1], data["columns"][2]
    assert first["width"] == 30 and len(first["shown"]) == 4
    activity = h1.abs().mean(0)
    assert set(first["shown"].tolist()) == set(activity.topk(4).indices.tolist())
    assert first["shown"].tolist() == sorted(first["shown"].tolist())
    assert torch.equal(first["heatmaps"], h1[:, first["shown"]].T.reshape(4, 6, 6))
    # the connections drawn are the weights from the shown neurons to the shown neurons
    assert torch.equal(second["weights"], model[2].weight[second["shown"]][:, first["shown"]])


def test_shown_neurons_of_a_column_that_fits():
    assert torch.equal(shown_neurons(torch.randn(10, 3), 3), torch.arange(3))
    values = torch.tensor([[0.0, 5.0, -9.0, 1.0]])
    assert shown_neurons(values, 2).tolist() == [1, 2]


def test_regression_on_the_plane_has_a_prediction_surface():
    dataset = load(DataSpec("plane", {"samples": 30}))
    net = mlp(2, outputs=1)
    predictor = predictor_for(net, "MSELoss", None)
    data = network_result(predictor, dataset)
    assert data["output_kind"] == "surface"
    _, _, big = grid(BOUNDS, 5)
    assert torch.equal(data["output"]["values"], predictor.outputs(big)[:, 0])
    surface = compute(ViewRequest("v", "surface", {"bounds": BOUNDS, "resolution": 5}), predictor, dataset).data
    assert torch.equal(surface["values"], data["output"]["values"])
    assert surface["val_loss"] == pytest.approx(float(predictor.sample_losses(dataset.x_val, dataset.y_val).mean()))


def test_the_network_job_says_why_it_cannot_draw():
    dataset = load(DataSpec("linear", {"samples": 20}))
    predictor = predictor_for(NetworkSpec([1], [LayerSpec("Linear", {"out_features": 1})]), "MSELoss", None)
    request = ViewRequest("v", "network", {"bounds": BOUNDS, "resolution": 4, "most": 4, "output_resolution": 4})
    result = compute(request, predictor, dataset)
    assert result.error == "linear gives no points of the plane to draw the neurons over"
