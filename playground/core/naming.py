"""Weight names between Playground and the code a network was imported from.

Playground builds an `nn.Sequential`, so its keys start with the card's index (`0.weight`). A network
read from a class or an OrderedDict remembers each layer's path there (LayerSpec.name: `conv1`,
`features.0`), so exported weights carry those names and load strictly into the original class, and
weights the original code trained load into the cards. A state_dict with other names can still be
matched layer by layer in order and shape — only after the user has seen the mapping (match_in_order).
"""

from __future__ import annotations

from torch import Tensor, nn

from .errors import CheckpointError
from .spec import NetworkSpec


def has_names(network: NetworkSpec) -> bool:
    return any(layer.name is not None for layer in network.layers)


def original_key(network: NetworkSpec, key: str) -> str:
    """`0.weight` -> `conv1.weight` for a layer that has a name; other keys unchanged."""
    first, dot, rest = key.partition(".")
    if dot and first.isdigit() and int(first) < len(network.layers):
        name = network.layers[int(first)].name
        if name is not None:
            return f"{name}.{rest}"
    return key


def original_state_dict(network: NetworkSpec, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The weights under the names the original code gives them (Playground's own where it has none)."""
    out = {original_key(network, key): value for key, value in state.items()}
    if len(out) != len(state):                   # two cards named alike: keep Playground's keys, lose nothing
        return dict(state)
    return out


def from_original(network: NetworkSpec, state: dict, expected: list[str]) -> dict:
    """`state` with the original code's keys turned into this network's (`expected`); unchanged when
    its keys are not exactly the original names, so a mismatch is reported in Playground's terms."""
    if not has_names(network):
        return state
    back = {original_key(network, key): key for key in expected}
    if len(back) == len(expected) and set(state) == set(back) and set(state) != set(expected):
        return {back[key]: value for key, value in state.items()}
    return state


def _groups(keys_shapes: list[tuple[str, tuple]]) -> list[tuple[str, list[tuple[str, tuple]]]]:
    """Keys grouped by their module (everything before the last dot), in order."""
    groups: list[tuple[str, list]] = []
    for key, shape in keys_shapes:
        module, _, leaf = key.rpartition(".")
        if not groups or groups[-1][0] != module:
            groups.append((module, []))
        groups[-1][1].append((leaf, shape))
    return groups


def match_in_order(expected: dict[str, Tensor], state: dict) -> list[tuple[str, str, tuple]]:
    """(key in the file, key in the network, shape) for every weight, pairing the file's layers with
    the network's one by one in order; CheckpointError when they do not pair up in count, kind and shape."""
    theirs = _groups([(k, tuple(v.shape)) for k, v in state.items() if isinstance(v, Tensor)])
    ours = _groups([(k, tuple(v.shape)) for k, v in expected.items()])
    if len(theirs) != len(ours):
        raise CheckpointError(f"the file has weights for {len(theirs)} layers and this network for {len(ours)}, "
                              "so they cannot be paired in order")
    pairs = []
    for (their_module, their_items), (our_module, our_items) in zip(theirs, ours):
        if [(leaf, shape) for leaf, shape in their_items] != [(leaf, shape) for leaf, shape in our_items]:
            described = ", ".join(f"{leaf} {'×'.join(map(str, shape)) or 'scalar'}" for leaf, shape in their_items)
            raise CheckpointError(f"the file's layer {their_module or '(top)'!r} ({described}) does not match "
                                  f"this network's layer {our_module} in its weights' names and shapes")
        for (leaf, shape) in their_items:
            pairs.append((f"{their_module}.{leaf}" if their_module else leaf, f"{our_module}.{leaf}", shape))
    return pairs


# --- the names as code ------------------------------------------------------------------------

Tree = list  # [(key, card index) or (key, Tree)]: the module tree an nn.Sequential of OrderedDicts builds


def module_tree(network: NetworkSpec) -> Tree | None:
    """The cards as the module tree their names describe (`features.0` inside `features`), so code
    written from it has exactly the keys original_state_dict gives the weights. A card without a name
    keeps its index as its key. None when the cards have no names, or the names cannot be one tree with
    those keys (the code then stays a plain Sequential, whose keys are Playground's own)."""
    if not has_names(network):
        return None
    paths = [layer.name if layer.name is not None else str(i) for i, layer in enumerate(network.layers)]
    if any(not part or part != part.strip() or part in _RESERVED for path in paths for part in path.split(".")):
        return None
    stateful = _stateful(network)
    if stateful is None:
        return None
    keys = [f"{path}.{leaf}" for i, path in enumerate(paths) for leaf in stateful[i]]
    if len(set(keys)) != len(keys):                      # original_state_dict keeps Playground's keys then
        return None
    return _tree([(path.split("."), i) for i, path in enumerate(paths)], stateful)


# a key that is an attribute of nn.Module cannot name a submodule (torch refuses it)
_RESERVED = {name for name in dir(nn.Sequential()) if not name.startswith("__")}


def _stateful(network: NetworkSpec) -> list[list[str]] | None:
    """Each card's state_dict keys (without its prefix), from a network built on the meta device."""
    from .errors import ShapeError
    from .shapes import build_network

    try:
        model = build_network(network, "meta")
    except ShapeError:
        return None
    out: list[list[str]] = [[] for _ in network.layers]
    for key in model.state_dict():
        index, _, leaf = key.partition(".")
        out[int(index)].append(leaf)
    return out


def _tree(items: list[tuple[list[str], int]], stateful: list[list[str]]) -> Tree | None:
    """Group consecutive cards by their first name part, recursively; a key met twice is renamed when
    what it holds has no weights (a ReLU used twice), else the names cannot be a tree."""
    groups: list[tuple[str, list]] = []
    for parts, index in items:
        head, rest = parts[0], parts[1:]
        if rest and groups and groups[-1][0] == head and isinstance(groups[-1][1], list):
            groups[-1][1].append((rest, index))
        else:
            groups.append((head, [(rest, index)] if rest else index))
    tree: Tree = []
    seen: set[str] = set()
    for head, content in groups:
        indices = [i for _, i in content] if isinstance(content, list) else [content]
        if head in seen:
            if any(stateful[i] for i in indices):
                return None
            n = 2
            while f"{head}_{n}" in seen:
                n += 1
            head = f"{head}_{n}"
        seen.add(head)
        if isinstance(content, list):
            inner = _tree(content, stateful)
            if inner is None:
                return None
            tree.append((head, inner))
        else:
            tree.append((head, content))
    return tree
