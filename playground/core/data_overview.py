"""What a dataset holds, before any training: one line that names it, the class balance, samples per
class as one picture, a table's first rows and its columns' histograms, an augmentation preview."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .data import DATASETS, REGRESSION, Dataset, dataset_info, default_root
from .errors import DataError
from .params import check_params

FIRST_ROWS = 8           # a table's rows shown as they are in the file
BINS = 12                # per numeric column: enough to see a skew or two modes, few enough to read
PER_CLASS = 8            # samples shown for each class
MAX_CLASSES_SHOWN = 20   # rows of the sample grid (more classes: the first 20, said so)
GAP = 2                  # pixels between the tiles of a mosaic
PREVIEW_VERSIONS = 5     # augmented copies of each previewed sample (beside the samples' 8 in a wide dock)


@dataclass(frozen=True)
class Histogram:
    name: str                  # the column's name
    labels: tuple[str, ...]    # a category's name, or the bin's range ("4.3–4.6")
    counts: tuple[int, ...]
    numeric: bool              # bins of numbers (True) or one bar per category (False)


@dataclass
class Overview:
    """Everything the Data view paints, computed once per data settings."""

    summary: str                               # "150 rows · 4 features · 3 classes"
    class_names: tuple[str, ...]               # () for regression
    train_counts: tuple[int, ...] = ()         # samples of each class in the training split
    val_counts: tuple[int, ...] = ()           # ... and in the validation split
    samples: Tensor | None = None              # images: (classes shown, PER_CLASS, H, W, C) uint8 display pixels
    sample_counts: tuple[int, ...] = ()        # how many of each row are real samples (a small class has fewer)
    columns: tuple[str, ...] = ()              # tables: the header
    rows: tuple[tuple[str, ...], ...] = ()     # tables: the first rows, as written
    histograms: list[Histogram] = field(default_factory=list)   # tables: one per feature (and a regression target)


# --- one line: what the data is ------------------------------------------------------------------


def _params(spec) -> dict:
    kind = DATASETS[spec.dataset]
    return check_params(kind.params, spec.params, where="data.params.")


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def image_words(shape: tuple[int, ...]) -> str:
    """"28×28 grey", "32×32 RGB": what one image sample is."""
    c, h, w = shape
    return f"{h}×{w} {'grey' if c == 1 else 'RGB' if c == 3 else f'{c} channels'}"


def describe(spec) -> str:
    """One line saying what `spec` (a DataSpec) gives, read as cheaply as the data allows (a table is
    read once and cached, an image folder listed, CIFAR-10's files looked for); a DataError or
    ProjectError says what is wrong, as the core says it everywhere."""
    info = dataset_info(spec)
    kind = DATASETS[spec.dataset]
    params = _params(spec)
    classes = _count(info.n_classes, "class", "classes") if info.n_classes else "regression"
    if kind.source == "table":
        from .data import _table

        table, plan = _table(params)
        target = table.names[plan.target]
        return (f"{_count(len(table.rows), 'row')} · {_count(len(plan.feature_names), 'feature')} · "
                f"{classes} (target {target!r})")
    if kind.source == "folder":
        from .image_folders import class_folders

        n = sum(len(files) for files in class_folders(Path(os.path.expanduser(params["root"]))).values())
        return f"{_count(n, 'image')} · {image_words(info.input_shape)} · {classes}"
    if kind.source == "cifar":
        _check_cifar_files(params)
        n = min(params["train_samples"] or 50_000, 50_000)
        return f"{_count(n, 'training image')} · {image_words(info.input_shape)} · {classes}"
    if kind.source == "idx":
        n = params["train_samples"]
        shown = f"first {n:,} training images" if n else "60,000 training images"
        return f"{shown} · {image_words(info.input_shape)} · {classes}"
    what = "1-D regression" if kind.task == REGRESSION else f"2-D points · {classes}"
    return f"{_count(params['samples'], 'sample')} · {what}"


def _check_cifar_files(params: dict) -> None:
    """CIFAR-10's missing files named now, not when a run starts (listing only: nothing is read)."""
    from . import cifar

    root = Path(os.path.expanduser(params["root"])) if params["root"] else default_root()
    where, found = cifar._sources(root)
    missing = [n for n in cifar.FILES if n not in found]
    if missing:
        files = "file that is" if len(missing) == 1 else "files that are"
        raise DataError(f"CIFAR-10 needs {len(missing)} {files} not in {where}: {', '.join(missing)}. Put the "
                        f"folder {cifar.FOLDER} (or {cifar.ARCHIVE}, as distributed at {cifar.WHERE}) in {root}")


# --- everything the Data view shows ----------------------------------------------------------------


def overview(spec, dataset: Dataset) -> Overview:
    """The overview of `dataset`, loaded from `spec` (a DataSpec) on the CPU."""
    info = dataset.info
    k = info.n_classes or 0
    out = Overview(describe(spec), info.class_names)
    if k:
        out.train_counts = tuple(torch.bincount(dataset.y_train.cpu(), minlength=k).tolist())
        out.val_counts = tuple(torch.bincount(dataset.y_val.cpu(), minlength=k).tolist())
    kind = DATASETS[spec.dataset]
    if len(info.input_shape) == 3 and k:
        out.samples, out.sample_counts = _samples(spec, dataset.x_train, dataset.y_train, k)
    if kind.source == "table":
        _table_overview(spec, out)
    return out


def display_pixels(x: Tensor, spec) -> Tensor:
    """(N, H, W, C) uint8 pixels of images (N, C, H, W) as the dataset normalised them for the network."""
    from .evaluation import image_normalization

    mean, std = image_normalization(spec)
    return (x.detach().cpu().float() * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)


def _samples(spec, x: Tensor, y: Tensor, k: int) -> tuple[Tensor, tuple[int, ...]]:
    shown = min(k, MAX_CLASSES_SHOWN)
    _, c, h, w = x.shape
    grid = torch.zeros(shown, PER_CLASS, h, w, c, dtype=torch.uint8)
    counts = []
    y = y.cpu()
    for label in range(shown):
        picked = torch.nonzero(y == label)[:PER_CLASS, 0]   # the first of each class: the same every time
        if len(picked):
            grid[label, : len(picked)] = display_pixels(x[picked], spec)
        counts.append(len(picked))
    return grid, tuple(counts)


def _table_overview(spec, out: Overview) -> None:
    from .data import _table
    from .tables import number

    table, plan = _table(_params(spec))
    out.columns = table.names
    out.rows = table.rows[:FIRST_ROWS]
    sep = table.delimiter
    numeric = list(plan.numeric) + ([plan.target] if plan.task == REGRESSION else [])
    categorical = dict(plan.categorical)
    for j in range(len(table.names)):
        if j in numeric:
            values = torch.tensor([number(r[j], sep) for r in table.rows], dtype=torch.float64)
            out.histograms.append(numeric_histogram(table.names[j], values))
        elif j in categorical:
            cats = categorical[j]
            counts = {c: 0 for c in cats}
            for r in table.rows:
                counts[r[j]] += 1
            out.histograms.append(Histogram(table.names[j], cats, tuple(counts.values()), False))


def numeric_histogram(name: str, values: Tensor, bins: int = BINS) -> Histogram:
    """Counts of `values` in `bins` equal bins from their least to their greatest (one bin when all are equal)."""
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        return Histogram(name, (_num(lo),), (len(values),), True)
    edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
    index = torch.bucketize(values, edges[1:-1], right=True)   # the last bin holds its right edge, as numpy's
    counts = torch.bincount(index, minlength=bins)
    labels = tuple(f"{_num(float(edges[i]))}–{_num(float(edges[i + 1]))}" for i in range(bins))
    return Histogram(name, labels, tuple(counts.tolist()), True)


def _num(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else str(v)


# --- pictures --------------------------------------------------------------------------------------


GAP_GREY = 128           # between tiles: apart from MNIST's black and from white backgrounds alike


def mosaic(tiles: Tensor, gap: int = GAP) -> Tensor:
    """Tiles (rows, columns, H, W, C) uint8 laid out in one (H', W', 3) RGB picture, `gap` grey pixels
    apart: the whole grid is one image to paint."""
    rows, cols, h, w, c = tiles.shape
    out = torch.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), GAP_GREY, dtype=torch.uint8)
    rgb = tiles.expand(-1, -1, -1, -1, 3) if c == 1 else tiles[..., :3]
    for r in range(rows):
        for k in range(cols):
            top, left = r * (h + gap), k * (w + gap)
            out[top : top + h, left : left + w] = rgb[r, k]
    return out


