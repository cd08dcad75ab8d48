"""Issue 16, as the person lived it in the window: one project after another, weights kept by the run
list, the data folder remembered, the words that were wrong."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from playground.core.spec import Project
from playground.ui.main_window import MainWindow

RUN_TIMEOUT = 60_000  # ms; a few epochs of XOR take a second or two


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def answers(monkeypatch):
    """What the person answers each question box, in order (Discard once they run out); the
    questions asked are recorded as (title, text)."""
    asked: list[tuple[str, str]] = []
    queue: list = []

    def question(parent, title, text, *args, **kwargs):
        asked.append((title, text))
        return queue.pop(0) if queue else QMessageBox.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    return queue, asked


@pytest.fixture
def window(qtbot, settings, examples, answers):
    project = Project.load(examples / "xor.json")
    project.training.epochs = 3
    win = MainWindow(project, settings=settings)
    qtbot.addWidget(win)
    win.document.undo_stack.setClean()
    yield win
    win.session.shutdown()


def start_and_wait(qtbot, win):
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.findChild(QPushButton, "startButton"), Qt.LeftButton)
    return blocker.args[1]


# --- item 11: nothing of one project leaks into the next -----------------------------------------


def test_opening_another_project_forgets_the_last_runs_progress_sample_and_continue(
        qtbot, window, examples, tmp_path):
    window.views.setCurrentWidget(window.views.layer_output)
    window.views_dock.show()
    window.show()
    start_and_wait(qtbot, window)
    panel = window.panel
    panel.continue_check.setChecked(True)
    assert panel.progress_bar.format().startswith("epoch 3/3")
    layer = window.views.layer_output
    assert "Input (" in layer.input_text.text()              # an XOR point: two coordinates

    window.files.open_example(examples / "mnist_mlp.json")
    window.document.set_data_param("root", str(tmp_path))    # no digits there: the view says so
    assert layer.shown_kind() == "none"
    assert layer.input_text.text() == "" and not layer.input_preview.isVisible()
    assert panel.progress_bar.format() == "not started" and panel.progress_bar.value() == 0
    assert not panel.continue_check.isChecked()
    assert not window.views.health.layer_rows()                    # no gradient curves of the XOR run

    window.files.open_example(examples / "xor.json")
    start_and_wait(qtbot, window)
    panel.continue_check.setChecked(True)
    window.files.new()
    assert not panel.continue_check.isChecked() and panel.progress_bar.format() == "not started"


# --- item 3: each run keeps its weights; unsaved ones are not dropped silently ---------------------


def run_action(win, run_id: int, name: str):
    """The action of the run's context menu, as a right-click on its row offers it."""
    from PySide6.QtGui import QAction

    action = win.runs.context_menu(run_id).findChild(QAction, name)
    assert action is not None, name
    return action


def test_a_run_keeps_its_weights_to_load_export_and_continue_after_another_project(
        qtbot, window, examples, tmp_path, monkeypatch):
    start_and_wait(qtbot, window)
    trained = {k: v.clone() for k, v in window.session.weights.model.items()}
    xor_network = window.document.network
    window.files.open_example(examples / "spiral.json")
    window.files.update_weight_actions()                     # as opening the File menu does
    assert not window.files.export_action.isEnabled()        # the spiral network has no weights yet

    # export from the run's menu, though another project is open
    path = tmp_path / "xor_run.pt"
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(path), "PyTorch state_dict (*.pt *.pth)"))
    run_action(window, 1, "exportRunWeightsAction").trigger()
    import torch

    plain = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    plain.load_state_dict(torch.load(path))
    assert torch.equal(plain[2].bias, trained["2.bias"])

    # load into the editor: the run's network and weights, one undo step
    run_action(window, 1, "loadRunAction").trigger()
    assert window.document.network == xor_network and window.document.project.data.dataset == "xor"
    assert torch.equal(window.session.weights.model["0.weight"], trained["0.weight"])
    window.files.update_weight_actions()
    assert window.files.export_action.isEnabled()
    assert window.panel.continue_check.isEnabled()

    # continue from them: three more epochs after the run's three
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        run_action(window, 1, "continueRunAction").trigger()
    assert blocker.args[1].status == "finished"
    assert [e["epoch"] for e in window.session.weights.history["epochs"]] == [1, 2, 3, 4, 5, 6]
    assert window.runs.kept_weights(1)[1].epoch == 3          # run 1's own weights stay as they were
    assert torch.equal(window.runs.kept_weights(1)[1].model["2.bias"], trained["2.bias"])
    assert window.runs.kept_weights(2)[1].epoch == 6


