"""Import from code: PyTorch source read with `ast` into layer specs — nothing is executed.

Accepted: an `nn.Sequential(...)` (nested ones, `*[...]` lists, comprehensions over literal ranges,
`OrderedDict([...])` names, names bound to other modules) or an `nn.Module` class whose `forward`
is a straight chain (code_class.py). Layers are the catalogue's torch.nn constructors (`nn.Linear`,
`torch.nn.Conv2d`, a bare `Linear`, `nn.LazyLinear`) and the one-tensor `RNN` / `LSTM` / `GRU`
helpers an exported script defines; their arguments may be arithmetic on literals and names bound to
literals in the same code (code_eval.py), and a script's argparse defaults (code_args.py). Every
problem is reported at once as `line N: ...`.

The layers keep the names they have in the code (`conv1`, `features.0`): LayerSpec.name, so
weights move between Playground and the original class (naming.py).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from .code_class import ClassReader
from .code_eval import MAX_DEPTH, MAX_DIGITS
from .code_layers import Leaf
from .errors import ProjectError
from .layers import LAYERS
from .shapes import infer_shapes
from .spec import LayerSpec, NetworkSpec

MAX_SOURCE_BYTES = 1_000_000  # a network's source is a few kilobytes; anything this big is the wrong file


def read_source(path) -> str:
    """A .py file's text: a regular file of at most MAX_SOURCE_BYTES, UTF-8; ProjectError otherwise."""
    from .files import read_limited

    data = read_limited(path, MAX_SOURCE_BYTES, "a network's source code", ProjectError)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectError(f"{path} is not text (UTF-8), so not Python source") from None


class CodeImportError(ProjectError):
    """Source that cannot become cards; `problems` holds (line, message) for each construct."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = sorted(set(problems), key=lambda p: p[0])
        super().__init__("\n".join(f"line {line}: {message}" for line, message in self.problems))


@dataclass
class CodeImport:
    network: NetworkSpec
    notes: list[tuple[int, str]] = field(default_factory=list)  # what changed on the way, said once each
    origin: str = "Sequential"                     # "Sequential" or the class's name


def parse_sequential(source: str, input_shape: list[int] | tuple[int, ...],
                     max_layers: int | None = None) -> NetworkSpec:
    """The network `source` describes, for samples of `input_shape`; raises CodeImportError."""
    return import_code(source, input_shape, max_layers).network


def import_code(source: str, input_shape: list[int] | tuple[int, ...],
                max_layers: int | None = None) -> CodeImport:
    """The network of a pasted Sequential or chain-forward class, with notes; raises CodeImportError."""
    tree = _parse(source)
    reader = ClassReader(tree)
    try:
        leaves, origin = reader.network()
    except RecursionError:                      # the guards above should come first; never a crash
        raise CodeImportError([(1, "the code refers to itself too deeply to be read")]) from None
    if not reader.problems and max_layers is not None and len(leaves) > max_layers:
        reader.problems.append((leaves[max_layers].line, f"it has {len(leaves):,} layers, and the editor shows at "
                                f"most {max_layers:,} — train or inspect a longer network with "
                                "`playground train` / `playground inspect`"))
    if reader.problems:
        raise CodeImportError(reader.problems)
    layers, problems, notes = _check_inferred(leaves, list(input_shape))
    if problems:
        raise CodeImportError(problems)
    reader.notes += notes
    for i, layer in enumerate(layers):
        if layer.name == str(i):                   # a plain Sequential's names are Playground's own, and so is
            layer.name = None                      # the index key of an unnamed card in the Code dock's code
    return CodeImport(NetworkSpec(list(input_shape), layers), sorted(set(reader.notes)), origin)


def _parse(source: str) -> ast.Module:
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise CodeImportError([(1, f"the source is {size:,} bytes — too big to be a network's code "
                                   f"(at most {MAX_SOURCE_BYTES:,})")])
    source = dedent(source)                         # pasted from a class body: its indentation goes
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        if "integer string conversion" in e.msg:
            raise CodeImportError([(e.lineno or 1,
                                    f"a number of more than {MAX_DIGITS} digits is no layer size")]) from None
        hint = (" — paste whole statements (the class, or the def with its body)"
                if isinstance(e, IndentationError) else "")
        raise CodeImportError([(e.lineno or 1, f"invalid Python: {e.msg}{hint}")]) from None
    except (RecursionError, MemoryError):
        raise CodeImportError([(1, f"the code is nested too deeply to read (more than {MAX_DEPTH} levels)")]) from None
    except ValueError as e:
        raise CodeImportError([(1, f"invalid Python: {str(e).split(':')[0]}")]) from None
    _check_depth(tree)
    return tree


def dedent(source: str) -> str:
    """The code's common indentation removed; comment lines (a header above pasted class-body code)
    do not count, and a comment indented less than the code is moved to the left edge."""
    lines = source.expandtabs(8).splitlines()
    code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if code and all(line.lstrip().startswith((">>>", "...")) for line in code):
        # an example copied from a docstring: its prompts go, the code under them stays
        lines = [_unprompt(line) for line in lines]
        code = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    margin = min((len(line) - len(line.lstrip()) for line in code), default=0)
    out = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        out.append(line[min(margin, indent):] if line.strip() else "")
    return "\n".join(out) + "\n"


def _unprompt(line: str) -> str:
    stripped = line.lstrip()
    for prompt in (">>> ", "... ", ">>>", "..."):
        if stripped.startswith(prompt):
            return stripped[len(prompt):]
    return line


def _check_depth(tree: ast.AST) -> None:
    """The readers recurse into expressions: a long `1+1+...` would exhaust Python's stack."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CodeImportError([(getattr(node, "lineno", 1), f"the code is nested more than {MAX_DEPTH} "
                                    "levels deep — a network is a flat list of layer calls")])
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


