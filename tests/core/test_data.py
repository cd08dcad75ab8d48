"""core.data: synthetic sets, the split, Batches against DataLoader, MNIST-format files (no network)."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from playground.core import data
from playground.core.data import DATASETS, Batches, dataset_info, load
from playground.core.errors import DataError, ProjectError
from playground.core.params import ParamError
from playground.core.spec import DataSpec

REGRESSION = ["linear", "quadratic", "sine"]
PLANE_REGRESSION = ["plane", "gaussian_mixture"]   # regression on points of the plane (tests/core/test_features.py)
POINTS = ["circles", "xor", "gaussians", "spiral", "moons"]
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_catalogue_names_and_tasks():
    assert list(DATASETS) == REGRESSION + PLANE_REGRESSION + POINTS + ["mnist", "fashion_mnist", "table", "image_folder", "cifar10"]
    for name, kind in DATASETS.items():
        assert kind.name == name and kind.doc
        assert kind.task == ("regression" if name in REGRESSION + PLANE_REGRESSION else "classification")   # a table's: its file's
        assert kind.plane == (name in PLANE_REGRESSION + POINTS)
        assert kind.image == (name in ("mnist", "fashion_mnist", "image_folder", "cifar10"))
        assert {"seed", "val_fraction"} <= {p.name for p in kind.params}
    # the datasets of the user's own files: a relative path in the project is from its folder
    from playground.core.spec import DATA_FILE_PARAMS

    own = {name: kind for name, kind in DATASETS.items() if kind.source in ("table", "folder", "cifar")}
    assert DATA_FILE_PARAMS.keys() == own.keys()
    assert all(DATA_FILE_PARAMS[name] in {p.name for p in kind.params} for name, kind in own.items())


# --- synthetic ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_shapes(name):
    ds = load(DataSpec(name, {"samples": 100, "val_fraction": 0.25}))
    assert ds.info == dataset_info(DataSpec(name)) and ds.info.task == "regression"
    assert ds.info.input_shape == (1,) and ds.info.n_classes is None
    assert ds.x_train.shape == (75, 1) and ds.y_train.shape == (75, 1)
    assert ds.x_val.shape == (25, 1) and ds.y_val.shape == (25, 1)
    assert ds.x_train.dtype == ds.y_train.dtype == torch.float32
    assert ds.x_test is None and ds.y_test is None


def test_regression_formulas_without_noise():
    x, y = _all(load(DataSpec("linear", {"noise": 0.0, "a": 3.0, "b": -1.0})))
    assert x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(y, 3 * x - 1)
    x, y = _all(load(DataSpec("quadratic", {"noise": 0.0})))
    torch.testing.assert_close(y, x**2)
    x, y = _all(load(DataSpec("sine", {"noise": 0.0, "frequency": 2.0})))
    assert x.min() >= -torch.pi and x.max() <= torch.pi
    torch.testing.assert_close(y, torch.sin(2 * x))


def _all(ds):
    return torch.cat([ds.x_train, ds.x_val]), torch.cat([ds.y_train, ds.y_val])


@pytest.mark.parametrize("name", POINTS)
def test_classification_shapes(name):
    ds = load(DataSpec(name, {"samples": 300}))
    k = 3 if name in ("gaussians", "spiral") else 2
    assert ds.info.input_shape == (2,) and ds.info.n_classes == k and len(ds.info.class_names) == k
    assert ds.x_train.shape == (240, 2) and ds.x_train.dtype == torch.float32
    assert ds.y_train.shape == (240,) and ds.y_train.dtype == torch.int64
    assert ds.x_val.shape == (60, 2) and ds.y_val.shape == (60,)
    assert set(_all(ds)[1].tolist()) == set(range(k))
    assert torch.isfinite(ds.x_train).all()


@pytest.mark.parametrize("name", REGRESSION + PLANE_REGRESSION + POINTS)
def test_seeded(name):
    a, b = load(DataSpec(name, {"seed": 3})), load(DataSpec(name, {"seed": 3}))
    for field in ("x_train", "y_train", "x_val", "y_val"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    c = load(DataSpec(name, {"seed": 4}))
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", ["gaussians", "spiral"])
@pytest.mark.parametrize("k", [2, 7, 10])
def test_classes_param(name, k):
    ds = load(DataSpec(name, {"classes": k, "samples": 200}))
    assert ds.info.n_classes == k and ds.info.class_names == tuple(str(i) for i in range(k))
    assert set(_all(ds)[1].tolist()) == set(range(k))


def test_geometry():
    x, y = _all(load(DataSpec("circles", {"noise": 0.0})))
    radius = x.norm(dim=1)
    torch.testing.assert_close(radius[y == 0], torch.ones(int((y == 0).sum())))
    torch.testing.assert_close(radius[y == 1], torch.full((int((y == 1).sum()),), 0.5))
    x, y = _all(load(DataSpec("xor", {"noise": 0.0})))
    assert torch.equal(y, (x[:, 0] * x[:, 1] > 0).long())
    x, y = _all(load(DataSpec("moons", {"noise": 0.0, "samples": 101})))
    assert (y == 0).sum() == 50 and (y == 1).sum() == 51


@pytest.mark.parametrize("fraction,n_val", [(0.0, 0), (0.1, 10), (0.5, 50), (0.9, 90)])
def test_val_fraction(fraction, n_val):
    ds = load(DataSpec("xor", {"samples": 100, "val_fraction": fraction}))
    assert len(ds.x_val) == len(ds.y_val) == n_val
    assert len(ds.x_train) == len(ds.y_train) == 100 - n_val
    assert ds.x_val.shape[1:] == (2,)
    if n_val:   # a partition of the generated points
        whole = load(DataSpec("xor", {"samples": 100, "val_fraction": 0.0})).x_train
        both = torch.cat([ds.x_train, ds.x_val])
        assert torch.equal(both[both[:, 0].argsort()], whole[whole[:, 0].argsort()])


def test_unknown_dataset():
    with pytest.raises(ProjectError, match=r"unknown dataset 'cifar'.*linear.*mnist, fashion_mnist"):
        dataset_info(DataSpec("cifar"))
    with pytest.raises(ProjectError, match="unknown dataset"):
        load(DataSpec("cifar"))


@pytest.mark.parametrize("params,message", [
    ({"samples": 1}, r"data\.params\.samples must be at least 4, not 1"),
    ({"classes": 11}, r"data\.params\.classes must be at most 10, not 11"),
    ({"val_fraction": 0.95}, r"data\.params\.val_fraction must be at most 0\.9"),
    ({"seed": -1}, r"data\.params\.seed must be at least 0"),
    ({"noise": "lots"}, r"data\.params\.noise must be a number"),
    ({"frequency": 2.0}, r"data\.params: unknown parameter 'frequency' \(known: samples, noise, classes"),
])
def test_bad_params(params, message):
    with pytest.raises(ParamError, match=message):
        dataset_info(DataSpec("spiral", params))


def test_describing_data_does_not_import_torchvision():
    code = ("import sys; from playground.core import data, spec; "
            "data.dataset_info(spec.DataSpec('fashion_mnist')); data.load(spec.DataSpec('xor')); "
            "assert 'torchvision' not in sys.modules")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)


def test_device_move():
    ds = load(DataSpec("moons"), device=torch.device("cpu"))
    assert ds.x_train.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda():
    ds = load(DataSpec("spiral"), device="cuda")
    assert ds.x_train.is_cuda and ds.y_val.is_cuda
    batches = Batches(ds.x_train, ds.y_train, 64, seed=1)
    seen = torch.cat([yb for _, yb in batches])
    assert seen.is_cuda and len(seen) == len(ds.y_train)
    again = torch.cat([yb for _, yb in Batches(ds.x_train, ds.y_train, 64, seed=1)])
    assert torch.equal(seen, again)


# --- Batches -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n,size", [(100, 32), (96, 32), (5, 8), (1, 1), (0, 4)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_len_like_dataloader(n, size, drop_last):
    x, y = torch.arange(n).float().unsqueeze(1), torch.arange(n)
    loader = DataLoader(TensorDataset(x, y), batch_size=size, drop_last=drop_last)
    batches = Batches(x, y, size, drop_last=drop_last)
    assert len(batches) == len(loader)
    assert [len(xb) for xb, _ in batches] == [len(xb) for xb, _ in loader]


def test_batches_cover_each_sample_once_and_epochs_differ():
    x, y = torch.arange(103).float().unsqueeze(1) * 10, torch.arange(103)
    batches = Batches(x, y, 16, seed=5)
    epochs = []
    for _ in range(3):
        pairs = list(batches)
        xs, ys = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
        assert torch.equal(xs.squeeze(1), ys.float() * 10)   # x and y stay paired
        assert sorted(ys.tolist()) == list(range(103))
        epochs.append(ys)
    assert not torch.equal(epochs[0], epochs[1]) and not torch.equal(epochs[1], epochs[2])
    again = Batches(x, y, 16, seed=5)
    for expected in epochs:
        assert torch.equal(torch.cat([yb for _, yb in again]), expected)
    other = torch.cat([yb for _, yb in Batches(x, y, 16, seed=6)])
    assert not torch.equal(other, epochs[0])


def test_batches_without_shuffle_keep_order():
    x, y = torch.randn(50, 3), torch.arange(50)
    got = list(Batches(x, y, 20, shuffle=False))
    assert [len(b[0]) for b in got] == [20, 20, 10]
    assert torch.equal(torch.cat([b[0] for b in got]), x)
    assert torch.equal(torch.cat([b[1] for b in got]), y)
    dropped = list(Batches(x, y, 20, shuffle=False, drop_last=True))
    assert torch.equal(torch.cat([b[1] for b in dropped]), y[:40])


def test_batches_refuse_mismatch():
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        Batches(torch.zeros(3, 1), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="batch_size"):
        Batches(torch.zeros(3, 1), torch.zeros(3), 0)


# --- MNIST-format files ------------------------------------------------------------------------


def idx_bytes(array: torch.Tensor) -> bytes:
    ndim = array.dim()
    return bytes([0, 0, 8, ndim]) + struct.pack(f">{ndim}I", *array.shape) + array.numpy().tobytes()


def write_set(folder: Path, n_train=20, n_test=8, gz=True, skip=()) -> dict:
    """Write small, valid MNIST-format files; return the tensors that were written."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = torch.randint(0, 256, (n, 28, 28), generator=gen, dtype=torch.uint8)
        if n:
            images[0, 0, 0], images[0, 0, 1] = 0, 255   # the full range, for the normalisation checks
        labels = torch.arange(n, dtype=torch.uint8) % 10
        tensors[split] = (images, labels)
        for kind, t in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            if name + ".gz" in skip:
                continue
            payload = idx_bytes(t)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(payload, mtime=0))
            else:
                (folder / name).write_bytes(payload)
    return tensors


