"""Weights and checkpoints: state_dict / safetensors export, safe loading, clear mismatch errors."""

from __future__ import annotations

import io
import json
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import CheckpointError, PlaygroundError, ProjectError
from .files import atomic_write, atomic_write_bytes
from .shapes import format_shape
from .spec import FORMAT as PROJECT_FORMAT
from .spec import NetworkSpec, Project, check_version

FORMAT = "playground-checkpoint"
VERSION = 1

_MAX_PROBLEMS = 20                               # a mismatch report longer than this helps nobody
_REFUSED = re.compile(r"GLOBAL ([\w.]+)")       # how torch's weights-only unpickler names what it refused
_SCALARS = (str, int, float, bool, type(None))


@dataclass
class Checkpoint:
    project: Project
    model: dict[str, Tensor]                     # the model's state_dict (CPU tensors)
    optimizer: dict | None = None                # optimizer.state_dict()
    scheduler: dict | None = None                # scheduler.state_dict()
    epoch: int = 0                               # epochs completed
    history: dict = field(default_factory=dict)  # plain JSON-able: status, reason, epochs, test_accuracy, steps
    progress: dict | None = None                 # where data order and random numbers stood (resume.py)


# --- saving -----------------------------------------------------------------------------------


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> None:
    """One torch.save'd dict of plain types and tensors, so torch.load(weights_only=True) reads it back."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "project": checkpoint.project.to_dict(),
        "model": _tensors(checkpoint.model, path),
        "optimizer": _plain(checkpoint.optimizer, path, "the optimizer state"),
        "scheduler": _plain(checkpoint.scheduler, path, "the scheduler state"),
        "epoch": int(checkpoint.epoch),
        "history": _plain(checkpoint.history, path, "the history"),
        "progress": _plain(checkpoint.progress, path, "the data position"),
    }
    atomic_write(path, lambda f: torch.save(payload, f))


def save_weights(state_dict: dict[str, Tensor], path: str | Path, format: str = "state_dict") -> None:
    """Write weights any PyTorch script can load: torch.save of a plain dict, or safetensors."""
    tensors = _tensors(state_dict, path)
    if format == "state_dict":
        atomic_write(path, lambda f: torch.save(tensors, f))
    elif format == "safetensors":
        import safetensors.torch

        # Separate contiguous copies: safetensors refuses tied weights and non-contiguous views.
        data = safetensors.torch.save(
            {k: v.contiguous().clone() for k, v in tensors.items()}, metadata={"format": "pt"}
        )
        atomic_write_bytes(path, data)
    else:
        raise ValueError(f"weights format must be 'state_dict' or 'safetensors', not {format!r}")


def _tensors(state: Any, path: str | Path) -> dict[str, Tensor]:
    if not isinstance(state, dict):
        raise CheckpointError(f"cannot save {path}: the weights must be a dict of tensors, not {_kind(state)}")
    out = {}
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(f"cannot save {path}: the weight {key!r} is {_kind(value)}, not a tensor")
        out[str(key)] = value.detach().cpu()
    return out


def _plain(obj: Any, path: str | Path, where: str) -> Any:
    """CPU tensors, builtin containers and scalars only: subclasses (defaultdict, numpy floats,
    namedtuples) pickle as globals that weights_only loading would refuse, making a trap for later."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        for k in obj:
            if type(k) not in _SCALARS:
                raise CheckpointError(f"cannot save {path}: {where} has a key of type {type(k).__name__}")
        return {k: _plain(v, path, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [_plain(v, path, f"{where}[{i}]") for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    for kind in (bool, int, float, str):        # bool first: it is an int too
        if isinstance(obj, kind):
            return kind(obj)
    if obj is None:
        return None
    raise CheckpointError(f"cannot save {path}: {where} is {_kind(obj)}, which a safe loader cannot read back")


# --- loading ----------------------------------------------------------------------------------


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint without running any pickled code; every problem is a CheckpointError naming the file."""
    kind, obj = _read(path)
    if kind == "project":
        raise CheckpointError(f"{path}: this is a project file, not a checkpoint — open it as a project")
    if kind != "checkpoint":
        raise CheckpointError(
            f"{path} holds only weights ({kind}), not a Playground checkpoint: it has no project. "
            "Open a project and load the weights into it instead."
        )
    try:
        project = Project.from_dict(obj.get("project"))
    except ProjectError as e:
        raise CheckpointError(f"{path}: the project inside the checkpoint cannot be used: {e}") from None
    for key in ("optimizer", "scheduler", "progress"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            raise CheckpointError(f"{path}: the {key} state is {_kind(obj[key])}, not a dict")
    epoch = obj.get("epoch", 0)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise CheckpointError(f"{path}: the epoch count must be a whole number, not {epoch!r}")
    history = obj.get("history") or {}
    if not isinstance(history, dict):
        raise CheckpointError(f"{path}: the training history is {_kind(history)}, not a dict")
    return Checkpoint(
        project=project,
        model=_state_dict(obj.get("model"), path, "the checkpoint's model weights"),
        optimizer=obj.get("optimizer"),
        scheduler=obj.get("scheduler"),
        epoch=epoch,
        history=history,
        progress=obj.get("progress"),
    )


def load_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The weights in a plain state_dict, a Playground checkpoint (its model) or a safetensors file."""
    kind, obj = _read(path)
    if kind == "project":
        raise CheckpointError(f"{path}: this is a project file, not weights — open it as a project")
    if kind == "checkpoint":
        return _state_dict(obj.get("model"), path, "the checkpoint's model weights")
    return obj


def describe_file(path: str | Path) -> str:
    """One word for what a file is: project, checkpoint, state_dict or safetensors."""
    return _read(path, header_only=True)[0]


def _read(path: str | Path, header_only: bool = False) -> tuple[str, Any]:
    """Open any file Playground reads and say which kind it is; CheckpointError for anything else."""
    path = Path(path)
    head, size = _head(path)
    sniffed = _sniff(head, size)
    if sniffed == "safetensors":
        return "safetensors", _load_safetensors(path, header_only)
    if sniffed == "json":
        return "project", _read_project_json(path)
    if path.suffix.lower() == ".safetensors":
        raise CheckpointError(f"{path} is not a valid safetensors file: its header is damaged or it is truncated")
    obj = _torch_load(path, zipped=head.startswith(b"PK\x03\x04"))
    if isinstance(obj, dict) and "format" in obj and isinstance(obj.get("format"), str):
        _check_format(obj, path)
        return "checkpoint", obj
    return "state_dict", _state_dict(obj, path, "it")


def _head(path: Path) -> tuple[bytes, int]:
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CheckpointError(f"{path} is a folder, not a weights file")
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as e:
        raise CheckpointError(f"{path} cannot be read ({e.strerror or e})") from None
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): it was probably not saved completely")
    return head, size


def _sniff(head: bytes, size: int) -> str | None:
    # safetensors: an 8-byte little-endian header length, then the JSON header itself.
    if len(head) >= 10 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "json"                            # a pickle never starts with '{'; weights are never text
    return None


def _read_project_json(path: Path) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path} is a text file, not weights or a checkpoint") from None
    if not isinstance(raw, dict) or raw.get("format") != PROJECT_FORMAT:
        raise CheckpointError(f"{path} is a JSON file, not weights, a checkpoint or a Playground project")
    return raw


def _load_safetensors(path: Path, header_only: bool) -> dict[str, Tensor]:
    import safetensors
    import safetensors.torch

    try:
        if header_only:
            with safetensors.safe_open(str(path), framework="pt") as f:
                f.keys()
            return {}
        return safetensors.torch.load_file(str(path), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError, RuntimeError):
        raise CheckpointError(f"{path} is a safetensors file, but it is damaged or truncated") from None


def _torch_load(path: Path, zipped: bool) -> Any:
    try:
        # Torch warns about unusual pickle protocols; for a file we are about to refuse or accept,
        # the warning tells the user nothing (and under -W error it would mask the real message).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as e:                       # torch raises almost anything on bad bytes
        message = str(e)
        name = None
        if "Weights only load failed" in message:
            found = _REFUSED.search(message)
            name = found.group(1) if found else _first_global(path, zipped)
        if name:
            raise CheckpointError(
                f"{path} was refused: it contains pickled Python code (it names {name}), which "
                "Playground never runs. Save weights with torch.save(model.state_dict(), path) instead."
            ) from None
        raise CheckpointError(f"{path} is not a PyTorch weights file, or it is truncated") from None


def _first_global(path: Path, zipped: bool) -> str | None:
    """The first name a pickle imports, read opcode by opcode without running anything."""
    try:
        if zipped:
            with zipfile.ZipFile(path) as z:
                member = next(n for n in z.namelist() if n.endswith("data.pkl"))
                stream = io.BytesIO(z.read(member))
        else:
            stream = io.BytesIO(path.read_bytes())
        for _ in range(4):                       # legacy torch files are several pickles in a row
            name = _scan_pickle(stream)
            if name:
                return name
    except Exception:                            # damaged bytes: no name, the generic message stays
        return None
    return None


def _scan_pickle(stream: io.BytesIO) -> str | None:
    strings: list[str] = []
    memo: dict[int, Any] = {}
    last: Any = None
    for op, arg, _ in pickletools.genops(stream):
        if op.name == "GLOBAL":
            return str(arg).replace(" ", ".")
        if op.name == "STACK_GLOBAL" and len(strings) >= 2:
            return f"{strings[-2]}.{strings[-1]}"
        if op.name == "MEMOIZE":
            memo[len(memo)] = last
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = last
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            last = memo.get(arg)
            if isinstance(last, str):
                strings.append(last)
        else:
            last = arg if isinstance(arg, str) else None
            if isinstance(arg, str) and "UNICODE" in op.name:
                strings.append(arg)
    return None


def _check_format(obj: dict, path: Path) -> None:
    if obj["format"] != FORMAT:
        raise CheckpointError(f"{path} is not a Playground checkpoint: its format is {obj['format']!r}")
    check_version(obj.get("version"), VERSION, str(path), "checkpoint", CheckpointError)


def _state_dict(obj: Any, path: Path, what: str) -> dict[str, Tensor]:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} does not hold weights: {what} is {_kind(obj)}, not a dict of tensors")
    for key, value in obj.items():
        if not isinstance(value, Tensor):
            hint = ""
            inner = [k for k, v in obj.items() if isinstance(v, dict) and v and _all_tensors(v)]
            if inner:
                hint = f" (it looks like a training checkpoint; the weights may be under {inner[0]!r})"
            raise CheckpointError(
                f"{path} is not a state_dict: the value of {key!r} is {_kind(value)}, not a tensor{hint}"
            )
    return {str(k): v for k, v in obj.items()}


