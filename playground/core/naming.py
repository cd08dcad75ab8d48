"""Weight names between Playground and the code a network was imported from.

Playground builds an `nn.Sequential`, so its keys start with the card's index (`0.weight`). A network
read from a class or an OrderedDict remembers each layer's path there (LayerSpec.name: `conv1`,
`features.0`), so exported weights carry those names and load strictly into the original class, and
weights the original code trained load into the cards. A state_dict with other names can still be
matched layer by layer in order and shape — only after the user has seen the mapping (match_in_order).
"""

from __future__ import annotations

from torch import Tensor

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


def mapping_table(pairs: list[tuple[str, str, tuple]]) -> str:
    """The mapping as aligned text lines, for a dialog or a terminal."""
    width = max((len(a) for a, _, _ in pairs), default=0)
    return "\n".join(f"{a:<{width}}  →  {b}   {'×'.join(map(str, shape)) or 'scalar'}" for a, b, shape in pairs)
