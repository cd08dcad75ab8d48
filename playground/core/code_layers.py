"""Layers read from pasted code with `ast`: one constructor call to a card, and the lists and
comprehensions a Sequential unpacks. Shared by code_class (which finds the network) and code_import."""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

from .code_eval import NotConstant, Scope, dotted, evaluate, literal_range
from .codegen import RECURRENT, positional_names
from .layers import LAYERS
from .params import ParamError, check_params

MAX_LEAVES = 10_000           # comprehensions and nesting cannot multiply a network beyond this

# nn.LazyX infers its input size on the first call; Playground infers it from the shape.
LAZY = {"LazyLinear": "Linear", "LazyConv1d": "Conv1d", "LazyConv2d": "Conv2d",
        "LazyConvTranspose2d": "ConvTranspose2d", "LazyBatchNorm1d": "BatchNorm1d",
        "LazyBatchNorm2d": "BatchNorm2d"}
# Arguments that change nothing about what a card computes or stores.
_IGNORED = {"inplace": None, "return_indices": False}
_UNREAD = object()            # an input size the code computes from names it does not bind


@dataclass
class Leaf:
    """One card read from the code, before its inferred sizes are checked."""

    line: int
    type: str
    params: dict
    given: dict = field(default_factory=dict)      # input sizes the code states (checked against the shape)
    name: str | None = None                        # the module's path in the original: "features.0"
    features: int | None = None                    # x.view(-1, N): the N the flattened size must be
    reshape: tuple | None = None                   # x.view(-1, 1, 28, 28): the sample shape it asks for
    features_from: int | None = None               # x.view(-1, x.size(1)): N is that dimension of the input
    source: ast.AST | None = None                  # the constructor call
    shared: tuple | None = None                    # (binding, index) when reached through a name: one module


# --- names and what they are ------------------------------------------------------------------


def class_name(func: ast.AST) -> str | None:
    """`Linear` for nn.Linear, torch.nn.Linear or a bare Linear; None for anything else."""
    name = dotted(func)
    if name is None:
        return None
    for prefix in ("torch.nn.", "nn."):
        if name.startswith(prefix) and "." not in name[len(prefix):]:
            return name[len(prefix):]
    return name if "." not in name else None


def describe(node: ast.AST) -> str:
    """What a construct is, in a user's words."""
    if isinstance(node, ast.Name):
        return f"the variable {node.id!r}"
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.SetComp, ast.DictComp)):
        return "a comprehension"
    if isinstance(node, ast.Starred):
        return "unpacking with *"
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        return f"a call to {name}()" if name else "a call"
    if isinstance(node, ast.Lambda):
        return "a lambda"
    if isinstance(node, (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp)):
        return f"the expression {ast.unparse(node)!r}"
    if isinstance(node, ast.Attribute):
        return f"the attribute {ast.unparse(node)!r}"
    return f"{type(node).__name__.lower()} {ast.unparse(node)!r}"


class Problem(Exception):
    def __init__(self, message: str, line: int | None = None):
        self.message, self.line = message, line


# --- one layer constructor ------------------------------------------------------------------------


def layer_leaf(call: ast.Call, scope: Scope | None, name: str | None) -> Leaf:
    """The card for `nn.X(...)`; Problem if X is no catalogue layer or an argument cannot be read."""
    type_name = class_name(call.func)
    line = call.lineno
    written = type_name
    lazy = type_name in LAZY
    if lazy:
        type_name = LAZY[type_name]
    if type_name is None or type_name == dotted(call.func) and type_name not in LAYERS:
        raise Problem(f"{describe(call)} is not a torch.nn layer — write nn.Name(...)", line)
    if type_name not in LAYERS:
        close = difflib.get_close_matches(type_name, LAYERS, n=1)
        hint = f" — did you mean nn.{close[0]}?" if close else ""
        raise Problem(f"nn.{type_name} is not a layer Playground knows{hint}", line)
    label = f"{type_name}" if type_name in RECURRENT else f"nn.{written}"
    try:
        params, given = arguments(type_name, call, scope, skip_inferred=lazy)
    except Problem as p:
        raise Problem(f"{label}: {p.message}", p.line or line) from None
    return Leaf(line, type_name, params, given, name, source=call)


def value(node: ast.AST, name: str, scope: Scope | None):
    try:
        result = evaluate(node, scope)
    except NotConstant as e:
        raise Problem(f"the value of {name} cannot be read: {e.message}",
                      e.line or getattr(node, "lineno", None)) from None
    return list(result) if isinstance(result, tuple) else result


