"""Hypothesis over every parser of a user's file: project JSON, pasted code, IDX headers,
checkpoints and the optimizer state inside them. The property is the promise of the README:
whatever goes in, the answer is a value or the project's own error (one sentence) — never another
exception, never a crash of a kernel fed what a file claimed.

The budget is bounded and the examples derandomised, so `make test` stays fast and the same on
every run; PLAYGROUND_FUZZ_EXAMPLES=2000 explores further (a new seed each run then)."""

from __future__ import annotations

import gzip
import json
import math
import os
import struct
import tempfile
from pathlib import Path

import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from playground.core import data
from playground.core.checkpoint import check_optimizer_state, load_checkpoint
from playground.core.code_import import CodeImportError, parse_sequential
from playground.core.errors import CheckpointError, DataError, PlaygroundError, ProjectError
from playground.core.optim import build_optimizer
from playground.core.spec import Project
from tests.conftest import EXAMPLES

_MORE = int(os.environ.get("PLAYGROUND_FUZZ_EXAMPLES", "0"))


def budget(examples: int):
    """No deadline (it would depend on the CPU), no example database left in the worktree."""
    return settings(max_examples=_MORE or examples, deadline=None, database=None, derandomize=not _MORE,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


XOR = json.loads((EXAMPLES / "xor.json").read_text())

numbers = st.one_of(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, -1, 2**63, 2**64, 1e308, 0.5]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def _paths(obj, prefix=()):
    """Every place in a JSON document, as a path of keys and indices."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _replace(obj, path, value):
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


XOR_PATHS = list(_paths(XOR))


def _only_our_errors(call, *errors):
    try:
        return call()
    except errors:
        return None


# --- project JSON ------------------------------------------------------------------------------


@budget(60)
@given(path=st.sampled_from(XOR_PATHS), value=json_values)
def test_a_project_with_any_value_anywhere_opens_or_says_why(path, value):
    raw = _replace(XOR, path, value)
    project = _only_our_errors(lambda: Project.from_dict(raw), ProjectError)
    if project is not None:
        from playground.core.validation import validate_settings

        _only_our_errors(lambda: validate_settings(project), PlaygroundError)
        assert Project.from_json(project.to_json()) == project     # what opens, saves and reopens


@budget(40)
@given(text=st.one_of(st.text(max_size=200), json_values.map(json.dumps),
                      st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
                      st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)))
def test_any_text_as_a_project_is_a_project_or_a_project_error(text):
    _only_our_errors(lambda: Project.from_json(text), ProjectError)


@budget(30)
@given(raw=st.binary(max_size=300), bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_any_bytes_as_a_project_file_are_refused_in_words(raw, bom):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.json"
        path.write_bytes(bom + raw)
        try:
            Project.load(path)
        except ProjectError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e)


# --- code import -------------------------------------------------------------------------------

layer_names = st.sampled_from(["nn.Linear", "nn.Conv2d", "nn.ReLU", "torch.nn.Tanh", "nn.Dropout", "nn.LSTM",
                               "nn.Flatten", "nn.Unknown", "foo", "nn.Sequential", "nn.BatchNorm1d"])
literals = st.one_of(
    st.integers(-(2**80), 2**80).map(str), st.floats(allow_nan=False).map(repr),
    st.sampled_from(["True", "None", "'same'", "(3, 3)", "[1, 2]", "x", "x.y", "-" * 50 + "1", "1+" * 40 + "1",
                     "(" * 30 + "1" + ")" * 30, "9" * 40, "lambda: 1", "*a", "**k", "f()"]),
)
call = st.builds(lambda name, args, kwargs: f"{name}({', '.join(args + kwargs)})", layer_names,
                 st.lists(literals, max_size=3),
                 st.lists(st.builds(lambda k, v: f"{k}={v}", st.sampled_from(
                     ["out_features", "in_features", "kernel_size", "p", "hidden_size", "bias", "nonsense"]),
                     literals), max_size=2))


@budget(60)
@given(layers=st.lists(call, max_size=6), noise=st.sampled_from(["", "\n#", "\x00", "(", "\ud800", "\t\t"]),
       shape=st.sampled_from([[2], [1, 28, 28], [3, 8]]))
def test_pasted_code_gives_cards_or_lines_that_say_why(layers, noise, shape):
    source = "nn.Sequential(\n" + ",\n".join(layers) + "\n)" + noise
    try:
        spec = parse_sequential(source, shape, max_layers=500)
    except CodeImportError as e:
        assert e.problems and all(isinstance(line, int) and line >= 1 for line, _ in e.problems)
        return
    assert len(spec.layers) == len(layers)


@budget(30)
@given(source=st.text(max_size=300))
def test_any_text_as_code_gives_cards_or_lines(source):
    _only_our_errors(lambda: parse_sequential(source, [2]), CodeImportError)


# --- IDX headers -------------------------------------------------------------------------------


@budget(60)
@given(magic=st.sampled_from([b"\x00\x00\x08\x03", b"\x00\x00\x08\x01", b"\x00\x00\x09\x03", b"PK\x03\x04"]),
       dims=st.lists(st.one_of(st.integers(0, 60), st.sampled_from([28, 2**32 - 1, 10**9])), min_size=0, max_size=3),
       body=st.integers(0, 4000), zipped=st.booleans(), trailing=st.binary(max_size=8))
def test_an_idx_file_is_read_exactly_as_its_header_says_or_refused(magic, dims, body, zipped, trailing):
    raw = magic + struct.pack(f">{len(dims)}I", *dims) + bytes(range(256)) * (body // 256) + bytes(body % 256) + trailing
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x-idx3-ubyte.gz" if zipped else "x-idx3-ubyte")
        path.write_bytes(gzip.compress(raw, mtime=0) if zipped else raw)
        try:
            images = data._read_idx(path, 3, "image")
        except DataError as e:
            assert str(path) in str(e)
            return
    header = 4 + 4 * 3
    assert magic == b"\x00\x00\x08\x03" and len(dims) == 3 and tuple(images.shape) == tuple(dims)
    assert images.numel() == len(raw) - header and images.flatten().tolist() == list(raw[header:])


# --- checkpoints and the optimizer state inside them -----------------------------------------


def _real_checkpoint():
    from playground.cli import main

    folder = Path(tempfile.mkdtemp())
    raw = dict(XOR, training=dict(XOR["training"], epochs=1))
    (folder / "p.json").write_text(json.dumps(raw))
    assert main(["train", str(folder / "p.json"), "--out", str(folder / "c.pt"), "--metrics",
                 str(folder / "m.json"), "--quiet"]) == 0
    return torch.load(folder / "c.pt", weights_only=True)


_CHECKPOINT: list = []


def real_checkpoint():
    if not _CHECKPOINT:
        _CHECKPOINT.append(_real_checkpoint())
    return _CHECKPOINT[0]


tensors = st.builds(lambda shape, kind: torch.zeros(shape, dtype=kind),
                    st.lists(st.integers(0, 9), max_size=3).map(tuple),
                    st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]))
plain = st.one_of(scalars, tensors, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3))


def _torch_paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _torch_paths(v, prefix + (k,))
    elif isinstance(obj, (list, tuple)) and len(obj) < 50:
        for i, v in enumerate(obj):
            yield from _torch_paths(v, prefix + (i,))


@budget(25)   # each accepted example also trains an epoch from it: the dearest test here
@given(choice=st.integers(0, 10**6), value=plain)
def test_a_checkpoint_with_any_value_anywhere_opens_or_says_why(choice, value):
    import copy

    ckpt = copy.deepcopy(real_checkpoint())
    paths = [p for p in _torch_paths(ckpt) if p]
    path = paths[choice % len(paths)]
    target = ckpt
    for key in path[:-1]:
        target = target[key]
    if isinstance(target, tuple):
        return
    target[path[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "c.pt"
        torch.save(ckpt, file)
        loaded = _only_our_errors(lambda: load_checkpoint(file), CheckpointError)
    if loaded is not None and loaded.optimizer is not None:
        from playground.core.training import Trainer

        end = Trainer(loaded.project, model_state=loaded.model, optimizer_state=loaded.optimizer,
                      start_epoch=loaded.epoch, history=loaded.history).run()
        assert end.status in ("finished", "failed"), end


shapes = st.sampled_from([(3, 2), (3,), (2, 3), (6,), (), (100,), (3, 2, 1), (0,)])


@budget(80)
@given(name=st.sampled_from(["Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax"]),
       entries=st.lists(st.dictionaries(
           st.sampled_from(["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "square_avg",
                            "sum", "acc_delta", "exp_inf", "grad_avg"]),
           st.one_of(shapes.map(torch.zeros), st.floats(allow_nan=True), st.integers(-5, 2**60), st.none(),
                     shapes.map(lambda s: torch.zeros(s, dtype=torch.int32))), max_size=5), min_size=0, max_size=3),
       ids=st.lists(st.integers(-1, 3), min_size=0, max_size=3))
def test_an_accepted_optimizer_state_always_steps_the_fused_kernels_safely(name, entries, ids):
    """Whatever state a file holds, what check_optimizer_state lets through runs a real step of the
    real (fused where torch has it) optimizer without error — the property whose absence was
    `free(): invalid next size`."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 3)
    params = {"lr": 0.01}
    if name in ("SGD", "RMSprop"):
        params["momentum"] = 0.9
    optimizer = build_optimizer(name, params, model.parameters())
    group = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    group["params"] = ids if ids else [0, 1]
    state = {"state": {i: e for i, e in enumerate(entries)}, "param_groups": [group]}
    try:
        checked = check_optimizer_state(state, optimizer, name, ["weight", "bias"])
    except CheckpointError as e:
        assert "\n" not in str(e)
        return
    optimizer.load_state_dict(checked)
    model(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    assert all(math.isfinite(float(p.detach().abs().sum())) for p in model.parameters())
    assume(True)


@budget(40)
@given(path=st.sampled_from(XOR_PATHS), value=json_values)
def test_what_a_project_file_may_hold_the_window_shows(window, qtbot, path, value):
    """A value the file format takes must also fit the editors (a seed of 2**40 opened with an
    OverflowError in the training panel's spin box while the command line took it)."""
    from playground.core.validation import validate_settings

    raw = _replace(XOR, path, value)
    try:
        project = Project.from_dict(raw)
        validate_settings(project)
    except PlaygroundError:
        return
    with qtbot.captureExceptions() as raised:
        window.document.open(project, None)
    assert not raised, raised[0][1]
    window.document.undo_stack.setClean()
