"""Reading modules from pasted code with `ast`: Sequentials, names bound to modules, and `nn.Module`
classes whose `forward` is a straight chain of calls — turned into cards, nothing executed.

A class is read as its `__init__` builds it (attributes, Sequentials, lists built with `append` in
`for i in range(n)` loops, local constants and argument defaults); its `forward` is read by
code_forward.ForwardReader.
"""

from __future__ import annotations

import ast

from .code_args import CommandLine
from .code_eval import NotConstant, Scope, evaluate, literal_range
from .code_forward import WEIGHTED, ForwardReader, is_name
from .code_layers import (LAZY, MAX_LEAVES, Leaf, Problem, class_name, describe, dotted, layer_leaf,
                          sequence_items)
from .layers import LAYERS

_MODULE_BASES = {"Module", "nn.Module", "torch.nn.Module"}
MAX_NESTING = 64              # Sequentials in classes in functions: real code nests a handful deep


class ClassReader:
    """The network in a module's source: `network()` gives its leaves; problems and notes collect."""

    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.problems: list[tuple[int, str]] = []
        self.notes: list[tuple[int, str]] = []
        self.scope = Scope()
        self.classes: dict[str, ast.ClassDef] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self._leaves = 0
        self._depth = 0                          # modules() inside modules(): a name or class building itself
        self._rounds = 0                         # loop rounds unrolled so far
        command_line = CommandLine()
        for stmt in tree.body:
            if command_line.read(stmt, self.scope):      # argparse defaults: opt.ngf is 64
                continue
            if isinstance(stmt, ast.ClassDef) and any(dotted(b) in _MODULE_BASES for b in stmt.bases):
                self.classes[stmt.name] = stmt
            elif isinstance(stmt, ast.FunctionDef):
                self.functions[stmt.name] = stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                _bind(stmt, self.scope, {})

    # --- which network -------------------------------------------------------------------------

    def network(self) -> tuple[list[Leaf], str]:
        leaves, origin = self._network()
        seen: dict[tuple, Leaf] = {}
        for leaf in leaves:
            if leaf.shared is None:
                continue
            first = seen.setdefault(leaf.shared, leaf)
            if first is not leaf and leaf.name != first.name:
                if leaf.type in WEIGHTED:
                    self.problems.append((leaf.line, f"the same {leaf.type} appears twice ({first.name} and "
                                          f"{leaf.name}): it shares its weights, which separate cards cannot — "
                                          "build a second layer"))
                else:
                    self.notes.append((leaf.line, f"the same {leaf.type} is used twice: each use becomes its "
                                       "own card"))
        return leaves, origin

    def _network(self) -> tuple[list[Leaf], str]:
        outside = [stmt for stmt in self.tree.body if not isinstance(stmt, (ast.ClassDef, ast.FunctionDef))]
        # a class called inside a Sequential is one of its layers (the nn tutorial's Lambda), not the network
        in_sequential = {id(n) for stmt in outside for call in ast.walk(stmt) if isinstance(call, ast.Call)
                         and class_name(call.func) == "Sequential" for n in ast.walk(call) if n is not call}
        top_calls = [n for stmt in outside for n in ast.walk(stmt) if isinstance(n, ast.Call)
                     and dotted(n.func) in self.classes and id(n) not in in_sequential]
        if top_calls:                                      # model = Net() names the network
            call = top_calls[-1]
            return self.read_class(self.classes[dotted(call.func)], call, self.scope, ""), call.func.id
        roots = self._sequential_roots()
        if roots:
            if len(roots) > 1:
                self.problems.append((roots[1].lineno, "a second nn.Sequential — give one network at a time "
                                      "(or the nn.Module class that uses them)"))
                return [], "Sequential"
            return self.modules(roots[0], self.scope, ""), "Sequential"
        used = {dotted(n.func) for cls in self.classes.values() for n in ast.walk(cls)
                if isinstance(n, ast.Call)}
        top = [c for name, c in self.classes.items() if name not in used]
        if len(top) == 1:
            return self.read_class(top[0], None, self.scope, ""), top[0].name
        if len(top) > 1:
            self.problems.append((top[1].lineno, f"several nn.Module classes ({', '.join(c.name for c in top)}) "
                                  "— add `model = Name()` for the one to import, or paste one"))
            return [], "Sequential"
        self.problems.append((1, "no nn.Sequential(...) found, nor an nn.Module class — paste a network like "
                                 "nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))"))
        return [], "Sequential"

    def _sequential_roots(self) -> list[ast.Call]:
        """Outermost Sequentials outside classes and layer-making functions, not used by another."""
        makers = [n for n in ast.walk(self.tree) if isinstance(n, ast.ClassDef) and n.name in self.classes
                  or isinstance(n, ast.Call) and class_name(n.func) == "Sequential"]
        called = {dotted(n.func) for m in makers for n in ast.walk(m) if isinstance(n, ast.Call)}
        skip = [n for n in ast.walk(self.tree) if isinstance(n, ast.ClassDef) and n.name in self.classes
                or isinstance(n, ast.FunctionDef) and n.name in called]
        inside = {id(n) for s in skip for n in ast.walk(s)}
        calls = [n for n in ast.walk(self.tree) if isinstance(n, ast.Call) and class_name(n.func) == "Sequential"
                 and id(n) not in inside]
        contained = {id(n) for c in calls for n in ast.walk(c) if n is not c}
        outer = [c for c in calls if id(c) not in contained]
        referenced = {n.id for c in outer for n in ast.walk(c) if isinstance(n, ast.Name)}
        bound = {}
        for n in ast.walk(self.tree):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        bound[id(n.value)] = t.id
        return sorted((c for c in outer if bound.get(id(c)) not in referenced), key=lambda c: c.lineno)

    # --- module expressions ------------------------------------------------------------------

    def modules(self, node: ast.AST, scope: Scope, path: str, lists: dict | None = None) -> list[Leaf]:
        """The leaves of the module `node` builds, named from `path`; problems are collected."""
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise Problem(f"modules nested more than {MAX_NESTING} deep — does a class, function or name "
                              "build itself?", getattr(node, "lineno", None))
            return self._modules(node, scope, path, lists or {})
        except Problem as p:
            self.problems.append((p.line or getattr(node, "lineno", 1), p.message))
            return []
        finally:
            self._depth -= 1

    def _modules(self, node: ast.AST, scope: Scope, path: str, lists: dict) -> list[Leaf]:
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Lambda):
            return self._function(node, scope, path)
        if isinstance(node, ast.Name):
            bound = _lookup(node.id, scope)
            if bound is None and node.id in self.functions:
                return self._function(self.functions[node.id], scope, path)
            if bound is None:
                raise Problem(f"the variable {node.id!r} is not bound to a layer in this code", line)
            leaves = self.modules(bound[0], bound[1], path, lists)
            for i, leaf in enumerate(leaves):   # every use of this name is the same module object
                leaf.shared = leaf.shared or (id(bound[0]), i)
            return leaves
        if not isinstance(node, ast.Call):
            raise Problem(f"{describe(node)} is not supported — write each layer as nn.Name(...)", line)
        name = dotted(node.func)
        if class_name(node.func) == "Sequential":
            return self._sequential(node, scope, path, lists)
        if name in self.classes:
            return self.read_class(self.classes[name], node, scope, path)
        if name in self.functions:
            return self._factory(self.functions[name], node, scope, path)
        if class_name(node.func) in ("ModuleList", "ModuleDict"):
            raise Problem(f"nn.{class_name(node.func)} is not a chain by itself — use nn.Sequential", line)
        leaf = layer_leaf(node, scope, path or None)
        self._count(1, line)
        return [leaf]

    def _function(self, func: ast.Lambda | ast.FunctionDef, scope: Scope, path: str) -> list[Leaf]:
        """A function applied to the tensor where a module goes — the nn tutorial's `Lambda(preprocess)`,
        `Lambda(lambda x: x.view(x.size(0), -1))`: its body read as a forward chain."""
        if isinstance(func, ast.Lambda):
            body, name = [ast.copy_location(ast.Return(func.body), func.body)], "lambda"
        else:
            body, name = func.body, func.name
        args = ast.arguments(posonlyargs=[], args=[ast.arg("self")] + func.args.posonlyargs + func.args.args,
                             vararg=func.args.vararg, kwonlyargs=func.args.kwonlyargs,
                             kw_defaults=func.args.kw_defaults, kwarg=func.args.kwarg, defaults=func.args.defaults)
        forward = ast.copy_location(ast.FunctionDef(name="forward", args=args, body=body, decorator_list=[]), func)
        owner = ast.ClassDef(name=name, bases=[], keywords=[], body=[], decorator_list=[])
        where = "the lambda" if name == "lambda" else f"the function {name}()"
        return ForwardReader(self, owner, forward, Scope(scope), {}, f"{path}." if path else "", set(),
                             where).read()

    def _count(self, n: int, line) -> None:
        self._leaves += n
        if self._leaves > MAX_LEAVES:
            raise Problem(f"more than {MAX_LEAVES:,} layers — no network here is that long", line)

    def _sequential(self, call: ast.Call, scope: Scope, path: str, lists: dict) -> list[Leaf]:
        if call.keywords:
            self.problems.append((call.lineno, "nn.Sequential takes the layers only, no keyword arguments"))
        prefix = f"{path}." if path else ""
        if len(call.args) == 1 and isinstance(call.args[0], ast.Call) \
                and dotted(call.args[0].func) in ("OrderedDict", "collections.OrderedDict"):
            return self._ordered(call.args[0], scope, prefix, lists)
        items: list[tuple[ast.AST, Scope]] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                try:
                    items.extend(sequence_items(arg.value, scope, lists))
                except Problem as p:
                    self.problems.append((p.line or arg.lineno, p.message))
            else:
                items.append((arg, scope))
        leaves = []
        for i, (node, item_scope) in enumerate(items):
            leaves += self.modules(node, item_scope, f"{prefix}{i}", lists)
        return leaves

    def _ordered(self, call: ast.Call, scope: Scope, prefix: str, lists: dict) -> list[Leaf]:
        pairs = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not isinstance(pairs, (ast.List, ast.Tuple)):
            raise Problem("OrderedDict must be given a list of (name, layer) pairs", call.lineno)
        leaves = []
        for pair in pairs.elts:
            if not (isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and isinstance(pair.elts[0], ast.Constant)
                    and isinstance(pair.elts[0].value, str)):
                self.problems.append((pair.lineno, "each OrderedDict entry must be a ('name', layer) pair"))
                continue
            leaves += self.modules(pair.elts[1], scope, f"{prefix}{pair.elts[0].value}", lists)
        return leaves

    def _factory(self, func: ast.FunctionDef, call: ast.Call, caller: Scope, path: str) -> list[Leaf]:
        """`def block(c): return nn.Sequential(...)`: the layers it returns, its arguments bound."""
        scope = self._arguments(func, call, caller, Scope(self.scope))
        lists: dict = {}
        for stmt in func.body:
            if isinstance(stmt, ast.Return) and stmt.value is not None:
                return self.modules(stmt.value, scope, path, lists)
            self._statement(stmt, scope, lists, {}, f"{func.name}()")
        raise Problem(f"{func.name}() returns no layers", func.lineno)

    def _arguments(self, func: ast.FunctionDef, call: ast.Call | None, caller: Scope, scope: Scope) -> Scope:
        args = func.args
        names = [a.arg for a in args.posonlyargs + args.args]
        if names and names[0] == "self":
            names = names[1:]
        defaults = dict(zip(names[len(names) - len(args.defaults):], args.defaults))
        for a, d in zip(args.kwonlyargs, args.kw_defaults):
            names.append(a.arg)
            if d is not None:
                defaults[a.arg] = d
        given: dict[str, ast.AST] = {}
        if call is not None:
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                raise Problem(f"{func.name}(*args/**kwargs) cannot be read — give the arguments one by one",
                              call.lineno)
            if len(call.args) > len(names):
                raise Problem(f"{func.name}() takes {len(names)} arguments, the code gives {len(call.args)}",
                              call.lineno)
            given.update(zip(names, call.args))
            given.update({k.arg: k.value for k in call.keywords})
        for name in names:
            node = given.get(name)
            if node is not None:
                bound = _lookup(node.id, caller) if isinstance(node, ast.Name) else None
                if bound is not None and not _constant(node, caller):
                    scope.bind(name, bound[0])               # a layer handed in: block(nn.ReLU())
                    continue
                try:
                    scope.values[name] = evaluate(node, caller)
                except NotConstant:
                    scope.nodes[name] = node                 # a module expression, read where used
            elif name in defaults:
                try:
                    scope.values[name] = evaluate(defaults[name], self.scope)
                except NotConstant as e:
                    self.problems.append((defaults[name].lineno, f"the default of {name}: {e.message}"))
            elif call is not None:
                raise Problem(f"{func.name}() needs its argument {name!r}", call.lineno)
            else:
                # a class pasted alone: an argument it only stores (DCGAN's ngpu) does not matter; one that
                # sizes a layer is a problem where the layer reads it, saying how to give the value
                scope.unknown[name] = (f"{name!r} has no default, so its value is unknown — add a line like "
                                       f"`model = {_owner(func, self)}({name}=...)` below the class")
        return scope

    # --- classes -------------------------------------------------------------------------------

    def read_class(self, cls: ast.ClassDef, call: ast.Call | None, caller: Scope, path: str) -> list[Leaf]:
        prefix = f"{path}." if path else ""
        class_scope = Scope(self.scope)
        methods = {}
        for stmt in cls.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                _bind(stmt, class_scope, {})
                for name in list(class_scope.values):       # class attributes read as self.name too
                    class_scope.values.setdefault(f"self.{name}", class_scope.values[name])
            elif isinstance(stmt, ast.FunctionDef):
                methods[stmt.name] = stmt
        init, forward = methods.get("__init__"), methods.get("forward")
        if forward is None:
            raise Problem(f"class {cls.name} has no forward() — define forward(self, x) as a chain of calls",
                          cls.lineno)
        try:
            scope = self._arguments(init, call, caller, Scope(class_scope)) if init else Scope(class_scope)
        except Problem as p:
            self.problems.append((p.line or cls.lineno, p.message))
            scope = Scope(class_scope)
        attrs: dict[str, tuple[ast.AST, Scope, dict]] = {}
        lists: dict = {}
        for stmt in (init.body if init else []):
            self._statement(stmt, scope, lists, attrs, f"{cls.name}.__init__")
        reader = ForwardReader(self, cls, forward, scope, attrs, prefix, set(methods) - {"__init__", "forward"})
        leaves = reader.read()
        mentioned = {n.attr for n in ast.walk(forward) if isinstance(n, ast.Attribute) and is_name(n.value, "self")}
        for attr, (node, node_scope, node_lists) in attrs.items():
            if attr in reader.used or attr in mentioned or not _is_module(node, self):
                continue
            saved = list(self.problems)
            unused = self.modules(node, node_scope, prefix + attr, node_lists)
            self.problems = saved                            # an unused layer's own problems do not matter
            if any(leaf.type in WEIGHTED for leaf in unused):
                self.problems.append((node.lineno, f"self.{attr} is built but forward() never uses it: its "
                                      "weights would be missing from the cards — remove it or use it"))
        return leaves

    def _statement(self, stmt: ast.stmt, scope: Scope, lists: dict, attrs: dict, where: str) -> None:
        """One statement of __init__ or a layer-making function: bindings, list building, loops."""
        line = stmt.lineno
        if isinstance(stmt, ast.Expr):
            call = stmt.value
            if isinstance(call, ast.Constant) or _is_super_init(call):
                return
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and isinstance(call.func.value, ast.Name) and call.func.value.id in lists:
                items = lists[call.func.value.id]
                if call.func.attr == "append" and len(call.args) == 1:
                    items.append((call.args[0], _snapshot(scope)))
                    return
                if call.func.attr == "extend" and len(call.args) == 1:
                    self._extend(items, call.args[0], scope, lists)
                    return
            if isinstance(call, ast.Call) and dotted(call.func) == "print":
                return
            self.problems.append((line, f"{where}: {describe(call)} is not read — build the layers as "
                                        "self.name = nn.Name(...) or a list"))
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            if value is None:
                return
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id == "self":
                    attrs[target.attr] = (value, _snapshot(scope), dict(lists))
                    _bind_value(f"self.{target.attr}", value, scope)
                elif isinstance(target, ast.Tuple) and _unpack(target, value, scope):
                    continue
                elif isinstance(target, ast.Name):
                    if isinstance(value, ast.List) or isinstance(value, ast.Tuple) and not _constant(value, scope):
                        lists[target.id] = []             # layers = [] ... layers.append(nn.Linear(...))
                        if not _constant(value, scope):
                            self._extend(lists[target.id], value, scope, lists)
                        _bind_value(target.id, value, scope)
                    else:
                        lists.pop(target.id, None)
                        _bind_value(target.id, value, scope)
                else:
                    self.problems.append((line, f"{where}: assigning to {ast.unparse(target)!r} is not read"))
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id in lists \
                and isinstance(stmt.op, ast.Add):
            self._extend(lists[stmt.target.id], stmt.value, scope, lists)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            node = ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value)
            ast.copy_location(node, stmt)
            ast.fix_missing_locations(node)
            _bind_value(stmt.target.id, node, scope)
        elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name) and not stmt.orelse:
            try:
                if isinstance(stmt.iter, ast.Call) and dotted(stmt.iter.func) == "range":
                    values = list(literal_range(stmt.iter, scope))
                else:
                    values = evaluate(stmt.iter, scope)
                    if not isinstance(values, tuple):
                        raise NotConstant("the loop must run over range(...) or a constant tuple", line)
            except NotConstant as e:
                self.problems.append((line, f"{where}: this for loop cannot be unrolled: {e.message}"))
                return
            self._rounds += len(values)              # nested loops multiply: one budget for all of them
            if self._rounds > MAX_LEAVES:
                self.problems.append((line, f"{where}: loops of more than {MAX_LEAVES:,} rounds in all"))
                return
            for v in values:
                scope.values[stmt.target.id] = v
                for inner in stmt.body:
                    self._statement(inner, scope, lists, attrs, where)
        elif isinstance(stmt, (ast.Pass, ast.Import, ast.ImportFrom)):
            return
        else:
            kind = {ast.If: "an if statement", ast.While: "a while loop", ast.For: "this for loop",
                    ast.Try: "a try block", ast.With: "a with block"}.get(
                type(stmt), f"a {type(stmt).__name__} statement")
            self.problems.append((line, f"{where}: {kind} is not read — build the layers without it "
                                        "(self.name = nn.Name(...), lists and for i in range(n) loops are read)"))

    def _extend(self, items: list, node: ast.AST, scope: Scope, lists: dict) -> None:
        try:
            items.extend((n, _snapshot(s)) for n, s in sequence_items(node, scope, lists))
        except Problem as p:
            self.problems.append((p.line or node.lineno, p.message))


