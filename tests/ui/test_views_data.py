"""Views of what the model does, fed with weights trained headless on real data: what they draw is
checked against the core's Predictor and the dataset, not only that the widgets exist."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from playground.core.evaluation import Predictor, evaluate, evaluate_test, image_normalization
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import FINISHED, EpochEvent, Trainer
from playground.resources_path import example_path
from playground.ui.views.classification import DecisionBoundaryView
from playground.ui.views.data_cache import shared_cache
from playground.ui.views.gallery import HARDEST
from playground.ui.views.images import ConfusionMatrixView, DrawDigitView, PredictionGallery
from playground.ui.views.regression import RegressionView

WAIT_MS = 5000
_TRAINED: dict[str, tuple[dict, list[EpochEvent]]] = {}   # MNIST weights, trained once for the module


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


def train(project: Project) -> tuple[dict, list[EpochEvent]]:
    epochs: list[EpochEvent] = []
    trainer = Trainer(project, lambda e: epochs.append(e) if isinstance(e, EpochEvent) else None)
    end = trainer.run()
    assert end.status == FINISHED, end.reason
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, epochs


def shown(qtbot, view, project: Project, state: dict | None):
    """The view on screen with the project and weights, once its coalescing timer has drawn them."""
    qtbot.addWidget(view)
    view.resize(600, 450)
    view.set_project(project)
    view.set_weights(state)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    return view


# --- applicability -------------------------------------------------------------------------------


def test_each_view_applies_to_its_kind_of_data(examples):
    projects = {name: Project.load(examples / f"{name}.json") for name in ("quadratic", "xor", "spiral", "mnist_mlp")}
    assert [n for n, p in projects.items() if RegressionView.applies_to(p)] == ["quadratic"]
    assert [n for n, p in projects.items() if DecisionBoundaryView.applies_to(p)] == ["xor", "spiral"]
    for view in (PredictionGallery, ConfusionMatrixView, DrawDigitView):
        assert [n for n, p in projects.items() if view.applies_to(p)] == ["mnist_mlp"]
    broken = Project(NetworkSpec([2]), DataSpec("no such data"))
    assert not any(v.applies_to(broken) for v in (RegressionView, DecisionBoundaryView, PredictionGallery))


# --- decision boundary -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xor_run():
    project = Project.load(example_path("xor.json"))
    return project, train(project)[0]


def test_decision_boundary_draws_the_xor_classes_where_they_are(qtbot, xor_run):
    project, state = xor_run
    view = shown(qtbot, DecisionBoundaryView(), project, state)
    names = shared_cache.get(project.data).info.class_names
    same = names.index("same signs")          # core.data: class 1 where x·y > 0
    assert same == 1
    assert view.class_at(0.8, 0.8) == same
    assert view.class_at(-0.8, -0.8) == same
    assert view.class_at(0.8, -0.8) == 1 - same
    assert view.class_at(-0.8, 0.8) == 1 - same
    # the pixel drawn there has the colour of that class, strongly (the model is sure far from the axes)
    image = view.surface.image
    i, j = _pixel(view, 0.8, 0.8)
    colours = [np.array(view.train_points.data["brush"][k].color().getRgb()[:3]) for k in _first_of_each(view)]
    pixel = image[i, j, :3].astype(float)
    assert np.linalg.norm(pixel - colours[same]) < np.linalg.norm(pixel - colours[1 - same])
    assert pixel.min() < 200                  # tinted, not white


def _pixel(view, x: float, y: float) -> tuple[int, int]:
    x0, x1, y0, y1 = view.bounds
    n = view.surface.image.shape[0]
    return round((y - y0) / (y1 - y0) * (n - 1)), round((x - x0) / (x1 - x0) * (n - 1))


def _first_of_each(view) -> list[int]:
    """Index of a training point of class 0 and one of class 1."""
    y = view.dataset.y_train.tolist()
    return [y.index(0), y.index(1)]


def test_decision_boundary_surface_is_the_predictors_and_points_are_the_data(qtbot, xor_run):
    project, state = xor_run
    view = shown(qtbot, DecisionBoundaryView(), project, state)
    data = view.dataset
    predictor = Predictor.from_project(project, state, 2)
    x0, x1, y0, y1 = view.bounds
    probes = torch.tensor([[x0 + (x1 - x0) * a, y0 + (y1 - y0) * b] for a, b in
                           [(0.1, 0.1), (0.3, 0.8), (0.9, 0.2), (0.6, 0.6), (0.5, 0.1)]])
    snapped = [(x0 + round((p[0] - x0) / (x1 - x0) * 99) * (x1 - x0) / 99,
                y0 + round((p[1] - y0) / (y1 - y0) * 99) * (y1 - y0) / 99) for p in probes.tolist()]
    expected = predictor.predict(torch.tensor(snapped))[0].tolist()
    assert [view.class_at(*p) for p in probes.tolist()] == expected
    assert len(view.train_points.data) == len(data.x_train)
    assert len(view.val_points.data) == len(data.x_val)
    np.testing.assert_allclose(view.val_points.getData()[0], data.x_val[:, 0].numpy())


def test_the_checkbox_hides_validation_points_only(qtbot, xor_run):
    project, state = xor_run
    view = shown(qtbot, DecisionBoundaryView(), project, state)
    check = view.findChild(type(view.show_validation_check), "showValidationCheck")
    assert check.isChecked() and view.val_points.isVisible()
    check.setChecked(False)
    assert not view.val_points.isVisible()
    assert view.train_points.isVisible() and view.surface.isVisible()
    check.setChecked(True)
    assert view.val_points.isVisible()


def test_without_weights_the_surface_goes_and_a_hint_shows(qtbot, xor_run):
    project, state = xor_run
    view = shown(qtbot, DecisionBoundaryView(), project, state)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_weights(None)
    assert not view.surface.isVisible() and view.message.isVisible()
    with pytest.raises(LookupError):
        view.class_at(0.5, 0.5)
    assert len(view.train_points.data) == len(view.dataset.x_train)   # the data stays


def test_weights_that_do_not_fit_give_a_message_not_a_crash(qtbot, xor_run):
    project, state = xor_run
    wider = Project.from_dict(project.to_dict())
    wider.network.layers[0].params["out_features"] = 9
    view = shown(qtbot, DecisionBoundaryView(), wider, state)
    assert view.message.isVisible() and "do not fit" in view.message.text()
    assert not view.surface.isVisible()


def test_a_burst_of_weights_is_drawn_once_then_once_more_when_it_settles(qtbot, xor_run):
    project, state = xor_run
    view = shown(qtbot, DecisionBoundaryView(), project, state)
    drawn = []
    view.redrawn.connect(lambda: drawn.append(view._live))
    with qtbot.waitSignals([view.redrawn, view.redrawn], timeout=WAIT_MS):
        for _ in range(20):
            view.set_weights(state)       # as a running training sends them
    assert drawn == [True, False]          # one live redraw for twenty arrivals, one full one after


# --- regression -----------------------------------------------------------------------------------


def test_regression_curve_follows_the_quadratic_and_shows_every_point(qtbot, examples):
    project = Project.load(examples / "quadratic.json")
    state, _ = train(project)
    view = shown(qtbot, RegressionView(), project, state)
    data = shared_cache.get(project.data)
    xs, ys = view.curve_data()
    assert xs.min() < float(data.x_train.min()) and xs.max() > float(data.x_train.max())
    assert abs(np.interp(0.9, xs, ys) - 0.81) < 0.1   # noise 0.1: the fit is near x², not on it
    assert abs(np.interp(0.0, xs, ys)) < 0.1
    assert len(view.train_points.data) == len(data.x_train)
    assert len(view.val_points.data) == len(data.x_val)
    assert len(view.train_points.data) + len(view.val_points.data) == project.data.params["samples"]
    np.testing.assert_allclose(view.train_points.getData()[1], data.y_train[:, 0].numpy())
    assert "validation loss" in view.summary.text()
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_weights(None)
    assert len(view.curve_data()[0]) == 0 and view.message.isVisible()


# --- MNIST ----------------------------------------------------------------------------------------


@pytest.fixture
def mnist(mnist_root):
    """(project, dataset, state, epochs) of a small MLP trained a hundred steps on 800 real digits."""
    project = Project(
        NetworkSpec([1, 28, 28], [LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 32}),
                                  LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 10})]),
        DataSpec("mnist", {"root": str(mnist_root), "download": False}),
        TrainingSpec(loss=ComponentSpec("CrossEntropyLoss"), optimizer=ComponentSpec("Adam", {"lr": 0.003}),
                     batch_size=64, epochs=8),   # 800 training digits: a hundred steps
    )
    if "mlp" not in _TRAINED:
        _TRAINED["mlp"] = train(project)
    state, epochs = _TRAINED["mlp"]
    return project, shared_cache.get(project.data), state, epochs


def test_confusion_matrix_counts_every_validation_image_and_agrees_on_accuracy(qtbot, mnist):
    project, data, state, epochs = mnist
    view = shown(qtbot, ConfusionMatrixView(), project, state)
    matrix = view.matrix()
    n = len(data.y_val)
    assert int(matrix.sum()) == n == 200   # 20 % of the 1,000 committed digits
    predictor = Predictor.from_project(project, state, 10)
    labels, _ = predictor.predict(data.x_val)
    accuracy = float((labels == data.y_val).float().mean())
    assert float(matrix.diagonal().sum()) / n == pytest.approx(accuracy)
    assert accuracy == pytest.approx(epochs[-1].val_accuracy)     # the trainer counted the same
    assert accuracy > 0.5   # it learned (chance is 0.1); the exact figure (0.82 here) is the CPU's rounding
    assert f"{accuracy:.2%}" in view.accuracy_label.text()
    table = view.table
    assert table.item(3, 3).text() == f"{int(matrix[3, 3]):,}"
    per_class = evaluate(predictor, data.x_val, data.y_val).per_class
    assert table.item(7, 10).text() == f"{float(per_class[7]):.1%}"


def test_clicking_a_cell_shows_its_images(qtbot, mnist):
    project, data, state, _ = mnist
    view = shown(qtbot, ConfusionMatrixView(), project, state)
    matrix = view.matrix().clone().fill_diagonal_(0)
    t, p = divmod(int(matrix.argmax()), 10)          # the most common confusion
    item = view.table.item(t, p)
    with qtbot.waitSignal(view.cell_clicked, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(view.table.viewport(), Qt.LeftButton, pos=view.table.visualItemRect(item).center())
    assert blocker.args == [t, p]
    samples = view.cell_samples(t, p)
    assert len(samples) == int(view.matrix()[t, p]) > 0
    assert all(int(data.y_val[i]) == t for i in samples)
    shown_entries = view.samples.entries()
    assert [e.index for e in shown_entries] == samples and all(e.wrong for e in shown_entries)


def test_the_test_set_button_shows_the_official_split(qtbot, mnist):
    project, data, state, _ = mnist
    view = shown(qtbot, ConfusionMatrixView(), project, state)
    button = view.findChild(type(view.test_button), "testEvalButton")
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.LeftButton)
    expected = evaluate_test(Predictor.from_project(project, state, 10), data)
    assert view.source == "test"
    assert view.accuracy() == pytest.approx(expected.accuracy)
    assert torch.equal(view.matrix(), expected.matrix)
    assert int(view.matrix().sum()) == len(data.y_test)
    assert f"{expected.accuracy:.2%}" in view.accuracy_label.text() and "Test set" in view.accuracy_label.text()
    qtbot.mouseClick(view.validation_button, Qt.LeftButton)
    assert view.source == "validation" and int(view.matrix().sum()) == len(data.y_val)


def test_gallery_marks_the_mistakes_and_puts_the_hardest_first(qtbot, mnist):
    project, data, state, _ = mnist
    view = shown(qtbot, PredictionGallery(), project, state)
    assert view.sort_combo.currentText() == HARDEST == "Hardest first (highest loss)"
    predictor = Predictor.from_project(project, state, 10)
    labels, confidence = predictor.predict(data.x_val)
    losses = predictor.sample_losses(data.x_val, data.y_val)
    entries = view.entries()
    assert sorted(e.index for e in entries) == list(range(len(data.y_val)))
    for e in entries:
        assert e.predicted == int(labels[e.index]) and e.true == int(data.y_val[e.index])
        assert e.wrong == (e.predicted != e.true)
    assert sum(e.wrong for e in entries) == int((labels != data.y_val).sum()) > 0
    ordered = losses[[e.index for e in entries]]
    assert entries[0].index == int(losses.argmax())
    assert bool((ordered[:-1] >= ordered[1:]).all())
    assert entries[0].confidence == pytest.approx(float(confidence[entries[0].index]))

    view.sort_combo.setCurrentText("Dataset order")
    assert [e.index for e in view.entries()] == list(range(len(data.y_val)))
    view.mistakes_check.setChecked(True)
    assert all(e.wrong for e in view.entries()) and len(view.entries()) == int((labels != data.y_val).sum())


def test_gallery_predicts_a_sample_while_training_runs_and_all_after(qtbot, mnist, monkeypatch):
    from playground.ui.views import gallery

    monkeypatch.setattr(gallery, "LIVE_LIMIT", 50)   # fewer than the 200 validation digits here
    project, data, state, _ = mnist
    view = shown(qtbot, PredictionGallery(), project, state)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_weights(state)            # a second copy at once: training is running
    assert len(view.entries()) == gallery.LIVE_LIMIT < len(data.y_val)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        pass                               # the weights stop coming: all of the validation set
    assert len(view.entries()) == len(data.y_val)


def test_an_empty_drawing_leaves_streaming_weights_unloaded_until_the_person_draws(qtbot, mnist):
    """During a run weights arrive five times a second; loading each into the model for an empty
    canvas took the window ~40 ms a time. They wait, and the first stroke uses the newest."""
    project, data, state, _ = mnist
    view = shown(qtbot, DrawDigitView(), project, None)
    newer = {k: v + 1e-3 if v.is_floating_point() else v for k, v in state.items()}
    for weights in (state, newer):
        with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
            view.set_weights(weights)
    assert view.predictor is None and not view._state_loaded
    assert view.certainty.text() == "draw something"
    qtbot.mousePress(view.canvas, Qt.LeftButton, pos=QPoint(150, 40))
    qtbot.mouseMove(view.canvas, QPoint(150, 200))
    qtbot.mouseRelease(view.canvas, Qt.LeftButton, pos=QPoint(150, 200))
    p = view.probabilities()
    mine = Predictor.from_project(project, newer, 10).probabilities(view.input_tensor())[0]
    torch.testing.assert_close(p, mine)


def test_drawing_a_vertical_line_feeds_the_network_a_centred_bar(qtbot, mnist):
    project, data, state, _ = mnist
    view = shown(qtbot, DrawDigitView(), project, state)
    canvas = view.canvas
    assert view.probabilities() is None                       # nothing drawn yet
    qtbot.mousePress(canvas, Qt.LeftButton, pos=QPoint(150, 40))
    for y in range(50, 250, 10):
        qtbot.mouseMove(canvas, QPoint(150, y))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=QPoint(150, 240))
    x = view.input_tensor()
    assert x.shape == (1, 1, 28, 28)
    mean, std = image_normalization(project.data)
    pixels = x[0, 0] * std + mean                              # back to ink in [0, 1]
    assert float(x.min()) == pytest.approx(-1.0)               # normalised as the dataset: (x - 0.5) / 0.5
    rows, cols = torch.nonzero(pixels > 0.1, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 >= 18              # tall ...
    assert int(cols.max() - cols.min()) + 1 <= 4               # ... and thin
    assert 11 <= int(cols.min()) and int(cols.max()) <= 16     # in the middle, as MNIST centres digits
    p = view.probabilities()
    assert p.shape == (10,) and float(p.sum()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(p, Predictor.from_project(project, state, 10).probabilities(x)[0])
    qtbot.waitUntil(lambda: np.allclose(view.bars.opts["width"], p.numpy(), atol=1e-6), timeout=WAIT_MS)
    assert view.prediction.text() == data.info.class_names[int(p.argmax())]

    qtbot.mouseClick(view.clear_button, Qt.LeftButton)
    assert float(view.input_tensor().max()) == pytest.approx(-1.0) and view.probabilities() is None
