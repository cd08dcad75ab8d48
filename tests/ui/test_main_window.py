"""The whole window as a person uses it: build, train, stop, save, load, close mid-run."""

import json

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from playground.core.checkpoint import load_checkpoint
from playground.core.spec import Project
from playground.ui.main_window import MainWindow

RUN_TIMEOUT = 60_000  # ms; small synthetic runs take a second or two


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture(autouse=True)
def discard_on_close(monkeypatch):
    """Closing with unsaved changes asks; a test that does not care discards."""
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)


@pytest.fixture
def window(qtbot, settings, examples):
    project = Project.load(examples / "xor.json")
    project.training.epochs = 5
    win = MainWindow(project, settings=settings)
    qtbot.addWidget(win)
    win.document.undo_stack.setClean()
    yield win
    win.session.shutdown()


def start_and_wait(qtbot, win):
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.findChild(QPushButton, "startButton"), Qt.LeftButton)
    return blocker.args[1]


def test_automation_names_and_no_argument_constructor(qtbot, settings):
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    for name in ("layerPalette", "networkEditor", "trainingPanel", "startButton", "pauseButton",
                 "stopButton", "lossPlot", "progressBar", "datasetCombo", "lossCombo",
                 "optimizerCombo", "deviceCombo", "batchSizeSpin", "epochsSpin"):
        assert win.findChild(object, name) is not None, name


def test_palette_activation_appends_and_undo_removes(window):
    before = len(window.document.layers)
    window.palette.layer_activated.emit("Softmax")
    assert [layer.type for layer in window.document.layers][-1] == "Softmax"
    assert window.isWindowModified()
    window.undo_action.trigger()
    assert len(window.document.layers) == before
    assert not window.isWindowModified()


def test_a_broken_network_blocks_start_with_the_reason(window):
    window.document.set_layer_param(0, "in_features", 5)
    start = window.findChild(QPushButton, "startButton")
    assert not start.isEnabled()
    assert "layer 0 Linear: receives 2 features but in_features is 5" in start.toolTip()
    assert "layer 0 Linear" in window.statusBar().currentMessage()
    window.undo_action.trigger()
    assert start.isEnabled()


def test_train_through_the_start_button(qtbot, window):
    end = start_and_wait(qtbot, window)
    assert end.status == "finished", end.reason
    epochs = window.session.weights.history["epochs"]
    assert len(epochs) == 5 and epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert window.findChild(QPushButton, "startButton").isEnabled()
    assert not window.document.locked
    assert window.plots.run_history_csv(1).count("\n") >= 5


def test_stop_midway(qtbot, window):
    window.document.set_training("epochs", 10_000)
    with qtbot.waitSignal(window.session.run_started, timeout=5000):
        window.session.start()
    assert window.document.locked
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(window.findChild(QPushButton, "stopButton"), Qt.LeftButton)
    assert blocker.args[1].status == "stopped"
    assert not window.document.locked
    assert window.session.weights is not None


def test_failed_run_is_shown_and_the_app_keeps_running(qtbot, window, examples):
    project = Project.load(examples / "quadratic.json")
    project.training.optimizer.params["lr"] = 50.0  # diverges within the first epoch
    window.document.open(project, None)
    end = start_and_wait(qtbot, window)
    assert end.status == "failed" and "the loss became" in end.reason
    assert window.session.failure_box.text() == end.reason
    window.session.failure_box.close()
    assert all(torch.isfinite(v).all() for v in window.session.weights.model.values())
    assert window.findChild(QPushButton, "startButton").isEnabled()


def test_project_and_weights_round_trip(qtbot, window, tmp_path, monkeypatch):
    start_and_wait(qtbot, window)
    project_path, weights_path, ckpt_path = tmp_path / "p.json", tmp_path / "w.pt", tmp_path / "c.pt"
    assert window.files._save_to(project_path)
    assert window.windowTitle() == "p[*] — Playground" and not window.isWindowModified()
    assert window.files.export_weights_to(weights_path)
    assert window.files.save_checkpoint_to(ckpt_path)

    trained = window.session.weights.model
    plain = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    plain.load_state_dict(torch.load(weights_path))
    assert torch.equal(plain[0].weight, trained["0.weight"])
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt.epoch == 5 and ckpt.optimizer is not None

    other = MainWindow(settings=window.settings)
    qtbot.addWidget(other)
    assert other.files.open_path(project_path)
    assert other.document.project.network == window.document.project.network
    assert other.files.load_weights_from(weights_path)
    assert torch.equal(other.session.weights.model["2.bias"], trained["2.bias"])
    assert str(project_path.resolve()) in other.files.recent_files()


