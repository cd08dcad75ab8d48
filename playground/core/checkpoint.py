"""Weights and checkpoints: state_dict / safetensors export, safe loading, clear mismatch errors."""

from __future__ import annotations

import io
import math
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
from .files import atomic_write, atomic_write_bytes, check_regular, read_limited
from .shapes import format_shape
from .spec import FORMAT as PROJECT_FORMAT
from .spec import MAX_PROJECT_BYTES, NetworkSpec, Project, check_version, decode_text, parse_json

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
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= _MAX_EPOCH:
        raise CheckpointError(f"{path}: the epoch count must be a whole number from 0 to {_MAX_EPOCH:,}, "
                              f"not {_short(epoch)}")
    history = obj.get("history")
    history = {} if history is None else history
    if not isinstance(history, dict):
        raise CheckpointError(f"{path}: the training history is {_kind(history)}, not a dict")
    _check_history(history, path)
    model = _state_dict(obj.get("model"), path, "the checkpoint's model weights")
    _check_fits_own_project(model, project, path)
    return Checkpoint(
        project=project,
        model=model,
        optimizer=obj.get("optimizer"),
        scheduler=obj.get("scheduler"),
        epoch=epoch,
        history=history,
        progress=obj.get("progress"),
    )


_MAX_EPOCH = 10**9                               # epochs a checkpoint has trained: far beyond any run
_EPOCH_NUMBERS = ("epoch", "train_loss")        # what inspect, the plots and resume read from every record
_EPOCH_OPTIONAL = ("epochs", "val_loss", "val_accuracy", "samples_per_second", "seconds", "lr")  # None or a number


def _check_history(history: dict, path: Path) -> None:
    """The history a run writes: inspect, resume and the plots read it as it is, so check its shape."""
    where = f"{path}: the training history"
    for key in ("status", "reason"):
        if history.get(key) is not None and not isinstance(history[key], str):
            raise CheckpointError(f"{where}'s {key!r} is {_kind(history[key])}, not text")
    accuracy = history.get("test_accuracy")
    if accuracy is not None and not _is_number(accuracy):
        raise CheckpointError(f"{where}'s 'test_accuracy' is {_short(accuracy)}, not a number")
    epochs, steps = history.get("epochs", []), history.get("steps", [])
    if not isinstance(epochs, list) or not isinstance(steps, list):
        raise CheckpointError(f"{where}'s 'epochs' and 'steps' must be lists")
    for i, record in enumerate(epochs):
        if not isinstance(record, dict):
            raise CheckpointError(f"{where}'s epochs[{i}] is {_kind(record)}, not an epoch's record")
        for key in _EPOCH_NUMBERS + _EPOCH_OPTIONAL:
            value = record.get(key)
            if not _is_number(value) and not (value is None and key in _EPOCH_OPTIONAL):
                raise CheckpointError(f"{where}'s epochs[{i}][{key!r}] is {_short(value)}, not a number")
    for i, step in enumerate(steps):
        if not (isinstance(step, (list, tuple)) and len(step) == 2 and type(step[0]) is int
                and _is_number(step[1])):
            raise CheckpointError(f"{where}'s steps[{i}] is {_short(step)}, not a [step, loss] pair")
    penalties, changes = history.get("penalties", []), history.get("changes", [])
    if not isinstance(penalties, list) or not isinstance(changes, list):
        raise CheckpointError(f"{where}'s 'penalties' and 'changes' must be lists")
    for i, step in enumerate(penalties):
        if not (isinstance(step, (list, tuple)) and len(step) == 2 and type(step[0]) is int
                and _is_number(step[1])):
            raise CheckpointError(f"{where}'s penalties[{i}] is {_short(step)}, not a [step, penalty] pair")
    for i, change in enumerate(changes):   # what the run changed while it trained (core/live.py)
        if not (isinstance(change, dict) and type(change.get("step")) is int and type(change.get("epoch")) is int
                and isinstance(change.get("setting"), str)
                and all(_is_number(v) or (isinstance(v, (list, tuple)) and all(map(_is_number, v)))
                        for v in (change.get("old"), change.get("new")))):
            raise CheckpointError(f"{where}'s changes[{i}] is {_short(change)}, not a record of "
                                  "{step, epoch, setting, old, new}")