def augment_preview(spec, x_train: Tensor, y_train: Tensor, samples: int = 4, versions: int = PREVIEW_VERSIONS,
                    seed: int = 0) -> Tensor | None:
    """(samples, 1 + versions, H, W, C) uint8: the first training sample of the first `samples`
    classes, as it is, then augmented `versions` times by `spec`'s augmentation; the same `seed`
    gives the same pictures. None without an augmentation."""
    from .data import augmentation

    augment = augmentation(spec)
    if augment is None:
        return None
    y = y_train.cpu()
    picks = [int(torch.nonzero(y == label)[0, 0]) for label in range(int(y.max()) + 1) if bool((y == label).any())]
    picks = picks[:samples]
    x = x_train[picks].cpu()
    batch = x.repeat_interleave(versions, 0)
    gen = torch.Generator().manual_seed(seed)
    moved = augment(batch, gen).view(len(picks), versions, *x.shape[1:])
    pixels = display_pixels(torch.cat([x[:, None], moved], 1).flatten(0, 1), spec)
    return pixels.view(len(picks), versions + 1, *pixels.shape[1:])


_COLUMNS: dict[tuple, tuple[str, ...]] = {}


def table_columns(spec) -> tuple[str, ...]:
    """The column names of `spec`'s table (a DataSpec of the table dataset), read again only when the
    file or how it is read changes; () when it cannot be read (the panel says why from dataset_info)."""
    from .tables import read_table

    params = _params(spec)
    if not params["path"]:
        return ()
    path = Path(os.path.expanduser(params["path"]))
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, params["delimiter"], params["header"])
    except OSError:
        return ()
    if key not in _COLUMNS:
        try:
            names = read_table(path, params["delimiter"], params["header"]).names
        except DataError:
            names = ()
        if len(_COLUMNS) >= 4:
            _COLUMNS.pop(next(iter(_COLUMNS)))
        _COLUMNS[key] = names
    return _COLUMNS[key]
