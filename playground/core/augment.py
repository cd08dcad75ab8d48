"""Augmentation of whole training batches on their device, with torchvision's names and arguments.

torchvision.transforms.v2 draws one set of random parameters per call, so a batch given to it is
cropped, flipped or rotated all alike; here every sample draws its own, from the batches' own
generator: the same seed gives the same augmented batches, bit for bit, and a continued run
(whose data order is that generator's state) continues them too. Validation and test data are
never augmented."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .errors import ProjectError
from .params import CHOICE, FLOAT, FLOATS, INT, Choice, Param, check_params

_FILL = Param("fill", FLOAT, 0.0, "Pixel value (0 black, 1 white) where the image moved away.", minimum=0.0, maximum=1.0)
AUGMENTATIONS: dict[str, Choice] = {
    c.name: c
    for c in (
        Choice("RandomCrop", "Pad each image, then cut it back to its size at a random place (a shift).", (
            Param("size", INT, None, "The crop: the images' own size (another would change the input shape).",
                  minimum=1, optional=True),
            Param("padding", INT, 4, "Pixels added on every side before cropping.", minimum=0, maximum=64),
            Param("padding_mode", CHOICE, "constant", "What the padding holds: fill, the edge pixels, or a mirror.",
                  choices=("constant", "edge", "reflect")),
            _FILL,
        )),
        Choice("RandomHorizontalFlip", "Mirror an image left to right.", (
            Param("p", FLOAT, 0.5, "Probability of mirroring each image.", minimum=0.0, maximum=1.0),
        )),
        Choice("RandomVerticalFlip", "Mirror an image top to bottom.", (
            Param("p", FLOAT, 0.5, "Probability of mirroring each image.", minimum=0.0, maximum=1.0),
        )),
        Choice("RandomRotation", "Rotate each image by a random angle in [-degrees, degrees].", (
            Param("degrees", FLOAT, 10.0, "The largest angle, either way.", minimum=0.0, maximum=180.0),
            Param("interpolation", CHOICE, "nearest", "How pixels between the grid are read.",
                  choices=("nearest", "bilinear")),
            _FILL,
        )),
        Choice("RandomErasing", "Blank out a random rectangle of some images (Zhong et al., 2017).", (
            Param("p", FLOAT, 0.5, "Probability of erasing in each image.", minimum=0.0, maximum=1.0),
            Param("scale", FLOATS, [0.02, 0.33], "Range of the erased area, as a share of the image.",
                  minimum=0.0, maximum=1.0, dims=2),
            Param("ratio", FLOATS, [0.3, 3.3], "Range of the rectangle's aspect ratio.", minimum=0.01, maximum=100.0,
                  dims=2),
            Param("value", FLOAT, 0.0, "What the rectangle holds, in the network's input units (after normalising)."),
        )),
    )
}

Augment = Callable[[Tensor, torch.Generator], Tensor]


def check_augment(augment, input_shape: tuple[int, ...], where: str = "data.augment") -> dict[str, dict]:
    """The augmentations checked, defaults filled in, in their order; a ProjectError names the wrong one."""
    if not isinstance(augment, dict):
        raise ProjectError(f'{where} must be an object like {{"RandomHorizontalFlip": {{"p": 0.5}}}}, not {augment!r}')
    if augment and len(input_shape) != 3:
        raise ProjectError(f"{where}: augmentation is for images (channels, height, width); this data gives "
                           f"samples of shape {list(input_shape)} — remove it")
    out = {}
    for name, params in augment.items():
        kind = AUGMENTATIONS.get(name)
        if kind is None:
            raise ProjectError(f"{where}: unknown augmentation {name!r} (known: {', '.join(AUGMENTATIONS)})")
        if params is None:
            params = {}
        checked = check_params(kind.params, params, where=f"{where}.{name}.")
        _check_fits(name, checked, input_shape, f"{where}.{name}")
        out[name] = checked
    return out


def _check_fits(name: str, p: dict, shape: tuple[int, ...], where: str) -> None:
    h, w = shape[1:]
    if name == "RandomCrop":
        if p["size"] is not None and (p["size"] != h or p["size"] != w):
            raise ProjectError(f"{where}.size must be the images' size ({h}), not {p['size']}: a crop of another "
                               "size would change the network's input — leave it out")
        if p["padding_mode"] == "reflect" and p["padding"] >= min(h, w):
            raise ProjectError(f"{where}.padding must be less than the images' size ({min(h, w)}) to reflect them")
    if name == "RandomErasing":
        for key in ("scale", "ratio"):
            if p[key][0] > p[key][1]:
                raise ProjectError(f"{where}.{key} must be [low, high], not {p[key]}")


def build_augment(augment: dict[str, dict], mean: float = 0.0, std: float = 1.0) -> Augment | None:
    """One function applying the checked `augment` in order to a batch (B, C, H, W); `mean`, `std`:
    how the data were normalised (x = (pixel - mean) / std), so a fill stays a pixel value. None: no augmentation."""
    if not augment:
        return None
    steps = [_STEPS[name](p, mean, std) for name, p in augment.items()]

    def apply(x: Tensor, gen: torch.Generator) -> Tensor:
        for step in steps:
            x = step(x, gen)
        return x

    return apply


def _uniform(gen: torch.Generator, n: int, low: float, high: float, device) -> Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def _crop(p: dict, mean: float, std: float):
    pad, fill = p["padding"], (p["fill"] - mean) / std
    mode = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}[p["padding_mode"]]

    def crop(x: Tensor, gen: torch.Generator) -> Tensor:
        if pad == 0:
            return x
        b, _, h, w = x.shape
        padded = F.pad(x, (pad, pad, pad, pad), mode=mode, value=fill) if mode == "constant" else \
            F.pad(x, (pad, pad, pad, pad), mode=mode)
        top = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
        left = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
        rows = (top[:, None] + torch.arange(h, device=x.device))[:, :, None]   # (B, H, 1)
        cols = (left[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (B, 1, W)
        picked = padded.permute(0, 2, 3, 1)[torch.arange(b, device=x.device)[:, None, None], rows, cols]
        return picked.permute(0, 3, 1, 2).contiguous()

    return crop


def _flip(dim: int):
    def make(p: dict, mean: float, std: float):
        def flip(x: Tensor, gen: torch.Generator) -> Tensor:
            chosen = torch.rand(len(x), generator=gen, device=x.device) < p["p"]
            return torch.where(chosen[:, None, None, None], x.flip(dim), x)

        return flip

    return make


def rotate(x: Tensor, degrees: Tensor, fill: float = 0.0, interpolation: str = "nearest") -> Tensor:
    """Each image of `x` turned by its angle in `degrees`, counter-clockwise as torchvision's rotate,
    about its centre; `fill` (input units) where no pixel comes from."""
    angle = degrees * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    h, w = x.shape[-2:]
    zero = torch.zeros_like(cos)
    # output pixel -> input pixel, in grid_sample's [-1, 1] coordinates (x right, y down), corrected
    # for a non-square image's aspect so the turn is a true rotation
    theta = torch.stack([
        torch.stack([cos, -sin * h / w, zero], 1),
        torch.stack([sin * w / h, cos, zero], 1),
    ], 1)
    b, c = x.shape[:2]
    grid = F.affine_grid(theta, [b, c + 1, h, w], align_corners=False)
    # torchvision's way with a fill: sample a channel of ones alongside, and blend by it
    ones = torch.ones(b, 1, h, w, dtype=x.dtype, device=x.device)
    moved = F.grid_sample(torch.cat([x, ones], 1), grid, mode=interpolation, padding_mode="zeros",
                          align_corners=False)
    image, mask = moved[:, :c], moved[:, c:]
    if interpolation == "nearest":
        mask = (mask > 0.5).to(x.dtype)
    return image * mask + (1.0 - mask) * fill


def _rotation(p: dict, mean: float, std: float):
    fill = (p["fill"] - mean) / std

    def rotation(x: Tensor, gen: torch.Generator) -> Tensor:
        angles = _uniform(gen, len(x), -p["degrees"], p["degrees"], x.device)
        return rotate(x, angles, fill, p["interpolation"])

    return rotation


_TRIES = 10   # as torchvision's RandomErasing: a rectangle that does not fit is drawn again, ten times at most


def _erasing(p: dict, mean: float, std: float):
    def erasing(x: Tensor, gen: torch.Generator) -> Tensor:
        b, _, h, w = x.shape
        dev = x.device
        chosen = torch.rand(b, generator=gen, device=dev) < p["p"]
        area = h * w * _uniform(gen, b * _TRIES, *p["scale"], dev).view(b, _TRIES)
        log_ratio = _uniform(gen, b * _TRIES, math.log(p["ratio"][0]), math.log(p["ratio"][1]), dev)
        ratio = torch.exp(log_ratio).view(b, _TRIES)
        eh = torch.sqrt(area * ratio).round().long()
        ew = torch.sqrt(area / ratio).round().long()
        fits = (eh < h) & (ew < w) & (eh > 0) & (ew > 0)
        first = torch.argmax(fits.int(), 1)            # the first try that fits, as torchvision takes it
        ok = fits.any(1) & chosen
        eh, ew = eh.gather(1, first[:, None])[:, 0], ew.gather(1, first[:, None])[:, 0]
        top = (torch.rand(b, generator=gen, device=dev) * (h - eh + 1)).long()
        left = (torch.rand(b, generator=gen, device=dev) * (w - ew + 1)).long()
        rows = torch.arange(h, device=dev)[None, :]
        cols = torch.arange(w, device=dev)[None, :]
        inside_r = (rows >= top[:, None]) & (rows < (top + eh)[:, None])      # (B, H)
        inside_c = (cols >= left[:, None]) & (cols < (left + ew)[:, None])    # (B, W)
        mask = inside_r[:, :, None] & inside_c[:, None, :] & ok[:, None, None]
        return torch.where(mask[:, None], torch.full_like(x, p["value"]), x)

    return erasing


_STEPS = {
    "RandomCrop": _crop,
    "RandomHorizontalFlip": _flip(-1),
    "RandomVerticalFlip": _flip(-2),
    "RandomRotation": _rotation,
    "RandomErasing": _erasing,
}
