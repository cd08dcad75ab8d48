"""Shared helpers of the benchmarks: the data folder, the benchmark projects, the machine, JSON out."""

from __future__ import annotations

import copy
import gzip
import json
import os
import platform
import shutil
import statistics
import struct
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")   # Debian's dataset-fashion-mnist
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def find_fashion_root(data_root: str | None = None) -> Path | None:
    """The folder holding the four Fashion-MNIST files (.gz or not), or None."""
    from playground.core.data import default_root

    candidates = [Path(data_root).expanduser()] if data_root else []
    candidates += [SYSTEM_FASHION, default_root(), default_root() / "FashionMNIST" / "raw"]
    for folder in candidates:
        if all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in FILES):
            return folder
    return None


def random_idx_root(n_train: int, n_test: int = 1000, seed: int = 0) -> Path:
    """Random images and labels written as IDX files: the same shapes and the same reading path."""
    import numpy as np

    rng = np.random.default_rng(seed)
    root = Path(tempfile.mkdtemp(prefix="bench-random-"))
    for split, n in (("train", n_train), ("t10k", n_test)):
        (root / f"{split}-images-idx3-ubyte").write_bytes(
            struct.pack(">4B3I", 0, 0, 8, 3, n, 28, 28) + rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes())
        (root / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">4BI", 0, 0, 8, 1, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes())
    return root


def data_root_or_random(data_root: str | None, n_train: int) -> tuple[Path, bool, Path | None]:
    """(folder, real?, temporary folder to delete or None)."""
    found = find_fashion_root(data_root)
    if found is not None:
        return found, True, None
    tmp = random_idx_root(n_train)
    return tmp, False, tmp


def torchvision_layout(root: Path) -> Path:
    """A folder torchvision's FashionMNIST reads (ROOT/FashionMNIST/raw with unpacked files)."""
    out = Path(tempfile.mkdtemp(prefix="bench-tv-"))
    raw = out / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        plain, packed = root / name, root / f"{name}.gz"
        if plain.is_file():
            os.symlink(plain, raw / name)
        else:
            with gzip.open(packed, "rb") as src, open(raw / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return out


def load_project(name: str):
    from playground.core.spec import Project

    return Project.load(EXAMPLES / name)


def mlp_project(root: Path, train_samples: int, epochs: int = 2, batch_size: int = 64):
    """MLP 784-128-10 with ReLU, the examples' optimizer (Adam, lr 1e-3), no validation split."""
    from playground.core.spec import LayerSpec

    p = copy.deepcopy(load_project("fashion_mnist_mlp.json"))
    p.name = "Benchmark MLP 784-128-10"
    p.network.layers = [LayerSpec("Flatten", {}), LayerSpec("Linear", {"out_features": 128}),
                        LayerSpec("ReLU", {}), LayerSpec("Linear", {"out_features": 10})]
    return _configured(p, root, train_samples, epochs, batch_size)


def lenet_project(root: Path, train_samples: int, epochs: int = 2, batch_size: int = 64):
    """The seed tutorial's LeNet (mnist_lenet.json, SGD lr 0.01 momentum 0.5) on Fashion-MNIST."""
    p = copy.deepcopy(load_project("mnist_lenet.json"))
    p.name = "Benchmark LeNet"
    return _configured(p, root, train_samples, epochs, batch_size)


def _configured(p, root: Path, train_samples: int, epochs: int, batch_size: int):
    p.data.dataset = "fashion_mnist"
    p.data.params = {"root": str(root), "download": False, "train_samples": train_samples,
                     "val_fraction": 0.0, "normalize": "0.5"}
    t = p.training
    t.batch_size, t.epochs, t.seed, t.device, t.scheduler = batch_size, epochs, 0, "cpu", None
    return p


def machine() -> dict:
    import torch

    try:
        from importlib.metadata import version

        pyside = version("PySide6")
    except Exception:  # noqa: BLE001 — the table still says what it can
        pyside = "?"
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "pyside6": pyside, "os": platform.platform()}


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def emit(result: dict) -> None:
    """Print the result for a person and, with --json FILE, write it for run_all.py."""
    print(json.dumps(result, indent=2))
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(result, indent=2))
