"""Training > Export training command: the project is written, the torchrun lines name it and the
chosen values, Copy fills the clipboard, and the line shown really trains (two CPU ranks) into a
checkpoint the window opens."""

import re
import shlex

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QPlainTextEdit, QPushButton

from playground.core.spec import Project
from playground.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    project = Project.load(examples / "xor.json")
    project.training.epochs = 4
    win = MainWindow(project, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    yield win
    win.session.shutdown()


def export(window, monkeypatch, path):
    """Trigger the menu action on an unsaved project: it asks where, saves, and opens the dialog."""
    asked = []

    def ask(*args, **kwargs):
        asked.append(args)
        return str(path), "Playground projects (*.json)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window.command_action.trigger()
    dialog = window.findChild(QPlainTextEdit, "oneGpuCommand").window()
    assert asked and dialog.objectName() == "trainingCommandDialog"
    return dialog


def shown(dialog, name: str) -> str:
    return dialog.findChild(QPlainTextEdit, f"{name}Command").toPlainText()


def one_line(command: str) -> str:
    """What a POSIX shell reads: a backslash before a newline continues the line."""
    return re.sub(r" \\\n\s*", " ", command)


def test_export_writes_the_project_and_shows_three_commands(qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "my runs" / "xor job.json"   # a space: the commands must quote it
    path.parent.mkdir()
    dialog = export(window, monkeypatch, path)
    assert Project.load(path) == window.document.project and window.document.path == path
    assert window.document.is_clean

    quoted = shlex.quote(str(path))
    assert shown(dialog, "oneGpu") == (
        f"torchrun --standalone --nproc_per_node 1 \\\n    -m playground train {quoted} --device cuda")
    dialog.findChild(object, "gpusSpin").setValue(4)
    assert one_line(shown(dialog, "gpus")) == (
        f"torchrun --standalone --nproc_per_node 4 -m playground train {quoted} --device cuda")
    dialog.findChild(object, "nodesSpin").setValue(3)
    dialog.findChild(object, "hostEdit").setText("gpu-a.lab")
    dialog.findChild(object, "portSpin").setValue(29500)
    assert one_line(shown(dialog, "nodes")) == (
        "torchrun --nnodes 3 --nproc_per_node 4 --rdzv_id playground --rdzv_backend c10d "
        f"--rdzv_endpoint gpu-a.lab:29500 -m playground train {quoted} --device cuda")
    assert dialog.findChild(object, "nodesBox").title() == "3 machines with 4 GPUs each"
    # batch 32 over 4 GPUs is fine; over 3 x 4 = 12 processes it is not, and the dialog says so
    note = dialog.findChild(object, "batchNote").text()
    assert "batch_size 32 is the global batch" in note and "32 does not divide by 12" in note

    with qtbot.waitSignal(dialog.copied) as copied:
        qtbot.mouseClick(dialog.findChild(QPushButton, "copyNodesButton"), Qt.LeftButton)
    assert copied.args == [shown(dialog, "nodes")]
    assert QGuiApplication.clipboard().text() == shown(dialog, "nodes")
    assert window.statusBar().currentMessage() == "Copied the command line"
    dialog.close()


def test_a_broken_network_exports_nothing(window, tmp_path, monkeypatch):
    window.document.set_layer_param(0, "in_features", 5)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: pytest.fail("asked for a file"))
    assert window.export_training_command() is None
    assert "layer 0 Linear" in window.statusBar().currentMessage()


@pytest.mark.slow
def test_the_command_shown_trains_and_the_window_opens_its_checkpoint(qtbot, window, tmp_path, monkeypatch,
                                                                      torchrun):
    dialog = export(window, monkeypatch, tmp_path / "xor.json")
    dialog.findChild(object, "commandDeviceCombo").setCurrentIndex(1)   # CPU processes: gloo, runs here
    dialog.findChild(object, "gpusSpin").setValue(2)
    assert dialog.findChild(object, "gpusBox").title() == "2 processes on this machine"
    command = shlex.split(one_line(shown(dialog, "gpus")))
    assert command[0] == "torchrun" and command[-2:] == ["--device", "cpu"]
    dialog.close()

    result, _ = torchrun(*command[1:], cwd=tmp_path)   # `torchrun` is `python -m torch.distributed.run`
    assert result.returncode == 0, result.stdout
    assert "finished: trained 4 epochs" in result.stdout

    assert window.files.open_path(tmp_path / "xor.checkpoint.pt")
    weights = window.session.weights
    assert weights is not None and weights.fits(window.document.network) and weights.epoch == 4
