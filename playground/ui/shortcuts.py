"""Key bindings: the platform's own for standard actions, each key sequence bound once in the window.

Qt answers a key sequence bound to two enabled actions with "ambiguous shortcut" and runs neither,
so a binding added by hand next to a standard key can silently kill both (Ctrl+Shift+Z was bound
explicitly and again through QKeySequence.Redo, which on X11 is Ctrl+Shift+Z).
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def standard_keys(key: QKeySequence.StandardKey) -> list[QKeySequence]:
    """What this platform binds to `key` (Windows and X11 differ: Redo is Ctrl+Y there, Ctrl+Shift+Z here)."""
    return [QKeySequence(k) for k in QKeySequence.keyBindings(key)]


def redo_keys() -> list[QKeySequence]:
    """The platform's Redo, plus the other common convention where the platform has not taken it:
    Ctrl+Y (Windows, LibreOffice, most GTK apps) and Ctrl+Shift+Z (X11, macOS, browsers) both redo.
    macOS keeps its own: Cmd+Y is not redo there."""
    keys = standard_keys(QKeySequence.Redo)
    if sys.platform != "darwin":
        keys += [QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")]
    return unique(keys)


def unique(keys: list[QKeySequence]) -> list[QKeySequence]:
    seen, result = set(), []
    for key in keys:
        text = key.toString(QKeySequence.PortableText)
        if text and text not in seen:
            seen.add(text)
            result.append(key)
    return result


def shortcut_owners(root: QWidget) -> dict[str, list[str]]:
    """Every key sequence the actions under `root` bind, with the actions' names (for the test that
    forbids two actions on one sequence)."""
    owners: dict[str, list[str]] = {}
    actions = {id(a): a for a in [*root.actions(), *root.findChildren(QAction)]}
    for action in actions.values():
        for key in action.shortcuts():
            owners.setdefault(key.toString(QKeySequence.PortableText), []).append(action.text() or repr(action))
    return owners
