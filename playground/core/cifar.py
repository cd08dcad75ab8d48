"""CIFAR-10 from its python-format batches as distributed (a folder, or the .tar.gz read in place), never downloaded."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import torch
from torch import Tensor

from .errors import DataError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar-10-batches-py"
ARCHIVE = "cifar-10-python.tar.gz"
TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
FILES = (*TRAIN, "test_batch", "batches.meta")
WHERE = "https://www.cs.toronto.edu/~kriz/cifar.html"   # said in the message, never fetched
MAX_BATCH_BYTES = 256 * 2**20   # a real batch is 31 MiB
_CACHE: dict[tuple, tuple] = {}


class _Batch(pickle.Unpickler):
    """A CIFAR batch is a dict of numpy arrays, lists and text: nothing else may be built from the file
    (a pickle can run any code it names; this one can only name numpy's array rebuilders)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}, which no CIFAR batch holds")


def _unpickle(data: bytes, name: str, where: str) -> dict:
    try:
        entry = _Batch(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:   # noqa: BLE001 — any damage is the same sentence: the file is not a batch
        raise DataError(f"{where}/{name} is not a CIFAR-10 python batch ({type(e).__name__}: {_first_line(e)}) "
                        f"— replace it with the file as distributed") from None
    if not isinstance(entry, dict):
        raise DataError(f"{where}/{name} is not a CIFAR-10 python batch (it holds no dictionary)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _batch(entry: dict, name: str, where: str) -> tuple[Tensor, Tensor]:
    import numpy as np

    data, labels = entry.get("data"), entry.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{where}/{name} holds no 'data' of 3,072 bytes per image (32×32 in 3 colours): "
                        "it is not a CIFAR-10 batch")
    if not isinstance(labels, list) or len(labels) != len(data) or \
            not all(isinstance(v, int) and 0 <= v < 10 for v in labels):
        raise DataError(f"{where}/{name} holds {len(data)} images but not as many labels from 0 to 9: "
                        "the file is corrupt")
    x = torch.from_numpy(np.ascontiguousarray(data)).view(-1, 3, 32, 32)
    return x, torch.tensor(labels, dtype=torch.long)


def _sources(root: Path) -> tuple[str, dict[str, object]]:
    """Where the files are (a folder or the archive) and a reader for each one found."""
    for folder in (root / FOLDER, root):
        found = {n: folder / n for n in FILES if (folder / n).is_file()}
        if found and (len(found) == len(FILES) or not (root / ARCHIVE).is_file()):
            return str(folder), found
    archive = root / ARCHIVE
    if archive.is_file():
        return str(archive), {n: f"{FOLDER}/{n}" for n in FILES}   # members, checked as they are read
    return str(root / FOLDER), {}


def read_cifar(root: Path) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
    """(N, 3, 32, 32) uint8 training images, their labels, and the test split's, from `root`'s
    cifar-10-batches-py folder, the batches directly in `root`, or `root`'s cifar-10-python.tar.gz."""
    where, found = _sources(root)
    missing = [n for n in FILES if n not in found]
    if missing:
        files = "file that is" if len(missing) == 1 else "files that are"
        raise DataError(
            f"CIFAR-10 needs {len(missing)} {files} not in {where}: {', '.join(missing)}. Put the folder "
            f"{FOLDER} (or {ARCHIVE}, as distributed at {WHERE}) in {root}"
        )
    key = tuple(_stamp(p) for p in ({Path(where)} if where.endswith(".gz") else found.values()))
    if key not in _CACHE:
        raw = _read_archive(Path(where)) if where.endswith(".gz") else {n: _read(p) for n, p in found.items()}
        train = [_batch(_unpickle(raw[n], n, where), n, where) for n in TRAIN]
        test = _batch(_unpickle(raw["test_batch"], "test_batch", where), "test_batch", where)
        names = _unpickle(raw["batches.meta"], "batches.meta", where).get("label_names")
        if not isinstance(names, list) or len(names) != len(CLASSES):
            raise DataError(f"{where}/batches.meta names no 10 classes (label_names): it is not CIFAR-10's")
        _CACHE.clear()   # one CIFAR-10 at a time: 180 MiB
        _CACHE[key] = (torch.cat([b[0] for b in train]), torch.cat([b[1] for b in train]), test)
    return _CACHE[key]


def _stamp(path: Path) -> tuple:
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def _read(path: Path) -> bytes:
    from .files import read_limited

    return read_limited(path, MAX_BATCH_BYTES, "a CIFAR-10 batch", DataError)


def _read_archive(path: Path) -> dict[str, bytes]:
    """The batches from the .tar.gz in one pass, read in place (nothing is written beside it)."""
    wanted = {f"{FOLDER}/{n}": n for n in FILES}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is None or not member.isfile():
                    continue
                if member.size > MAX_BATCH_BYTES:
                    raise DataError(f"{path} holds {member.name} of {member.size:,} bytes, too large for a CIFAR-10 batch")
                out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"{path} is corrupt or truncated (not a complete .tar.gz: {_first_line(e)}) "
                        "— download it again") from None
    missing = [n for n in FILES if n not in out]
    if missing:
        raise DataError(f"{path} lacks {', '.join(f'{FOLDER}/{n}' for n in missing)}: it is not CIFAR-10's "
                        "python version (cifar-10-python.tar.gz)")
    return out

