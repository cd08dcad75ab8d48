"""The `playground` command: headless subcommands, or the desktop window."""

from __future__ import annotations

import sys

from .cli import COMMANDS

BROKEN_PYSIDE = "6.12.0"  # drops a reference to None per processEvents(); fatal on Python < 3.12


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from .cli import main as cli_main
        from .pipes import run_command

        return run_command(cli_main, argv)   # `playground train … | head` is not a failure
    if argv and argv[0] == "--version":
        from . import __version__

        print(f"playground {__version__}")
        return 0
    typo = _mistyped_command(argv)
    if typo:
        print(f"playground: error: {typo}", file=sys.stderr)
        return 2
    problem = qt_problem() or display_problem()
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


def _mistyped_command(argv: list[str]) -> str | None:
    """`playground trian x.json` is a typo, not a project to open."""
    import difflib
    import os

    if not argv or argv[0].startswith("-") or os.path.exists(argv[0]) or "." in argv[0] or "/" in argv[0]:
        return None
    close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
    hint = f" — did you mean `playground {close[0]}`?" if close else f" (commands: {', '.join(COMMANDS)})"
    return f"unknown command or file {argv[0]!r}{hint}"


def display_problem(env=None, platform: str = sys.platform) -> str | None:
    """On Linux, a window needs a display; say so instead of letting Qt abort."""
    import os

    env = os.environ if env is None else env
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set). "
        "The headless commands work anywhere: playground train | inspect | export."
    )