def _all_tensors(d: dict) -> bool:
    return all(isinstance(v, Tensor) for v in d.values())


def _kind(obj: Any) -> str:
    name = type(obj).__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


# --- fitting weights to a network ---------------------------------------------------------------


def apply_state_dict(
    model: nn.Module,
    state: dict,
    network: NetworkSpec | None = None,
    *,
    source: str | Path | None = None,            # the file, named in the error message
) -> None:
    """Strict load that checks every key, shape and dtype first, so a mismatch changes nothing.
    A network imported from code also takes the original code's names (`conv1.weight`)."""
    if network is not None:
        from .naming import from_original

        state = from_original(network, state, list(model.state_dict()))
    problems = _mismatches(model, state, network)
    if problems:
        if len(problems) > _MAX_PROBLEMS:
            problems = problems[:_MAX_PROBLEMS] + [f"… and {len(problems) - _MAX_PROBLEMS} more"]
        where = f"the weights in {source}" if source is not None else "these weights"
        from .naming import match_in_order

        try:
            match_in_order(model.state_dict(), state)
            problems.append("(their layers pair with this network's in order and shape: File > Load weights "
                            "in the window shows that mapping and loads them by order if you confirm)")
        except CheckpointError:
            pass
        raise CheckpointError(f"{where} do not fit this network:\n  " + "\n  ".join(problems))
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, TypeError) as e:   # what the checks above cannot foresee
        where = f"the weights in {source}" if source is not None else "these weights"
        raise CheckpointError(f"{where} do not fit this network: {str(e).strip().splitlines()[-1]}") from None