def mnist(root, name="mnist", **params):
    return load(DataSpec(name, {"root": str(root), "download": False, **params}))


@pytest.fixture(autouse=True)
def _fresh_cache():
    data._CACHE.clear()
    yield
    data._CACHE.clear()


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["MNIST/raw", "."])
def test_mnist_files(tmp_path, gz, layout):
    written = write_set(tmp_path / layout, gz=gz)
    ds = mnist(tmp_path, val_fraction=0.0, normalize="none")
    assert ds.info.input_shape == (1, 28, 28) and ds.info.class_names == tuple("0123456789")
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_train.dtype == torch.float32
    assert ds.y_train.dtype == torch.int64 and ds.y_test.shape == (8,)
    images, labels = written["train"]
    assert torch.equal(ds.x_train, images.unsqueeze(1).float() / 255)
    assert torch.equal(ds.y_train, labels.long())
    assert torch.equal(ds.x_test, written["t10k"][0].unsqueeze(1).float() / 255)
    assert len(ds.x_val) == 0


def test_gz_is_read_in_place(tmp_path):
    write_set(tmp_path)
    before = sorted(os.listdir(tmp_path))
    os.chmod(tmp_path, 0o555)   # a read-only folder still works: nothing is unpacked next to the .gz
    try:
        mnist(tmp_path)
    finally:
        os.chmod(tmp_path, 0o755)
    assert sorted(os.listdir(tmp_path)) == before


