"""File > Load weights with other names: the mapping by layer order is shown, and used only if confirmed."""

import textwrap

import pytest
import torch
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QLabel, QMessageBox

from playground.core.code_import import parse_sequential
from playground.core.spec import Project
from playground.ui.main_window import MainWindow
from playground.ui.mapping_dialog import WeightMappingDialog

SOURCE = textwrap.dedent("""\
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(2, 8)
            self.fc2 = nn.Linear(8, 2)

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))
    """)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    win = MainWindow(Project(parse_sequential(SOURCE, [2])),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    yield win
    win.session.shutdown()


def state(prefix: str) -> dict:
    torch.manual_seed(4)
    return {f"{prefix}{k}": v for k, v in torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                                                               torch.nn.Linear(8, 2)).state_dict().items()}


def test_the_original_names_load_and_export_back(window, tmp_path):
    weights = {k.replace("0.", "fc1.").replace("2.", "fc2."): v for k, v in state("").items()}
    torch.save(weights, tmp_path / "orig.pt")
    assert window.files.load_weights_from(tmp_path / "orig.pt")
    assert torch.equal(window.session.weights.model["2.bias"], weights["fc2.bias"])
    assert window.files.export_weights_to(tmp_path / "out.pt")
    assert list(torch.load(tmp_path / "out.pt")) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


@pytest.mark.parametrize("answer", [QDialog.Accepted, QDialog.Rejected])
def test_other_names_are_loaded_by_order_only_after_the_table_is_confirmed(window, tmp_path, monkeypatch,
                                                                           warnings_shown, answer):
    torch.save(state("net."), tmp_path / "other.pt")
    shown = []

    def exec_(dialog):
        shown.append(dialog.rows())
        return answer

    monkeypatch.setattr(WeightMappingDialog, "exec", exec_)
    assert window.files.load_weights_from(tmp_path / "other.pt") == (answer == QDialog.Accepted)
    # the file's key and shape, and the card's key as the network names it (the class's fc1, fc2)
    assert shown[0] == [("net.0.weight", "8×2", "fc1.weight", "8×2"), ("net.0.bias", "8", "fc1.bias", "8"),
                        ("net.2.weight", "2×8", "fc2.weight", "2×8"), ("net.2.bias", "2", "fc2.bias", "2")]
    if answer == QDialog.Accepted:
        assert torch.equal(window.session.weights.model["2.weight"], state("net.")["net.2.weight"])
    else:
        assert window.session.weights is None
        assert "do not fit this network" in warnings_shown[-1][1]


def test_the_dialog_lists_every_pair_and_loads_only_when_asked(qtbot):
    network = parse_sequential(SOURCE, [2])
    pairs = [("net.0.weight", "0.weight", (8, 2)), ("net.0.bias", "0.bias", (8,)),
             ("net.2.weight", "2.weight", (2, 8)), ("net.2.bias", "2.bias", (2,))]
    dialog = WeightMappingDialog(pairs, network, "other.pt", "the file has net.0.weight, the network fc1.weight")
    qtbot.addWidget(dialog)
    dialog.show()
    assert [dialog.table.horizontalHeaderItem(c).text() for c in range(4)] == ["In the file", "Shape", "→ Card",
                                                                              "Shape"]
    assert dialog.table.rowCount() == 4 and dialog.table.item(2, 2).toolTip() == "card 3, Linear"
    assert "other.pt" in dialog.findChild(QLabel, "mappingIntro").text()
    assert "fc1.weight" in dialog.reason.toPlainText()
    # Return does not load: the default button is Cancel
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog, Qt.Key_Return)
    dialog.show()
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.load_button, Qt.LeftButton)
    weights = {theirs: torch.full(shape, float(i)) for i, (theirs, _, shape) in enumerate(pairs)}
    assert {k: v[0].item() if v.dim() == 1 else v[0, 0].item() for k, v in dialog.mapped_state(weights).items()} \
        == {"0.weight": 0.0, "0.bias": 1.0, "2.weight": 2.0, "2.bias": 3.0}