def _mismatches(model: nn.Module, state: dict, network: NetworkSpec | None) -> list[str]:
    expected = model.state_dict()
    children = dict(model.named_children())

    def layer_name(first: str) -> str:
        if network is not None and first.isdigit() and int(first) < len(network.layers):
            return f"layer {first} {network.layers[int(first)].type}"
        return f"layer {first} {type(children[first]).__name__}"

    # Sequential keys start with the layer index; group everything by it, in layer order.
    groups: dict[str, dict[str, list[str]]] = {}
    other: list[str] = []

    def note(key: str, kind: str, text: str) -> None:
        first, _, rest = key.partition(".")
        groups.setdefault(first, {}).setdefault(kind, []).append(text or rest)

    for key in expected:
        if key not in state:
            note(key, "missing", "")
    for key, value in state.items():
        first, _, rest = key.partition(".")
        if key not in expected:
            if first not in children:
                if first.isdigit():
                    groups.setdefault(first, {})["beyond"] = []
                else:
                    other.append(f"unexpected key {key!r}")
            else:
                note(key, "unexpected", "")
            continue
        want = expected[key]
        if not isinstance(value, Tensor):
            note(key, "problem", f"{rest} is {_kind(value)} in the file, not a tensor")
        elif tuple(value.shape) != tuple(want.shape):
            note(key, "problem", f"{rest} is {format_shape(tuple(value.shape))} in the file "
                                 f"but {format_shape(tuple(want.shape))} in this network")
        elif want.is_floating_point() and not value.is_floating_point():
            note(key, "problem", f"{rest} is {_dtype(value)} in the file but {_dtype(want)} in this network")

    problems = []
    for first in sorted(groups, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
        found = groups[first]
        if "beyond" in found:
            problems.append(f"the file has weights for layer {first}, which this network does not have")
            continue
        name = layer_name(first)
        problems.extend(f"{name}: {text}" for text in found.get("problem", []))
        if found.get("missing"):
            problems.append(f"{name}: {', '.join(found['missing'])} missing from the file")
        if found.get("unexpected"):
            extra = ", ".join(found["unexpected"])
            if any(k.startswith(first + ".") for k in expected):
                problems.append(f"{name}: the file has {extra}, which this layer does not have")
            else:
                problems.append(f"{name}: the file has weights for it ({extra}), but this layer has none")
    if other:
        prefixes = {key.partition(".")[0] for key in state if not key.partition(".")[0].isdigit()}
        if len(prefixes) == 1 and len(other) == len(state):
            other = [f"every key starts with {next(iter(prefixes)) + '.'!r} (like {next(iter(state))!r}); "
                     "this network's keys start with the layer number, like '0.weight'"]
    return problems + other


def _dtype(t: Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def load_project_or_checkpoint(path: str | Path) -> tuple[str, Project, Checkpoint | None]:
    """What `playground inspect` and File > Open read: ("project" | "checkpoint", project, checkpoint)."""
    from .validation import validate_settings

    path = Path(path)
    kind = "project" if path.suffix.lower() == ".json" else describe_file(path)
    if kind in ("project", "checkpoint"):
        checkpoint = load_checkpoint(path) if kind == "checkpoint" else None
        project = checkpoint.project if checkpoint else Project.load(path)
        try:
            validate_settings(project)
        except PlaygroundError as e:
            raise type(e)(f"{path}: {e}") from None
        return kind, project, checkpoint
    raise CheckpointError(
        f"{path} is a {kind} file: it holds weights but no network — open the project or "
        "checkpoint it came from, then load these weights into it"
    )