def test_fashion_mnist_layout(tmp_path):
    write_set(tmp_path / "FashionMNIST" / "raw")
    ds = mnist(tmp_path, "fashion_mnist", val_fraction=0.25)
    assert ds.info.class_names[:2] == ("T-shirt/top", "Trouser") and len(ds.info.class_names) == 10
    assert len(ds.x_train) == 15 and len(ds.x_val) == 5 and len(ds.x_test) == 8
    with pytest.raises(DataError, match="^MNIST needs 4 files"):
        mnist(tmp_path)   # FashionMNIST/raw is not MNIST/raw
    with pytest.raises(DataError, match="^Fashion-MNIST needs 4 files"):
        mnist(tmp_path / "FashionMNIST", "fashion_mnist")


@pytest.mark.parametrize("how,low,high", [("0.5", -1.0, 1.0), ("none", 0.0, 1.0),
                                          ("mean_std", -0.1307 / 0.3081, (1 - 0.1307) / 0.3081)])
def test_normalize(tmp_path, how, low, high):
    write_set(tmp_path)
    ds = mnist(tmp_path, normalize=how)
    x = torch.cat([ds.x_train, ds.x_val])
    assert x.min().item() == pytest.approx(low, abs=1e-6)
    assert x.max().item() == pytest.approx(high, abs=1e-6)
    assert ds.x_test.min() >= low - 1e-6 and ds.x_test.max() <= high + 1e-6


