"""Every key sequence reaches exactly one action, with each platform plugin's own key bindings.

Qt runs neither of two actions bound to one sequence ("ambiguous shortcut"): Redo did nothing under
xcb, where QKeySequence.Redo is Ctrl+Shift+Z and the same sequence was also bound by hand.
"""

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from playground.core.spec import Project
from playground.ui import shortcuts
from playground.ui.main_window import MainWindow
from tests.xvfb import x_display  # noqa: F401 — the fixture

DUMP = """
import json
from PySide6.QtGui import QGuiApplication, QKeySequence
app = QGuiApplication([])
print(json.dumps({k.name: [s.toString(QKeySequence.PortableText) for s in QKeySequence.keyBindings(k)]
                  for k in QKeySequence.StandardKey}))
"""


@pytest.fixture(autouse=True)
def discard_on_close(monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)


def platform_bindings(platform: str, display: str | None = None) -> dict[str, list[str]]:
    """QKeySequence.keyBindings for every standard key, as the `platform` plugin's theme answers."""
    env = {**os.environ, "QT_QPA_PLATFORM": platform}
    env.pop("QT_QPA_PLATFORMTHEME", None)
    if display:
        env["DISPLAY"] = display
    out = subprocess.run([sys.executable, "-c", DUMP], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(params=["offscreen", "minimal", "xcb"])
def bindings(request):
    if request.param == "xcb":
        return platform_bindings("xcb", request.getfixturevalue("x_display"))
    return platform_bindings(request.param)


def test_no_key_sequence_is_bound_twice(qtbot, tmp_path, examples, monkeypatch, bindings):
    monkeypatch.setattr(shortcuts, "standard_keys",
                        lambda key: [QKeySequence(s) for s in bindings[key.name]])
    win = MainWindow(Project.load(examples / "xor.json"),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    owners = shortcuts.shortcut_owners(win)
    twice = {key: names for key, names in owners.items() if len(names) > 1}
    assert not twice, f"bound to more than one action: {twice}"
    # both conventions redo, wherever the platform does not claim the key for something else
    assert {"Ctrl+Y", "Ctrl+Shift+Z"} <= {k.toString(QKeySequence.PortableText) for k in win.redo_action.shortcuts()}
    assert "Ctrl+Z" in owners and owners["Ctrl+Z"] == [win.undo_action.text()]


def test_ctrl_y_and_ctrl_shift_z_both_redo(qtbot, tmp_path, examples):
    win = MainWindow(Project.load(examples / "xor.json"),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitActive(win):   # shortcuts reach only the active window
        win.show()
        win.activateWindow()
    before = len(win.document.layers)
    win.document.append_layer("ReLU")
    win.editor.setFocus()
    for redo in ("Ctrl+Y", "Ctrl+Shift+Z"):
        qtbot.keySequence(win.editor, QKeySequence("Ctrl+Z"))   # typed: Qt's shortcut map decides
        assert len(win.document.layers) == before
        qtbot.keySequence(win.editor, QKeySequence(redo))
        assert len(win.document.layers) == before + 1, redo
