"""Standard formats: a `torch.export` program (.pt2) and ONNX, with the batch size left free."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import warnings
from pathlib import Path

import torch

from .checkpoint import apply_state_dict
from .errors import PlaygroundError
from .files import atomic_write, atomic_write_bytes, check_distinct, check_target
from .shapes import build_network
from .spec import NetworkSpec

FORMATS = {"pt2": ".pt2", "onnx": ".onnx"}  # format name: file suffix
ONNX_EXTRA = "pip install 'playground[onnx]'"
INPUT_NAME, OUTPUT_NAME = "input", "output"  # the ONNX graph's names, for onnxruntime callers


class ExportError(PlaygroundError):
    """The network could not be written in the chosen format; the message says why."""


def onnx_problem() -> str | None:
    """Why ONNX export cannot run here (the optional extra is missing), or None."""
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        return f"ONNX export needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}: {ONNX_EXTRA}"
    return None


def export_model(network: NetworkSpec, state_dict: dict, path: str | Path, fmt: str) -> None:
    """Write the network with these weights as `fmt` ("pt2" or "onnx"); any batch size runs it."""
    if fmt not in FORMATS:
        raise ExportError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "onnx" and onnx_problem():
        raise ExportError(onnx_problem())
    model = build_network(network, initialise=False)
    apply_state_dict(model, state_dict, network)
    model.eval()
    example = torch.randn(2, *network.input_shape, generator=torch.Generator().manual_seed(0))
    batch = {0: torch.export.Dim("batch")}
    what = "a torch.export program" if fmt == "pt2" else "ONNX"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            # the exporters trace torch's own modules and warn about torch's internals (the RNN weight
            # cache, .grad of non-leaf tensors, deprecations inside torch): nothing a user can act on
            warnings.simplefilter("ignore")
            if fmt == "pt2":
                program = torch.export.export(model, (example,), dynamic_shapes=(batch,))
            else:
                onnx_program = torch.onnx.export(
                    model, (example,), dynamo=True, dynamic_shapes=(batch,),
                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False,
                )
                data = onnx_program.model_proto.SerializeToString()
    except Exception as e:  # noqa: BLE001 — torch's exporters raise many types; say which layer set failed
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()  # the ONNX exporter colours its messages
        first = (text.splitlines() or [type(e).__name__])[0]
        raise ExportError(f"cannot export this network as {what}: {first}") from e
    if fmt == "pt2":
        atomic_write(path, lambda f: torch.export.save(program, f))
    else:
        atomic_write_bytes(path, data)


def format_for(path: str | Path) -> str | None:
    """The export format a file name asks for, by its suffix."""
    suffix = Path(path).suffix.lower()
    return next((fmt for fmt, s in FORMATS.items() if s == suffix), None)


def weights_path(script: str | Path) -> Path:
    """Where a script's weights go: NAME.weights.pt beside NAME.py (never a checkpoint's NAME.pt)."""
    script = Path(script)
    return script.with_name(script.stem + ".weights.pt")


def export_script(network: NetworkSpec, path: str | Path, name: str, state_dict: dict | None = None,
                  seed: int | None = None, source: str | Path | None = None) -> list[Path]:
    """A standalone Python script; with `state_dict`, also the weights it loads, saved beside it as
    NAME.weights.pt (`source`, the file they came from, is never written over). Without weights the
    script seeds torch with `seed`, so it starts where Playground does."""
    from .. import __version__
    from .checkpoint import save_weights
    from .codegen import python_script, uses_names
    from .naming import original_state_dict

    path = Path(path)
    written = []
    weights_file = None
    outputs = {"the script": path}
    if state_dict is not None:
        outputs["its weights"] = weights_path(path)
    # both checked before either is written: never the file being read, never a read-only one
    check_distinct(outputs, {"the file being exported": source})
    for target in outputs.values():
        check_target(target)
    if state_dict is not None:
        weights = weights_path(path)
        if weights == path:
            raise ExportError(f"{path}: a script needs a name that does not end in .weights.pt (the weights take that)")
        apply_state_dict(build_network(network, initialise=False), state_dict, network)  # weights that do not fit fail here
        if uses_names(network):            # the script's layers carry the original names: so do its weights
            state_dict = original_state_dict(network, state_dict)
        save_weights(state_dict, weights)
        written.append(weights)
        weights_file = weights.name
    source = python_script(network, name, weights_file=weights_file, seed=seed, version=__version__)
    atomic_write_bytes(path, source.encode("utf-8"))
    return [path, *written]