def test_normalize_fashion_mean_std(tmp_path):
    written = write_set(tmp_path)
    ds = mnist(tmp_path, "fashion_mnist", normalize="mean_std", val_fraction=0.0)
    expected = (written["train"][0].unsqueeze(1).float() / 255 - 0.2860) / 0.3530
    torch.testing.assert_close(ds.x_train, expected)


def test_train_samples(tmp_path):
    written = write_set(tmp_path)
    ds = mnist(tmp_path, train_samples=5, val_fraction=0.0)
    assert torch.equal(ds.y_train, written["train"][1][:5].long())
    assert len(ds.x_test) == 8   # the test split is never cut
    ds = mnist(tmp_path, train_samples=10, val_fraction=0.2)
    assert len(ds.x_train) == 8 and len(ds.x_val) == 2


def test_empty_training_set(tmp_path):
    write_set(tmp_path, n_train=0)
    with pytest.raises(DataError, match="no training samples"):
        mnist(tmp_path)


def test_second_load_uses_cache(tmp_path, monkeypatch):
    write_set(tmp_path)
    first = mnist(tmp_path, val_fraction=0.0)
    monkeypatch.setattr(data, "_read_idx", lambda *a: pytest.fail("read again"))
    second = mnist(tmp_path, val_fraction=0.0)
    assert torch.equal(first.x_train, second.x_train)


@pytest.mark.parametrize("skip", [FILES, FILES[1:3], FILES[3:]])
def test_missing_files_are_named(tmp_path, skip):
    write_set(tmp_path / "MNIST" / "raw", skip=skip)
    with pytest.raises(DataError) as e:
        mnist(tmp_path)
    message = str(e.value)
    assert f"needs {len(skip)} file" in message
    assert ", ".join(skip) in message
    for name in set(FILES) - set(skip):
        assert name not in message
    assert str(tmp_path) in message
    if len(skip) == 4:
        assert f"in {tmp_path / 'MNIST' / 'raw'} or directly in {tmp_path}" in message
        assert "tick download" in message


def test_missing_from_flat_folder(tmp_path):
    write_set(tmp_path, skip=FILES[:1])
    with pytest.raises(DataError, match=f"needs 1 file that is not in {tmp_path}: {FILES[0]}. Put"):
        mnist(tmp_path)


def test_failed_download_is_a_data_error(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def offline(self):
        assert self.raw_folder == str(tmp_path / "MNIST" / "raw")   # torchvision's own place
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\n<urlopen error no network>")

    monkeypatch.setattr(MNIST, "download", offline)
    with pytest.raises(DataError, match="MNIST needs 4 files.*Downloading them failed: <urlopen error no"):
        load(DataSpec("mnist", {"root": str(tmp_path), "download": True}))


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data.default_root() == tmp_path / "playground" / "datasets"
    with pytest.raises(DataError, match=str(tmp_path / "playground" / "datasets")):
        load(DataSpec("mnist", {"download": False}))


def _damage(path: Path, how: str):
    raw = gzip.decompress(path.read_bytes())
    if how == "truncated gzip":
        path.write_bytes(path.read_bytes()[:-30])
    elif how == "not gzip":
        path.write_bytes(raw)   # an unpacked file wearing a .gz name
    elif how == "short payload":
        path.write_bytes(gzip.compress(raw[:-100]))
    elif how == "bad magic":
        path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + raw[4:]))


