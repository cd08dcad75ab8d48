"""pytest-qt set-up: a test fails if it leaves a QThread running."""

import pytest


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    from PySide6.QtCore import QThread

    before = set(map(id, qapp.findChildren(QThread)))
    yield
    running = [t for t in qapp.findChildren(QThread) if id(t) not in before and t.isRunning()]
    assert not running, f"test left {len(running)} QThread(s) running"
