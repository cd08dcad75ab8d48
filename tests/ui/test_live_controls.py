"""The window's side of live training: L1/L2 in the training panel, the settings that stay editable
during a run, Step and Epoch, the penalty's curve and the change markers on the plots, and a whole
round through the window and its worker: Step from no run, a live edit, another Step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QMessageBox, QPushButton, QSpinBox

import playground.ui.training_panel as training_panel
from playground.core.errors import PlaygroundError
from playground.core.spec import ComponentSpec, Project
from playground.core.training import ChangeEvent, StepEvent
from playground.ui.document import ProjectDocument
from playground.ui.main_window import MainWindow
from playground.ui.plots import TrainingPlots
from playground.ui.training_panel import TrainingPanel

RUN_TIMEOUT = 90_000   # ms: a cold worker's start (torch's import) on a busy 2-core machine included
PROMPT_MS = 10_000


@pytest.fixture
def panel(qtbot, examples, monkeypatch):
    monkeypatch.setattr(training_panel, "available_devices", lambda: ["cpu"])
    document = ProjectDocument(Project.load(examples / "xor.json"))
    widget = TrainingPanel(document)
    qtbot.addWidget(widget)
    return widget, document


def test_l1_and_l2_are_training_settings_edited_undoably(panel):
    widget, document = panel
    l1, l2 = widget.findChild(QDoubleSpinBox, "l1Spin"), widget.findChild(QDoubleSpinBox, "l2Spin")
    assert (l1.value(), l2.value()) == (0.0, 0.0) and l1.text() == "off"
    l2.setValue(0.001)
    assert document.project.training.l2 == 0.001 and document.project.to_dict()["training"]["l2"] == 0.001
    assert widget.training._summary.endswith("· L2 0.001")   # a folded section says so
    document.undo_stack.undo()
    assert document.project.training.l2 == 0.0 and l2.value() == 0.0
    assert "l2" not in document.project.to_dict()["training"]


def test_during_a_run_exactly_the_live_settings_stay_editable(panel):
    widget, document = panel
    epochs_before = widget.findChild(QSpinBox, "epochsSpin").isEnabled()
    mixed = widget.mixed_precision.isEnabled()   # off for its own reason (no CUDA): stays off after the run
    document.set_locked(True)
    live = [widget.batch_size, widget.l1, widget.l2, widget.optimizer.form.editors["lr"].widget,
            widget.data.form.editors["noise"].widget]
    assert all(w.isEnabled() for w in live)
    locked = [widget.findChild(QSpinBox, "epochsSpin"), widget.seed, widget.device, widget.shuffle,
              widget.optimizer.combo, widget.data.combo, widget.optimizer.form.editors["eps"].widget,
              widget.data.form.editors["samples"].widget, widget.grad_clip]
    assert not any(w.isEnabled() for w in locked)
    assert not widget.loss.body.isEnabled()
    widget.optimizer.form.editors["lr"].widget.setValue(0.01)   # a live edit goes into the document ...
    widget.l1.setValue(0.002)
    assert document.project.training.optimizer.params["lr"] == 0.01 and document.project.training.l1 == 0.002
    with pytest.raises(PlaygroundError, match="training"):
        document.set_training("epochs", 3)   # ... any other is refused while the run trains
    document.set_locked(False)
    assert widget.findChild(QSpinBox, "epochsSpin").isEnabled() == epochs_before
    assert widget.mixed_precision.isEnabled() == mixed and all(w.isEnabled() for w in locked)


def test_step_and_epoch_buttons_ask_for_their_amount(qtbot, panel):
    widget, _ = panel
    for name, how in (("stepButton", "step"), ("epochButton", "epoch")):
        button = widget.findChild(QPushButton, name)
        assert button.isEnabled()   # from no run: they start one
        with qtbot.waitSignal(widget.step_requested) as blocker:
            qtbot.mouseClick(button, Qt.LeftButton)
        assert blocker.args == [how]
    widget.set_start_blocked("the network is broken")
    assert not widget.findChild(QPushButton, "stepButton").isEnabled()
    widget.set_state("paused")
    assert widget.findChild(QPushButton, "stepButton").isEnabled()


def test_the_penalty_has_its_own_curve_and_changes_are_marked(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.begin_run(1, "Run 1", "")
    plots.add_steps(1, [StepEvent(1, s, 10, s, 1.0 / s, 0.1, 100.0) for s in (1, 2)])
    plots.add_steps(1, [StepEvent(1, s, 10, s, 1.0 / s, 0.5, 100.0, penalty=0.01 * s) for s in (3, 4)])
    plots.add_changes(1, [ChangeEvent(2, 1, "lr", 0.1, 0.5), ChangeEvent(2, 1, "l2", 0.0, 0.001)])
    plots.refresh()
    x, y = plots.run_curves(1).penalty.getOriginalDataset()
    assert list(x) == [3, 4] and list(y) == [0.03, 0.04]
    assert plots.change_marks(1) == [(2, "lr 0.1→0.5"), (2, "l2 0→0.001")]
    lines = [line for line, _ in plots._runs[1].markers]
    assert all(line in plots.loss_plot.getPlotItem().items for line in lines)
    plots.set_run_visible(1, False)
    assert not any(line.isVisible() for line in lines)
    plots.remove_run(1)
    assert not any(line in plots.loss_plot.getPlotItem().items for line in lines)


def test_a_run_without_a_penalty_draws_no_penalty_curve(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.begin_run(1, "Run 1", "")
    plots.add_steps(1, [StepEvent(1, s, 10, s, 1.0 / s, 0.1, 100.0) for s in (1, 2)])
    plots.refresh()
    assert plots.run_curves(1).penalty.getOriginalDataset() == (None, None)


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    project = Project.load(examples / "xor.json")
    project.training.epochs = 100_000   # it trains until the test stops it
    project.training.optimizer = ComponentSpec("SGD", {"lr": 0.1})
    win = MainWindow(project, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.session.shutdown()


def test_step_from_no_run_then_a_live_edit_then_a_step_through_the_window(qtbot, window):
    panel = window.panel
    with qtbot.waitSignal(window.session.run_started, timeout=PROMPT_MS):
        window.step_action.trigger()   # F6
    run = window.session.run
    qtbot.waitUntil(lambda: run.holding, timeout=RUN_TIMEOUT)
    assert panel._state == "paused" and run.steps_done == 1 and window.document.locked
    assert window.session.weights is None and run.last_weights is not None   # the views got the step's weights
    panel.optimizer.form.editors["lr"].widget.setValue(0.02)   # edited while paused: sent as a change
    with qtbot.waitSignal(run.changed, timeout=PROMPT_MS) as changed:
        qtbot.mouseClick(panel.findChild(QPushButton, "stepButton"), Qt.LeftButton)
    assert [(c.setting, c.step, c.old, c.new) for c in changed.args[0]] == [("lr", 1, 0.1, 0.02)]
    qtbot.waitUntil(lambda: run.holding and run.steps_done == 2, timeout=PROMPT_MS)
    assert window.plots.change_marks(window.session.run_id) == [(1, "lr 0.1→0.02")]
    with qtbot.waitSignal(window.session.run_finished, timeout=PROMPT_MS):
        window.session.stop()
    assert window.session.weights.history["changes"] == [
        {"step": 1, "epoch": 1, "setting": "lr", "old": 0.1, "new": 0.02}]
    assert window.document.project.training.optimizer.params["lr"] == 0.02
