"""An uncaught exception anywhere shows a dialog with a copyable traceback; the app keeps running."""

import sys

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

from playground.ui.errors import ErrorDialog, ExceptionHook


@pytest.fixture
def shown(monkeypatch):
    dialogs = []
    monkeypatch.setattr(ErrorDialog, "exec", lambda self: dialogs.append(self) or 0)
    return dialogs


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_shows_the_dialog(qtbot, shown, capsys):
    hook = ExceptionHook()
    hook.install()
    try:
        def broken():
            raise ValueError("the slot broke")

        QTimer.singleShot(0, broken)
        qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    finally:
        hook.uninstall()
    dialog = shown[0]
    assert "the slot broke" in dialog.details.toPlainText()
    assert "Traceback" in dialog.details.toPlainText() and "broken" in dialog.details.toPlainText()
    assert sys.excepthook is not hook._hook


def test_exception_in_a_thread_reaches_the_gui_thread(qtbot, shown):
    import threading

    hook = ExceptionHook()
    hook.install()
    try:
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
    finally:
        hook.uninstall()
    assert "ZeroDivisionError" in shown[0].details.toPlainText()


def test_details_can_be_copied(qtbot):
    dialog = ErrorDialog("RuntimeError: boom", "Traceback (most recent call last):\n  boom\n")
    qtbot.addWidget(dialog)
    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy details")
    copy.click()
    assert QGuiApplication.clipboard().text().startswith("Traceback")
    assert dialog.details.isReadOnly()
