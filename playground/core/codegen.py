"""Export to code: the network as the `nn.Sequential(...)` a PyTorch user would write, and a standalone script.

The script needs only torch. Playground's recurrent layers (which pass on one
tensor) become a small helper class in the script with torch's own parameter
names, so an exported state_dict loads into it unchanged. `code_import` reads
back what this module writes.
"""

from __future__ import annotations

import inspect
import re

from torch import nn

from .errors import ShapeError
from .layers import LAYERS, LayerType
from .naming import module_tree
from .params import check_params
from .shapes import infer_shapes
from .spec import LayerSpec, NetworkSpec

RECURRENT = ("RNN", "LSTM", "GRU")

# torch's own constructors take *args for these; their positional order, from the docs.
_RECURRENT_SIGNATURE = {
    "RNN": ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first", "dropout",
            "bidirectional"),
    "LSTM": ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional",
             "proj_size"),
    "GRU": ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"),
}
_RECURRENT_REQUIRED = ("input_size", "hidden_size")
_RECURRENT_DEFAULTS = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False,
                       "dropout": 0.0, "bidirectional": False, "proj_size": 0}

_HELPER = '''\
class _OneTensor:
    """torch's RNN / LSTM / GRU return (output, hidden); these pass on one tensor so they fit in
    nn.Sequential: the last time step (to classify a sequence) or the whole sequence (to stack)."""

    def __init__(self, *args, output="last", **kwargs):
        super().__init__(*args, **kwargs)
        self.output = output

    def forward(self, x):
        y, _ = super().forward(x)
        if self.output == "sequence":
            return y
        if self.bidirectional:  # the backward direction has read the whole sequence at step 0
            h = self.hidden_size
            return torch.cat((y[:, -1, :h], y[:, 0, h:]), dim=-1)
        return y[:, -1]
'''


def positional_names(type_name: str) -> tuple[str, ...]:
    """The constructor's arguments in the order torch accepts them positionally."""
    if type_name in RECURRENT:
        return _RECURRENT_SIGNATURE[type_name]
    return tuple(name for name, _ in _signature(type_name))


def torch_defaults(type_name: str) -> dict:
    """torch's default for each constructor argument that has one."""
    if type_name in RECURRENT:
        return dict(_RECURRENT_DEFAULTS)
    return {name: p.default for name, p in _signature(type_name) if p.default is not inspect.Parameter.empty}


def _signature(type_name: str) -> list[tuple[str, inspect.Parameter]]:
    params = inspect.signature(getattr(nn, type_name).__init__).parameters
    return [
        (name, p) for name, p in params.items()
        if name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and name not in ("device", "dtype")
    ]


def _required(type_name: str) -> tuple[str, ...]:
    if type_name in RECURRENT:
        return _RECURRENT_REQUIRED
    return tuple(name for name, p in _signature(type_name) if p.default is inspect.Parameter.empty)


def constructor_name(type_name: str) -> str:
    """How the script names the class: `nn.Linear`, or the script's own helper `LSTM`."""
    return type_name if type_name in RECURRENT else f"nn.{type_name}"


def _literal(value) -> str:
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v) for v in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _arguments(layer: LayerSpec, layer_type: LayerType, inferred: dict) -> dict:
    """Everything the constructor receives, in declaration order: inferred sizes, what the user set,
    Playground's defaults where torch has none or another one, and fixed arguments."""
    args = dict(inferred)
    declared = {p.name: p for p in layer_type.params}
    given = {k: v for k, v in layer.params.items() if k in declared}
    checked = check_params(layer_type.params, given, "")  # 5.0 in a file is the whole number 5
    defaults = torch_defaults(layer_type.name)
    required = _required(layer_type.name)
    for name, param in declared.items():
        if name in given:
            value = checked[name]
        elif name in required:
            value = param.default
        elif name in defaults and _differs(defaults[name], param.default):
            value = param.default
        else:
            continue
        args[name] = value
    args.update(layer_type.fixed)
    if layer_type.name in RECURRENT:
        # recurrent: hidden_size and friends first, then batch_first, then Playground's `output`
        output = args.pop("output", None)
        if output is not None:
            args["output"] = output
    return args


def _differs(torch_default, ours) -> bool:
    if isinstance(torch_default, tuple) or isinstance(ours, list):
        return list(torch_default if isinstance(torch_default, (tuple, list)) else [torch_default]) != list(
            ours if isinstance(ours, (tuple, list)) else [ours]
        )
    return torch_default != ours


def layer_source(layer: LayerSpec, inferred: dict) -> str:
    """One constructor call: required leading arguments positionally, the rest by name."""
    layer_type = LAYERS[layer.type]
    args = _arguments(layer, layer_type, inferred)
    order = positional_names(layer.type)
    required = _required(layer.type)
    parts = []
    for name in order:
        if name not in required or name not in args:
            break
        value = args.pop(name)
        if name == "normalized_shape" and isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]  # nn.LayerNorm(64), as people write it
        parts.append(_literal(value))
    parts += [f"{name}={_literal(value)}" for name, value in args.items()]
    return f"{constructor_name(layer.type)}({', '.join(parts)})"


