"""A class's `forward` read with `ast` as a chain: the layers in the order the running tensor meets them.

Each statement must pass the one running tensor on (`x = F.relu(self.conv1(x))`); `F.relu`,
`F.max_pool2d`, `torch.flatten(x, 1)`, `x.view(-1, N)` and friends become their cards. Branches,
residual adds, joins and second inputs cannot be a row of cards: each is refused with its line and
the reason, and reading goes on, so every problem is said at once.
"""

from __future__ import annotations

import ast

from .code_eval import NotConstant, Scope, evaluate
from .code_layers import Leaf, Problem, arguments, class_name, describe, dotted
from .codegen import RECURRENT

# Layers that hold weights or buffers: one of these applied twice would share them.
WEIGHTED = {"Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
            "GroupNorm", "PReLU", "RNN", "LSTM", "GRU"}

# torch.nn.functional name -> (card, the positional arguments after the tensor)
FUNCTIONAL = {
    "relu": ("ReLU", ("inplace",)),
    "relu_": ("ReLU", ()),
    "leaky_relu": ("LeakyReLU", ("negative_slope", "inplace")),
    "elu": ("ELU", ("alpha", "inplace")),
    "gelu": ("GELU", ()),
    "silu": ("SiLU", ("inplace",)),
    "sigmoid": ("Sigmoid", ()),
    "tanh": ("Tanh", ()),
    "softplus": ("Softplus", ("beta", "threshold")),
    "softmax": ("Softmax", ("dim",)),
    "log_softmax": ("LogSoftmax", ("dim",)),
    "max_pool1d": ("MaxPool1d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    "max_pool2d": ("MaxPool2d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    "avg_pool1d": ("AvgPool1d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "avg_pool2d": ("AvgPool2d", ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
    "adaptive_avg_pool2d": ("AdaptiveAvgPool2d", ("output_size",)),
    "dropout": ("Dropout", ("p", "training", "inplace")),
    "dropout2d": ("Dropout2d", ("p", "training", "inplace")),
}
_F_PREFIXES = ("F.", "torch.nn.functional.", "nn.functional.", "functional.")
_TORCH = {"relu", "sigmoid", "tanh", "softmax", "log_softmax"}           # torch.relu(x) and friends
_METHODS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
            "log_softmax": "LogSoftmax"}                                   # x.relu()
class ForwardReader:
    """forward(self, x) read as a chain: the leaves in the order the running tensor meets them."""

    def __init__(self, reader, cls, func: ast.FunctionDef, scope: Scope, attrs: dict, prefix: str,
                 methods: set[str], where: str | None = None):
        self.reader, self.cls, self.func, self.scope = reader, cls, func, scope
        self.where = where or f"{cls.name}.forward"  # what the messages call it
        self.attrs, self.prefix, self.methods = attrs, prefix, methods
        self.used: dict[str, int] = {}
        self.batch_names: set[str] = set()           # b = x.size(0): the batch size, for x.view(b, -1)
        self._cache: dict[str, list[Leaf]] = {}
        self._sequence: Leaf | None = None           # a recurrent layer whose tuple was unpacked just now

    def problem(self, line, message) -> None:
        self.reader.problems.append((line, message))

    def read(self) -> list[Leaf]:
        args = self.func.args
        inputs = [a.arg for a in args.posonlyargs + args.args][1:]
        if len(inputs) != 1 or args.vararg or args.kwonlyargs:
            self.problem(self.func.lineno, f"{self.where} takes {len(inputs)} inputs — a row of cards "
                         "takes one tensor: forward(self, x)")
            return []
        current = inputs[0]
        failed = False
        leaves: list[Leaf] = []
        for stmt in self.func.body:
            line = stmt.lineno
            if isinstance(stmt, ast.Expr) and (isinstance(stmt.value, ast.Constant) or isinstance(
                    stmt.value, ast.Call) and dotted(stmt.value.func) == "print"):
                continue
            if isinstance(stmt, ast.Return):
                if stmt.value is None:
                    self.problem(line, "forward returns nothing — return the chain's result")
                elif isinstance(stmt.value, ast.Tuple):
                    self.problem(line, f"forward returns several values ({ast.unparse(stmt.value)}), which cannot be a "
                                 "chain of cards: a row of cards passes on one tensor — return one of them")
                else:
                    leaves += self.chain(stmt.value, current)
                break
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                recurrent = self._recurrent_unpack(targets, stmt.value, current)
                if recurrent is not None:        # output, hidden = self.rnn(x): the output runs on
                    leaves += recurrent
                    current = targets[0].elts[0].id
                    self._sequence = recurrent[-1] if recurrent and recurrent[-1].type in RECURRENT else None
                    continue
                if len(targets) != 1 or not isinstance(targets[0], ast.Name) or stmt.value is None:
                    self.problem(line, f"{ast.unparse(targets[0]) if targets else 'this'} = ... takes several "
                                 "results (a layer returning a tuple, like an LSTM's (output, state)) — a chain "
                                 "passes one tensor: use Playground's LSTM card, which passes on one")
                    names = [n.id for n in ast.walk(targets[0]) if isinstance(n, ast.Name)] if targets else []
                    current = names[0] if names else current
                    failed = True
                    continue
                if self._batch_size(stmt.value, current):
                    self.batch_names.add(targets[0].id)
                    continue
                if not _mentions(stmt.value, current):
                    if not failed:                   # after a refused line the running tensor is unknown
                        self.problem(line, f"this line does not use the running tensor {current!r} — forward "
                                     "must pass one tensor along, line by line")
                    current = targets[0].id
                    continue
                before = len(self.reader.problems)
                added = self.chain(stmt.value, current)
                if added:
                    self._sequence = None        # out[:, -1] must come straight after the recurrent layer
                leaves += added
                failed = failed or len(self.reader.problems) > before
                current = targets[0].id
                continue
            if isinstance(stmt, ast.AugAssign):
                self.problem(line, f"{ast.unparse(stmt)!r} adds to the running tensor (a residual connection) — "
                             "cards are a chain with one path")
                continue
            kind = {ast.If: "an if statement (a branch)", ast.For: "a for loop", ast.While: "a while loop"}.get(
                type(stmt), f"a {type(stmt).__name__} statement")
            self.problem(line, f"{kind} in forward cannot be a chain of cards — write forward as one "
                         "call after another")
        else:
            self.problem(self.func.lineno, "forward has no return")
        return leaves

    def _batch_size(self, node: ast.AST, var: str) -> bool:
        """x.size(0), x.shape[0], len(x): the batch size."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size" \
                and is_name(node.func.value, var) and len(node.args) == 1 and _is_const(node.args[0], 0):
            return True
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape" \
                and is_name(node.value.value, var) and _is_const(node.slice, 0):
            return True
        if isinstance(node, ast.Call) and dotted(node.func) == "len" and len(node.args) == 1:
            return is_name(node.args[0], var)
        return isinstance(node, ast.Name) and node.id in self.batch_names

    def _recurrent_unpack(self, targets: list, value: ast.AST | None, var: str) -> list[Leaf] | None:
        """`output, hidden = self.rnn(x)` (or `out, (h, c) = ...`): torch's RNN/LSTM/GRU return a tuple;
        the card passes on the output, here the whole sequence. None when the line is not that."""
        if not (len(targets) == 1 and isinstance(targets[0], ast.Tuple) and len(targets[0].elts) == 2
                and isinstance(targets[0].elts[0], ast.Name) and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute) and is_name(value.func.value, "self")
                and len(value.args) == 1 and not value.keywords and is_name(value.args[0], var)):
            return None
        built = self.attrs.get(value.func.attr)
        if built is None or not isinstance(built[0], ast.Call) or class_name(built[0].func) not in RECURRENT:
            return None
        batch_first = next((k.value for k in built[0].keywords if k.arg == "batch_first"), None)
        if not (isinstance(batch_first, ast.Constant) and batch_first.value is True):
            # torch's default reads dimension 0 as time; the card, like Playground's data, puts the batch first
            self.problem(built[0].lineno, f"self.{value.func.attr} is built without batch_first=True, so torch "
                         "reads the first dimension as time — the card reads the batch first: add "
                         "batch_first=True (and feed it (batch, time, features))")
            return []
        leaves = self.chain(value, var)
        for leaf in leaves[-1:]:
            leaf.params["output"] = "sequence"
        return leaves

    def chain(self, node: ast.AST, var: str) -> list[Leaf]:
        try:
            return self._chain(node, var)
        except Problem as p:
            self.problem(p.line or getattr(node, "lineno", self.func.lineno), p.message)
            return []

    def _chain(self, node: ast.AST, var: str) -> list[Leaf]:
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Name):
            if node.id == var:
                return []
            raise Problem(f"uses {node.id!r} where the running tensor is {var!r} — a branch or a second "
                          "input cannot be a chain of cards", line)
        if isinstance(node, ast.Subscript) and is_name(node.value, var) and self._sequence is not None \
                and _is_last_step(node.slice):
            leaf, self._sequence = self._sequence, None
            if leaf.params.get("bidirectional"):
                raise Problem(f"{ast.unparse(node)!r} of a bidirectional {leaf.type} is the backward direction "
                              "after one step; the card's last output joins both directions' final states", line)
            leaf.params.pop("output", None)          # the card's default: the last time step
            return []
        if isinstance(node, ast.BinOp):
            raise Problem(f"{ast.unparse(node)!r} combines tensors with {type(node.op).__name__.lower()} "
                          "(a residual connection or a product) — cards are a chain with one path", line)
        if not isinstance(node, ast.Call):
            raise Problem(f"{describe(node)} in forward is not a layer call", line)
        func = node.func
        name = dotted(func)
        if isinstance(func, ast.Attribute) and is_name(func.value, "self"):
            return self._attribute(node, func.attr, var)
        for prefix in _F_PREFIXES:
            if name and name.startswith(prefix) and name[len(prefix):] in FUNCTIONAL:
                return self._functional(node, name[len(prefix):], var)
        if name in ("torch.flatten",):
            inner = self._tensor_arg(node, var)
            return inner + [self._flatten(node, node.args[1:], {k.arg: k.value for k in node.keywords}, 0)]
        if name and name.startswith("torch.") and name[6:] in _TORCH:
            inner = self._tensor_arg(node, var)
            return inner + [self._functional_leaf(node, _METHODS[name[6:]], ("dim",), 1)]
        if name in ("torch.cat", "torch.stack", "torch.add"):
            raise Problem(f"{name}() joins tensors — cards are a chain with one path", line)
        if isinstance(func, ast.Attribute) and isinstance(func.value, (ast.Call, ast.Name)) \
                and _mentions(func.value, var):
            inner = self._chain(func.value, var)
            return inner + self._method(node, func.attr, var)
        raise Problem(f"{describe(node)} in forward is not a layer Playground knows — use self.layer(x), "
                      "F.relu(x), torch.flatten(x, 1), x.view(-1, N) and the like", line)

    def _tensor_arg(self, node: ast.Call, var: str) -> list[Leaf]:
        tensor = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "input"), None)
        if tensor is None:
            raise Problem(f"{describe(node)} has no tensor to work on", node.lineno)
        return self._chain(tensor, var)

    def _attribute(self, node: ast.Call, attr: str, var: str) -> list[Leaf]:
        line = node.lineno
        if attr in self.methods:
            raise Problem(f"self.{attr}() is a method of the class — write its calls in forward itself", line)
        if attr not in self.attrs:
            raise Problem(f"self.{attr} is not built in __init__", line)
        if len(node.args) != 1 or node.keywords:
            raise Problem(f"self.{attr} is called with {len(node.args) + len(node.keywords)} arguments — a "
                          "chain passes one tensor", line)
        inner = self._chain(node.args[0], var)
        self.used[attr] = self.used.get(attr, 0) + 1
        if attr not in self._cache:
            value, scope, lists = self.attrs[attr]
            self._cache[attr] = self.reader.modules(value, scope, self.prefix + attr, lists)
            return inner + self._cache[attr]
        leaves = self._cache[attr]
        if any(leaf.type in WEIGHTED for leaf in leaves):
            raise Problem(f"self.{attr} is applied a second time: it shares its weights between both places, "
                          "which separate cards cannot — define a second layer", line)
        self.reader.notes.append((line, f"self.{attr} is used more than once: each use becomes its own card"))
        return inner + [Leaf(line, leaf.type, dict(leaf.params), dict(leaf.given), leaf.name, leaf.features)
                        for leaf in leaves]

    def _functional(self, node: ast.Call, fname: str, var: str) -> list[Leaf]:
        type_name, order = FUNCTIONAL[fname]
        inner = self._tensor_arg(node, var)
        if fname.startswith("dropout") and not any(k.arg == "training" for k in node.keywords) and len(node.args) < 3:
            self.reader.notes.append((node.lineno, f"F.{fname} without training=self.training drops values in "
                                      "eval mode too; the Dropout card drops them only while training"))
        return inner + [self._functional_leaf(node, type_name, order, 1)]

    def _functional_leaf(self, node: ast.Call, type_name: str, order, first: int) -> Leaf:
        keywords = [k for k in node.keywords if k.arg not in ("input", "training", "inplace", "_stacklevel",
                                                               "return_indices", "dtype")]
        args = node.args[first:]
        if "training" in order:                       # F.dropout(x, 0.5, self.training): positional training
            args = args[:order.index("training")]
        call = ast.Call(node.func, [ast.Constant(None)] * first + list(args), keywords)
        ast.copy_location(call, node)
        try:
            params, given = arguments(type_name, call, self.scope, order=order, first=first)
        except Problem as p:
            raise Problem(f"{dotted(node.func)}: {p.message}", p.line or node.lineno) from None
        return Leaf(node.lineno, type_name, params, given, None, source=node)

    def _method(self, node: ast.Call, method: str, var: str) -> list[Leaf]:
        line = node.lineno
        if method in ("view", "reshape"):
            return [self._view(node)]
        if method == "flatten":
            return [self._flatten(node, node.args, {k.arg: k.value for k in node.keywords}, 0)]
        if method in _METHODS:
            return [self._functional_leaf(node, _METHODS[method], ("dim",), 0)]
        if method in ("contiguous", "float"):
            return []
        raise Problem(f"the tensor method .{method}() is not a layer Playground knows", line)

    def _view(self, node: ast.Call) -> Leaf:
        line = node.lineno
        args = node.args
        if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
            args = args[0].elts
        if len(args) > 2 and not node.keywords:
            return self._reshape(node, args)
        if len(args) != 2 or node.keywords:
            raise Problem(f"{ast.unparse(node)!r} reshapes to other than (batch, features) — only "
                          "x.view(-1, N) or x.view(x.size(0), -1) flatten", line)
        first, second = args
        batch = self._batch_size(first, "") or _is_batch_of(first) or _is_const(first, -1)
        if not batch:
            raise Problem(f"{ast.unparse(node)!r} does not keep the batch first", line)
        if _is_const(second, -1):
            if _is_const(first, -1):
                raise Problem(f"{ast.unparse(node)!r} has two unknown sizes", line)
            return Leaf(line, "Flatten", {}, source=node)
        dim = _size_of(second)
        if dim is not None and dim >= 1:             # xb.view(-1, xb.size(1)): (C, 1, 1) to C features
            return Leaf(line, "Flatten", {}, features_from=dim, source=node)
        if isinstance(second, ast.Call) and isinstance(second.func, ast.Attribute) \
                and is_name(second.func.value, "self") and second.func.attr in self.methods:
            return Leaf(line, "Flatten", {}, source=node)  # x.view(-1, self.num_flat_features(x))
        if _is_const(first, -1) and any(isinstance(n, ast.Attribute) and n.attr in ("nelement", "numel")
                                        for n in ast.walk(second)) and _is_per_sample(second):
            return Leaf(line, "Flatten", {}, source=node)  # x.view(-1, int(x.nelement() / x.shape[0]))
        try:
            n = evaluate(second, self.scope)
        except NotConstant as e:
            raise Problem(f"the size in {ast.unparse(node)!r} cannot be read: {e.message}", line) from None
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise Problem(f"the size in {ast.unparse(node)!r} is not a whole number", line)
        return Leaf(line, "Flatten", {}, features=n, source=node)

    def _reshape(self, node: ast.Call, args) -> Leaf:
        """x.view(-1, 1, 28, 28): the batch first, then a sample shape of constants. Whether it splits
        flat features (an Unflatten card) or keeps the shape it gets (no card) is known once the shape
        reaching it is (code_import._check_inferred)."""
        line = node.lineno
        first, rest = args[0], args[1:]
        if not (self._batch_size(first, "") or _is_batch_of(first) or _is_const(first, -1)):
            raise Problem(f"{ast.unparse(node)!r} does not keep the batch first", line)
        try:
            dims = tuple(evaluate(a, self.scope) for a in rest)
        except NotConstant as e:
            raise Problem(f"the sizes in {ast.unparse(node)!r} cannot be read: {e.message}", line) from None
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims):
            raise Problem(f"{ast.unparse(node)!r} needs whole sizes after the batch (no -1 there)", line)
        return Leaf(line, "Unflatten", {"dim": 1, "unflattened_size": list(dims)}, reshape=dims, source=node)

    def _flatten(self, node: ast.Call, args, keywords: dict, default_start: int) -> Leaf:
        line = node.lineno
        values = {}
        for name, arg in zip(("start_dim", "end_dim"), args):
            values[name] = arg
        values.update({k: v for k, v in keywords.items() if k in ("start_dim", "end_dim")})
        try:
            start = evaluate(values["start_dim"], self.scope) if "start_dim" in values else default_start
            end = evaluate(values["end_dim"], self.scope) if "end_dim" in values else -1
        except NotConstant as e:
            raise Problem(f"{ast.unparse(node)!r}: {e.message}", line) from None
        if start == 0:
            raise Problem(f"{ast.unparse(node)!r} flattens the batch dimension too — write torch.flatten(x, 1)", line)
        params = {k: v for k, v in (("start_dim", start), ("end_dim", end)) if v != {"start_dim": 1, "end_dim": -1}[k]}
        return Leaf(line, "Flatten", params, source=node)


# --- helpers ---------------------------------------------------------------------------------


def is_name(node, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_const(node, value) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value == value if isinstance(node.operand.value, (int, float)) else False
    return isinstance(node, ast.Constant) and node.value == value and not isinstance(node.value, bool)


def _size_of(node) -> int | None:
    """k for `x.size(k)` / `x.shape[k]` of whatever tensor name; None for anything else."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size" \
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int:
        return node.args[0].value
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape" \
            and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int:
        return node.slice.value
    return None


def _is_last_step(node) -> bool:
    """`[:, -1, :]` or `[:, -1]`: every sample's last time step."""
    def whole(n):
        return isinstance(n, ast.Slice) and n.lower is None and n.upper is None and n.step is None
    return isinstance(node, ast.Tuple) and len(node.elts) in (2, 3) and whole(node.elts[0]) \
        and _is_const(node.elts[1], -1) and all(whole(n) for n in node.elts[2:])


def _is_batch_of(node) -> bool:
    """x.size(0) / x.shape[0] / len(x) of whatever tensor name."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "size":
        return len(node.args) == 1 and _is_const(node.args[0], 0)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
        return _is_const(node.slice, 0)
    return False


def _is_per_sample(node: ast.AST) -> bool:
    """`x.nelement() / x.shape[0]` (or // x.size(0), wrapped in int()): the values of one sample."""
    if isinstance(node, ast.Call) and dotted(node.func) == "int" and len(node.args) == 1:
        node = node.args[0]
    return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv))
            and isinstance(node.left, ast.Call) and isinstance(node.left.func, ast.Attribute)
            and node.left.func.attr in ("nelement", "numel") and _is_batch_of(node.right))


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))
