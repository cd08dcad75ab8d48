"""Autosave of the open project to a recovery file, and the offer to restore one after a crash."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from ..core.errors import PlaygroundError
from ..core.recovery import Recovered, RecoveryStore

INTERVAL_MS = 60_000  # every minute while the project has unsaved changes


class RecoveryAutosave(QObject):
    """Writes the document's project to the store on every run start and every minute while changed.

    A clean document needs no recovery file (its file on disk is the project); closing the
    window normally removes it."""

    def __init__(self, window, store: RecoveryStore, interval_ms: int = INTERVAL_MS):
        super().__init__(window)
        self.window = window
        self.store = store
        self.document = window.document
        self._changed = False  # since the last autosave
        self.problem: str | None = None  # why the last autosave failed, shown once
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        self.document.network_changed.connect(self._on_document_changed)
        self.document.settings_changed.connect(self._on_document_changed)
        self.document.clean_changed.connect(self._on_document_clean_changed)
        window.session.run_started.connect(lambda _run: self.save_now())

    def save_now(self) -> bool:
        try:
            self.store.save(self.document.project, self.document.path)
        except (PlaygroundError, OSError) as e:
            if self.problem is None:  # say it once, not every minute
                self.window.statusBar().showMessage(f"Autosave failed: {e}", 15000)
            self.problem = str(e)
            return False
        self.problem = None
        self._changed = False
        return True

    def close(self) -> None:
        """The window closes normally: stop, and leave nothing to recover."""
        self.timer.stop()
        self.store.close()

    def _on_document_changed(self) -> None:
        self._changed = True

    def _on_document_clean_changed(self, clean: bool) -> None:
        if clean:  # saved, or another file opened: the file on disk is the project
            self.store.discard()
            self._changed = False

    def _on_timer_timeout(self) -> None:
        if self._changed and not self.document.is_clean:
            self.save_now()


def offer_recovery(window, store: RecoveryStore) -> bool:
    """Ask about each project a crashed Playground left, newest first; True when one was restored.

    Restore opens it as modified (Save writes it back to where it came from, if that file still
    exists); Discard deletes the autosaved copy; closing the question keeps it for next time. After
    one is restored the rest stay for the next start."""
    try:
        for recovered in store.orphans():
            if recovered.project is None:
                _explain_unreadable(window, store, recovered)
                continue
            answer = QMessageBox.question(
                window, "Restore unsaved work?", _question(recovered),
                QMessageBox.Yes | QMessageBox.Discard, QMessageBox.Yes,
            )
            if answer == QMessageBox.Discard:
                store.remove(recovered)
                continue
            if answer != QMessageBox.Yes:
                continue  # not answered (the session ends, the box was torn down): keep it
            source = recovered.source if recovered.source and recovered.source.is_file() else None
            window.document.open(recovered.project, source, modified=True)
            window.session.set_weights(None)
            if window.recovery.save_now():  # this window's own file holds it now...
                store.remove(recovered)     # ...so the crashed one may go
            window.statusBar().showMessage(f"Restored “{recovered.project.name}” — save it to keep it", 10000)
            return True
        return False
    finally:
        store.release_claims()


def _question(recovered: Recovered) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovered.saved))
    if recovered.source is None:
        where = "never saved"
    elif recovered.source.is_file():
        where = f"from {recovered.source}"
    else:
        where = f"from {recovered.source}, which no longer exists"
    return (
        f"Playground did not close properly. The project “{recovered.project.name}” ({where}) "
        f"was autosaved at {when}.\n\nRestore it? Discard deletes the autosaved copy."
    )


def _explain_unreadable(window, store: RecoveryStore, recovered: Recovered) -> None:
    try:
        kept = store.set_aside(recovered)
    except OSError as e:
        kept = f"{recovered.path} (could not be renamed: {e.strerror})"
    QMessageBox.warning(
        window, "Autosaved project unreadable",
        f"A project autosaved before a crash cannot be read ({recovered.error}). "
        f"It was kept as {kept} and will not be offered again.",
    )