def test_opening_a_checkpoint_restores_its_project_and_continues(qtbot, window, tmp_path):
    start_and_wait(qtbot, window)
    assert window.files.save_checkpoint_to(tmp_path / "c.pt")
    assert window.files.open_path(tmp_path / "c.pt")
    assert window.session.weights.epoch == 5
    assert window.panel.findChild(object, "continueCheck").isEnabled()
    window.panel.findChild(object, "continueCheck").setChecked(True)
    window.document.set_training("epochs", 2)
    end = start_and_wait(qtbot, window)
    assert end.status == "finished"
    assert [e["epoch"] for e in window.session.weights.history["epochs"]] == [1, 2, 3, 4, 5, 6, 7]


def test_mismatched_weights_are_explained_per_layer(qtbot, window, tmp_path, warnings_shown):
    start_and_wait(qtbot, window)
    assert window.files.export_weights_to(tmp_path / "w.pt")
    window.document.set_layer_param(0, "out_features", 16)
    assert not window.files.load_weights_from(tmp_path / "w.pt")
    title, text = warnings_shown[-1]
    assert "layer 0 Linear: weight is (8, 2) in the file but (16, 2) in this network" in text
    assert "layer 2 Linear" in text


def test_bad_project_file_keeps_the_open_project(window, tmp_path, warnings_shown):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "playground-project", "version": 99}))
    before = window.document.project
    assert not window.files.open_path(bad)
    assert "newer Playground" in warnings_shown[-1][1]
    assert window.document.project == before


def test_close_mid_run_stops_and_waits(qtbot, window):
    window.document.set_training("epochs", 10_000)
    with qtbot.waitSignal(window.session.run_started, timeout=5000):
        window.session.start()
    run = window.session.run
    window.document.undo_stack.setClean()
    assert window.close()
    assert not run.is_running() and run.end.status == "stopped"


def test_closing_with_unsaved_changes_asks(qtbot, window, monkeypatch):
    window.document.append_layer("ReLU")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    assert not window.close()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    assert window.close()


def test_geometry_and_recent_files_persist(qtbot, settings, examples, tmp_path):
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.resize(760, 560)  # within the offscreen screen (800x600), which restoreGeometry respects
    first.files.open_path(examples / "spiral.json")
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert (second.size().width(), second.size().height()) == (760, 560)
    assert second.files.recent_files()[0].endswith("spiral.json")


def test_views_follow_the_project_and_the_trained_weights(qtbot, window):
    from playground.ui.views.classification import DecisionBoundaryView
    from playground.ui.views.regression import RegressionView

    titles = [view.title for view in window.views.shown_views()]
    assert "Decision boundary" in titles and "Fit" not in titles and "Predictions" not in titles
    window.document.set_training("epochs", 40)
    start_and_wait(qtbot, window)
    boundary = window.views.view(DecisionBoundaryView)
    window.views.setCurrentWidget(boundary)
    boundary.refresh()
    # xor: label 1 where the coordinates have the same sign
    assert boundary.class_at(0.8, 0.8) == boundary.class_at(-0.8, -0.8) != boundary.class_at(0.8, -0.8)
    window.document.set_dataset("quadratic")
    assert window.views.view(RegressionView) in window.views.shown_views()


def test_selecting_a_card_shows_that_layer_output(qtbot, window):
    window.views.setCurrentWidget(window.views.layer_output)
    window.editor.select(0)
    assert window.views.layer_output.shown_layer() == 0


def test_learning_rate_finder_applies_its_suggestion(qtbot, window):
    dialog = window.open_lr_finder()
    with qtbot.waitSignal(dialog.finished_search, timeout=RUN_TIMEOUT):
        dialog.start(steps=60)
    suggested = dialog.chosen_lr
    with qtbot.waitSignal(dialog.lr_applied, timeout=5000):
        dialog.findChild(QPushButton, "applyLrButton").click()
    assert window.document.project.training.optimizer.params["lr"] == pytest.approx(suggested)
    window.undo_action.trigger()
    assert window.document.project.training.optimizer.params["lr"] == 0.03


def test_a_run_that_fails_in_setup_leaves_the_app_idle(qtbot, window):
    window.document.set_component("optimizer", "SGD")
    window.document.set_component_param("optimizer", "nesterov", True)  # needs momentum > 0
    end = start_and_wait(qtbot, window)
    assert end.status == "failed" and "nesterov" in end.reason
    window.session.failure_box.close()
    assert not window.document.locked
    assert window.findChild(QPushButton, "startButton").isEnabled()


def test_undo_and_opening_are_refused_while_training(qtbot, window, examples, warnings_shown):
    window.document.append_layer("Identity")
    window.document.set_training("epochs", 10_000)
    with qtbot.waitSignal(window.session.run_started, timeout=5000):
        window.session.start()
    assert not window.undo_action.isEnabled()
    assert not window.lr_finder_action.isEnabled()
    assert not window.files.open_path(examples / "spiral.json")
    assert "stop it before opening another" in warnings_shown[-1][1]
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT):
        window.session.stop()
    assert window.undo_action.isEnabled()