def _owner(func: ast.FunctionDef, reader: ClassReader) -> str:
    """The class an __init__ belongs to, or the function itself."""
    for cls in reader.classes.values():
        if func in cls.body:
            return cls.name
    return func.name


# --- helpers ------------------------------------------------------------------------------------


def _is_super_init(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"


def _constant(node: ast.AST, scope: Scope) -> bool:
    try:
        evaluate(node, scope)
        return True
    except NotConstant:
        return False


def _bind_value(name: str, node: ast.AST, scope: Scope) -> None:
    """Constants are computed at once (so `c = c * 2` and loops follow the code's order); anything else
    is kept as the expression, read where it is used."""
    scope.unknown.pop(name, None)
    try:
        scope.values[name] = evaluate(node, scope)
        scope.nodes.pop(name, None)
    except NotConstant:
        scope.values.pop(name, None)
        scope.nodes[name] = node


def _bind(stmt, scope: Scope, lists: dict) -> None:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    if stmt.value is None:
        return
    for t in targets:
        if isinstance(t, ast.Name):
            _bind_value(t.id, stmt.value, scope)
        elif isinstance(t, ast.Tuple):
            _unpack(t, stmt.value, scope)


def _unpack(target: ast.Tuple, value: ast.AST, scope: Scope) -> bool:
    """`N, D_in, H = 64, 1000, 100`: each name its constant; False when it is not that simple."""
    if not all(isinstance(e, ast.Name) for e in target.elts):
        return False
    try:
        values = evaluate(value, scope)
    except NotConstant:
        return False
    if not isinstance(values, tuple) or len(values) != len(target.elts):
        return False
    for e, v in zip(target.elts, values):
        scope.values[e.id] = v
        scope.nodes.pop(e.id, None)
    return True


def _snapshot(scope: Scope) -> Scope:
    """The scope as it stands now: a layer appended in a loop keeps the loop variable's value."""
    copy = Scope(scope.parent)
    copy.nodes, copy.values, copy.unknown = dict(scope.nodes), dict(scope.values), dict(scope.unknown)
    return copy


def _lookup(name: str, scope: Scope) -> tuple[ast.AST, Scope] | None:
    while scope is not None:
        if name in scope.nodes:
            return scope.nodes[name], scope
        scope = scope.parent
    return None


def _is_module(node: ast.AST, reader: ClassReader) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = class_name(node.func)
    return name in LAYERS or name in LAZY or name == "Sequential" or dotted(node.func) in reader.classes \
        or dotted(node.func) in reader.functions
