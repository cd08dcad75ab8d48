"""Command-line sizes in pasted scripts: `parser.add_argument('--ngf', type=int, default=64)` and
`opt = parser.parse_args()` make `opt.ngf` the default, 64 — read with `ast`, the parser never built.

Scripts such as pytorch/examples' DCGAN size their layers from argparse (`ngf = int(opt.ngf)`). The
cards take the defaults, since that is what the script runs with when given no options; an option
without a default (or a required one) is unknown, said where a layer reads it.
"""

from __future__ import annotations

import ast

from .code_eval import Scope, dotted


class CommandLine:
    """The arguments of the parsers a module's top-level statements build, bound as `opt.name`."""

    def __init__(self):
        self.parsers: dict[str, dict[str, tuple[ast.AST | None, str]]] = {}   # parser -> dest -> (default, flag)

    def read(self, stmt: ast.stmt, scope: Scope) -> bool:
        """Take `stmt` if it builds a parser, adds an argument or parses; False when it is none of them."""
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and isinstance(stmt.value, ast.Call):
            name, call = stmt.targets[0].id, stmt.value
            if dotted(call.func) in ("argparse.ArgumentParser", "ArgumentParser"):
                self.parsers[name] = {}
                return True
            parser = _method_of(call, "parse_args", self.parsers)
            if parser is not None:
                for dest, (default, flag) in self.parsers[parser].items():
                    if default is None:
                        scope.unknown[f"{name}.{dest}"] = (f"{flag} has no default: its value comes from the "
                                                           "command line — give it a default, or write the size")
                    else:
                        scope.bind(f"{name}.{dest}", default)
                return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            parser = _method_of(stmt.value, "add_argument", self.parsers)
            if parser is not None:
                self._add(self.parsers[parser], stmt.value)
                return True
        return False

    @staticmethod
    def _add(arguments: dict, call: ast.Call) -> None:
        flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        dest_node = keywords.get("dest")
        if isinstance(dest_node, ast.Constant) and isinstance(dest_node.value, str):
            dest = dest_node.value
        else:
            long = [f for f in flags if f.startswith("--")] or flags
            if not long:
                return
            dest = long[0].lstrip("-").replace("-", "_")
        required = keywords.get("required")
        if isinstance(required, ast.Constant) and required.value is True:
            arguments[dest] = (None, flags[0] if flags else dest)
            return
        arguments[dest] = (keywords.get("default"), flags[0] if flags else dest)


def _method_of(call: ast.Call, method: str, parsers: dict) -> str | None:
    """The parser's name when `call` is `parser.method(...)` on a parser built above."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == method and isinstance(func.value, ast.Name) \
            and func.value.id in parsers:
        return func.value.id
    return None