def arguments(type_name: str, call: ast.Call, scope: Scope | None, skip_inferred: bool = False,
              order: tuple[str, ...] | None = None, first: int = 0) -> tuple[dict, dict]:
    """The user's parameters, and the inferred input sizes the code gives (checked later).
    `order`: positional names (a functional form's); `first`: positional arguments to skip (the tensor)."""
    layer_type = LAYERS[type_name]
    if order is None:
        order = positional_names(type_name)
        if skip_inferred:                        # LazyLinear(out_features): no in_features first
            order = tuple(n for n in order if n not in layer_type.inferred_names)
    given: dict = {}
    positional = call.args[first:]
    inferred_names = layer_type.inferred_names

    def read(node, name):
        try:
            return value(node, name, scope)
        except Problem:
            if name in inferred_names:           # Playground infers it: what the code says is only checked
                return _UNREAD
            raise

    for i, node in enumerate(positional):
        if isinstance(node, ast.Starred):
            raise Problem("unpacking with * is not supported in a layer's arguments", node.lineno)
        if i >= len(order):
            raise Problem(f"takes at most {len(order)} positional arguments, got {len(positional)}", node.lineno)
        given[order[i]] = read(node, order[i])
    for kw in call.keywords:
        if kw.arg is None:
            raise Problem("unpacking with ** is not supported", kw.value.lineno)
        if kw.arg in given:
            raise Problem(f"{kw.arg} is given twice", kw.value.lineno)
        given[kw.arg] = read(kw.value, kw.arg)
    given = {k: v for k, v in given.items() if v is not _UNREAD}

    for name, harmless in _IGNORED.items():
        if name in given and (harmless is None or given[name] == harmless):
            del given[name]
    inferred = {k: given.pop(k) for k in inferred_names if k in given}
    for name, fixed in layer_type.fixed.items():
        if name in given:
            if given.pop(name) != fixed:
                raise Problem(f"{name} must be {fixed} (Playground keeps the batch first)")
    declared = {p.name for p in layer_type.params}
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared | set(inferred_names) | set(layer_type.fixed))) or "none"
            raise Problem(f"parameter {name!r} is not supported here (supported: {known})")
    try:
        check_params(layer_type.params, given, "")
    except ParamError as e:
        raise Problem(str(e)) from None
    if "normalized_shape" in inferred and isinstance(inferred["normalized_shape"], int):
        inferred["normalized_shape"] = [inferred["normalized_shape"]]
    return given, inferred


def sequence_items(node: ast.AST, scope: Scope | None, lists: dict) -> list[tuple[ast.AST, Scope | None]]:
    """The elements a `*[...]`, `*name` or `*[f(i) for i in range(n)]` unpacks, each with the scope
    it is read in (a comprehension binds its variable); Problem for anything else."""
    line = getattr(node, "lineno", None)
    if isinstance(node, ast.Name) and node.id in lists:
        return list(lists[node.id])
    if isinstance(node, ast.Name) and scope is not None:
        bound = _bound(node.id, scope)
        if bound is not None:
            return sequence_items(bound, scope, lists)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                items.extend(sequence_items(e.value, scope, lists))
            else:
                items.append((e, scope))
        return items
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        if len(node.generators) != 1:
            raise Problem("a comprehension with several for clauses is not read — use one "
                          "`for i in range(n)`", line)
        gen = node.generators[0]
        if gen.ifs or gen.is_async or not isinstance(gen.target, ast.Name):
            raise Problem("only `[layer for i in range(n)]` comprehensions are read (one variable, no if)", line)
        if isinstance(gen.iter, ast.Call) and dotted(gen.iter.func) == "range":
            try:
                values = list(literal_range(gen.iter, scope))
            except NotConstant as e:
                raise Problem(e.message, e.line or line) from None
        else:
            try:
                values = evaluate(gen.iter, scope)
            except NotConstant as e:
                raise Problem(f"a comprehension must run over range(...) or a constant tuple: {e.message}",
                              line) from None
            if not isinstance(values, tuple):
                raise Problem("a comprehension must run over range(...) or a constant tuple", line)
        items = []
        for v in values:
            inner = Scope(scope)
            inner.values[gen.target.id] = v
            items.append((node.elt, inner))
        if len(items) > MAX_LEAVES:
            raise Problem(f"more than {MAX_LEAVES:,} layers", line)
        return items
    raise Problem(f"{describe(node)} cannot be unpacked into layers — write *[nn.Name(...), ...]", line)


def _bound(name: str, scope: Scope) -> ast.AST | None:
    while scope is not None:
        if name in scope.nodes:
            return scope.nodes[name]
        scope = scope.parent
    return None
