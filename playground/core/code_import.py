"""Import from code: `nn.Sequential(...)` source read with `ast` into layer specs — nothing is executed.

Accepted: torch.nn constructors from the layer catalogue (`nn.Linear`, `torch.nn.Conv2d`, or the
bare name after `from torch.nn import Linear`) with literal arguments, as tutorials write them,
and the one-tensor `RNN` / `LSTM` / `GRU` helpers an exported script defines. Anything else in
the Sequential is reported as `line N: ...`. Code outside the Sequential (imports, the helper
classes of an exported script) is ignored, never run.
"""

from __future__ import annotations

import ast
import difflib

from .codegen import RECURRENT, positional_names
from .errors import ProjectError
from .layers import LAYERS
from .params import ParamError, check_params
from .shapes import infer_shapes
from .spec import LayerSpec, NetworkSpec


class CodeImportError(ProjectError):
    """Source that cannot become cards; `problems` holds (line, message) for each construct."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__("\n".join(f"line {line}: {message}" for line, message in problems))


MAX_SOURCE_BYTES = 1_000_000  # a network's source is a few kilobytes; anything this big is the wrong file
MAX_DEPTH = 100               # nesting of the syntax tree: a layer call is ~6 deep; the walks below recurse
MAX_DIGITS = 30               # a literal beyond this is no layer size (and str() of 4300+ digits raises)


def read_source(path) -> str:
    """A .py file's text: a regular file of at most MAX_SOURCE_BYTES, UTF-8; ProjectError otherwise."""
    from .files import read_limited

    data = read_limited(path, MAX_SOURCE_BYTES, "a network's source code", ProjectError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not text (UTF-8), so not Python source") from None


def parse_sequential(source: str, input_shape: list[int] | tuple[int, ...],
                     max_layers: int | None = None) -> NetworkSpec:
    """The network `source` describes, for samples of `input_shape`; raises CodeImportError.
    `max_layers`: refuse longer networks before checking their sizes (the editor's limit)."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise CodeImportError([(1, f"the source is {size:,} bytes — too big to be a network's code "
                                   f"(at most {MAX_SOURCE_BYTES:,})")])
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        if "integer string conversion" in e.msg:
            raise CodeImportError([(e.lineno or 1, f"a number of more than {MAX_DIGITS} digits is no layer size")]) from None
        raise CodeImportError([(e.lineno or 1, f"invalid Python: {e.msg}")]) from None
    except (RecursionError, MemoryError):   # CPython's parser gives up on ~100k nested operators
        raise CodeImportError([(1, f"the code is nested too deeply to read (more than {MAX_DEPTH} levels)")]) from None
    except ValueError as e:                 # a NUL byte, or an integer literal of 4300+ digits
        raise CodeImportError([(1, f"invalid Python: {str(e).split(':')[0]}")]) from None
    _check_tree(tree)
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _is_sequential(node.func)]
    if not calls:
        raise CodeImportError([(1, "no nn.Sequential(...) found — paste a network like "
                                   "nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))")])
    outer = [c for c in calls if not any(c is not o and _contains(o, c) for o in calls)]
    if len(outer) > 1:
        raise CodeImportError([(outer[1].lineno, "a second nn.Sequential — give one network at a time")])
    if max_layers is not None and len(outer[0].args) > max_layers:
        raise CodeImportError([(outer[0].lineno, f"it has {len(outer[0].args):,} layers, and the editor shows at "
                                                 f"most {max_layers:,} — train or inspect a longer network with "
                                                 "`playground train` / `playground inspect`")])
    layers, problems = _layers(outer[0])
    if problems:
        raise CodeImportError(problems)
    return NetworkSpec(list(input_shape), _drop_inferred(layers, list(input_shape)))


def _check_tree(tree: ast.AST) -> None:
    """Depth and literal size, walked without recursion: the helpers below recurse into attribute
    chains and expressions, and a long `1+1+...` or `a.b.c...` would exhaust Python's stack."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        line = getattr(node, "lineno", 1)
        if depth > MAX_DEPTH:
            raise CodeImportError([(line, f"the code is nested more than {MAX_DEPTH} levels deep — "
                                          "a network is a flat list of layer calls")])
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool) \
                and node.value.bit_length() > MAX_DIGITS * 3.33:
            raise CodeImportError([(line, f"a number of more than {MAX_DIGITS} digits is no layer size")])
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and len(node.value) > 10_000:
            raise CodeImportError([(line, "a text of more than 10,000 characters is no layer parameter")])
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in ast.walk(outer))


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _class_name(func: ast.AST) -> str | None:
    """`Linear` for nn.Linear, torch.nn.Linear or a bare Linear; None for anything else."""
    name = _dotted(func)
    if name is None:
        return None
    for prefix in ("torch.nn.", "nn."):
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return name[len(prefix):]
    return name if "." not in name else None


def _is_sequential(func: ast.AST) -> bool:
    return _class_name(func) == "Sequential"


