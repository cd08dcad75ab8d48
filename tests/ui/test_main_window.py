"""The window shows a project's network; bad files get a message and change nothing."""

from PySide6.QtWidgets import QMessageBox

from playground.app import qt_problem
from playground.core.spec import Project
from playground.ui.main_window import MainWindow


def test_shows_the_lenet_table(qtbot, examples):
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.open_file(examples / "mnist_lenet.json")
    assert window.windowTitle() == "MNIST LeNet — Playground"
    table = window.table
    assert table.rowCount() == 10
    assert [table.item(7, c).text() for c in range(4)] == ["7", "Linear", "(50,)", "16,050"]
    assert "21,840 parameters" in window.summary.text()


def test_broken_layer_is_marked(qtbot, examples):
    project = Project.load(examples / "mnist_lenet.json")
    project.network.layers[7].params["in_features"] = 500
    window = MainWindow(project)
    qtbot.addWidget(window)
    assert window.table.item(7, 2).text() == "error"
    assert window.table.item(8, 2).text() == "unreachable"
    assert "layer 7 Linear: receives 320 features" in window.table.item(7, 1).toolTip()
    assert "layer 7 Linear" in window.summary.text()


def test_a_bad_file_is_explained_and_keeps_the_project(qtbot, examples, tmp_path, monkeypatch):
    window = MainWindow(Project.load(examples / "xor.json"))
    qtbot.addWidget(window)
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    assert not window.open_file(bad)
    assert shown == [f"{bad}: the project must be a JSON object, not [1, 2]"]
    assert window.project.name == "XOR" and window.table.rowCount() == 3


def test_broken_pyside_python_pair_is_refused():
    assert "crashes Python 3.11" in qt_problem((3, 11), "6.12.0")
    assert qt_problem((3, 12), "6.12.0") is None
    assert qt_problem((3, 11), "6.11.3") is None
