"""Sweeps: parameters and their values, a grid or random draws of them, the runs they make and
their results table. The window runs the same plan through its worker; the command line in-process.

A parameter is `NAME=VALUES`:

    NAME    lr · batch_size · optimizer · seed · epochs · l1 · l2 (the penalty rates)
            · optimizer.PARAM (momentum, weight_decay, ...)
            · layers.N.PARAM: a parameter of layer N (0-based, as `playground inspect` numbers them),
              e.g. layers.0.out_features for the width of the first Linear layer
    VALUES  a list: 16,32,64 · SGD,Adam
            or a range: LOW:HIGH:log:COUNT (COUNT values spaced evenly on a log scale),
                        LOW:HIGH:lin:COUNT (evenly on a linear one)

A grid runs every combination; random draws COUNT combinations (a range is then drawn from,
log-uniformly for log, instead of spaced). The same seed gives every run the same initial weights
(core.training.initial_model seeds before building), so runs differ only by what the sweep changes.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import re
from dataclasses import dataclass

from .errors import ProjectError
from .spec import MAX_BATCH, MAX_EPOCHS, MAX_SEED, REGULARIZERS, Project, parse_penalty

MAX_RUNS = 1000
_LAYER = re.compile(r"layers\.(\d+)\.(\w+)")
_OPTIMIZER_PARAM = re.compile(r"optimizer\.(\w+)")
NAMES = ("lr", "batch_size", "optimizer", "seed", "epochs", *REGULARIZERS)


class SweepError(ProjectError):
    """A sweep parameter that cannot be used; says which and why."""


@dataclass(frozen=True)
class SweepParam:
    name: str
    values: tuple = ()                   # a list of values, or ...
    low: float | None = None             # ... a range
    high: float | None = None
    scale: str = "lin"                   # lin | log
    count: int = 0

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def grid(self) -> list:
        if not self.is_range:
            return list(self.values)
        if self.count == 1:
            return [self.low]
        if self.scale == "log":
            a, b = math.log10(self.low), math.log10(self.high)
            return [_tidy(10 ** (a + (b - a) * i / (self.count - 1))) for i in range(self.count)]
        return [_tidy(self.low + (self.high - self.low) * i / (self.count - 1)) for i in range(self.count)]

    def draw(self, rng: random.Random):
        if not self.is_range:
            return rng.choice(self.values)
        if self.scale == "log":
            value = 10 ** rng.uniform(math.log10(self.low), math.log10(self.high))
        else:
            value = rng.uniform(self.low, self.high)
        return _integral(self.name, _tidy(value))


def parse_param(text: str) -> SweepParam:
    """`lr=1e-4:1e-1:log:6`, `batch_size=16,32`, `optimizer=SGD,Adam`, `layers.0.out_features=8,16`."""
    name, sep, values = text.partition("=")
    name, values = name.strip(), values.strip()
    if not sep or not name or not values:
        raise SweepError(f"sweep parameter {text!r} must read NAME=VALUES, e.g. lr=1e-4:1e-1:log:6 or batch_size=16,32")
    _check_name(name)
    if ":" in values:
        parts = values.split(":")
        if len(parts) != 4 or parts[2] not in ("log", "lin"):
            raise SweepError(f"{name}: a range reads LOW:HIGH:log:COUNT or LOW:HIGH:lin:COUNT, not {values!r}")
        try:
            low, high, count = float(parts[0]), float(parts[1]), int(parts[3])
        except ValueError:
            raise SweepError(f"{name}: LOW and HIGH must be numbers and COUNT a whole number in {values!r}") from None
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise SweepError(f"{name}: the range {values!r} needs LOW ≤ HIGH, both finite")
        if parts[2] == "log" and low <= 0:
            raise SweepError(f"{name}: a log range needs LOW above 0, not {parts[0]}")
        if not 1 <= count <= MAX_RUNS:
            raise SweepError(f"{name}: COUNT must be from 1 to {MAX_RUNS}, not {count}")
        if name == "optimizer":
            raise SweepError("optimizer takes a list of names (SGD,Adam), not a range")
        param = SweepParam(name, low=low, high=high, scale=parts[2], count=count)
        values_ = param.grid()
    else:
        raw = [v.strip() for v in values.split(",")]
        if any(not v for v in raw):
            raise SweepError(f"{name}: an empty value in {values!r}")
        values_ = [_value(name, v) for v in raw]
        param = SweepParam(name, tuple(values_))
    for value in values_:
        apply(Project(network=_PROBE_NETWORK()), name, _integral(name, value), check_only=True)
    return param


def _PROBE_NETWORK():
    from .spec import NetworkSpec

    return NetworkSpec([1], [])


def _check_name(name: str) -> None:
    if name in NAMES or _LAYER.fullmatch(name) or _OPTIMIZER_PARAM.fullmatch(name):
        return
    raise SweepError(f"cannot sweep {name!r}: use lr, batch_size, optimizer, seed, epochs, l1, l2, optimizer.PARAM "
                     "or layers.N.PARAM (e.g. layers.0.out_features)")


def _value(name: str, text: str):
    if name == "optimizer":
        from .optim import OPTIMIZERS

        if text not in OPTIMIZERS:
            raise SweepError(f"optimizer: {text!r} is not one of {', '.join(sorted(OPTIMIZERS))}")
        return text
    try:
        number = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            if text in ("true", "false"):
                return text == "true"
            raise SweepError(f"{name}: {text!r} is not a number") from None
    if name in _INTEGRAL and isinstance(number, float):
        raise SweepError(f"{name} must be a whole number, not {text}")
    return _integral(name, number)


_INTEGRAL = ("batch_size", "seed", "epochs")


def _integral(name: str, value):
    """Whole-number settings take whole numbers (a range drawn on them is rounded)."""
    integral = name in _INTEGRAL or (_LAYER.fullmatch(name) and isinstance(value, float) and value.is_integer())
    if integral and isinstance(value, float):
        return int(round(value))
    return value


def _tidy(x: float) -> float:
    """1e-4 · 10**0.6 printed as 0.000398107 rather than 0.00039810717055349735."""
    return float(f"{x:.6g}")


def apply(project: Project, name: str, value, check_only: bool = False) -> Project:
    """A copy of `project` with the sweep parameter set; SweepError for a value it cannot take."""
    p = project if check_only else copy.deepcopy(project)
    t = p.training
    if name == "lr":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf:
            raise SweepError(f"lr must be a positive number, not {value!r}")
        if not check_only:
            t.optimizer.params["lr"] = float(value)
    elif name == "optimizer":
        if not check_only:
            lr = t.optimizer.params.get("lr")
            t.optimizer = type(t.optimizer)(value, {"lr": lr} if lr is not None else {})
    elif name in ("batch_size", "seed", "epochs"):
        top = {"batch_size": MAX_BATCH, "seed": MAX_SEED, "epochs": MAX_EPOCHS}[name]
        low = 0 if name == "seed" else 1
        if type(value) is not int or not low <= value <= top:
            raise SweepError(f"{name} must be a whole number from {low} to {top:,}, not {value!r}")
        if not check_only:
            setattr(t, name, value)
    elif name in REGULARIZERS:
        try:
            rate = parse_penalty(value, name)
        except ProjectError as e:
            raise SweepError(str(e)) from None
        if not check_only:
            setattr(t, name, rate)
    elif _OPTIMIZER_PARAM.fullmatch(name):
        if not check_only:
            t.optimizer.params[name.split(".", 1)[1]] = value
    else:
        index, param = _LAYER.fullmatch(name).groups()
        if not check_only:
            layers = p.network.layers
            if int(index) >= len(layers):
                raise SweepError(f"{name}: the network has {len(layers)} layers (0 to {len(layers) - 1})")
            layer = layers[int(index)]
            from .layers import LAYERS

            known = [q.name for q in LAYERS[layer.type].params] if layer.type in LAYERS else []
            if param not in known:
                raise SweepError(f"{name}: layer {index} is {layer.type}, which has no parameter {param!r} "
                                 f"({', '.join(known) or 'none'})")
            layer.params[param] = value
    return p


def plan(params: list[SweepParam], mode: str = "grid", count: int | None = None, seed: int = 0) -> list[dict]:
    """The sweep's runs, each {name: value}: every combination (grid), or `count` random ones."""
    if not params:
        raise SweepError("a sweep needs at least one --param")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise SweepError(f"{[n for n in names if names.count(n) > 1][0]} is given twice")
    if mode == "grid":
        size = math.prod(len(p.grid()) for p in params)
        if size > MAX_RUNS:
            raise SweepError(f"the grid has {size:,} runs, more than {MAX_RUNS}; use fewer values or random")
        return [dict(zip(names, combo)) for combo in itertools.product(*(p.grid() for p in params))]
    if mode == "random":
        if count is None or not 1 <= count <= MAX_RUNS:
            raise SweepError(f"a random sweep needs a count of runs from 1 to {MAX_RUNS}")
        rng = random.Random(seed)
        return [{p.name: p.draw(rng) for p in params} for _ in range(count)]
    raise SweepError(f"the sweep mode must be grid or random, not {mode!r}")


