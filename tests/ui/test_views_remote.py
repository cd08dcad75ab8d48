"""The views while a run trains in the worker (remote): weights that arrive are not evaluated here, and
a result the worker computed (core.view_jobs.compute, run here on the same weights) paints the same
picture as the view's own local path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core.evaluation import Predictor
from playground.core.shapes import build_network
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.view_jobs import ViewResult, compute
from playground.ui.views.classification import DecisionBoundaryView
from playground.ui.views.confusion import ConfusionMatrixView
from playground.ui.views.gallery import LIVE_LIMIT, PredictionGallery
from playground.ui.views.insight import LayerOutputView
from playground.ui.views.panel import ViewsPanel
from playground.ui.views.regression import RegressionView

WAIT_MS = 5000


def seeded_state(project: Project, seed: int = 3) -> dict:
    torch.manual_seed(seed)
    return build_network(project.network).state_dict()


@pytest.fixture
def xor(examples) -> Project:
    project = Project.load(examples / "xor.json")
    project.data.params["samples"] = 200
    return project


@pytest.fixture
def digits(mnist_root) -> Project:
    """An MLP on 1,000 real digits: 800 to train, 200 validation images."""
    return Project(
        NetworkSpec([1, 28, 28], [LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 16}),
                                  LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 10})]),
        DataSpec("mnist", {"root": str(mnist_root), "download": False}),
        TrainingSpec(loss=ComponentSpec("CrossEntropyLoss")),
    )


def local(qtbot, view, project: Project, state: dict, full: bool = False):
    """The view drawn on its own from `state` (full: all the data, else the live sample)."""
    qtbot.addWidget(view)
    view.resize(600, 450)
    view.set_project(project)
    view.set_weights(state)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    view.refresh(full=full)
    return view


def remote(qtbot, view, project: Project, state: dict):
    """The view in remote mode, shown, after weights arrived: it must not have evaluated them."""
    qtbot.addWidget(view)
    view.resize(600, 450)
    view.set_remote(True)
    view.set_project(project)
    view.show()
    qtbot.waitExposed(view)
    for _ in range(3):                       # as a run would send them
        view.set_weights(state)
    view.refresh()                           # even asked to: nothing computed from the weights
    assert view.predictor is None
    assert not view._redraw_timer.isActive()
    return view


def worker_results(view, project: Project, state: dict, n_classes: int | None) -> list[ViewResult]:
    """What the worker would send: the view's live requests, computed by view_jobs on these weights."""
    predictor = Predictor.from_project(project, state, n_classes)
    return [compute(r, predictor, view.dataset) for r in view.requests(False)]


def give(qtbot, view, results: list[ViewResult]) -> None:
    for result in results:
        assert result.error == "", result.error
        with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
            view.show_result(result)


def test_the_decision_boundary_paints_the_workers_result_as_its_own(qtbot, xor):
    state = seeded_state(xor)
    view = remote(qtbot, DecisionBoundaryView(), xor, state)
    with pytest.raises(LookupError):
        view.class_at(0.0, 0.0)                 # no surface: the weights were not evaluated
    give(qtbot, view, worker_results(view, xor, state, 2))
    mine = local(qtbot, DecisionBoundaryView(), xor, state)
    assert np.array_equal(view._labels, mine._labels)
    assert np.array_equal(view.surface.image, mine.surface.image)
    x0, x1, y0, y1 = view.bounds
    for a, b in ((0.1, 0.1), (0.3, 0.8), (0.9, 0.2), (0.6, 0.6)):
        point = (x0 + (x1 - x0) * a, y0 + (y1 - y0) * b)
        assert view.class_at(*point) == mine.class_at(*point)
    assert view.summary.text() == mine.summary.text() and "accuracy" in view.summary.text()


def test_the_fit_paints_the_workers_curve_and_losses(qtbot, examples):
    project = Project.load(examples / "quadratic.json")
    state = seeded_state(project)
    view = remote(qtbot, RegressionView(), project, state)
    assert len(view.curve_data()[0]) == 0
    give(qtbot, view, worker_results(view, project, state, None))
    mine = local(qtbot, RegressionView(), project, state)
    for got, want in zip(view.curve_data(), mine.curve_data()):
        assert np.array_equal(got, want) and len(got) > 0
    assert view.summary.text() == mine.summary.text() and "validation loss" in view.summary.text()


def test_the_gallery_paints_the_workers_live_sample(qtbot, digits, monkeypatch):
    from playground.ui.views import gallery

    monkeypatch.setattr(gallery, "LIVE_LIMIT", 50)        # fewer than the 200 validation digits
    state = seeded_state(digits)
    view = remote(qtbot, PredictionGallery(), digits, state)
    assert view.entries() == []
    results = worker_results(view, digits, state, 10)
    assert [r.data["labels"].shape[0] for r in results] == [50]
    give(qtbot, view, results)
    mine = local(qtbot, PredictionGallery(), digits, state, full=False)
    assert view.entries() == mine.entries() and len(view.entries()) == 50
    assert view.summary.text() == mine.summary.text()
    assert "the first 50 of 200 validation images" in view.summary.text()


def test_the_confusion_matrix_paints_the_workers_counts_and_offers_the_test_set_only_after(qtbot, digits):
    state = seeded_state(digits)
    view = remote(qtbot, ConfusionMatrixView(), digits, state)
    assert view.matrix() is None
    give(qtbot, view, worker_results(view, digits, state, 10))
    mine = local(qtbot, ConfusionMatrixView(), digits, state, full=False)
    assert torch.equal(view.matrix(), mine.matrix()) and int(view.matrix().sum()) == min(LIVE_LIMIT, 200)
    for t in range(10):
        for p in range(11):                                  # the counts and the per-class accuracy column
            assert view.table.item(t, p).text() == mine.table.item(t, p).text()
    assert view.accuracy_label.text() == mine.accuracy_label.text()
    assert not view.test_button.isEnabled()                 # the test set waits for the run's end

    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_remote(False)                               # the run ended: its last weights, here, in full
    assert view.test_button.isEnabled() and view.predictor is not None


