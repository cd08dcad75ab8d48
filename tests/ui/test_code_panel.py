"""The code panel and File > Export as Python script / Export model, as a person uses them."""

import copy
import textwrap

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QMessageBox

from playground.core.shapes import build_network
from playground.core.spec import Project
from playground.ui.main_window import MainWindow
from playground.ui.session import TrainedWeights


@pytest.fixture
def window(qtbot, tmp_path, examples, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(Project.load(examples / "mnist_lenet.json"), settings=settings)
    qtbot.addWidget(win)
    yield win
    win.session.shutdown()


def test_the_dock_shows_the_network_as_code(window):
    dock = window.findChild(QDockWidget, "codeDock")
    assert dock.widget() is window.code and dock.windowTitle() == "Code"
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert dock.toggleViewAction() in view_menu.actions()
    lines = window.code.source.splitlines()
    assert lines[0] == "nn.Sequential(" and lines[1] == "    nn.Conv2d(1, 10, 5),"
    assert "    nn.Linear(320, 50)," in lines


def test_the_code_follows_the_cards(window):
    window.document.set_layer_param(0, "out_channels", 6)
    assert "nn.Conv2d(1, 6, 5)," in window.code.source
    assert "nn.Conv2d(6, 20, 5)," in window.code.source  # the next layer's input follows
    window.document.insert_layer(0, "Conv2d", {"out_channels": 1, "kernel_size": 30})  # does not fit
    assert window.code.source.startswith("# The cards do not fit yet:\n# layer 0 Conv2d:")
    window.undo_action.trigger()
    assert window.code.source.startswith("nn.Sequential(")


def test_apply_turns_code_into_cards_in_one_undo_step(qtbot, window):
    before = copy.deepcopy(window.document.layers)
    window.code.edit.setPlainText("import torch.nn as nn\nnet = nn.Sequential(\n    nn.Flatten(),\n"
                                  "    nn.Linear(784, 64),\n    nn.ReLU(),\n    nn.Linear(64, 10),\n)\n")
    assert window.code.edited
    with qtbot.waitSignal(window.code.applied):
        qtbot.mouseClick(window.code.apply_button, Qt.LeftButton)
    assert [(layer.type, layer.params) for layer in window.document.layers] == [
        ("Flatten", {}), ("Linear", {"out_features": 64}), ("ReLU", {}), ("Linear", {"out_features": 10})]
    assert window.code.source.startswith("nn.Sequential(\n    nn.Flatten(),")  # shown as the cards say it
    assert window.code.status.text() == "Applied: 4 layers."
    assert window.document.undo_stack.undoText() == "Apply code"
    window.undo_action.trigger()
    assert window.document.layers == before
    assert "nn.Conv2d(1, 10, 5)," in window.code.source


def test_errors_show_with_their_lines_and_change_nothing(window):
    before = copy.deepcopy(window.document.layers)
    window.code.edit.setPlainText("nn.Sequential(\n    nn.Flatten(),\n    nn.Linear(784, n),\n    foo(),\n)")
    assert not window.code.apply()
    assert window.code.status.text().splitlines() == [
        "line 3: nn.Linear: the value of out_features cannot be read: the variable 'n' is not bound to a "
        "number in this code",
        "line 4: a call to foo() is not a torch.nn layer — write nn.Name(...)",
    ]
    assert "c62828" in window.code.status.styleSheet()
    assert window.code.marked_lines == [3, 4]
    assert window.document.layers == before and window.document.is_clean
    window.code.edit.appendPlainText("# typing clears the marks")
    assert window.code.marked_lines == []


def test_sizes_that_do_not_fit_the_data_apply_and_the_panel_says_why(window):
    window.code.edit.setPlainText("nn.Sequential(nn.Linear(784, 10))")
    assert window.code.apply()
    assert window.code.source == "nn.Sequential(nn.Linear(784, 10))"  # kept, to fix where it was written
    assert window.code.status.text().startswith(
        "Applied, but the cards do not fit: layer 0 Linear: receives 28 features but in_features is 784")
    assert not window.start_action.isEnabled()


def test_edits_survive_card_changes_until_revert(window):
    window.code.edit.setPlainText("nn.Sequential(nn.ReLU())")
    window.document.set_layer_param(0, "out_channels", 6)
    assert window.code.source == "nn.Sequential(nn.ReLU())"
    assert window.code.status.text().startswith("The cards changed since you edited this code")
    assert window.code.revert_button.isEnabled()
    window.code.revert_button.click()
    assert "nn.Conv2d(1, 6, 5)," in window.code.source and not window.code.edited
    assert not window.code.revert_button.isEnabled()


def test_open_loads_an_exported_script(window, tmp_path, examples):
    assert window.files.export_script_to(tmp_path / "net.py")
    window.document.open(Project.load(examples / "mnist_mlp.json"), None)
    assert "nn.Flatten()," in window.code.source
    assert window.code.open_path(tmp_path / "net.py")
    assert window.document.network == Project.load(examples / "mnist_lenet.json").network
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe\x00")
    assert not window.code.open_path(tmp_path / "bin.py")
    assert window.code.status.text() == f"{tmp_path / 'bin.py'} is not text (UTF-8), so not Python source."
    assert not window.code.open_path(tmp_path / "missing.py")
    assert window.code.status.text() == f"{tmp_path / 'missing.py'}: no such file."


def test_apply_is_refused_while_training(window):
    window.document.set_locked(True)
    assert not window.code.apply_button.isEnabled()
    assert not window.code.apply()
    window.document.set_locked(False)
    assert window.code.apply_button.isEnabled()


def give_weights(window) -> torch.nn.Module:
    torch.manual_seed(4)
    model = build_network(window.document.network).eval()
    window.session.set_weights(TrainedWeights.bare(window.document.project, model.state_dict()))
    return model


def test_export_script_with_and_without_weights(window, tmp_path):
    model = give_weights(window)
    assert window.files.export_script_to(tmp_path / "lenet.py", include_weights=True)
    saved = torch.load(tmp_path / "lenet.weights.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert "Path(__file__).with_name('lenet.weights.pt')" in (tmp_path / "lenet.py").read_text()
    assert window.statusBar().currentMessage() == "Exported lenet.py and lenet.weights.pt"
    assert window.files.export_script_to(tmp_path / "bare.py")
    assert not (tmp_path / "bare.weights.pt").exists()
    assert "torch.manual_seed(" in (tmp_path / "bare.py").read_text()


def test_export_model_as_pt2_matches_the_weights(window, tmp_path, warnings_shown):
    assert not window.files.model_action.isEnabled() or window.session.weights is not None
    model = give_weights(window)
    window.files.update_weight_actions()
    assert window.files.model_action.isEnabled()
    assert window.files.export_model_to(tmp_path / "lenet.pt2", "pt2")
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(tmp_path / "lenet.pt2").module()(x), model(x), rtol=0, atol=0)
    assert warnings_shown == []


def test_export_model_without_weights_explains(window, tmp_path, warnings_shown):
    assert not window.files.export_model_to(tmp_path / "m.pt2", "pt2")
    assert warnings_shown == [("No weights for this network",
                               "Train the network, or load weights or a checkpoint into it, first.")]
    assert not (tmp_path / "m.pt2").exists()


def test_the_menu_action_asks_where_and_whether_to_include_weights(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    give_weights(window)
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "net"), ""))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.No)
    window.files.script_action.trigger()
    assert asked == ["Save the current weights beside the script as net.weights.pt, and have the script load them? "
                     "(No: the script starts from the project's seed.)"]
    assert (tmp_path / "net.py").exists() and not (tmp_path / "net.pt").exists()