# --- inferred sizes ---------------------------------------------------------------------------------


def _check_inferred(leaves: list[Leaf], input_shape: list[int]) -> tuple[list[LayerSpec], list, list]:
    """Input sizes the code states are dropped where they match what Playground infers, so the cards
    keep inferring them; a size that does not match stays, and its card shows the mismatch.
    A `view(-1, N)` whose N is not the flattened size is a problem: the original would fail there.
    Returns the layers, the problems and the notes."""
    specs: list[LayerSpec] = []
    problems, notes = [], []
    for leaf in leaves:
        layer = LayerSpec(leaf.type, dict(leaf.params), leaf.name)
        if leaf.reshape is not None or leaf.features_from is not None or leaf.type == "Dropout2d":
            layer = _by_shape(leaf, layer, _shape_after(specs, input_shape), problems, notes)
            if layer is None:                      # no card here, or a problem said why
                continue
        if leaf.given or leaf.features is not None:
            info = infer_shapes(NetworkSpec(input_shape, specs + [LayerSpec(layer.type, dict(layer.params))]))
            this = info.layers[-1]
            if leaf.features is not None and this.output_shape is not None \
                    and tuple(this.output_shape) != (leaf.features,):
                problems.append((leaf.line, f"the view to {leaf.features} features gets "
                                 f"{_dims(this.input_shape)} values a sample — the code expects "
                                 "another input shape than this project's"))
            expected = LAYERS[layer.type].infer(this.input_shape) if this.input_shape is not None \
                and LAYERS[layer.type].infer else None
            for name, given in leaf.given.items():
                if expected is None or _as_list(expected.get(name)) != _as_list(given):
                    layer.params[name] = given
        specs.append(layer)
    return specs, problems, notes


def _shape_after(specs: list[LayerSpec], input_shape: list[int]) -> tuple[int, ...] | None:
    """The sample shape the next card would receive (None where a card before it does not fit)."""
    shape = infer_shapes(NetworkSpec(input_shape, specs + [LayerSpec("Identity")])).layers[-1].input_shape
    return tuple(shape) if shape is not None else None


def _by_shape(leaf: Leaf, layer: LayerSpec, shape: tuple | None, problems: list, notes: list) -> LayerSpec | None:
    """The card for a leaf that depends on the shape it receives: a reshape (Unflatten, Flatten or no
    card), x.view(-1, x.size(k)), nn.Dropout2d on features. None: no card (noted) or a problem."""
    if shape is None:
        return layer
    if leaf.reshape is not None:
        target = _dims(leaf.reshape)
        if shape == leaf.reshape:
            notes.append((leaf.line, f"the reshape to {target} keeps the shape it gets here: no card"))
            return None
        merged = _merged(shape, leaf.reshape)
        if merged is not None:                     # (1, 28, 28) to (28, 28): its first dimensions merged
            return LayerSpec("Flatten", {"end_dim": merged})
        if len(shape) != 1 or shape[0] != math.prod(leaf.reshape):
            problems.append((leaf.line, f"the reshape to {target} gets {_dims(shape)} values a sample — the "
                             "code expects another input shape than this project's"))
            return None
        return layer                               # flat features split: the Unflatten card
    if leaf.features_from is not None:
        if leaf.features_from > len(shape):
            problems.append((leaf.line, f"the view asks for dimension {leaf.features_from} of a sample of "
                             f"{_dims(shape)}, which has {len(shape)}"))
            return None
        leaf.features = shape[leaf.features_from - 1]      # then checked like x.view(-1, N)
        return layer
    if len(shape) == 1:                            # Dropout2d: torch drops single values of (batch, features)
        layer.type = "Dropout"
        notes.append((leaf.line, "nn.Dropout2d on features drops single values, as torch does for a "
                                 "(batch, features) input: the card is Dropout"))
    return layer


def _dims(shape) -> str:
    return "×".join(map(str, shape))


def _merged(shape: tuple, target: tuple) -> int | None:
    """k when `target` is `shape` with its first k dimensions merged into one (Flatten(1, k) makes it)."""
    for k in range(2, len(shape) + 1):
        if math.prod(shape[:k]) == target[0] and shape[k:] == target[1:]:
            return k
    return None


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


