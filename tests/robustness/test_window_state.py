"""The window's own state: values in its settings file of the wrong kind, and networks longer than
the editor can show. A bad value is reset and said once; a long network is refused with the limit
and the command that takes it; the window is whole and keeps working either way."""

from __future__ import annotations

import json

from PySide6.QtCore import QSettings

from playground.core.spec import Project
from playground.ui.document import MAX_EDITOR_LAYERS

from .conftest import project_dict, snapshot

BAD_SETTINGS = """[files]
recent=@Point(1 2)
lastFolder=@Size(3 4)

[window]
geometry=not a geometry
state=@Rect(1 2 3 4)
"""


def _window(qtbot, settings_path, examples):
    from playground.ui.main_window import MainWindow

    win = MainWindow(Project.load(examples / "xor.json"), settings=QSettings(str(settings_path), QSettings.IniFormat))
    qtbot.addWidget(win)
    return win


def test_settings_of_the_wrong_kind_are_reset_and_said_once(qtbot, tmp_path, work, examples, dialogs):
    """`files/recent=@Point(1 2)` gave a traceback at every start and a half-built window."""
    ini = tmp_path / "settings.ini"
    ini.write_text(BAD_SETTINGS)
    win = _window(qtbot, ini, examples)
    try:
        assert win.built and win.files.recent_files() == []
        assert win.files._folder() == str(__import__("pathlib").Path.home())
        message = win.statusBar().currentMessage()
        assert message.startswith("Settings: ") and "it was reset" in message
        win._restore_settings()
        win.settings.sync()
        reread = QSettings(str(ini), QSettings.IniFormat)
        for key in ("files/recent", "files/lastFolder", "window/geometry", "window/state"):
            assert reread.value(key) is None, key          # reset: the next start says nothing
        # the window works: an edit, Save, and the recent list fills again
        path = work / "p.json"
        path.write_text(json.dumps(project_dict(examples)))
        assert win.files.open_path(path)
        win.document.set_training("batch_size", 7)
        assert win.files.save() and Project.load(path).training.batch_size == 7
        assert win.files.recent_files() == [str(path.resolve())]
    finally:
        win.session.shutdown()
    win.close()

    again = _window(qtbot, ini, examples)
    try:
        assert not again.statusBar().currentMessage().startswith("Settings: ")   # said once
        assert again.files.recent_files() == [str(path.resolve())]
    finally:
        again.session.shutdown()


def _long_project(examples, n):
    raw = project_dict(examples)
    raw["network"]["layers"] = [{"type": "Tanh", "params": {}}] * (n - 1) + [{"type": "Linear", "params": {"out_features": 2}}]
    return raw


def test_a_network_longer_than_the_editor_shows_is_refused_with_the_limit(window, dialogs, cli, work, examples):
    """10,000 layers froze the window for minutes (100,000: 8.7 GB, abort); the commands take them."""
    n = MAX_EDITOR_LAYERS + 1
    path = work / "long.json"
    path.write_text(json.dumps(_long_project(examples, n)))
    before = snapshot(work)
    layers = list(window.document.layers)
    assert window.files.open_path(path) is False
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "Cannot open")
    assert f"it has {n:,} layers, and the editor shows at most {MAX_EDITOR_LAYERS:,}" in text
    assert "playground train` / `playground inspect`" in text
    assert window.document.layers == layers          # the open project stays, no card was built

    # the same network pasted into the Code dock
    window.code.edit.setPlainText("nn.Sequential(\n" + "    nn.Tanh(),\n" * (n - 1) + "    nn.Linear(2, 2),\n)")
    assert window.code.apply() is False
    assert window.code.status.text().startswith(   # the line of the first layer past the limit
        f"line {MAX_EDITOR_LAYERS + 2}: it has {n:,} layers, and the editor shows at most {MAX_EDITOR_LAYERS:,}")
    assert window.document.layers == layers

    code, out, err = cli("inspect", path)            # the command takes any length
    assert code == 0 and f"{n - 1}  Linear" in out, err
    assert snapshot(work) == before