def _describe(node: ast.AST) -> str:
    """What a construct is, in a user's words."""
    if isinstance(node, ast.Name):
        return f"the variable {node.id!r}"
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
        return "a comprehension"
    if isinstance(node, ast.Starred):
        return "unpacking with *"
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        return f"a call to {name}()" if name else "a call"
    if isinstance(node, ast.Lambda):
        return "a lambda"
    if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp)):
        return f"the expression {ast.unparse(node)!r}"
    if isinstance(node, ast.Attribute):
        return f"the attribute {ast.unparse(node)!r}"
    return f"{type(node).__name__.lower()} {ast.unparse(node)!r}"


def _layers(call: ast.Call) -> tuple[list[tuple[int, LayerSpec, dict]], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    if call.keywords:
        problems.append((call.lineno, "nn.Sequential takes the layers only, no keyword arguments"))
    layers = []
    for arg in call.args:
        line = getattr(arg, "lineno", call.lineno)
        if not isinstance(arg, ast.Call):
            problems.append((line, f"{_describe(arg)} is not supported — write each layer as nn.Name(...)"))
            continue
        type_name = _class_name(arg.func)
        if type_name is None or type_name == _dotted(arg.func) and type_name not in LAYERS:
            problems.append((line, f"{_describe(arg)} is not a torch.nn layer — write nn.Name(...)"))
            continue
        if type_name == "Sequential":
            problems.append((line, "a nested nn.Sequential is not supported — list its layers in the outer one"))
            continue
        if type_name not in LAYERS:
            close = difflib.get_close_matches(type_name, LAYERS, n=1)
            hint = f" — did you mean nn.{close[0]}?" if close else ""
            problems.append((line, f"nn.{type_name} is not a layer Playground knows{hint}"))
            continue
        try:
            params, given_inferred = _arguments(type_name, arg)
        except _Problem as p:
            problems.append((p.line or line, f"nn.{type_name}: {p.message}" if type_name not in RECURRENT
                             else f"{type_name}: {p.message}"))
            continue
        layers.append((line, LayerSpec(type_name, params), given_inferred))
    return layers, problems


class _Problem(Exception):
    def __init__(self, message: str, line: int | None = None):
        self.message, self.line = message, line


def _value(node: ast.AST, name: str):
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise _Problem(f"the value of {name} must be a literal (a number, text, True/False, None or a "
                       f"tuple of them), not {_describe(node)}", getattr(node, "lineno", None)) from None
    return list(value) if isinstance(value, tuple) else value


def _arguments(type_name: str, call: ast.Call) -> tuple[dict, dict]:
    """The user's parameters, and the inferred input sizes the code gives (checked later)."""
    layer_type = LAYERS[type_name]
    order = positional_names(type_name)
    given: dict = {}
    for i, node in enumerate(call.args):
        if isinstance(node, ast.Starred):
            raise _Problem("unpacking with * is not supported", node.lineno)
        if i >= len(order):
            raise _Problem(f"takes at most {len(order)} positional arguments, got {len(call.args)}", node.lineno)
        given[order[i]] = _value(node, order[i])
    for kw in call.keywords:
        if kw.arg is None:
            raise _Problem("unpacking with ** is not supported", kw.value.lineno)
        if kw.arg in given:
            raise _Problem(f"{kw.arg} is given twice", kw.value.lineno)
        given[kw.arg] = _value(kw.value, kw.arg)

    inferred_names = layer_type.inferred_names
    inferred = {k: given.pop(k) for k in inferred_names if k in given}
    for name, value in layer_type.fixed.items():
        if name in given:
            if given.pop(name) != value:
                raise _Problem(f"{name} must be {value} (Playground keeps the batch first)")
    declared = {p.name for p in layer_type.params}
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared | set(inferred_names) | set(layer_type.fixed))) or "none"
            raise _Problem(f"parameter {name!r} is not supported here (supported: {known})")
    try:
        check_params(layer_type.params, given, "")
    except ParamError as e:
        raise _Problem(str(e)) from None
    if "normalized_shape" in inferred and isinstance(inferred["normalized_shape"], int):
        inferred["normalized_shape"] = [inferred["normalized_shape"]]
    return given, inferred


def _drop_inferred(layers: list[tuple[int, LayerSpec, dict]], input_shape: list[int]) -> list[LayerSpec]:
    """Input sizes the code states are dropped where they match what Playground infers, so the cards
    keep inferring them; a size that does not match stays, and its card shows the mismatch."""
    specs: list[LayerSpec] = []
    for _, layer, given in layers:
        if given:
            info = infer_shapes(NetworkSpec(input_shape, specs + [LayerSpec(layer.type, dict(layer.params))]))
            this = info.layers[-1]
            expected = LAYERS[layer.type].infer(this.input_shape) if this.input_shape is not None else None
            for name, value in given.items():
                if expected is None or _as_list(expected.get(name)) != _as_list(value):
                    layer.params[name] = value
        specs.append(layer)
    return specs


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]