def _check_fits_own_project(model: dict, project: Project, path: Path) -> None:
    """Weights that do not fit the project stored beside them are a file that lies: say so on
    opening, not when a run or an export fails on it. Built on the meta device: no memory."""
    from .shapes import build_network, infer_shapes

    if not infer_shapes(project.network).ok:
        return                                   # a layer that does not fit opens as a red card
    with torch.device("meta"):
        network = build_network(project.network)
    problems = _mismatches(network, model, project.network)
    if problems:
        shown = problems[:3] + ([f"… and {len(problems) - 3} more"] if len(problems) > 3 else [])
        raise CheckpointError(f"{path}: its weights do not fit its own project (a damaged or edited file): "
                              + "; ".join(shown))


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
    # a FIFO would block the open forever and /dev/zero is not "empty": only regular files are read
    size = check_regular(path, "a weights or checkpoint file", CheckpointError).st_size
    try:
        with open(path, "rb") as f:
            head = f.read(16)
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
        raw = parse_json(decode_text(read_limited(path, MAX_PROJECT_BYTES, "a project file", CheckpointError)))
    except (UnicodeDecodeError, ProjectError):
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
            unsupported = re.search(r"Unsupported operand (\d+)", message)
            if unsupported and not name and zipped:   # a real torch.save archive with an odd value inside
                raise CheckpointError(f"{path} was refused: it holds {_opcode(int(unsupported.group(1)))}, "
                                      "which the safe loader does not read — it was not written by torch.save "
                                      "of tensors and plain values") from None
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


def _opcode(code: int) -> str:
    op = next((o for o in pickletools.opcodes if ord(o.code) == code), None) if 0 <= code < 256 else None
    if op is not None and op.name == "LONG4":
        return "a whole number of more than 600 digits (pickle's LONG4)"
    return f"the pickle instruction {op.name}" if op is not None else f"an unknown pickle instruction ({code})"


def _allowed(name: str) -> bool:
    """A global torch's weights-only loader reads itself (tensors' rebuild functions): not code."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return name in _get_allowed_globals()
    except Exception:                            # a torch without it: name whatever is there
        return False


def _scan_pickle(stream: io.BytesIO) -> str | None:
    strings: list[str] = []
    memo: dict[int, Any] = {}
    last: Any = None
    for op, arg, _ in pickletools.genops(stream):
        name = None
        if op.name == "GLOBAL":
            name = str(arg).replace(" ", ".")
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            name = f"{strings[-2]}.{strings[-1]}"
        if name is not None and not _allowed(name):
            return name
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
    for key, value in obj.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{path} is not a state_dict: it has a key {_short(key)}, which is "
                                  f"{_kind(key)}, not a parameter's name")
        if value.is_meta or value.layout != torch.strided:
            kind = "a meta tensor (a shape without values)" if value.is_meta else f"a {value.layout} tensor"
            raise CheckpointError(f"{path}: the weight {key!r} is {kind}, not one with values")
        if (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{path}: the weight {key!r} holds NaN or infinite values — the run that "
                                  "saved it had diverged, and training from it cannot recover")
    return dict(obj)


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


# --- optimizer and scheduler state ----------------------------------------------------------------

# The per-parameter state each optimizer reads, given its (loaded) hyper-parameters. The fused and
# foreach kernels index these buffers by the parameter's element count without checking, so a
# buffer of another size makes them write past its end: every tensor is checked before it loads.
_OPTIMIZER_STATE: dict[str, Any] = {
    "SGD": lambda g: ((), ("momentum_buffer",)),   # (required, optional): a None buffer starts afresh
    "Adam": lambda g: (("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if g.get("amsgrad") else ()), ()),
    "AdamW": lambda g: (("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if g.get("amsgrad") else ()), ()),
    "RMSprop": lambda g: (("step", "square_avg") + (("momentum_buffer",) if g.get("momentum") else ())
                          + (("grad_avg",) if g.get("centered") else ()), ()),
    "Adagrad": lambda g: (("step", "sum"), ()),
    "Adadelta": lambda g: (("step", "square_avg", "acc_delta"), ()),
    "Adamax": lambda g: (("step", "exp_avg", "exp_inf"), ()),
}
# How this machine runs the update, not what the run learned: always this process's own choice.
_IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")
_MAX_STEP = 2 ** 53                              # beyond this a float32/float64 step count stops counting


def check_optimizer_state(state: Any, optimizer: torch.optim.Optimizer, optimizer_name: str,
                          names: list[str] | None = None) -> dict:
    """`state` (an optimizer.state_dict() read from a file) checked against `optimizer`'s own
    parameters — groups, count, shape, dtype, layout, step — and returned as fresh contiguous
    tensors ready for load_state_dict; CheckpointError, naming the key, for anything else.
    `names` are the parameters' names (model.named_parameters()), for the message."""
    where = "the optimizer state"
    if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
        raise CheckpointError(f"{where} is not an optimizer's state_dict (it needs exactly 'state' and 'param_groups')")
    groups, per_param = state["param_groups"], state["state"]
    current = optimizer.param_groups
    if not isinstance(groups, list) or len(groups) != len(current):
        raise CheckpointError(f"{where} has {_count(groups)} parameter groups, but this optimizer has {len(current)}")
    if not isinstance(per_param, dict):
        raise CheckpointError(f"{where}: 'state' is {_kind(per_param)}, not a dict")
    parameters: dict[int, Tensor] = {}
    checked_groups = []
    for g, (saved, mine) in enumerate(zip(groups, current)):
        at = f"{where}: param_groups[{g}]"
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
            raise CheckpointError(f"{at} is not a parameter group (a dict with a 'params' list)")
        ids = saved["params"]
        if len(ids) != len(mine["params"]):
            raise CheckpointError(f"{at} has {len(ids)} parameters, but this network has {len(mine['params'])}")
        for i, p in zip(ids, mine["params"]):
            if type(i) is not int or i in parameters:
                raise CheckpointError(f"{at}: the parameter id {_short(i)} is not a unique whole number")
            parameters[i] = p
        checked_groups.append(_check_group(saved, mine, at))
    checked_state: dict[int, dict] = {}
    for key, entry in per_param.items():
        if key not in parameters:
            raise CheckpointError(f"{where} has state for parameter {_short(key)}, which no group lists")
        p = parameters[key]
        index = list(parameters).index(key)
        name = names[index] if names is not None and index < len(names) else f"parameter {index}"
        group = checked_groups[next(g for g, s in enumerate(groups) if key in s["params"])]
        checked_state[key] = _check_param_state(entry, p, optimizer_name, group, f"the optimizer state of {name!r}",
                                                bool(optimizer.state.get(p)))
    return {"state": checked_state, "param_groups": checked_groups}


