"""The network view, the prediction surface and the discretize toggle: what they draw is the network job's data
(itself checked against torch in tests/core/test_neurons.py), they follow the project's edits, and hover and
click on the network answer with the weight and the neuron under the mouse."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt

from playground.core.data import load
from playground.core.evaluation import Predictor
from playground.core.neurons import network_data
from playground.core.shapes import build_network
from playground.core.spec import (
    ComponentSpec,
    DataSpec,
    LayerSpec,
    NetworkSpec,
    Project,
    TrainingSpec,
)
from playground.ui.views.classification import DecisionBoundaryView
from playground.ui.views.network import MOST, RESOLUTION, NetworkView
from playground.ui.views.plane import diverging_rgba, plane_bounds
from playground.ui.views.surface import PredictionSurfaceView

WAIT_MS = 5000


def circles(hidden: int = 3, features=("x1", "x2")) -> Project:
    layers = [LayerSpec("Linear", {"out_features": hidden}), LayerSpec("Tanh"), LayerSpec("Linear", {"out_features": 2})]
    data = DataSpec("circles", {"samples": 60}, features=list(features) if features != ("x1", "x2") else [])
    return Project(NetworkSpec([len(features)], layers), data, name="c")


def state_of(project: Project) -> dict:
    torch.manual_seed(1)
    return {k: v.clone() for k, v in build_network(project.network).state_dict().items()}


def shown(qtbot, view, project, state):
    qtbot.addWidget(view)
    view.resize(760, 420)
    view.set_project(project)
    view.set_weights(state)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    return view


def expected_columns(project, state):
    dataset = load(project.data)
    predictor = Predictor.from_project(project, state, dataset.info.n_classes)
    with predictor.evaluating():
        return network_data(predictor, dataset, plane_bounds(dataset), RESOLUTION, MOST)["columns"]


def test_the_view_draws_each_neuron_from_the_network_job(qtbot):
    project = circles(hidden=3, features=("x1", "x2", "x1^2"))
    state = state_of(project)
    view = shown(qtbot, NetworkView(), project, state)
    canvas = view.canvas
    expected = expected_columns(project, state)
    assert [c["title"] for c in canvas.columns] == ["features", "Linear 0 · Tanh", "Linear 2"]
    assert [len(c["shown"]) for c in canvas.columns] == [3, 3, 2]
    for col, want in zip(canvas.columns, expected):
        assert torch.equal(col["heatmaps"], want["heatmaps"])
    # the picture of a neuron is its heatmap coloured, row 0 (lowest x₂) at the bottom
    image = canvas.neuron_image(1, 2)
    h = expected[1]["heatmaps"][2].numpy()
    rgba = diverging_rgba(h, float(np.abs(h).max()))
    pixel = image.pixelColor(5, 0)   # top row: the grid's highest x₂
    assert (pixel.red(), pixel.green(), pixel.blue()) == tuple(rgba[RESOLUTION - 1, 5, :3])
    assert "accuracy" in view.summary.text()


def test_hover_tells_the_weight_and_click_enlarges_the_neuron(qtbot):
    project = circles(hidden=3)
    state = state_of(project)
    view = shown(qtbot, NetworkView(), project, state)
    canvas = view.canvas
    # a connection from input x₂ to neuron 1 of the hidden layer: the middle of its line
    source, target = canvas.box(0, 1), canvas.box(1, 1)
    middle = QPointF((source.right() + target.left()) / 2, (source.center().y() + target.center().y()) / 2)
    weight = float(state["0.weight"][1, 1])
    tip = canvas.tooltip_at(middle)
    assert tip.startswith(f"weight {weight:.4g}\nfrom x₂ of inputs\nto neuron 1 of Linear 0 · Tanh"), tip
    assert "neuron 2 of Linear 0 · Tanh" in canvas.tooltip_at(canvas.box(1, 2).center())
    assert canvas.tooltip_at(QPointF(2, 2)) == ""
    assert not view.enlarged.isVisible()
    qtbot.mouseClick(canvas, Qt.LeftButton, pos=canvas.box(1, 2).center().toPoint())
    assert canvas.selected == (1, 2) and view.enlarged.isVisible()
    assert "neuron 2 of Linear 0" in view.enlarged_caption.text()
    big = view.enlarged.pixmap().toImage()
    assert big.size().width() > canvas.neuron_image(1, 2).width()
    qtbot.mouseClick(canvas, Qt.LeftButton, pos=canvas.box(1, 2).center().toPoint())   # again: closed
    assert canvas.selected is None and not view.enlarged.isVisible()


@pytest.fixture
def wide():
    project = circles(hidden=64)
    return project, state_of(project)


def test_a_wide_layer_says_how_many_are_hidden(qtbot, wide):
    project, state = wide
    view = shown(qtbot, NetworkView(), project, state)
    col = view.canvas.columns[1]
    assert col["width"] == 64 and len(col["shown"]) == MOST
    assert torch.equal(col["shown"], expected_columns(project, state)[1]["shown"])
    assert view.canvas.more(1) == "+56 more" and view.canvas.more(0) == "" and view.canvas.more(2) == ""


def test_the_view_follows_every_edit_of_the_cards(qtbot):
    project = circles(hidden=3)
    view = shown(qtbot, NetworkView(), project, state_of(project))
    edited = circles(hidden=5)
    view.set_project(edited)
    view.set_weights(state_of(edited))
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        pass
    assert [c["width"] for c in view.canvas.columns] == [2, 5, 2]
    # a layer the view cannot draw: it says why and asks for nothing
    conv = circles(hidden=5)
    conv.network.layers.insert(0, LayerSpec("Unflatten", {"dim": 1, "unflattened_size": [1, 2]}))
    with qtbot.waitSignal(view.requests_changed, timeout=WAIT_MS):
        view.set_project(conv)
    assert view.requests(False) == [] and view.not_mlp.isVisibleTo(view)
    assert "layer 0 Unflatten" in view.not_mlp.text()
    assert view.canvas.columns == []


def test_discretize_colours_the_whole_region_the_same(qtbot):
    project = circles(hidden=3)
    view = shown(qtbot, DecisionBoundaryView(), project, state_of(project))
    soft = view.surface_colors().copy()
    view.discretize_check.setChecked(True)
    hard = view.surface_colors()
    labels = view._labels
    # discretized, every point of a class has that class's one colour
    for k in np.unique(labels):
        assert len(np.unique(hard[labels == k].reshape(-1, 4), axis=0)) == 1
    assert not np.array_equal(soft, hard)


def test_the_prediction_surface_of_a_2d_regression(qtbot):
    layers = [LayerSpec("Linear", {"out_features": 4}), LayerSpec("Tanh"), LayerSpec("Linear", {"out_features": 1})]
    project = Project(NetworkSpec([2], layers), DataSpec("plane", {"samples": 50}),
                      TrainingSpec(loss=ComponentSpec("MSELoss")))
    assert PredictionSurfaceView.applies_to(project) and NetworkView.applies_to(project)
    assert not DecisionBoundaryView.applies_to(project)
    state = state_of(project)
    view = shown(qtbot, PredictionSurfaceView(), project, state)
    dataset = load(project.data)
    predictor = Predictor.from_project(project, state, None)
    from playground.core.evaluation import grid

    _, _, points = grid(plane_bounds(dataset), 100)
    values = predictor.outputs(points)[:, 0].numpy()
    assert np.array_equal(view.surface_colors().reshape(-1, 4), diverging_rgba(values, view.scale))
    assert "training loss" in view.summary.text()
    network = shown(qtbot, NetworkView(), project, state)
    assert "training loss" in network.summary.text()
