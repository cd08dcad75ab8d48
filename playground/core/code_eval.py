"""A safe constant evaluator for pasted code: numbers, tuples and names bound to them, read with `ast`.

`nn.Linear(16 * 5 * 5, 120)` or `N_HIDDEN = 300` two lines above are arithmetic on literals; this
computes them without running anything. Only literals, + - * / // % ** and unary minus, tuples and
lists, and names bound to such expressions in the same code are read; every result is bounded
(digits, sequence length, nesting), so a pasted `10 ** 10 ** 10` is refused in words, not computed.
"""

from __future__ import annotations

import ast
import math
import operator

MAX_DEPTH = 100        # nesting of one expression (the same bound code_import puts on the tree)
MAX_DIGITS = 30        # an integer beyond this is no layer size
MAX_ITEMS = 10_000     # a tuple, list or range longer than this is no layer argument
MAX_EXPONENT = 128     # 2 ** 128 has 39 digits: any larger power is refused before it is computed

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}


class NotConstant(Exception):
    """The expression is not a constant this evaluator reads; `message` says what it is instead."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message, self.line = message, line


class Scope:
    """Names bound to expressions (not yet evaluated) or to values, with an enclosing scope."""

    def __init__(self, parent: Scope | None = None):
        self.parent = parent
        self.nodes: dict[str, ast.AST] = {}      # name -> the expression it was bound to
        self.values: dict[str, object] = {}      # name -> an already known value (loop variables)
        self.unknown: dict[str, str] = {}        # name -> why its value cannot be known (an argument
                                                 # without a default): a problem only where it is read
        self._busy: set[str] = set()             # names being evaluated: `a = a + 1` is no constant

    def bind(self, name: str, node: ast.AST) -> None:
        self.nodes[name] = node
        self.values.pop(name, None)
        self.unknown.pop(name, None)

    def lookup(self, name: str, line: int | None):
        scope = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            if name in scope.unknown:
                raise NotConstant(scope.unknown[name], line)
            if name in scope.nodes:
                if name in scope._busy:
                    raise NotConstant(f"{name!r} is defined in terms of itself", line)
                scope._busy.add(name)
                try:
                    value = evaluate(scope.nodes[name], scope)
                finally:
                    scope._busy.discard(name)
                return value
            scope = scope.parent
        raise NotConstant(f"the variable {name!r} is not bound to a number in this code", line)


def evaluate(node: ast.AST, scope: Scope | None = None, depth: int = 0):
    """The value of a constant expression; NotConstant says why it is not one. Tuples become tuples."""
    line = getattr(node, "lineno", None)
    if depth > MAX_DEPTH:
        raise NotConstant(f"the expression is nested more than {MAX_DEPTH} levels deep", line)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool, type(None))):
            return _bounded(node.value, line)
        raise NotConstant(f"{type(node.value).__name__} values are not layer arguments", line)
    if isinstance(node, ast.Name):
        if scope is None:
            raise NotConstant(f"the variable {node.id!r} is not bound to a number in this code", line)
        return scope.lookup(node.id, line)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and scope is not None:
        return scope.lookup(f"{node.value.id}.{node.attr}", line)   # self.hidden = 64 in __init__
    if isinstance(node, (ast.Tuple, ast.List)):
        if len(node.elts) > MAX_ITEMS:
            raise NotConstant(f"more than {MAX_ITEMS:,} items is no layer argument", line)
        return tuple(evaluate(e, scope, depth + 1) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = evaluate(node.operand, scope, depth + 1)
        if not _is_number(value):
            raise NotConstant(f"{ast.unparse(node)!r} negates something that is not a number", line)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and dotted(node.func) in ("int", "float", "torch.Size") \
            and len(node.args) == 1 and not node.keywords:
        value = evaluate(node.args[0], scope, depth + 1)   # int(16 * 5.0), torch.Size([2, 5, 5])
        if dotted(node.func) == "torch.Size":
            if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
                raise NotConstant(f"{ast.unparse(node)!r} needs a tuple of whole numbers", line)
            return value
        if not _is_number(value):
            raise NotConstant(f"{ast.unparse(node)!r} converts something that is not a number", line)
        try:
            return _bounded(int(value) if dotted(node.func) == "int" else float(value), line)
        except (OverflowError, ValueError) as e:
            raise NotConstant(f"{ast.unparse(node)!r} cannot be computed ({e})", line) from None
    if isinstance(node, ast.Call) and dotted(node.func) == "len" and len(node.args) == 1 and not node.keywords:
        value = evaluate(node.args[0], scope, depth + 1)
        if not isinstance(value, (tuple, str)):
            raise NotConstant(f"{ast.unparse(node)!r} takes the length of something that is not a tuple", line)
        return len(value)
    if isinstance(node, ast.Subscript):
        value = evaluate(node.value, scope, depth + 1)
        index = evaluate(node.slice, scope, depth + 1)
        if not isinstance(value, tuple) or not isinstance(index, int) or isinstance(index, bool):
            raise NotConstant(f"{ast.unparse(node)!r} indexes something that is not a tuple of constants", line)
        if not -len(value) <= index < len(value):
            raise NotConstant(f"{ast.unparse(node)!r} is out of range", line)
        return value[index]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = evaluate(node.left, scope, depth + 1)
        right = evaluate(node.right, scope, depth + 1)
        return _binary(node, left, right, line)
    raise NotConstant(f"{ast.unparse(node)!r} is not a constant this reader computes "
                      "(numbers, tuples, + - * / // % ** and names bound to them)", line)


def dotted(node: ast.AST) -> str | None:
    """`torch.nn.Linear` for that attribute chain, `x` for a name; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _binary(node: ast.BinOp, left, right, line):
    text = ast.unparse(node)
    if isinstance(node.op, ast.Mult) and isinstance(left, tuple) != isinstance(right, tuple):
        items, times = (left, right) if isinstance(left, tuple) else (right, left)
        if not isinstance(times, int) or isinstance(times, bool) or len(items) * max(times, 0) > MAX_ITEMS:
            raise NotConstant(f"{text!r} repeats a tuple too often (at most {MAX_ITEMS:,} items)", line)
        return items * times
    if isinstance(node.op, ast.Add) and isinstance(left, tuple) and isinstance(right, tuple):
        if len(left) + len(right) > MAX_ITEMS:
            raise NotConstant(f"{text!r} has more than {MAX_ITEMS:,} items", line)
        return left + right
    if not (_is_number(left) and _is_number(right)):
        raise NotConstant(f"{text!r} is arithmetic on something that is not a number", line)
    if isinstance(node.op, ast.Pow):
        if abs(right) > MAX_EXPONENT or (abs(left) > 1 and right > 0
                                         and right * math.log10(abs(left)) > MAX_DIGITS):
            raise NotConstant(f"{text!r} is too large a power to be a layer size", line)
    try:
        value = _BINARY[type(node.op)](left, right)
    except (ZeroDivisionError, OverflowError, ValueError) as e:
        raise NotConstant(f"{text!r} cannot be computed ({e})", line) from None
    if isinstance(value, complex):
        raise NotConstant(f"{text!r} is a complex number", line)
    return _bounded(value, line)


def _bounded(value, line):
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_DIGITS * 3.33:
        raise NotConstant(f"a number of more than {MAX_DIGITS} digits is no layer size", line)
    if isinstance(value, str) and len(value) > MAX_ITEMS:
        raise NotConstant(f"a text of more than {MAX_ITEMS:,} characters is no layer argument", line)
    return value


def literal_range(call: ast.Call, scope: Scope | None) -> range:
    """`range(3)`, `range(1, n)` with constant bounds, at most MAX_ITEMS long; NotConstant otherwise."""
    line = call.lineno
    if call.keywords or not 1 <= len(call.args) <= 3:
        raise NotConstant("range() takes one to three numbers here", line)
    bounds = [evaluate(a, scope) for a in call.args]
    if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
        raise NotConstant("range() needs whole numbers", line)
    try:
        r = range(*bounds)
    except ValueError as e:
        raise NotConstant(f"range() cannot be built ({e})", line) from None
    if len(r) > MAX_ITEMS:
        raise NotConstant(f"range() of more than {MAX_ITEMS:,} items is no list of layers", line)
    return r