@pytest.mark.parametrize("how,message", [
    ("truncated gzip", "is corrupt or truncated"),
    ("not gzip", "is corrupt or truncated"),
    ("short payload", "is corrupt or truncated: expected 6272 bytes of image data, found 6172"),
    ("bad magic", "is not an IDX image file"),
])
def test_damaged_file_is_named(tmp_path, how, message):
    write_set(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    _damage(path, how)
    with pytest.raises(DataError, match=message) as e:
        mnist(tmp_path)
    assert str(path) in str(e.value) and "delete it and download again" in str(e.value)


def test_unpacked_truncated_and_mismatched(tmp_path):
    write_set(tmp_path, gz=False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:5])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is not an IDX label file"):
        mnist(tmp_path)
    labels.write_bytes(idx_bytes(torch.zeros(7, dtype=torch.uint8)))
    with pytest.raises(DataError, match="holds 8 images but .* holds 7 labels"):
        mnist(tmp_path)
    labels.write_bytes(idx_bytes(torch.full((8,), 12, dtype=torch.uint8)))
    with pytest.raises(DataError, match="holds label 12, but MNIST has only 10 classes"):
        mnist(tmp_path)


# --- the real MNIST test set -------------------------------------------------------------------


def test_real_digits_committed_with_the_tests(mnist_root):
    ds = mnist(mnist_root, val_fraction=0.2, normalize="none")
    assert ds.x_test.shape == (1_000, 1, 28, 28) and ds.y_test.shape == (1_000,)
    assert len(ds.x_train) == 800 and len(ds.x_val) == 200
    assert set(ds.y_test.tolist()) == set(range(10))
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]   # the well-known first digits
    assert 0.11 < ds.x_test.mean().item() < 0.15                        # near MNIST's mean, 0.1307


def test_real_mnist_t10k(mnist_full_root):
    ds = mnist(mnist_full_root, val_fraction=0.2, normalize="none")
    assert ds.x_test.shape == (10_000, 1, 28, 28) and ds.y_test.shape == (10_000,)
    assert len(ds.x_train) == 8_000 and len(ds.x_val) == 2_000
    assert set(ds.y_test.tolist()) == set(range(10))
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]   # the well-known first digits
    assert 0.12 < ds.x_test.mean().item() < 0.14                        # MNIST's mean, 0.1307


def test_batches_reuse_one_buffer_and_overlapping_epochs_stay_apart():
    x, y = torch.arange(40).float().unsqueeze(1), torch.arange(40)
    batches = Batches(x, y, 8, seed=3)
    first = [(xb.clone(), yb.clone()) for xb, yb in batches]
    again = Batches(x, y, 8, seed=3)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first, again))   # the same orders as before
    a, b = iter(batches), iter(batches)   # two epochs at once (zip, a nested loop): each its own order
    pairs = [(xa.clone(), ya.clone(), xb, yb) for (xa, ya), (xb, yb) in zip(a, b)]
    ya, yb = torch.cat([p[1] for p in pairs]), torch.cat([p[3] for p in pairs])
    assert sorted(ya.tolist()) == sorted(yb.tolist()) == list(range(40)) and not torch.equal(ya, yb)
    assert all(torch.equal(p[0].squeeze(1), p[1].float()) and torch.equal(p[2].squeeze(1), p[3].float())
               for p in pairs)


def test_holds_image_files_looks_in_both_layouts_without_reading(tmp_path):
    from playground.core.data import IDX_FILES, holds_image_files, image_root

    assert not holds_image_files(tmp_path, "mnist")
    for name in IDX_FILES[:3]:
        (tmp_path / f"{name}.gz").write_bytes(b"")       # only looked at, never read
    assert not holds_image_files(tmp_path, "mnist")      # one missing
    (tmp_path / IDX_FILES[3]).write_bytes(b"")           # unpacked is fine too
    assert holds_image_files(tmp_path, "mnist") and holds_image_files(tmp_path, "fashion_mnist")
    raw = tmp_path / "other" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_FILES:
        (raw / name).write_bytes(b"")
    assert holds_image_files(tmp_path / "other", "fashion_mnist") and not holds_image_files(tmp_path / "other", "mnist")
    assert image_root(DataSpec("xor")) is None
    assert image_root(DataSpec("mnist", {"root": str(tmp_path)})) == tmp_path
