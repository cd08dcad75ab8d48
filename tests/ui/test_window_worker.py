"""The window trains in its worker process as a person uses it: the views on screen are computed
there and only painted here, a worker that dies mid-run is said in words and loses nothing, and
the next Start trains again."""

from __future__ import annotations

import os
import signal

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from playground.core.evaluation import Predictor
from playground.core.spec import Project
from playground.core.view_jobs import ViewRequest, compute
from playground.ui.main_window import MainWindow
from playground.ui.views.classification import DecisionBoundaryView

RUN_TIMEOUT = 90_000   # ms: a cold worker's start (torch's import) on a busy 2-core machine included
PROMPT_MS = 10_000


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    project = Project.load(examples / "spiral.json")
    project.training.epochs = 100_000   # it trains until the test stops it
    win = MainWindow(project, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.show()
    win.views_dock.show()
    win.views.setCurrentWidget(win.views.view(DecisionBoundaryView))
    yield win
    win.session.shutdown()


def start(qtbot, win):
    with qtbot.waitSignal(win.session.run_started, timeout=PROMPT_MS):
        qtbot.mouseClick(win.findChild(QPushButton, "startButton"), Qt.LeftButton)
    return win.session.run


def test_the_boundary_on_screen_is_computed_in_the_worker_and_painted_live(qtbot, window, monkeypatch):
    view = window.views.view(DecisionBoundaryView)
    local = []
    original = Predictor.probabilities
    monkeypatch.setattr(Predictor, "probabilities", lambda self, x: local.append(1) or original(self, x))
    run = start(qtbot, window)
    assert run.pid != os.getpid()
    results = []
    run.views_computed.connect(results.extend)
    qtbot.waitUntil(lambda: len([r for r in results if r.kind == "boundary"]) >= 2, timeout=RUN_TIMEOUT)
    assert not local   # nothing of the boundary was computed in the window's process during the run
    # the pictures came by value, unpickled off the GUI thread: no tensor of theirs lives in shared
    # memory (a file each, opened, mapped and copied out in the GUI thread, was most of a delivery)
    tensors = [t for r in results for t in _tensors(r.data)]
    assert tensors and not any(t.is_shared() for t in tensors)
    painted = [r for r in results if r.view == view.objectName()][-1]
    assert not painted.error
    qtbot.waitUntil(lambda: view.summary.text() != "", timeout=PROMPT_MS)
    x0, x1, y0, y1 = view.bounds
    n = painted.data["resolution"]
    labels = painted.data["labels"].view(n, n)   # row by row: [i, j] is at (xs[j], ys[i])
    assert view.class_at(x0, y0) == int(labels[0, 0]) and view.class_at(x1, y1) == int(labels[-1, -1])
    assert "accuracy" in view.summary.text()

    with qtbot.waitSignal(window.session.run_finished, timeout=PROMPT_MS):
        window.session.stop()
    # after the run the final weights are drawn here, and they match the worker's job on them
    weights = window.session.weights.model
    qtbot.waitUntil(lambda: bool(local), timeout=PROMPT_MS)
    project = window.document.project
    request = ViewRequest(view.objectName(), "boundary", {"bounds": view.bounds, "resolution": n})
    expected = compute(request, Predictor.from_project(project, weights, 3), view.dataset)
    assert view.class_at(x0, y1) == int(expected.data["labels"].view(n, n)[-1, 0])


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


@pytest.mark.parametrize("how, words", [(signal.SIGKILL, "was killed"), (signal.SIGSEGV, "segmentation fault")])
def test_a_worker_that_dies_mid_run_is_said_and_the_project_and_weights_stay(qtbot, window, how, words):
    window.document.set_training("batch_size", 16)   # an unsaved edit
    run = start(qtbot, window)
    with qtbot.waitSignal(run.weights_reported, timeout=RUN_TIMEOUT):
        pass   # the window holds some of the run's weights
    with qtbot.waitSignal(window.session.run_finished, timeout=PROMPT_MS) as blocker:
        os.kill(run.pid, how)
    end = blocker.args[1]
    assert end.status == "failed" and words in end.reason
    box = window.session.failure_box
    assert box.isVisible() and box.text() == end.reason
    box.close()
    assert window.document.project.training.batch_size == 16 and not window.document.undo_stack.isClean()
    weights = window.session.weights
    assert weights is not None and all(torch.isfinite(t).all() for t in weights.model.values())
    assert not window.document.locked and window.findChild(QPushButton, "startButton").isEnabled()

    window.document.set_training("epochs", 2)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(window.findChild(QPushButton, "startButton"), Qt.LeftButton)
    assert blocker.args[1].status == "finished", blocker.args[1].reason
