"""The Data view on real data (iris, folders of real MNIST digits): what it paints is the overview's,
it computes once per data settings and nothing while hidden, the preview follows the augmentation and
its own seed; the image views take colour images and class names from the folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from playground.core import data
from playground.core.data_overview import GAP, overview
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import FINISHED, Trainer
from playground.ui.views import data as data_view
from playground.ui.views.data import DataView
from playground.ui.views.data_cache import shared_cache
from playground.ui.views.images import ConfusionMatrixView, DrawDigitView, PredictionGallery
from playground.ui.views.panel import ViewsPanel
from tests.conftest import EXAMPLES, MNIST_SMALL

WAIT_MS = 5000


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


@pytest.fixture(scope="module")
def digit_root(tmp_path_factory):
    """ROOT/<word>/<i>.png: the first 12 real digits of 0, 1 and 2."""
    x = data._read_idx(MNIST_SMALL / "t10k-images-idx3-ubyte.gz", 3, "image")
    y = data._read_idx(MNIST_SMALL / "t10k-labels-idx1-ubyte.gz", 1, "label")
    root = tmp_path_factory.mktemp("digits")
    for k, word in enumerate(("zero", "one", "two")):
        (root / word).mkdir()
        for i, image in enumerate(x[y == k][:12]):
            Image.fromarray(image.numpy()).save(root / word / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def colour_root(tmp_path_factory):
    """The same digits in colour: red the ink, green half of it, blue the paper — channels told apart."""
    x = data._read_idx(MNIST_SMALL / "t10k-images-idx3-ubyte.gz", 3, "image")
    y = data._read_idx(MNIST_SMALL / "t10k-labels-idx1-ubyte.gz", 1, "label")
    root = tmp_path_factory.mktemp("colour")
    for k, word in enumerate(("zero", "one", "two")):
        (root / word).mkdir()
        for i, image in enumerate(x[y == k][:12].numpy()):
            rgb = np.stack([image, image // 2, 255 - image], -1)
            Image.fromarray(rgb, "RGB").save(root / word / f"{i:02d}.png")
    return root


def folder_project(root, channels=1, augment=None) -> Project:
    return Project(
        NetworkSpec([channels, 28, 28], [LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 3})]),
        DataSpec("image_folder", {"root": str(root), "channels": channels, "val_fraction": 0.25, "seed": 1},
                 augment or {}),
        TrainingSpec(loss=ComponentSpec("CrossEntropyLoss"), optimizer=ComponentSpec("Adam", {"lr": 0.01}),
                     batch_size=9, epochs=3),
    )


def shown(qtbot, view, project):
    qtbot.addWidget(view)
    view.resize(640, 700)
    view.set_project(project)
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.show()
    return view


def pixel(image, x, y) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_hidden_it_computes_nothing_and_shown_once_per_data_settings(qtbot):
    project = Project.load(EXAMPLES / "iris.json")
    view = DataView()
    qtbot.addWidget(view)
    view.set_project(project)
    assert view.computed == 0 and view.overview is None          # hidden: nothing read, nothing painted
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.show()
    assert view.computed == 1
    project.training.epochs = 5                                   # not about the data
    project.network.layers.pop()
    with qtbot.assertNotEmitted(view.drawn):
        view.set_project(project)
    view.set_weights({"0.weight": torch.zeros(1)})
    assert view.computed == 1
    project.data.params["seed"] = 3                               # another split
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.set_project(project)
    project.data.params["seed"] = 0                               # back: from the cache
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.set_project(project)
    assert view.computed == 2


def test_a_table_shows_its_balance_first_rows_and_histograms(qtbot):
    project = Project.load(EXAMPLES / "iris.json")
    view = shown(qtbot, DataView(), project)
    expected = overview(project.data, shared_cache.get(project.data))
    assert view.summary.text() == "150 rows · 4 features · 3 classes (target 'species')"
    assert view.balance.names == ("setosa", "versicolor", "virginica")
    assert (view.balance.train, view.balance.val) == (expected.train_counts, expected.val_counts)
    table = view.rows
    header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert header == list(expected.columns) and table.item(0, 4).text() == "setosa" and table.item(0, 0).text() == "5.1"
    assert [h.name for h in view.histograms.histograms] == ["sepal_length", "sepal_width", "petal_length",
                                                            "petal_width"]
    assert view.histograms.isVisible() and not view.samples.isVisible() and not view.preview.isVisible()
    tip = view.histograms.tooltip_at(5, 40)
    first = expected.histograms[0]
    assert tip == f"sepal_length: {first.labels[0]} · {first.counts[0]:,} rows"


def test_the_sample_grid_is_one_image_of_the_first_training_digits(qtbot, digit_root):
    project = folder_project(digit_root)
    view = shown(qtbot, DataView(), project)
    ds = shared_cache.get(project.data)
    assert view.summary.text() == "36 images · 28×28 grey · 3 classes"
    grid = view.samples
    z = grid.zoom
    assert z == 2 and grid.row_labels == tuple(f"{n} ({c})" for n, c in zip(("one", "two", "zero"),
                                                                             view.balance.train))
    # row 2 ("zero"), column 3: the fourth training image of class 2, pixel for pixel
    first = ds.x_train[ds.y_train == 2][3, 0]
    bytes_ = ((first * 0.5 + 0.5) * 255).round().to(torch.uint8)
    top, left = 2 * (28 + GAP), 3 * (28 + GAP)
    for y, x in ((14, 14), (5, 20), (27, 0)):
        assert pixel(grid.image, left + x, top + y) == (int(bytes_[y, x]),) * 3
    assert grid.image.width() == 8 * 28 + 7 * GAP                 # eight samples a class, in one picture


def test_the_preview_follows_the_augmentation_and_its_seed_only(qtbot, digit_root):
    project = folder_project(digit_root)
    view = shown(qtbot, DataView(), project)
    assert not view.preview.isVisible() and "No augmentation" in view.preview_note.text()
    assert not view.reshuffle_button.isEnabled()
    project.data.augment = {"RandomCrop": {"padding": 4}, "RandomHorizontalFlip": {"p": 0.5}}
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.set_project(project)
    assert view.computed == 1                                     # the overview is kept; only the preview is new
    first = view.preview.image.copy()
    assert view.preview.isVisible() and view.preview.row_labels == ("one", "two", "zero")
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        view.reshuffle_button.click()
    assert view.preview_seed == 1 and view.preview.image != first
    again = DataView()
    shown(qtbot, again, project)                                   # seed 0 again: the same pictures
    assert again.preview.image == first
    # column 0 is the image itself
    assert pixel(first, 14, 14) == pixel(view.samples.image, 14, 14)


def test_broken_data_says_why_in_the_view(qtbot, tmp_path):
    project = Project.load(EXAMPLES / "iris.json")
    project.data.params["path"] = str(tmp_path / "moved.csv")
    view = shown(qtbot, DataView(), project)
    assert view.message.isVisible() and "moved.csv" in view.message.text()
    assert not view.balance.isVisible()


def test_the_data_view_is_the_first_tab_and_asks_nothing_of_a_run(qtbot):
    panel = ViewsPanel()
    qtbot.addWidget(panel)
    panel.set_project(Project.load(EXAMPLES / "iris.json"))
    panel.show()
    assert isinstance(panel.currentWidget(), DataView) and panel.live_requests() == []
    assert not DataView.applies_to(Project.load(EXAMPLES / "quadratic.json"))   # its Fit view shows the points
    spiral = Project.load(EXAMPLES / "spiral.json")
    panel.set_project(spiral)                     # the boundary draws its points: that tab comes first
    assert not DataView.applies_to(spiral) and panel.currentWidget().objectName() != "dataView"


def test_gallery_confusion_and_layer_output_show_colour_images_with_the_folders_names(qtbot, digit_root,
                                                                                     colour_root):
    project = folder_project(colour_root, channels=3)
    trainer = Trainer(project)
    assert trainer.run().status == FINISHED
    state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
    assert not DrawDigitView.applies_to(project) and DrawDigitView.applies_to(folder_project(digit_root))
    gallery = PredictionGallery()
    qtbot.addWidget(gallery)
    gallery.resize(600, 450)
    gallery.set_project(project)
    gallery.set_weights(state)
    with qtbot.waitSignal(gallery.redrawn, timeout=WAIT_MS):
        gallery.show()
    entries = gallery.entries()
    assert len(entries) == 9 and gallery._pixels.shape == (9, 28, 28, 3)
    from playground.ui.views.gallery import gray_image

    split = shared_cache.get(project.data).x_val
    image = gray_image(gallery._pixels[0])
    expected = ((split[0, :, 14, 14] * 0.5 + 0.5) * 255).round().to(torch.uint8).tolist()
    assert pixel(image, 14, 14) == tuple(expected) and expected[0] != expected[2]   # red stays red
    from playground.ui.views.insight import _thumbnail

    thumb = _thumbnail(split[0]).toImage()
    assert not thumb.isGrayscale()                                    # the layer-output view's sample, in colour
    matrix = ConfusionMatrixView()
    qtbot.addWidget(matrix)
    matrix.set_project(project)
    matrix.set_weights(state)
    with qtbot.waitSignal(matrix.redrawn, timeout=WAIT_MS):
        matrix.show()
    assert int(matrix.matrix().sum()) == 9
    rows = [matrix.table.verticalHeaderItem(r).text() for r in range(3)]
    assert [r.split()[-1] for r in rows] == ["one", "two", "zero"]     # the folders' names, as sorted
    matrix.select_cell(0, 0)
    assert matrix.samples._pixels.shape[-1] == 3                      # its samples in colour too


def test_the_class_counts_are_in_sight_when_the_pictures_make_the_view_wider_than_its_dock(qtbot, digit_root):
    # the samples and the augmentation preview side by side are wider than the default dock: the
    # balance chart stretched with them and its counts sat off to the right, behind the scrollbar
    from playground.ui.layout import scrolled

    project = folder_project(digit_root, augment={"RandomHorizontalFlip": {"p": 0.5}})
    view = DataView()
    dock = scrolled(view)
    qtbot.addWidget(dock)
    dock.resize(600, 700)
    view.set_project(project)
    with qtbot.waitSignal(view.drawn, timeout=WAIT_MS):
        dock.show()
    qtbot.waitUntil(lambda: view.width() > dock.viewport().width())   # the pictures do not fit: it scrolls
    chart = view.balance
    assert chart.isVisible() and chart.width() == data_view.BALANCE_MAX_W   # as wide as it may be
    assert chart.mapTo(view, chart.rect().topRight()).x() < dock.viewport().width()
