"""What the Data view shows, computed headless: the line that names the data, the balance of both
splits, the first images of each class (the real bytes), a table's rows and histograms (numpy as the
oracle), the one-picture mosaic and the seeded augmentation preview."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.core import data
from playground.core.augment import build_augment, check_augment
from playground.core.data import dataset_info, load
from playground.core.data_overview import (
    BINS, FIRST_ROWS, GAP, GAP_GREY, PER_CLASS, PREVIEW_VERSIONS, augment_preview, describe, mosaic,
    numeric_histogram, overview, table_columns,
)
from playground.core.errors import DataError
from playground.core.spec import DataSpec, Project
from tests.conftest import EXAMPLES, MNIST_SMALL


@pytest.fixture(scope="module")
def digits():
    x = data._read_idx(MNIST_SMALL / "t10k-images-idx3-ubyte.gz", 3, "image")
    y = data._read_idx(MNIST_SMALL / "t10k-labels-idx1-ubyte.gz", 1, "label").long()
    return x, y


def digit_folder(root, digits, per_class: dict[str, int]):
    x, y = digits
    words = ["zero", "one", "two"]
    for name, n in per_class.items():
        (root / name).mkdir(parents=True)
        for i, image in enumerate(x[y == words.index(name)][:n]):
            Image.fromarray(image.numpy()).save(root / name / f"{i:03d}.png")


def test_the_line_says_what_each_kind_of_data_gives(tmp_path, digits):
    iris = Project.load(EXAMPLES / "iris.json").data
    assert describe(iris) == "150 rows · 4 features · 3 classes (target 'species')"
    penguins = Project.load(EXAMPLES / "penguins.json").data
    assert describe(penguins).startswith("333 rows · 10 features · 3 classes")   # island and sex one-hot
    regression = DataSpec("table", {**iris.params, "target": "petal_width"})
    assert describe(regression) == "150 rows · 6 features · regression (target 'petal_width')"
    digit_folder(tmp_path / "d", digits, {"zero": 3, "one": 2})
    assert describe(DataSpec("image_folder", {"root": str(tmp_path / "d"), "channels": 3, "size": 32})) == \
        "5 images · 32×32 RGB · 2 classes"
    assert describe(DataSpec("mnist", {"train_samples": 400})) == "first 400 training images · 28×28 grey · 10 classes"
    assert describe(DataSpec("spiral", {"samples": 90})) == "90 samples · 2-D points · 3 classes"


def test_missing_cifar_files_are_said_before_a_run(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    with pytest.raises(DataError, match=r"CIFAR-10 needs 6 files that are not in .*cifar-10-batches-py: "
                                        r"data_batch_2, .*batches.meta\. Put the folder cifar-10-batches-py"):
        describe(DataSpec("cifar10", {"root": str(tmp_path)}))


def test_table_overview_balance_rows_and_histograms():
    spec = Project.load(EXAMPLES / "iris.json").data
    ds = load(spec)
    o = overview(spec, ds)
    assert o.class_names == ("setosa", "versicolor", "virginica")
    assert list(o.train_counts) == torch.bincount(ds.y_train, minlength=3).tolist()
    assert list(o.val_counts) == torch.bincount(ds.y_val, minlength=3).tolist()
    assert sum(o.train_counts) + sum(o.val_counts) == 150 and sum(o.val_counts) == 30
    lines = Path(spec.params["path"]).read_text().splitlines()
    assert o.columns == tuple(lines[0].split(","))
    assert [",".join(r) for r in o.rows] == lines[1 : 1 + FIRST_ROWS]
    assert [h.name for h in o.histograms] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    petal = np.array([float(line.split(",")[2]) for line in lines[1:]])
    expected, edges = np.histogram(petal, bins=BINS)
    assert list(o.histograms[2].counts) == expected.tolist()   # numpy's bins: the last one holds its right edge
    assert o.histograms[2].labels[0] == f"{edges[0]:.3g}–{edges[1]:.3g}" and o.histograms[2].numeric
    assert o.samples is None


def test_categories_count_their_rows_and_a_constant_column_is_one_bar():
    spec = Project.load(EXAMPLES / "penguins.json").data
    o = overview(spec, load(spec))
    island = next(h for h in o.histograms if h.name == "island")
    assert not island.numeric and island.labels == ("Biscoe", "Dream", "Torgersen")
    assert sum(island.counts) == 333 and island.counts == (163, 123, 47)
    assert "species" not in [h.name for h in o.histograms]            # the target is the balance, not a histogram
    flat = numeric_histogram("c", torch.full((5,), 2.5, dtype=torch.float64))
    assert flat.counts == (5,) and flat.labels == ("2.5",)


def test_samples_are_the_first_training_images_of_each_class_as_their_bytes(tmp_path, digits):
    digit_folder(tmp_path / "d", digits, {"zero": 12, "one": 5, "two": 9})
    spec = DataSpec("image_folder", {"root": str(tmp_path / "d"), "val_fraction": 0.25})
    ds = load(spec)
    o = overview(spec, ds)
    assert o.class_names == ("one", "two", "zero") and o.samples.shape == (3, PER_CLASS, 28, 28, 1)
    assert o.sample_counts == tuple(min(PER_CLASS, n) for n in o.train_counts)
    for label in range(3):
        first = ds.x_train[ds.y_train == label][:PER_CLASS]
        # normalize 0.5: x = (b/255 - 0.5)/0.5; back to bytes exactly (within half a step of 1/255)
        assert torch.equal(o.samples[label, : len(first), :, :, 0],
                           ((first[:, 0] * 0.5 + 0.5) * 255).round().to(torch.uint8))
    assert int(o.samples[0, o.sample_counts[0]:].sum()) == 0   # a class with fewer: the rest stays empty


def test_mosaic_is_one_picture_with_grey_gaps():
    tiles = torch.arange(2 * 3 * 2 * 2, dtype=torch.uint8).view(2, 3, 2, 2, 1)
    picture = mosaic(tiles)
    assert picture.shape == (2 * 2 + GAP, 3 * 2 + 2 * GAP, 3)
    assert torch.equal(picture[2 + GAP :, 2 * (2 + GAP) :][:, :2, 0], tiles[1, 2, :, :, 0])   # row 1, column 2
    assert torch.equal(picture[:, :, 0], picture[:, :, 2])                                     # grey stays grey
    assert int(picture[2, 0, 0]) == GAP_GREY


def test_the_augmentation_preview_is_seeded_and_is_the_augmentation(tmp_path, digits):
    digit_folder(tmp_path / "d", digits, {"zero": 4, "one": 4, "two": 4})
    augment = {"RandomCrop": {"padding": 4}, "RandomRotation": {"degrees": 20}}
    spec = DataSpec("image_folder", {"root": str(tmp_path / "d"), "normalize": "none", "val_fraction": 0.0},
                    augment)
    ds = load(spec)
    a = augment_preview(spec, ds.x_train, ds.y_train, samples=2, seed=5)
    assert a.shape == (2, 1 + PREVIEW_VERSIONS, 28, 28, 1)
    assert torch.equal(a, augment_preview(spec, ds.x_train, ds.y_train, samples=2, seed=5))
    assert not torch.equal(a, augment_preview(spec, ds.x_train, ds.y_train, samples=2, seed=6))
    firsts = [ds.x_train[ds.y_train == k][0] for k in range(2)]
    assert torch.equal(a[:, 0, :, :, 0], (torch.stack(firsts)[:, 0] * 255).round().to(torch.uint8))
    # the oracle: the run's own augmentation, drawn from a generator seeded alike
    fn = build_augment(check_augment(augment, (1, 28, 28)))
    moved = fn(torch.stack(firsts).repeat_interleave(PREVIEW_VERSIONS, 0), torch.Generator().manual_seed(5))
    assert torch.equal(a[:, 1:].flatten(0, 1)[..., 0], (moved[:, 0].clamp(0, 1) * 255).round().to(torch.uint8))
    plain = DataSpec("image_folder", spec.params)
    assert augment_preview(plain, ds.x_train, ds.y_train) is None


def test_table_columns_come_from_the_header_and_unreadable_is_none(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n")
    spec = DataSpec("table", {"path": str(path)})
    assert table_columns(spec) == ("a", "b", "label")
    assert table_columns(DataSpec("table", {"path": str(path), "delimiter": ";"})) == ()
    assert table_columns(DataSpec("table", {"path": str(tmp_path / "gone.csv")})) == ()
    assert dataset_info(spec).class_names == ("x", "y")