def test_onnx_without_the_extra_says_what_to_install(window, tmp_path, warnings_shown, monkeypatch):
    import playground.core.exporting as exporting

    give_weights(window)
    monkeypatch.setattr(exporting, "onnx_problem",
                        lambda: "ONNX export needs the onnxscript package: pip install 'playground[onnx]'")
    assert not window.files.export_model_to(tmp_path / "m.onnx", "onnx")
    assert warnings_shown == [("Cannot export the model",
                               "ONNX export needs the onnxscript package: pip install 'playground[onnx]'")]


def test_ctrl_return_applies_and_long_error_lists_are_cut_short(qtbot, window):
    window.code.edit.setPlainText("nn.Sequential(\n" + "    x,\n" * 9 + ")")
    window.code.edit.setFocus()
    qtbot.keyClick(window.code.edit, Qt.Key_Return, Qt.ControlModifier)
    shown = window.code.status.text().splitlines()
    assert len(shown) == 7 and shown[-1] == "… and 3 more (tinted)"
    assert window.code.marked_lines == list(range(2, 11))
    window.code.edit.setPlainText("nn.Sequential(nn.Flatten(), nn.Linear(784, 10))")
    with qtbot.waitSignal(window.code.applied):
        qtbot.keyClick(window.code.edit, Qt.Key_Return, Qt.ControlModifier)
    assert [layer.type for layer in window.document.layers] == ["Flatten", "Linear"]


def test_a_tutorial_class_pasted_with_its_indentation_becomes_named_cards(window):
    window.code.edit.setPlainText(textwrap.indent(textwrap.dedent("""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 6, 5)
                self.pool = nn.MaxPool2d(2, 2)
                self.fc1 = nn.Linear(6 * 12 * 12, 10)

            def forward(self, x):
                x = self.pool(F.relu(self.conv1(x)))
                x = torch.flatten(x, 1)
                return self.fc1(x)
        """), "    "))
    assert window.code.apply()
    assert [(layer.type, layer.name) for layer in window.document.layers] == [
        ("Conv2d", "conv1"), ("ReLU", None), ("MaxPool2d", "pool"), ("Flatten", None), ("Linear", "fc1")]
    assert window.code.status.text() == "Applied: 5 layers from class Net."

    # the dock now shows the cards as a Sequential named as the class names them, so its keys are those
    # of the exported weights (conv1.weight); editing a size there keeps the names
    assert window.code.source.startswith("nn.Sequential(OrderedDict([\n    ('conv1', nn.Conv2d(1, 6, 5)),\n")
    assert "('fc1', nn.Linear(864, 10))" in window.code.source
    window.code.edit.setPlainText(window.code.source.replace("out_channels=6", "out_channels=8")
                                  .replace("nn.Conv2d(1, 6, 5)", "nn.Conv2d(1, 8, 5)"))
    assert window.code.apply()
    assert window.document.layers[0].params["out_channels"] == 8
    assert [layer.name for layer in window.document.layers] == ["conv1", None, "pool", None, "fc1"]
