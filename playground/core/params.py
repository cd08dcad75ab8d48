"""Typed parameters: what a layer, loss, optimizer or dataset accepts, and checking values against it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ProjectError

# Kinds a parameter can have. The GUI generates one editor per kind.
INT = "int"          # spin box
FLOAT = "float"      # double spin box (log-scaled where `log` is set)
BOOL = "bool"        # check box
CHOICE = "choice"    # combo box over `choices`
SIZE = "size"        # an int, or a list of `dims` ints (kernel_size=5 or [3, 5])
FLOATS = "floats"    # a fixed-length list of floats (Adam's betas)
INTS = "ints"        # a list of ints of any length (Unflatten's unflattened_size)
TEXT = "text"        # free text (a data folder)
KINDS = (INT, FLOAT, BOOL, CHOICE, SIZE, FLOATS, INTS, TEXT)
# Every whole number has a range, stated or not: the editors' spin boxes hold a C int, and a value
# beyond it would open with an OverflowError there while the command line took it.
WHOLE_LIMIT = 2**31 - 1


class ParamError(ProjectError):
    """A parameter value that does not fit its declaration; the message says what would."""


@dataclass(frozen=True)
class Param:
    name: str                      # the constructor argument's own name
    kind: str
    default: Any
    help: str                      # one line, shown as tooltip
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    dims: int = 1                  # length of a SIZE or FLOATS value
    optional: bool = False         # None is allowed (e.g. MaxPool2d stride: None = kernel_size)
    log: bool = False              # spans decades (learning rates): the GUI steps multiplicatively

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        assert self.kind != CHOICE or self.choices, self.name

    def check(self, value: Any, where: str = "") -> Any:
        """Return `value` normalised (lists for sequences) or raise ParamError naming `where`."""
        label = f"{where}{self.name}"
        if value is None:
            if self.optional:
                return None
            raise ParamError(f"{label} must be set ({self.help.rstrip('.')})")
        kind = self.kind
        if kind == BOOL:
            if not isinstance(value, bool):
                raise ParamError(f"{label} must be true or false, not {value!r}")
            return value
        if kind == INT:
            return self._check_number(self._as_int(value, label), label)
        if kind == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"{label} must be a number, not {value!r}")
            if not math.isfinite(value):
                raise ParamError(f"{label} must be a finite number, not {value!r}")
            return self._check_number(float(value), label)
        if kind == CHOICE:
            if value not in self.choices:
                options = ", ".join(repr(c) for c in self.choices)
                raise ParamError(f"{label} must be one of {options}, not {value!r}")
            return value
        if kind == SIZE:
            if isinstance(value, (list, tuple)):
                if len(value) != self.dims:
                    raise ParamError(
                        f"{label} must be one integer or a list of {self.dims}, not {list(value)!r}"
                    )
                return [self._check_number(self._as_int(v, label), label) for v in value]
            return self._check_number(self._as_int(value, label), label)
        if kind == FLOATS:
            if not isinstance(value, (list, tuple)) or len(value) != self.dims:
                raise ParamError(f"{label} must be a list of {self.dims} numbers, not {value!r}")
            out = []
            for v in value:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ParamError(f"{label} must be a list of {self.dims} numbers, not {value!r}")
                out.append(self._check_number(float(v), label))
            return out
        if kind == INTS:
            if not isinstance(value, (list, tuple)) or not value:
                raise ParamError(f"{label} must be a non-empty list of integers, not {value!r}")
            return [self._check_number(self._as_int(v, label), label) for v in value]
        if kind == TEXT:
            if not isinstance(value, str):
                raise ParamError(f"{label} must be text, not {value!r}")
            return value
        raise AssertionError(kind)

    @staticmethod
    def _as_int(value: Any, label: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{label} must be a whole number, not {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ParamError(f"{label} must be a whole number, not {value!r}")
            value = int(value)
        return value

    def _check_number(self, value, label: str):
        if self.minimum is not None and value < self.minimum:
            raise ParamError(f"{label} must be at least {_fmt(self.minimum)}, not {_fmt(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ParamError(f"{label} must be at most {_fmt(self.maximum)}, not {_fmt(value)}")
        if isinstance(value, int) and abs(value) > WHOLE_LIMIT:   # a whole number without a stated range
            raise ParamError(f"{label} must be at most {WHOLE_LIMIT:,} in size, not {_fmt(value)}")
        return value


def _fmt(x) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else str(x)


def check_params(
    declared: tuple[Param, ...], given: dict, where: str, extra_ok: tuple[str, ...] = ()
) -> dict:
    """Fill defaults and check every value; unknown names are refused, naming the known ones.

    `extra_ok` names arguments that are accepted without a declaration (a layer's
    inferred input sizes, which the caller checks against the shape it infers).
    """
    if not isinstance(given, dict):
        raise ParamError(f"{where}params must be an object of name: value, not {given!r}")
    by_name = {p.name: p for p in declared}
    unknown = [k for k in given if k not in by_name and k not in extra_ok]
    if unknown:
        known = ", ".join(by_name) or "none"
        owner = f"{where[:-1]}: " if where.endswith(".") else where
        raise ParamError(f"{owner}unknown parameter {unknown[0]!r} (known: {known})")
    out = {}
    for p in declared:
        out[p.name] = p.check(given.get(p.name, p.default), where)
    for k in extra_ok:
        if k in given:
            out[k] = given[k]
    return out


@dataclass(frozen=True)
class Choice:
    """One entry of a catalogue of named things with parameters (loss, optimizer, dataset)."""

    name: str
    doc: str
    params: tuple[Param, ...] = field(default=())

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)
