"""What the window's run-store tests (the store, the A/B race) share: a tiny project, and fixtures
that keep every epoch's snapshot and answer the closing dialog."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec

RUN_TIMEOUT = 90_000   # ms: a cold worker's start (torch's import) on a busy 2-core machine included


def tiny(epochs=3) -> Project:
    layers = [LayerSpec("Linear", {"out_features": 4}), LayerSpec("Tanh", {}), LayerSpec("Linear", {"out_features": 2})]
    return Project(network=NetworkSpec([2], layers), data=DataSpec("xor", {"samples": 64}),
                   training=TrainingSpec(optimizer=ComponentSpec("Adam", {"lr": 0.05}), batch_size=16,
                                         epochs=epochs), name="Tiny")


def same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(autouse=True)
def every_epoch_snapshotted(monkeypatch):
    """These tests check each epoch's weights in the store: a tiny run's millisecond epochs would
    share snapshots (worker.SNAPSHOT_GAP_S); a test of the store checks that sharing."""
    from playground.ui import worker

    monkeypatch.setattr(worker, "SNAPSHOT_GAP_S", 0.0)


@pytest.fixture(autouse=True)
def no_questions(monkeypatch):
    """Closing a window with edits asks to save them: discard, as the tests change settings on purpose."""
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
