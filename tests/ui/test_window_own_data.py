"""Issue 18 in the window: the shipped tables and a folder of real digits open, show their data before
any training, and train to their accuracy through Start, in the worker process, as a person does it."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QPushButton

from playground.core import data
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.ui.main_window import MainWindow
from playground.ui.views.data import DataView
from tests.conftest import EXAMPLES, MNIST_SMALL

RUN_TIMEOUT = 120_000   # ms; the longest (penguins, 40 epochs of 267 rows) takes a few seconds


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    win = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.session.shutdown()


def train(qtbot, win) -> dict:
    """Start as a person does; wait for the run's end; the last epoch's record of the weights it left."""
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        qtbot.mouseClick(win.findChild(QPushButton, "startButton"), Qt.LeftButton)
    end = blocker.args[1]
    assert end.status == "finished", end.reason
    return win.session.weights.history["epochs"][-1]


def data_view_shown(qtbot, win) -> DataView:
    view = win.views.view(DataView)
    assert win.views.currentWidget() is view        # the first tab: the data, before any weights
    qtbot.waitUntil(lambda: view.overview is not None, timeout=10_000)
    return view


# The published figures (see tests/core/test_tables.py): a small MLP classifies Iris at 93-100 % and
# the penguins' species at 95-100 % held out. The window trains with the core's Trainer, from the
# same project and seed, in a worker process; only float rounding (thread counts) may differ, so the
# floors are the core test's whole counts of the 30 and 66 validation rows: 28/30 and 63/66.
@pytest.mark.parametrize("example, rows, floor", [("iris", 30, 28 / 30), ("penguins", 66, 63 / 66)])
def test_a_shipped_table_opens_shows_its_data_and_trains_in_the_window(qtbot, window, example, rows, floor):
    window.files.open_example(EXAMPLES / f"{example}.json")
    view = data_view_shown(qtbot, window)
    assert sum(view.overview.val_counts) == rows and view.rows.rowCount() > 0
    assert window.panel.data_error.text() == "" and window.panel.start_button.isEnabled()
    last = train(qtbot, window)
    assert last["val_accuracy"] >= floor


def test_a_folder_of_real_digits_trains_in_the_window(qtbot, window, tmp_path):
    x = data._read_idx(MNIST_SMALL / "t10k-images-idx3-ubyte.gz", 3, "image")
    y = data._read_idx(MNIST_SMALL / "t10k-labels-idx1-ubyte.gz", 1, "label")
    root = tmp_path / "digits"
    for k, word in enumerate(("zero", "one", "two")):
        (root / word).mkdir(parents=True)
        for i, image in enumerate(x[y == k][:40]):
            Image.fromarray(image.numpy()).save(root / word / f"{i:02d}.png")
    project = Project(
        NetworkSpec([1, 28, 28], [LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 32}),
                                  LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 3})]),
        DataSpec("image_folder", {"root": str(root), "val_fraction": 0.25, "seed": 0},
                 {"RandomCrop": {"padding": 2}}),
        TrainingSpec(loss=ComponentSpec("CrossEntropyLoss"), optimizer=ComponentSpec("Adam", {"lr": 0.003}),
                     batch_size=16, epochs=15),
        name="digits",
    )
    path = tmp_path / "digits.json"
    project.save(path)
    window.files.open_path(path)
    view = data_view_shown(qtbot, window)
    assert view.overview.class_names == ("one", "two", "zero")
    assert view.preview.isVisible() and view.samples.image is not None
    assert window.panel.data_summary.text() == "120 images · 28×28 grey · 3 classes"
    last = train(qtbot, window)
    # 0, 1 and 2 are MNIST's most distinct digits: this seeded run ends at 29 of the 30 held-out images
    # headless, and seeds 0-3 end their last four epochs between 27 and 29 — so 27 (90 %) holds for any
    # rounding of the same run, and is far above the 33 % of guessing
    assert last["val_accuracy"] >= 27 / 30
