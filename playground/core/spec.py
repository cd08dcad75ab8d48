"""The project: network, data and training settings as plain dataclasses, JSON with a format version."""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ProjectError
from .files import atomic_write_bytes

FORMAT = "playground-project"
VERSION = 3  # 2: a layer may carry `name`, its key prefix in imported code; written only when one does
#             3: data may be a table, an image folder or CIFAR-10, and carry `augment`; written only when it does


@dataclass
class LayerSpec:
    type: str                                    # torch.nn class name: "Conv2d"
    params: dict[str, Any] = field(default_factory=dict)  # constructor arguments the user set
    name: str | None = None                      # its state_dict prefix in imported code ("conv1"); None: its index

    def to_dict(self) -> dict:
        out = {"type": self.type, "params": copy.deepcopy(self.params)}
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass
class NetworkSpec:
    input_shape: list[int]                       # one sample, without the batch dimension
    layers: list[LayerSpec] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "layers": [layer.to_dict() for layer in self.layers],
        }


@dataclass
class ComponentSpec:
    """A loss, optimizer or scheduler: the torch class name and its constructor arguments."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"type": self.type, "params": copy.deepcopy(self.params)}


@dataclass
class DataSpec:
    dataset: str = "xor"                         # a key of core.data.DATASETS
    params: dict[str, Any] = field(default_factory=dict)  # samples, noise, seed, val_fraction, root...
    # torchvision transform name: its arguments, applied in this order to training batches only
    augment: dict[str, Any] = field(default_factory=dict)
    # points of the plane: the input features the network gets (core.features keys); []: x1, x2 as they are
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {"dataset": self.dataset, "params": copy.deepcopy(self.params)}
        if self.augment:   # written only when used, so older Playgrounds still open the other projects
            out["augment"] = copy.deepcopy(self.augment)
        if self.features:  # the same: a project without features stays byte-identical
            out["features"] = list(self.features)
        return out


REGULARIZERS = ("l1", "l2")   # TrainingSpec's penalty rates, in the order the file writes them
MAX_PENALTY = 10.0             # a rate beyond this drowns any data loss: the weights go to 0 at once


@dataclass
class TrainingSpec:
    loss: ComponentSpec = field(default_factory=lambda: ComponentSpec("CrossEntropyLoss"))
    optimizer: ComponentSpec = field(
        default_factory=lambda: ComponentSpec("SGD", {"lr": 0.1, "momentum": 0.9})
    )
    scheduler: ComponentSpec | None = None       # None: constant learning rate
    batch_size: int = 32
    epochs: int = 10
    device: str = "cpu"                          # "cpu", "cuda:0", "mps"
    seed: int = 0                                # same seed, same weights, same batches, same losses
    mixed_precision: bool = False                # CUDA: float16 autocast + GradScaler; CPU: bfloat16 autocast
    grad_clip: float | None = None               # max total gradient norm; None: no clipping
    early_stopping: int | None = None            # patience in epochs on validation loss; None: off
    shuffle: bool = True
    drop_last: bool = False
    # penalties on the weights added to the data loss: l1·Σ|w| + l2·Σw² (core/training.penalised_weights
    # says which tensors count); 0: off. Written only when set, so other projects' files stay as they were
    l1: float = 0.0
    l2: float = 0.0

    def to_dict(self) -> dict:
        out = {
            "loss": self.loss.to_dict(),
            "optimizer": self.optimizer.to_dict(),
            "scheduler": self.scheduler.to_dict() if self.scheduler else None,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "device": self.device,
            "seed": self.seed,
            "mixed_precision": self.mixed_precision,
            "grad_clip": self.grad_clip,
            "early_stopping": self.early_stopping,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
        }
        for key in REGULARIZERS:
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass
class Project:
    network: NetworkSpec
    data: DataSpec = field(default_factory=DataSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)
    name: str = "Untitled"
    description: str = ""    # what the project shows or tries (the tutorial examples'); written only when set

    def to_dict(self) -> dict:
        out = {
            "format": FORMAT,
            # the lowest version that holds what the project uses, so older Playgrounds still open the rest
            "version": self._version(),
            "name": self.name,
        }
        if self.description:   # after the name, where a reader looks; absent, the file is as before
            out["description"] = self.description
        out.update(network=self.network.to_dict(), data=self.data.to_dict(), training=self.training.to_dict())
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def _version(self) -> int:
        if self.data.augment or self.data.dataset in DATA_FILE_PARAMS:
            return 3
        return 2 if any(layer.name is not None for layer in self.network.layers) else 1

    @classmethod
    def from_dict(cls, raw: Any) -> Project:
        return _parse_project(raw)

    @classmethod
    def from_json(cls, text: str) -> Project:
        return _parse_project(parse_json(text))

    @classmethod
    def load(cls, path: str | Path) -> Project:
        from .files import read_limited

        path = Path(path)
        data = read_limited(path, MAX_PROJECT_BYTES, "a project file", ProjectError)   # FIFOs, /dev/zero: refused
        try:
            text = decode_text(data)
            if b"\x00" in data and not text.lstrip().startswith("{"):
                raise UnicodeDecodeError("utf-16", data, 0, 1, "binary")   # a BOM by chance: not UTF-16 JSON
        except UnicodeDecodeError:
            raise ProjectError(f"{path} is not a project file: it is not text (JSON)") from None
        try:
            project = cls.from_json(text)
        except ProjectError as e:
            raise ProjectError(f"{path}: {e}") from None
        _resolve_data_files(project.data, path.parent.resolve())
        return project

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash or a full disk never leaves half a file where a good one was."""
        atomic_write_bytes(path, self.to_json().encode("utf-8"))