def _check_group(saved: dict, mine: dict, at: str) -> dict:
    out = {"params": list(saved["params"])}
    for key, value in saved.items():
        if key == "params":
            continue
        if type(key) is not str:
            raise CheckpointError(f"{at} has a key {_short(key)} that is not a name")
        if key in _IMPLEMENTATION and key in mine:
            out[key] = mine[key]
            continue
        template = mine.get(key, 0.0)            # schedulers add their own numbers (initial_lr, max_lr, ...)
        if _is_number(template):                 # hyper-parameters: 0 and 0.0 are the same setting
            if not _is_number(value) or not math.isfinite(value):
                raise CheckpointError(f"{at}[{key!r}] is {_short(value)}, not a finite number")
        else:
            _check_like(value, template, f"{at}[{key!r}]")
        if key == "lr" and value < 0:
            raise CheckpointError(f"{at}['lr'] is {value!r}; a learning rate cannot be negative")
        out[key] = tuple(value) if isinstance(template, tuple) else value
    for key in mine:
        if key not in out:
            out[key] = mine[key]                 # a setting torch added since the file was saved
    return out


def _check_param_state(entry: Any, p: Tensor, optimizer_name: str, group: dict, at: str,
                       kept_from_start: bool = False) -> dict:
    if not isinstance(entry, dict):
        raise CheckpointError(f"{at} is {_kind(entry)}, not a dict")
    required, optional = _OPTIMIZER_STATE.get(optimizer_name, lambda g: ((), ()))(group)
    if not entry and not kept_from_start:
        return {}                                # not stepped yet: the optimizer starts it afresh
    missing = [k for k in required if k not in entry]
    if missing:
        raise CheckpointError(f"{at} lacks {', '.join(missing)}, which {optimizer_name} needs")
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key not in required and key not in optional:
            raise CheckpointError(f"{at} has {_short(key)}, which {optimizer_name} does not keep")
        if key == "step":
            out[key] = _check_step(value, f"{key!r} in {at}")
        elif value is None and key in optional:
            out[key] = None
        else:
            out[key] = _check_buffer(value, p, f"{key!r} in {at}")
    return out


