"""File > Load weights with other names: the mapping by layer order is shown, and used only if confirmed."""

import textwrap

import pytest
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from playground.core.code_import import parse_sequential
from playground.core.spec import Project
from playground.ui.main_window import MainWindow

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


@pytest.mark.parametrize("answer", [QMessageBox.Yes, QMessageBox.Cancel])
def test_other_names_are_loaded_by_order_only_after_the_table_is_confirmed(window, tmp_path, monkeypatch,
                                                                           warnings_shown, answer):
    torch.save(state("net."), tmp_path / "other.pt")
    shown = []

    def exec_(box):
        shown.append((box.objectName(), box.detailedText()))
        return answer

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    assert window.files.load_weights_from(tmp_path / "other.pt") == (answer == QMessageBox.Yes)
    name, table = shown[0]
    assert name == "loadByOrderBox"
    assert table.splitlines()[0].split() == ["net.0.weight", "→", "0.weight", "8×2"]
    if answer == QMessageBox.Yes:
        assert torch.equal(window.session.weights.model["2.weight"], state("net.")["net.2.weight"])
    else:
        assert window.session.weights is None
        assert "do not fit this network" in warnings_shown[-1][1]