def test_quitting_with_weights_never_saved_asks_and_cancel_keeps_the_window(qtbot, window, answers, tmp_path):
    queue, asked = answers
    window.archive.enabled = False   # runs not kept in the run store (which keeps them: tests/ui/test_run_store_window.py)
    start_and_wait(qtbot, window)
    window.show()
    queue.append(QMessageBox.Cancel)
    assert not window.close()
    assert asked[-1][0] == "Trained weights not saved"
    assert asked[-1][1].startswith("Run 1 has trained weights that were never saved; quitting discards them.")
    assert window.isVisible()

    assert window.files.save_checkpoint_to(tmp_path / "run1.checkpoint.pt")   # File > Save checkpoint
    asked.clear()
    assert window.close()
    assert not any(title == "Trained weights not saved" for title, _ in asked)


# --- item 12: the words that were wrong --------------------------------------------------------------


def test_deleting_the_flatten_of_the_mnist_mlp_says_insert_a_flatten(qtbot, window, examples):
    window.files.open_example(examples / "mnist_mlp.json")
    assert window.document.layers[0].type == "Flatten"
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    from PySide6.QtCore import QPoint

    qtbot.mouseClick(window.editor.cards[0], Qt.LeftButton, pos=QPoint(8, 8))   # the Flatten card
    assert window.editor.selected_index == 0
    window.editor.setFocus()
    qtbot.waitUntil(lambda: window.editor.hasFocus())
    qtbot.keyClick(window.editor, Qt.Key_Delete)
    assert window.document.layers[0].type == "Linear"
    reason = window.panel.blocked_label.text()
    assert "insert a Flatten before the first Linear" in reason
    assert "out_features" not in reason
    assert not window.panel.start_button.isEnabled()


def test_the_lr_finder_applies_to_one_cycles_max_lr_which_drives_training(qtbot, window):
    from playground.core.spec import ComponentSpec

    window.document.set_component("scheduler", "OneCycleLR")
    window.document.set_component_param("scheduler", "max_lr", 0.05)
    lr_before = window.document.project.training.optimizer.params["lr"]
    dialog = window.open_lr_finder()
    assert "max_lr now 0.05" in dialog.findChild(object, "lrFinderCurrent").text()
    with qtbot.waitSignal(dialog.finished_search, timeout=RUN_TIMEOUT):
        dialog.start(steps=40)
    suggested = dialog.chosen_lr
    button = dialog.findChild(QPushButton, "applyLrButton")
    assert button.text().startswith("Apply max_lr = ")
    with qtbot.waitSignal(dialog.lr_applied, timeout=5000):
        button.click()
    training = window.document.project.training
    assert training.scheduler == ComponentSpec("OneCycleLR", {"max_lr": pytest.approx(suggested)})
    assert training.optimizer.params["lr"] == lr_before     # not the value OneCycleLR ignores


def test_pause_shows_the_run_is_paused_and_resume_takes_it_back(qtbot, window):
    window.document.set_training("epochs", 500)      # long enough to pause; stopped below
    panel = window.panel
    with qtbot.waitSignal(window.session.run_started, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    with qtbot.waitSignal(window.session.run.progressed, timeout=RUN_TIMEOUT):
        pass
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    assert panel.pause_button.text() == "Resume"
    assert panel.progress_bar.format().startswith("Paused — epoch ")
    assert panel.eta_label.text() == "paused"
    assert "Run 1 paused" in window.statusBar().currentMessage()
    qtbot.wait(50)                                    # a report sent just before the pause may still land
    assert panel.progress_bar.format().startswith("Paused — ")
    qtbot.mouseClick(panel.pause_button, Qt.LeftButton)
    assert panel.pause_button.text() == "Pause" and not panel.progress_bar.format().startswith("Paused")
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)


# --- item 8: the plots follow the runs shown ----------------------------------------------------------


