"""The `playground` command: headless subcommands, or the desktop window."""

from __future__ import annotations

import sys

from .cli import COMMANDS

BROKEN_PYSIDE = "6.12.0"  # drops a reference to None per processEvents(); fatal on Python < 3.12


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from .cli import main as cli_main

        return cli_main(argv)
    if argv and argv[0] == "--version":
        from . import __version__

        print(f"playground {__version__}")
        return 0
    problem = qt_problem()
    if problem:
        print(f"playground: error: {problem}", file=sys.stderr)
        return 1
    from .ui.main_window import run_gui

    return run_gui(argv)


def qt_problem(python: tuple[int, int] = sys.version_info[:2], pyside: str | None = None) -> str | None:
    """Why the GUI must not start on this PySide6 / Python pair, or None when it may."""
    if pyside is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            pyside = version("PySide6")
        except PackageNotFoundError:
            try:
                pyside = version("PySide6-Essentials")
            except PackageNotFoundError:
                return "PySide6 is not installed — run `make run`, or pip install 'PySide6!=6.12.0'"
    if pyside == BROKEN_PYSIDE and python < (3, 12):
        return (
            f"PySide6 {pyside} crashes Python {python[0]}.{python[1]} after a few thousand screen "
            "updates (a reference-count bug on None). Install another version, e.g. "
            "pip install 'PySide6==6.11.3', or use Python 3.12 or newer."
        )
    return None