def sequential_source(spec: NetworkSpec, indent: str = "") -> str:
    """`nn.Sequential(...)` for the spec; raises ShapeError when a layer does not fit. Cards imported
    with their original names (conv1, features.0) are written as `nn.Sequential(OrderedDict([...]))`,
    nested where the names are, so the code's state_dict keys are those of the exported weights."""
    info = infer_shapes(spec)
    if not info.ok:
        raise ShapeError(info.error)
    if not spec.layers:
        return "nn.Sequential()"
    calls = []
    for layer, layer_info in zip(spec.layers, info.layers):
        inferred = {k: v for k, v in layer_info.inferred.items() if k in LAYERS[layer.type].inferred_names}
        calls.append(layer_source(layer, inferred))
    tree = module_tree(spec) or [(str(i), i) for i in range(len(calls))]
    return _tree_source(tree, calls, indent)


def _tree_source(tree, calls: list[str], indent: str) -> str:
    """One Sequential level: plain when its keys are 0, 1, 2 ... (torch's own), else an OrderedDict."""
    inner = indent + "    "
    items = [(key, _tree_source(content, calls, inner) if isinstance(content, list) else calls[content])
             for key, content in tree]
    if [key for key, _ in items] == [str(i) for i in range(len(items))]:
        return "\n".join(["nn.Sequential(", *(f"{inner}{code}," for _, code in items), f"{indent})"])
    return "\n".join(["nn.Sequential(OrderedDict([", *(f"{inner}({key!r}, {code})," for key, code in items),
                      f"{indent}]))"])


def uses_names(spec: NetworkSpec) -> bool:
    """The code for `spec` names its layers (it needs `from collections import OrderedDict`)."""
    return module_tree(spec) is not None


def helper_source(spec: NetworkSpec) -> str:
    """The helper classes the network needs (none for plain torch.nn layers)."""
    used = [t for t in RECURRENT if any(layer.type == t for layer in spec.layers)]
    if not used:
        return ""
    classes = "".join(
        f'\n\nclass {t}(_OneTensor, nn.{t}):\n    """nn.{t} passing on one tensor."""\n' for t in used
    )
    return _HELPER + classes


def panel_source(spec: NetworkSpec) -> str:
    """What the code panel shows: the Sequential, with a note where helper classes are used."""
    source = sequential_source(spec)
    if helper_source(spec):
        source = (
            "# RNN / LSTM / GRU here are Playground's one-tensor versions of torch's classes;\n"
            "# File > Export as Python script writes their definition into the script.\n" + source
        )
    return source + "\n"


def python_script(spec: NetworkSpec, name: str = "network", weights_file: str | None = None,
                  seed: int | None = None, version: str = "") -> str:
    """A standalone script: the network, optionally its weights from `weights_file` beside it, and a
    main that runs it on a saved input batch (`python script.py input.pt output.pt`)."""
    body = sequential_source(spec, indent="    ")
    helper = helper_source(spec)
    title = re.sub(r'\s+', " ", re.sub(r'["\\]', "'", name)).strip() or "network"
    shape = tuple(spec.input_shape)
    load = seeded = ""
    if weights_file:
        load = (
            f"    path = Path(__file__).with_name({weights_file!r})\n"
            "    model.load_state_dict(torch.load(path, map_location=\"cpu\", weights_only=True))\n"
        )
        weights_doc = f"The trained weights are loaded from {weights_file} beside this file."
    else:
        weights_doc = "No weights were exported: the network starts from torch's initialisation"
        if seed is not None:
            seeded = f"    torch.manual_seed({seed})  # the project's seed: the weights Playground starts from\n"
            weights_doc += f" with the project's seed {seed}, as in Playground"
        weights_doc += "."
    by = f" by Playground {version}" if version else " by Playground"
    imports = "from collections import OrderedDict  # the layers keep the names of the code they came from\n" \
        if uses_names(spec) else ""
    return f'''\
"""{title} — written{by}. Needs only PyTorch.

{weights_doc}

    python THIS_SCRIPT.py                      # run a random batch, print the output shape
    python THIS_SCRIPT.py input.pt output.pt   # run a saved batch (torch.save of a tensor)
"""

import sys
{imports}from pathlib import Path

import torch
from torch import nn

INPUT_SHAPE = {shape!r}  # one sample, without the batch dimension
{"" if not helper else chr(10) + chr(10) + helper}

def build_model() -> nn.Sequential:
{seeded}    model = {body}
{load}    return model.eval()


def main(argv: list[str]) -> None:
    model = build_model()
    if len(argv) == 2:
        x = torch.load(argv[0], map_location="cpu", weights_only=True)
        with torch.no_grad():
            torch.save(model(x), argv[1])
        return
    x = torch.randn(4, *INPUT_SHAPE)
    with torch.no_grad():
        print("output shape:", tuple(model(x).shape))


if __name__ == "__main__":
    main(sys.argv[1:])
'''