def _check_step(value: Any, at: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_complex() or value.layout != torch.strided or value.is_meta:
            raise CheckpointError(f"{at} must be one number, not a tensor of shape {format_shape(tuple(value.shape))}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= _MAX_STEP or value != int(value):
        raise CheckpointError(f"{at} must be a whole number of steps from 0 to 2**53, not {_short(value)}")
    return torch.tensor(float(value), dtype=torch.float32)


def _check_buffer(value: Any, p: Tensor, at: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise CheckpointError(f"{at} is {_kind(value)}, not a tensor")
    if value.layout != torch.strided or value.is_meta or value.is_quantized:
        raise CheckpointError(f"{at} is a {str(value.layout).removeprefix('torch.')} tensor, not a plain dense one")
    if tuple(value.shape) != tuple(p.shape):
        raise CheckpointError(
            f"{at} has shape {format_shape(tuple(value.shape))}, but the parameter has "
            f"{format_shape(tuple(p.shape))}: the state is for another network"
        )
    if not value.is_floating_point():
        raise CheckpointError(f"{at} holds {_dtype(value)} values, not floating-point ones")
    if not bool(torch.isfinite(value).all()):
        raise CheckpointError(f"{at} holds NaN or infinite values: the run it came from had diverged")
    # a fresh buffer of its own: the file's tensor may alias another or view a larger storage
    return value.detach().to(dtype=p.dtype).clone(memory_format=torch.contiguous_format)


def check_scheduler_state(state: Any, scheduler) -> dict:
    """`state` (a scheduler.state_dict() read from a file) checked against `scheduler`'s own: the
    same keys and kinds of value, lists of the same length — torch copies it into the scheduler's
    attributes as it is, so a stray key could replace its optimizer."""
    template = scheduler.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"the scheduler state is {_kind(state)}, not a dict")
    for key, value in state.items():
        if key not in template:
            raise CheckpointError(f"the scheduler state has {_short(key)}, which {type(scheduler).__name__} does not keep")
        _check_like(value, template[key], f"the scheduler state[{key!r}]")
    return {**template, **state}


def _check_like(value: Any, template: Any, at: str, depth: int = 0) -> None:
    """`value` is the same kind of thing as `template`: bool, whole number, number, text, list."""
    if depth > 8:
        raise CheckpointError(f"{at} is nested too deeply")
    if isinstance(template, bool):
        ok = isinstance(value, bool)
    elif isinstance(template, int):
        ok = type(value) is int and abs(value) <= 2 ** 62
    elif isinstance(template, float):
        ok = type(value) in (int, float) and not (isinstance(value, float) and math.isnan(value)) \
            and (isinstance(value, float) or abs(value) <= 2 ** 62)
    elif isinstance(template, str):
        ok = isinstance(value, str) and len(value) <= 200
    elif template is None:
        ok = value is None or (type(value) in (int, float, str) and (type(value) is not int or abs(value) <= 2 ** 62))
    elif isinstance(template, (list, tuple)):
        ok = isinstance(value, (list, tuple)) and len(value) == len(template)
        if ok:
            for i, (v, t) in enumerate(zip(value, template)):
                _check_like(v, t, f"{at}[{i}]", depth + 1)
    elif isinstance(template, dict):
        ok = isinstance(value, dict) and set(value) <= set(template)
        if ok:
            for k, v in value.items():
                _check_like(v, template[k], f"{at}[{k!r}]", depth + 1)
    elif isinstance(template, Tensor):
        ok = isinstance(value, Tensor) and value.shape == template.shape and value.dtype == template.dtype \
            and value.layout == torch.strided and not value.is_meta
    else:
        ok = False
    if not ok:
        raise CheckpointError(f"{at} is {_short(value)}, not {_expected(template)}")


def _expected(template: Any) -> str:
    if isinstance(template, bool):
        return "true or false"
    if isinstance(template, int):
        return "a whole number between -2**62 and 2**62"
    if isinstance(template, float):
        return "a number"
    if isinstance(template, str):
        return "a text of at most 200 characters"
    if isinstance(template, (list, tuple)):
        return f"a list of {len(template)}"
    if isinstance(template, Tensor):
        return f"a {_dtype(template)} tensor of shape {format_shape(tuple(template.shape))}"
    return _kind(template)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and (type(value) is float or abs(value) <= 2 ** 62)


def _count(obj: Any) -> str:
    return str(len(obj)) if isinstance(obj, (list, tuple)) else _kind(obj)


def _short(value: Any) -> str:
    """A value for a message: its repr, cut to a readable length (a crafted file may hold megabytes)."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {format_shape(tuple(value.shape))}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return "a whole number of more than 30 digits"
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else _kind(value)
    return text if len(text) <= 60 else text[:57] + "..."