# the parameter naming each dataset's own files (core.data declares these datasets); relative,
# it is read from the project file's folder, so a project and its data can move together
DATA_FILE_PARAMS = {"table": "path", "image_folder": "root", "cifar10": "root"}


def _resolve_data_files(data: DataSpec, folder: Path) -> None:
    key = DATA_FILE_PARAMS.get(data.dataset)
    value = data.params.get(key) if key else None
    if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
        data.params[key] = str(folder / value)


MAX_PROJECT_BYTES = 16 * 2**20   # the largest example is 2 KiB; 10,000 layers are about 1 MiB
MAX_JSON_DEPTH = 32              # a project nests 5 deep; deeper is not a project (and recursion has limits)
MAX_INT = 2**63 - 1              # what torch and the C code below it hold in a 64-bit integer
# One range for each setting, wherever it is read: the project file, the command line and the
# training panel's spin boxes (which hold a C int) take the same values, so none clamps another.
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
MAX_SEED = 2**31 - 1
MAX_DESCRIPTION = 4000   # a few paragraphs: what an example walks through


def decode_text(data: bytes) -> str:
    """JSON text as editors save it: UTF-8 with or without a BOM, or UTF-16 / UTF-32 with one."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"),
                       (b"\x00\x00\xfe\xff", "utf-32"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec)
    return data.decode("utf-8")


def parse_json(text: str, what: str = "a project file") -> Any:
    """json.loads with the limits a project needs, each refusal one sentence: valid JSON, at most
    MAX_JSON_DEPTH deep, no number beyond 64 bits or infinite, no text a file name or script cannot hold."""
    def no_constant(name):
        raise ProjectError(f"not {what}: {name} is not a JSON number")

    try:
        raw = json.loads(text, parse_constant=no_constant)
    except ProjectError:
        raise
    except json.JSONDecodeError as e:
        raise ProjectError(
            f"not {what}: it is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
        ) from None
    except RecursionError:
        raise ProjectError(f"not {what}: it is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError as e:   # Python's limit on integer digits (4300)
        raise ProjectError(f"not {what}: it holds a number with too many digits ({str(e).split(':')[0]})") from None
    check_json_values(raw, what)
    return raw


def check_json_values(raw: Any, what: str = "a project file") -> None:
    """Walk parsed JSON without recursion: depth, 64-bit integers, finite floats, text without
    NUL or lone surrogates (they break file names and scripts), naming the key."""
    stack = [(raw, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        at = where or "the top level"
        if depth > MAX_JSON_DEPTH:
            raise ProjectError(f"not {what}: {at} is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):   # a project read from a checkpoint is a pickle, not JSON
                    raise ProjectError(f"{at}: the key {str(key)[:40]!r} is not text")
                _check_text(key, f"{at} (a key)", what)
                stack.append((item, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, at, what)
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                raise ProjectError(f"{at}: {_digits(value)} is too large (at most {MAX_INT}, 2**63 - 1)")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ProjectError(f"{at}: {value} is not a finite number")
        else:
            raise ProjectError(f"{at}: {_article(type(value).__name__)} is not a JSON value "
                               "(text, a number, true/false, null, a list or an object)")


def _show(raw: Any) -> str:
    """A value in a message, as JSON, short; whatever it is (a checkpoint's project is a pickle)."""
    try:
        return json.dumps(raw, default=lambda o: _article(type(o).__name__))[:60]
    except (ValueError, TypeError, RecursionError):
        return _article(type(raw).__name__)


def _article(name: str) -> str:
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _digits(value: int) -> str:
    text = str(abs(value))
    return text if len(text) <= 30 else f"a number of {len(text)} digits"


def _check_text(value: Any, at: str, what: str) -> None:
    if not isinstance(value, str):
        return
    if "\x00" in value:
        raise ProjectError(f"{at}: the text holds a NUL character, which no file name or script can")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ProjectError(f"{at}: the text holds a lone surrogate (\\u{ord(value[_surrogate(value)]):04x}), "
                           "which is not a character") from None


def _surrogate(value: str) -> int:
    return next(i for i, c in enumerate(value) if 0xD800 <= ord(c) <= 0xDFFF)


MAX_SAMPLE_VALUES = 2**28  # 1 GiB of float32 for one sample: far beyond any image or sequence here


def check_version(version: Any, current: int, what: str, kind: str, error: type[Exception]) -> None:
    """A file's format version: a whole number this Playground can read, or an error saying what to do."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise error(f"{what}'s version must be a whole number, not {version!r}")
    if version > current:
        raise error(
            f"{what} was written by a newer Playground ({kind} version {version}); "
            f"this one reads up to version {current} — update Playground to open it"
        )


# --- parsing: shape of the JSON, with messages that name the offending key -------------


def _expect(raw: Any, kind: type | tuple, where: str, what: str) -> Any:
    if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
        raise ProjectError(f"{where} must be {what}, not {_show(raw)}")
    return raw


def _get(raw: dict, key: str, where: str, default: Any = ...) -> Any:
    if key in raw:
        return raw[key]
    if default is ...:
        raise ProjectError(f"{where}: the key {key!r} is missing")
    return default


def _no_unknown_keys(raw: dict, known: tuple[str, ...], where: str) -> None:
    """A key this version does not know is a typo or a file of another shape: say which, never drop it."""
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise ProjectError(f"{where}: unknown key {key!r} — {hint}")


def _parse_component(raw: Any, where: str) -> ComponentSpec:
    _expect(raw, dict, where, 'an object like {"type": ..., "params": {...}}')
    _no_unknown_keys(raw, ("type", "params"), where)
    type_ = _expect(_get(raw, "type", where), str, f"{where}.type", "a name")
    params = _expect(raw.get("params", {}), dict, f"{where}.params", "an object")
    return ComponentSpec(type_, dict(params))


def _parse_int(raw: Any, where: str, minimum: int, maximum: int = MAX_INT) -> int:
    if isinstance(raw, float) and raw.is_integer():
        if abs(raw) > MAX_INT:
            raise ProjectError(f"{where} must be at most {maximum:,}, not {raw:g}")
        raw = int(raw)
    _expect(raw, int, where, "a whole number")
    if raw < minimum:
        raise ProjectError(f"{where} must be at least {minimum}, not {raw}")
    if raw > maximum:
        raise ProjectError(f"{where} must be at most {maximum:,}, not {_digits(raw)}")
    return raw


def parse_penalty(raw: Any, where: str) -> float:
    """A penalty rate: a number from 0 (off) to MAX_PENALTY."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ProjectError(f"{where} must be a number from 0 (off) to {MAX_PENALTY:g}, not {_show(raw)}")
    if not 0 <= raw <= MAX_PENALTY:
        raise ProjectError(f"{where} must be from 0 (off) to {MAX_PENALTY:g}, not {raw:g}")
    return float(raw)


def _parse_project(raw: Any) -> Project:
    _expect(raw, dict, "the project", "a JSON object")
    check_json_values(raw)   # also for projects inside checkpoints and recovery files, not only .json
    fmt = raw.get("format")
    if fmt != FORMAT:
        if fmt is None:
            raise ProjectError(
                f'not a Playground project: the "format" key is missing (expected "{FORMAT}")'
            )
        raise ProjectError(f'not a Playground project: format is {fmt!r}, expected "{FORMAT}"')
    check_version(raw.get("version"), VERSION, "this project", "format", ProjectError)
    _no_unknown_keys(raw, ("format", "version", "name", "description", "network", "data", "training"), "the project")
    name = raw.get("name", "Untitled")
    _expect(name, str, "name", "text")
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ProjectError("name must be one line of at most 200 characters")
    description = _expect(raw.get("description", ""), str, "description", "text")
    if len(description) > MAX_DESCRIPTION:
        raise ProjectError(f"description must be at most {MAX_DESCRIPTION:,} characters, not {len(description):,}")

    net = _expect(_get(raw, "network", "the project"), dict, "network", "an object")
    _no_unknown_keys(net, ("input_shape", "layers"), "network")
    shape = _expect(_get(net, "input_shape", "network"), list, "network.input_shape", "a list of sizes")
    if not shape:
        raise ProjectError("network.input_shape must list at least one size, like [2] or [1, 28, 28]")
    input_shape = [_parse_int(s, f"network.input_shape[{i}]", 1) for i, s in enumerate(shape)]
    values = math.prod(input_shape)
    if values > MAX_SAMPLE_VALUES:
        raise ProjectError(
            f"network.input_shape {input_shape} is {values:,} values a sample ({values * 4 / 2**30:,.1f} GiB "
            f"as float32) — no dataset here comes close; the largest allowed is {MAX_SAMPLE_VALUES:,}"
        )
    layers_raw = _expect(net.get("layers", []), list, "network.layers", "a list")
    layers = []
    for i, layer in enumerate(layers_raw):
        where = f"network.layers[{i}]"
        layer_name = None
        if isinstance(layer, dict) and "name" in layer:
            layer = dict(layer)
            layer_name = _expect(layer.pop("name"), str, f"{where}.name", "text (the layer's name in its code)")
            if not layer_name or len(layer_name) > 200 or any(not part for part in layer_name.split(".")):
                raise ProjectError(f"{where}.name must be a module path like 'conv1' or 'features.0', "
                                   f"not {layer_name!r}")
        comp = _parse_component(layer, where)
        layers.append(LayerSpec(comp.type, comp.params, layer_name))

    data_raw = _expect(raw.get("data", {"dataset": "xor"}), dict, "data", "an object")
    _no_unknown_keys(data_raw, ("dataset", "params", "augment", "features"), "data")
    dataset = _expect(_get(data_raw, "dataset", "data"), str, "data.dataset", "a name")
    data_params = _expect(data_raw.get("params", {}), dict, "data.params", "an object")
    augment = _expect(data_raw.get("augment", {}), dict, "data.augment",
                      'an object like {"RandomHorizontalFlip": {"p": 0.5}}')
    features = _expect(data_raw.get("features", []), list, "data.features", 'a list like ["x1", "x2", "x1^2"]')
    for i, feature in enumerate(features):
        _expect(feature, str, f"data.features[{i}]", 'a feature name like "x1^2"')

    t = _expect(raw.get("training", {}), dict, "training", "an object")
    defaults = TrainingSpec()
    _no_unknown_keys(t, (*defaults.to_dict(), *REGULARIZERS), "training")
    scheduler_raw = t.get("scheduler")
    grad_clip = t.get("grad_clip")
    if grad_clip is not None:
        _expect(grad_clip, (int, float), "training.grad_clip", "a number or null")
        if isinstance(grad_clip, bool) or not math.isfinite(grad_clip) or grad_clip <= 0:
            raise ProjectError(f"training.grad_clip must be a positive number or null, not {grad_clip}")
        grad_clip = float(grad_clip)
    early = t.get("early_stopping")
    if early is not None:
        early = _parse_int(early, "training.early_stopping", 1, MAX_EPOCHS)
    training = TrainingSpec(
        loss=_parse_component(t["loss"], "training.loss") if "loss" in t else defaults.loss,
        optimizer=(
            _parse_component(t["optimizer"], "training.optimizer")
            if "optimizer" in t
            else defaults.optimizer
        ),
        scheduler=_parse_component(scheduler_raw, "training.scheduler") if scheduler_raw else None,
        batch_size=_parse_int(t.get("batch_size", defaults.batch_size), "training.batch_size", 1, MAX_BATCH),
        epochs=_parse_int(t.get("epochs", defaults.epochs), "training.epochs", 1, MAX_EPOCHS),
        device=_expect(t.get("device", defaults.device), str, "training.device", "a device name"),
        seed=_parse_int(t.get("seed", defaults.seed), "training.seed", 0, MAX_SEED),
        mixed_precision=_expect(
            t.get("mixed_precision", False), bool, "training.mixed_precision", "true or false"
        ),
        grad_clip=grad_clip,
        early_stopping=early,
        shuffle=_expect(t.get("shuffle", True), bool, "training.shuffle", "true or false"),
        drop_last=_expect(t.get("drop_last", False), bool, "training.drop_last", "true or false"),
        **{key: parse_penalty(t.get(key, 0.0), f"training.{key}") for key in REGULARIZERS},
    )
    return Project(
        network=NetworkSpec(input_shape, layers),
        data=DataSpec(dataset, dict(data_params), copy.deepcopy(augment), list(features)),
        training=training,
        name=name,
        description=description,
    )
