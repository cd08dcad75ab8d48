"""Projects without a validation split (the shipped Fashion-MNIST examples, val_fraction 0): every view
shows another split and says which, and never fails on 0 samples or prints "nan"."""

from __future__ import annotations

import pytest
import torch

from playground.core.evaluation import Predictor
from playground.core.shapes import build_network
from playground.core.spec import Project
from playground.ui.views.classification import DecisionBoundaryView
from playground.ui.views.data_cache import shared_cache
from playground.ui.views.images import ConfusionMatrixView, PredictionGallery
from playground.ui.views.insight import LayerOutputView
from playground.ui.views.panel import ViewsPanel

WAIT_MS = 5000


def seeded_state(project: Project) -> dict:
    torch.manual_seed(3)
    return build_network(project.network).state_dict()


@pytest.fixture
def fashion_fast(examples, mnist_root) -> Project:
    """The shipped "Fashion-MNIST MLP, fast" example as it is (val_fraction 0), reading the real t10k
    digits in place of the clothes: the files have the same names and format."""
    project = Project.load(examples / "fashion_mnist_mlp_fast.json")
    assert project.data.params["val_fraction"] == 0.0
    project.data.params.update(root=str(mnist_root), download=False, train_samples=400)
    return project


def texts(widget) -> str:
    from PySide6.QtWidgets import QLabel

    return " ".join(label.text() for label in widget.findChildren(QLabel))


def test_every_view_of_the_fashion_example_draws_and_says_it_shows_the_test_set(qtbot, fashion_fast):
    panel = ViewsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.set_project(fashion_fast)
    state = seeded_state(fashion_fast)
    panel.set_weights(state)
    panel.show()
    data = shared_cache.get(fashion_fast.data)
    assert len(data.x_val) == 0 and len(data.x_test) == 1_000
    for view in panel.shown_views():
        panel.setCurrentWidget(view)        # the person clicks through every tab, twice (a second refresh)
        for _ in range(2):
            if hasattr(view, "redrawn"):
                with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
                    view.set_weights(state)
            qtbot.wait(10)
            assert "nan" not in texts(view).lower(), type(view).__name__

    gallery = panel.view(PredictionGallery)
    gallery.refresh(full=True)       # weights stopped coming (the settle timer's redraw, without its wait)
    assert len(gallery.entries()) == 1_000 and gallery.split.name == "test"
    assert "no validation split — showing the test set" in gallery.summary.text()
    labels, _ = Predictor.from_project(fashion_fast, state, 10).predict(data.x_test)
    assert sum(e.wrong for e in gallery.entries()) == int((labels != data.y_test).sum())

    matrix = panel.view(ConfusionMatrixView)
    panel.setCurrentWidget(matrix)
    matrix.refresh(full=True)
    assert int(matrix.matrix().sum()) == 1_000
    text = matrix.accuracy_label.text()
    assert text.startswith("No validation split — showing the test set") and "Test set" in text
    accuracy = float((labels == data.y_test).double().mean())
    assert matrix.accuracy() == pytest.approx(accuracy, abs=1e-12)   # both count the same integers
    assert not matrix.test_button.isVisible()      # the matrix already shows the test set
    from PySide6.QtGui import QFont, QFontMetrics

    bold = QFont(matrix.table.font())
    bold.setBold(True)
    fits = QFontMetrics(bold)
    for t in range(10):                             # 1,000-odd images a class: every count readable in full
        for p in range(10):
            text = matrix.table.item(t, p).text()
            assert fits.horizontalAdvance(text) < matrix.table.columnWidth(p), text

    layer = panel.view(LayerOutputView)
    assert layer.sample_label.text() == "Test sample"


def test_without_a_test_split_the_training_samples_stand_in(qtbot, examples):
    project = Project.load(examples / "xor.json")
    project.data.params.update(val_fraction=0.0, samples=80)
    view = DecisionBoundaryView()
    qtbot.addWidget(view)
    view.set_project(project)
    view.set_weights(seeded_state(project))
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    assert "Training accuracy" in view.summary.text()
    assert "no validation split — showing the training samples" in view.summary.text()
    assert "nan" not in view.summary.text()
    assert "no validation split" in view.legend.text() and not view.show_validation_check.isEnabled()


def test_the_draw_view_of_fashion_mnist_speaks_of_clothes_and_names_its_bars(qtbot, fashion_fast):
    from PySide6.QtCore import QPoint, Qt

    from playground.ui.views.images import DrawDigitView

    view = DrawDigitView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.set_project(fashion_fast)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    assert view.canvas.prompt == "Draw a piece of clothing here"
    assert "digit" not in view.message.text()
    ticks = view.bars_plot.getPlotItem().getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == list(view.dataset.info.class_names)
    assert ticks[9] == (9, "Ankle boot")

    state = seeded_state(fashion_fast)
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.set_weights(state)
    qtbot.mousePress(view.canvas, Qt.LeftButton, pos=QPoint(100, 60))
    for y in range(70, 220, 15):
        qtbot.mouseMove(view.canvas, QPoint(100, y))
    qtbot.mouseRelease(view.canvas, Qt.LeftButton, pos=QPoint(100, 220))
    p = view.probabilities()
    qtbot.waitUntil(lambda: view.prediction.text() == view.dataset.info.class_names[int(p.argmax())],
                    timeout=WAIT_MS)


def test_the_fit_view_without_a_validation_split_draws_the_training_points_and_loss(qtbot, examples):
    from playground.ui.views.regression import RegressionView

    project = Project.load(examples / "quadratic.json")
    project.data.params.update(val_fraction=0.0)
    view = RegressionView()
    qtbot.addWidget(view)
    view.set_project(project)
    view.set_weights(seeded_state(project))
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    assert len(view.train_points.getData()[0]) == len(view.dataset.x_train) > 0
    assert not view.val_points.isVisible()
    assert "training loss" in view.summary.text() and "nan" not in view.summary.text()
    assert "no validation split" in view.summary.text()


@pytest.mark.parametrize("where", ["job", "paint"])
def test_a_view_that_fails_says_so_and_reports_the_failure_once_not_on_every_redraw(qtbot, examples, monkeypatch,
                                                                                   where):
    import sys

    from playground.core import view_jobs

    def broken(*args):
        raise RuntimeError("cannot reshape tensor of 0 elements")

    class Broken(DecisionBoundaryView):
        if where == "paint":
            paint_result = broken

    if where == "job":    # the job the worker would run, here on the view's own weights
        monkeypatch.setitem(view_jobs.JOBS, "boundary", broken)
    reported = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: reported.append(exc))
    project = Project.load(examples / "xor.json")
    view = Broken()
    qtbot.addWidget(view)
    view.set_project(project)
    view.set_weights(seeded_state(project))
    with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
        view.show()
    for _ in range(3):                               # new weights arrive, as during a run
        with qtbot.waitSignal(view.redrawn, timeout=WAIT_MS):
            view.set_weights(seeded_state(project))
    assert len(reported) == 1 and issubclass(reported[0][0], RuntimeError)
    assert "cannot reshape tensor of 0 elements" in str(reported[0][1])
    assert view.message.isVisible() and "cannot draw these predictions (RuntimeError: cannot reshape" in \
        view.message.text()