def projects(base: Project, combos: list[dict]) -> list[Project]:
    """One project per combination; every one checked before the first run trains."""
    out = []
    for combo in combos:
        p = base
        for name, value in combo.items():
            p = apply(p, name, value)
        out.append(p)
    return out


def describe(values: dict) -> str:
    return " ".join(f"{k}={_show(v)}" for k, v in values.items())


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- results -------------------------------------------------------------------------------------


def metric_for(records) -> str:
    """val_accuracy when the runs have it (classification with a validation split), else val_loss,
    else train_loss."""
    for metric in ("val_accuracy", "val_loss"):
        if any(r.best(metric) for r in records):
            return metric
    return "train_loss"


def results(records, metric: str | None = None) -> tuple[str, list[dict]]:
    """(metric, rows): one row per stored run of a sweep: name, values, best metric and its epoch, time."""
    metric = metric or metric_for(records)
    rows = []
    for r in records:
        best = r.best(metric)
        rows.append({"run": r.id, "name": r.name, "values": dict((r.sweep or {}).get("values", {})),
                     "status": r.status, "best": best[1] if best else None, "epoch": best[0] if best else None,
                     "seconds": r.seconds})
    return metric, rows


def best_row(metric: str, rows: list[dict]) -> dict | None:
    scored = [r for r in rows if r["best"] is not None]
    if not scored:
        return None
    return (max if metric.endswith("accuracy") else min)(scored, key=lambda r: r["best"])


def format_table(metric: str, rows: list[dict]) -> str:
    """The results as a plain text table, the best run starred."""
    names = list(dict.fromkeys(k for r in rows for k in r["values"]))
    best = best_row(metric, rows)
    head = ["", "run", *names, f"best {metric}", "epoch", "seconds", "status"]
    lines = [head]
    for r in rows:
        value = "—" if r["best"] is None else (f"{r['best']:.2%}" if metric.endswith("accuracy") else f"{r['best']:.4g}")
        lines.append(["*" if r is best else "", r["run"], *(_show(r["values"].get(n, "")) for n in names), value,
                      str(r["epoch"] or "—"), f"{r['seconds']:.1f}", r["status"]])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)