def test_weight_actions_stay_off_while_training_even_when_the_menu_opens(qtbot, window):
    start_and_wait(qtbot, window)
    assert window.files.export_action.isEnabled()  # trained weights that fit
    window.document.set_training("epochs", 10_000)
    with qtbot.waitSignal(window.session.run_started, timeout=5000):
        window.session.start()
    window.file_menu.aboutToShow.emit()  # what opening File does
    assert not any(action.isEnabled() for action in window.files.weight_actions)
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT):
        window.session.stop()
    assert window.files.export_action.isEnabled()


# --- start-up: the frame paints before torch is imported -------------------------------------------


def test_the_window_module_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, playground.ui.main_window; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_frame_built_later_is_the_whole_window(qtbot, settings, examples):
    win = MainWindow(settings=settings, build=False)
    qtbot.addWidget(win)
    win.show()
    assert not win.built and win.windowTitle() == "Playground"
    win.build(Project.load(examples / "xor.json"))
    assert win.built and win.findChild(QPushButton, "startButton") is not None
    assert win.document.project.data.dataset == "xor" and win.start_blocker() is None
    win.document.undo_stack.setClean()


def test_closing_the_frame_before_it_is_built_closes(qtbot, settings):
    win = MainWindow(settings=settings, build=False)
    qtbot.addWidget(win)
    win.show()
    assert win.close()


def test_the_app_paints_before_torch_is_loaded_then_builds(tmp_path, examples):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PLAYGROUND_STARTUP_PROBE="1", QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "playground", str(examples / "xor.json")], env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    probe = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert probe["painted"] <= probe["ready"] and probe["torch_at_paint"] is False


def test_closing_while_torch_loads_quits_cleanly(tmp_path):
    """The loader thread's import ends before the interpreter shuts down: no traceback at exit."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([sys.argv[0]])\n"
        "from playground.ui import main_window\n"
        "QTimer.singleShot(100, lambda: [w.close() for w in QApplication.topLevelWidgets()\n"
        "                                if w.objectName() == 'mainWindow'])\n"
        "sys.exit(main_window.run_gui([]))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr


def test_stop_then_continue_in_the_window_is_the_straight_run(qtbot, window, tmp_path, monkeypatch):
    """Train 6 epochs; then train again, Stop after epoch 3, save the checkpoint, open it, tick
    Continue and train the 3 epochs left: the same losses and weights, bit for bit. With a one-cycle
    schedule, the hardest to continue; tests/core/test_resume.py goes through every scheduler."""
    scheduler, params = "OneCycleLR", {"max_lr": 0.05}
    from playground.ui.worker import worker_pool
    from tests.ui import worker_faults

    window.document.set_training("epochs", 6)
    window.document.set_component("scheduler", scheduler)
    for name, value in params.items():
        window.document.set_component_param("scheduler", name, value)
    start_and_wait(qtbot, window)
    straight = window.session.weights

    pool = worker_pool()
    pool.restart()
    pool.initializer = worker_faults.stop_after_epoch_3   # Stop pressed as epoch 3 ends, in the worker
    try:
        assert start_and_wait(qtbot, window).status == "stopped"
    finally:
        pool.initializer = None
        pool.restart()
    assert window.session.weights.epoch == 3
    assert window.files.save_checkpoint_to(tmp_path / "c.pt")
    assert window.files.open_path(tmp_path / "c.pt")
    window.panel.findChild(object, "continueCheck").setChecked(True)
    window.document.set_training("epochs", 3)
    assert start_and_wait(qtbot, window).status == "finished"
    resumed = window.session.weights
    assert [e["train_loss"] for e in resumed.history["epochs"]] == [e["train_loss"] for e in straight.history["epochs"]]
    assert [e["lr"] for e in resumed.history["epochs"]] == [e["lr"] for e in straight.history["epochs"]]
    assert all(torch.equal(resumed.model[k], straight.model[k]) for k in straight.model)


@pytest.mark.parametrize("change, words", [
    (lambda p: (setattr(p.training, "drop_last", True), setattr(p.training, "batch_size", 10_000)),
     "drop_last is on, so an epoch has no batches"),
    (lambda p: setattr(p.network, "input_shape", [3]), "set the input shape to [2]"),
])
def test_start_is_decided_by_the_runs_own_check(qtbot, window, change, words):
    """What the run would refuse, Start refuses first, in the same words (core.training.check_trainable)."""
    from playground.core.training import Trainer

    project = window.document.project
    change(project)
    window.document.open(project, None)
    reason = window.start_blocker()
    assert reason is not None and words in reason
    assert not window.findChild(QPushButton, "startButton").isEnabled()
    end = Trainer(project).run()
    assert end.status == "failed" and end.reason == reason
