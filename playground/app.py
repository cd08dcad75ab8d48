"""The `playground` command: headless subcommands, or the desktop window."""

from __future__ import annotations

import sys

from .cli import COMMANDS

BROKEN_PYSIDE = "6.12.0"  # drops a reference to None per processEvents(); fatal on Python < 3.12


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()   # the bundle is also the training process (ui/worker.py): spawn runs it
    ending = argv is None   # the process's own arguments: it ends when this returns
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from .cli import main as cli_main
        from .pipes import run_command

        code = run_command(cli_main, argv)   # `playground train … | head` is not a failure
        if ending:
            _before_exit()
        return code
    if argv and argv[0] == "--version":
        from . import __version__

        print(f"playground {__version__}")
        return 0
    typo = _mistyped_command(argv)
    if typo:
        print(f"playground: error: {typo}", file=sys.stderr)
        return 2
    problem = qt_problem() or display_problem() or qt_library_problem()
    if problem:
        print(f"playground: error: {problem}", file=sys.stderr)
        return 1
    from .ui.main_window import run_gui

    return run_gui(argv)


def _before_exit() -> None:
    """A command's work is done and written (its writers are closed explicitly, atexit handlers
    still run): spare the interpreter's last garbage collection, which walks every object torch
    made (about 0.5 s of every `playground train`, on 2 cores). Objects are still freed by their
    reference counts; only the final hunt for cycles goes, and with it the finalizers of objects
    caught in a cycle."""
    import gc

    gc.freeze()


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


# What Qt's xcb platform plugin loads beyond the X client library itself (ldd of libqxcb.so and
# libQt6XcbQpa.so.6), with the Debian / Ubuntu package of each. Since Qt 6.5 libxcb-cursor0 is the
# one a fresh Debian lacks; without it Qt prints "could not load the Qt platform plugin" and aborts.
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0", "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def _loads(soname: str) -> bool:
    import ctypes

    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def qt_library_problem(env=None, platform: str = sys.platform, loads=None) -> str | None:
    """When Qt would use its xcb platform: the system libraries it needs that are missing, with the
    line that installs them; checked before QApplication, whose failure is a core dump."""
    import os

    env = os.environ if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or (chosen and not chosen.startswith("xcb")):
        return None
    if not chosen and env.get("WAYLAND_DISPLAY"):
        return None   # Qt takes its Wayland plugin there
    loads = loads or _loads
    missing = [soname for soname in XCB_LIBRARIES if not loads(soname)]
    if not missing:
        return None
    packages = " ".join(XCB_LIBRARIES[soname] for soname in missing)
    return (f"the window needs system libraries that Qt's xcb platform loads, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing. On Debian or Ubuntu install "
            f"{'it' if len(missing) == 1 else 'them'} with:\n    sudo apt install {packages}\n"
            "(the headless commands work without: playground train | inspect | export)")
