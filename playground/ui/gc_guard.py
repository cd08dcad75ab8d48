"""Python's cycle collector, run only in the GUI thread.

Automatic collection runs in whichever thread happens to allocate: during a run that
is the training thread, and collecting a cycle that holds Qt objects there deletes
them off the GUI thread — shiboken then waits for the GIL the GUI thread is waiting
to give back, and the app freezes. So automatic collection is switched off and a
timer in the GUI thread collects, generation by generation, as the counts grow.

A full collection walks every tracked object, and after start-up (torch, Qt, pyqtgraph) those
are some 370,000: a second's stall of the window every few seconds of training. settle()
moves what start-up made into the permanent generation (gc.freeze), so later collections
walk only what was made since.

What was made since still costs a full collection ~90 ms (opening a project builds views, plots,
menus), longer than a frame. So while a run trains (`follow(session)`) full collections wait and
the younger generations go on: cycles that live long enough to reach the oldest generation are
rare and small next to a run's tensors, and the collection that frees them runs when it ends.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadGarbageCollector(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._busy = False        # a run trains: full collections wait until it ends

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def settle(self) -> None:
        """After start-up: collect once, then keep the survivors (modules, classes, the window)
        out of every later collection; they live as long as the app does."""
        gc.collect()
        gc.freeze()

    def follow(self, session) -> None:
        """Hold full collections while `session` (ui.session.TrainingSession) trains."""
        session.run_started.connect(lambda _run_id: self.set_busy(True))
        session.run_finished.connect(lambda _run_id, _end: self.set_busy(False))

    def set_busy(self, busy: bool) -> None:
        self._busy = busy

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def _on_timer_timeout(self) -> None:
        # the same policy as the automatic collector, just in this thread
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(1 if generation == 2 and self._busy else generation)
                return