def test_a_failed_job_from_the_worker_is_said_in_the_view_and_reported_once(qtbot, xor, monkeypatch):
    import sys

    reported = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: reported.append(exc))
    view = remote(qtbot, DecisionBoundaryView(), xor, seeded_state(xor))
    failed = ViewResult(view.objectName(), "boundary", {}, "RuntimeError: boom", "Traceback ...\nRuntimeError: boom")
    for _ in range(3):
        with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
            view.show_result(failed)
    assert view.message.isVisible() and "cannot draw these predictions (RuntimeError: boom)" in view.message.text()
    assert len(reported) == 1 and "Traceback ..." in str(reported[0][1])


def test_the_layer_output_paints_the_workers_output(qtbot, xor):
    state = seeded_state(xor)
    view = LayerOutputView()
    qtbot.addWidget(view)
    view.set_remote(True)
    view.set_project(xor)
    view.show()
    qtbot.waitExposed(view)
    view.set_weights(state)
    assert view.shown_kind() == "none" and len(view.shown_values()) == 0   # not evaluated here
    view.set_layer(0)
    [asked] = view.requests(False)
    assert asked.params == {"layer": 0, "sample": 0}
    view.show_result(compute(asked, Predictor.of_network(xor.network, state), view_dataset(xor)))
    mine = LayerOutputView()
    qtbot.addWidget(mine)
    mine.set_project(xor)
    mine.set_weights(state)
    mine.set_layer(0)
    assert torch.equal(view.shown_values(), mine.shown_values()) and view.shown_layer() == 0
    assert view.shown_kind() == mine.shown_kind() == "histogram"
    assert "trained weights" in view.heading.text()

    stale = compute(asked, Predictor.of_network(xor.network, state), view_dataset(xor))
    view.set_layer(1)                                   # asked for another layer before the result came
    view.show_result(stale)
    assert view.shown_layer() == -1                     # layer 0's output is not drawn as layer 1's


def view_dataset(project: Project):
    from playground.ui.views.data_cache import shared_cache

    return shared_cache.get(project.data)


def test_the_panel_asks_for_the_tab_on_screen_and_routes_results_back(qtbot, xor):
    panel = ViewsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    with qtbot.waitSignal(panel.requests_changed, timeout=WAIT_MS):
        panel.set_project(xor)
    assert panel.live_requests() == []                  # hidden: nothing is on screen
    state = seeded_state(xor)
    panel.set_remote(True)
    with qtbot.waitSignal(panel.requests_changed, timeout=WAIT_MS):
        panel.show()
    boundary = panel.view(DecisionBoundaryView)
    panel.setCurrentWidget(boundary)
    panel.set_weights(state)
    [asked] = panel.live_requests()
    assert (asked.view, asked.kind) == ("decisionBoundaryView", "boundary")

    layer = panel.layer_output
    with qtbot.waitSignal(panel.requests_changed, timeout=WAIT_MS):
        panel.setCurrentWidget(layer)
    assert [r.kind for r in panel.live_requests()] == ["layer_output"]
    with qtbot.waitSignal(panel.requests_changed, timeout=WAIT_MS):
        layer.set_layer(1)                              # the view's own setting
    assert panel.live_requests()[0].params["layer"] == 1

    predictor = Predictor.from_project(xor, state, 2)
    results = [compute(asked, predictor, boundary.dataset),
               compute(panel.live_requests()[0], predictor, boundary.dataset),
               ViewResult("noSuchView", "boundary", {})]
    panel.show_results(results)                         # each to its view; the stray one to none
    assert boundary.class_at(*boundary.bounds[::2]) in (0, 1)
    assert layer.shown_layer() == 1 and layer.shown_kind() == "histogram"


def test_a_run_that_starts_in_the_worker_takes_the_test_set_button_away_until_it_ends(qtbot, digits):
    state = seeded_state(digits)
    view = local(qtbot, ConfusionMatrixView(), digits, state, full=True)
    assert view.test_button.isEnabled()
    view.set_remote(True)
    assert not view.test_button.isEnabled()
    view.test_button.click()                                 # disabled: nothing; and the slot refuses too
    view._on_test_button_clicked()
    assert view.source == "validation"


def test_when_the_run_ends_every_view_draws_the_final_weights_here_on_all_the_data(qtbot, digits, monkeypatch):
    from playground.ui.views import gallery

    monkeypatch.setattr(gallery, "LIVE_LIMIT", 50)
    state = seeded_state(digits)
    view = remote(qtbot, PredictionGallery(), digits, state)
    give(qtbot, view, worker_results(view, digits, state, 10))
    assert len(view.entries()) == 50
    final = seeded_state(digits, seed=4)
    view.set_weights(final)                                  # the run's last weights, still remote
    assert len(view.entries()) == 50
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_remote(False)
    labels, _ = Predictor.from_project(digits, final, 10).predict(view.split.x)
    assert len(view.entries()) == 200
    assert [e.predicted for e in sorted(view.entries())] == labels.tolist()

    layer = LayerOutputView()
    qtbot.addWidget(layer)
    layer.set_remote(True)
    layer.set_project(digits)
    layer.show()
    qtbot.waitExposed(layer)
    layer.set_weights(final)
    assert layer.shown_kind() == "none"                      # waits for the worker
    layer.set_remote(False)
    assert layer.shown_kind() == "histogram" and "trained weights" in layer.heading.text()
