"""Fixtures every test that drives the window needs; imported by the conftests of tests/ui and
tests/robustness (tests/core never starts Qt)."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def collect_garbage_in_the_gui_thread(qapp):
    """As the app does: a collection in a training thread that frees Qt objects deadlocks."""
    from playground.ui.gc_guard import MainThreadGarbageCollector

    collector = MainThreadGarbageCollector(qapp)
    collector.start()
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """A test fails if it leaves a QThread running."""
    from PySide6.QtCore import QThread

    before = set(map(id, qapp.findChildren(QThread)))
    yield
    running = [t for t in qapp.findChildren(QThread) if id(t) not in before and t.isRunning()]
    assert not running, f"test left {len(running)} QThread(s) running"
