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


@pytest.fixture(scope="session", autouse=True)
def training_processes_end_with_the_session(qapp):
    """Every training process the tests started ends with them, as with the app (run_gui)."""
    yield
    from playground.ui import worker

    worker.wait_for_training_threads()


@pytest.fixture(autouse=True)
def no_run_left_training(qapp):
    """A test fails if it leaves a run training in a worker process (it is ended, then reported)."""
    yield
    import sys

    worker = sys.modules.get("playground.ui.worker")
    if worker is None or worker._pool is None:
        return
    busy = list(worker._pool._busy)
    for process in busy:
        worker._pool.retire(process)
    assert not busy, f"test left {len(busy)} run(s) training in a worker process"