def test_a_run_on_other_data_puts_the_earlier_runs_aside_and_shows_training_accuracy(qtbot, window, examples):
    start_and_wait(qtbot, window)                              # XOR
    window.files.open_example(examples / "spiral.json")
    window.document.set_training("epochs", 2)
    start_and_wait(qtbot, window)                              # the spiral
    runs, plots = window.runs, window.plots
    assert not runs.is_shown(1) and not plots.is_run_visible(1)
    assert runs.is_shown(2) and plots.legend_text() == "Run 2"
    assert runs.cell_text(1, "Settings").startswith("xor · ") and runs.cell_text(2, "Settings").startswith("spiral · ")
    history = window.session.weights.history["epochs"]
    train_acc = [e["train_accuracy"] for e in history]
    assert len(train_acc) == 2 and all(0.0 <= a <= 1.0 for a in train_acc)
    plots.refresh()
    assert list(plots.run_curves(2).train_accuracy.getData()[1]) == pytest.approx([100 * a for a in train_acc])
    assert runs.cell_text(2, "Train acc") == f"{train_acc[-1]:.1%}"


# --- item 7: the data folder is remembered, per dataset ----------------------------------------------


def test_the_folder_that_held_the_digits_is_used_by_the_next_example_and_after_a_relaunch(
        qtbot, window, examples, settings, mnist_root, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QToolButton

    window.files.open_example(examples / "mnist_mlp.json")
    assert window.document.project.data.params.get("root", "") == ""      # nothing remembered yet
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(mnist_root))
    qtbot.mouseClick(window.panel.findChild(QToolButton, "rootBrowseButton"), Qt.LeftButton)
    assert window.document.project.data.params["root"] == str(mnist_root)

    window.files.open_example(examples / "fashion_mnist_mlp.json")
    assert window.document.project.data.params.get("root", "") == ""      # another dataset, its own folder
    window.files.open_example(examples / "mnist_lenet.json")
    assert window.document.project.data.params["root"] == str(mnist_root.resolve())
    assert str(mnist_root.resolve()) in window.statusBar().currentMessage()
    assert window.document.is_clean                                        # opened so, not an edit

    window.close()
    relaunched = MainWindow(settings=QSettings(settings.fileName(), QSettings.IniFormat))
    qtbot.addWidget(relaunched)
    relaunched.files.open_example(examples / "mnist_mlp.json")
    assert relaunched.document.project.data.params["root"] == str(mnist_root.resolve())

    for path in mnist_root.iterdir():                                      # the files moved away
        path.unlink()
    relaunched.files.open_example(examples / "mnist_lenet.json")
    assert relaunched.document.project.data.params.get("root", "") == ""  # not a folder without them
    relaunched.session.shutdown()


def test_quitting_mid_run_says_the_runs_weights_go_and_cancel_keeps_it_training(qtbot, window, answers):
    queue, asked = answers
    window.document.set_training("epochs", 500)
    with qtbot.waitSignal(window.session.run_started, timeout=RUN_TIMEOUT):
        qtbot.mouseClick(window.panel.start_button, Qt.LeftButton)
    window.show()
    queue.extend([QMessageBox.Discard, QMessageBox.Cancel])   # the project's changes, then the run
    assert not window.close()
    assert "Run 1 is still training; quitting stops it and its weights are lost." in asked[-1][1]
    assert window.session.run is not None                      # it goes on
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT):
        assert window.close()                                  # Discard: it stops, the window closes


def test_choosing_mnist_in_a_new_project_starts_on_the_remembered_folder_in_one_undo_step(
        qtbot, window, mnist_root):
    from playground.core.spec import DataSpec

    # the folder is known from an earlier run or choice
    assert window.files.data_folders.remember(DataSpec("mnist", {"root": str(mnist_root)}))
    window.files.new()
    combo = window.panel.data.combo
    combo.setCurrentIndex(combo.findData("mnist"))             # the person picks MNIST in the Data box
    data = window.document.project.data
    assert data.dataset == "mnist" and data.params["root"] == str(mnist_root.resolve())
    window.undo_action.trigger()
    assert window.document.project.data.dataset != "mnist"     # one step back is the dataset before
