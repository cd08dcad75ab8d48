"""Image folders in torchvision's ImageFolder layout (ROOT/<class>/<image>.png), decoded once into one tensor."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from .errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")   # ImageFolder takes more; these are what the issue promises
MAX_IMAGE_BYTES = 64 * 2**20             # one photo; a larger file is not a training image


def class_folders(root: Path) -> dict[str, list[Path]]:
    """{class name: its image files}, classes sorted by name as ImageFolder sorts them, files too;
    only lists, decodes nothing. A DataError says what the layout lacks."""
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DataError(f"{root} {what}: name the folder that holds one sub-folder per class")
    try:
        with os.scandir(root) as entries:
            folders = sorted((e for e in entries if e.is_dir() and not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"{root} cannot be read ({e.strerror or e})") from None
    if not folders:
        loose = any(Path(name).suffix.lower() in EXTENSIONS for name in os.listdir(root))
        found = "its images lie in it directly" if loose else "it has no sub-folders"
        raise DataError(f"{root} holds no class folders ({found}): put each class's images in a "
                        f"sub-folder named after the class, like {root / 'cat' / '1.png'}")
    classes = {}
    for entry in folders:
        try:
            files = sorted(Path(entry.path, f) for f in os.listdir(entry.path)
                           if Path(f).suffix.lower() in EXTENSIONS and not f.startswith("."))
        except OSError as e:
            raise DataError(f"{entry.path} cannot be read ({e.strerror or e})") from None
        if not files:
            raise DataError(f"the class folder {entry.path} holds no PNG or JPEG images: add some or remove the folder")
        classes[entry.name] = files
    if len(classes) < 2:
        raise DataError(f"{root} has one class folder ({folders[0].name}); a classifier needs at least two")
    return classes


def read_folder(root: Path, size: int, channels: int) -> tuple[Tensor, Tensor]:
    """Every image decoded (PIL, as torchvision's ImageFolder does) to `channels` (1 grey, 3 RGB),
    resized to size × size with antialiasing: (N, C, size, size) uint8 and (N,) int64 labels, in
    class then file order; decoded again only when a file changes."""
    classes = class_folders(root)
    key = (size, channels, tuple((name, tuple(_stamp(f) for f in files)) for name, files in classes.items()))
    if key not in _CACHE:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _decode_all(classes, size, channels)
    return _CACHE[key]


_CACHE: dict[tuple, tuple[Tensor, Tensor]] = {}   # a second run on the same files needn't decode them again
_CACHE_SIZE = 2


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
    except OSError:
        return str(path), None, None   # _decode says what is wrong with it
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def _decode_all(classes: dict[str, list[Path]], size: int, channels: int) -> tuple[Tensor, Tensor]:
    from torchvision.transforms.v2.functional import pil_to_tensor, resize

    n = sum(len(files) for files in classes.values())
    x = torch.empty(n, channels, size, size, dtype=torch.uint8)
    y = torch.empty(n, dtype=torch.long)
    i = 0
    for label, files in enumerate(classes.values()):
        for path in files:
            image = pil_to_tensor(_decode(path, "L" if channels == 1 else "RGB"))
            if image.shape[-2:] != (size, size):
                image = resize(image, [size, size], antialias=True)
            x[i], y[i] = image, label
            i += 1
    return x, y


def _decode(path: Path, mode: str):
    import io
    import warnings

    from PIL import Image

    from .files import read_limited

    data = read_limited(path, MAX_IMAGE_BYTES, "an image", DataError)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)   # a few bytes claiming gigapixels
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                if image.mode.startswith("I"):   # 16-bit grey: PIL's convert would clip it to white
                    import numpy as np

                    image = Image.fromarray((np.asarray(image).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8))
                return image.convert(mode)   # palette, grey + alpha, CMYK: one mode for all
    except Exception as e:   # noqa: BLE001 — PIL raises many kinds for a damaged file; each is this sentence
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path} cannot be read as an image ({reason}): replace it or delete it") from None
