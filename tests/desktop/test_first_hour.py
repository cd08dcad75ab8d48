"""The first hour under a real X server: one launch of the app at 1024x700, driven with real mouse
and keyboard events (xdotool), read back through PLAYGROUND_DESKTOP_PROBE, with screenshots.

Every check waits for the window's state (the probe file, polled) with a generous timeout; the
short pauses between xdotool's moves only pace the input, as a hand does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground.core.spec import Project

TIMEOUT = 60  # s: torch's import and the first build on a loaded 2-core machine
SHOT = """
import sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(["shot"])
sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)
"""


class App:
    """The running app: its probe, and real input through xdotool on its display."""

    def __init__(self, proc, probe: Path, display: str, shots: Path):
        self.proc, self.probe, self.display, self.shots = proc, probe, display, shots

    def state(self) -> dict:
        try:
            return json.loads(self.probe.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait(self, condition, what: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the app exited ({self.proc.returncode}) while waiting for {what}")
            state = self.state()
            if state and condition(state):
                return state
            time.sleep(0.05)   # polling the probe file, not a delay the check depends on
        shot = self.screenshot("timed-out")
        pytest.fail(f"timed out after {timeout:g} s waiting for {what} (screen: {shot}); last state: {self.state()}")

    def xdo(self, *args) -> None:
        subprocess.run(["xdotool", *map(str, args)], check=True, timeout=30,
                       env={**os.environ, "DISPLAY": self.display})

    def key(self, *keys) -> None:
        self.xdo("key", "--delay", 60, *keys)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", 40, text)

    def wheel(self, x, y, notches: int) -> None:
        self.xdo("mousemove", "--sync", x, y)
        for _ in range(abs(notches)):
            self.xdo("click", 5 if notches < 0 else 4)   # X11 buttons 4 and 5 are the wheel

    def drag(self, start, end, steps: int = 12) -> None:
        """Press, move a little until the palette's drag has begun, move on to `end` as a hand does,
        and release once the editor shows where the layer will land."""
        (x0, y0), (x1, y1) = start, end
        self.xdo("mousemove", "--sync", x0, y0)
        self.xdo("mousedown", 1)
        if not self._moving_until("dragging", [(x0 + 4 * i, y0) for i in range(1, 6)]):
            state = {k: self.state().get(k) for k in ("pointer", "popup", "modal", "buttons", "focus")}
            pytest.fail(f"a palette drag never began (screen: {self.screenshot('drag')}); {state}")
        if not self._moving_until("drop_line", [(x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps)
                                                for i in range(1, steps + 1)]):
            pytest.fail(f"the drag never showed the drop line (screen: {self.screenshot('drag')})")
        self.xdo("mouseup", 1)

    def _moving_until(self, key: str, path, timeout: float = TIMEOUT) -> bool:
        """Move along `path`, then keep the pointer stirring at its end (Qt's drag loop acts on
        motion) until the probe reports `key`; False if it does not within `timeout`."""
        for x, y in path:
            self.xdo("mousemove", x, y, "sleep", 0.03)
        deadline, wiggle = time.monotonic() + timeout, 0
        while not self.state().get(key):
            if time.monotonic() > deadline:
                return False
            wiggle = 1 - wiggle
            self.xdo("mousemove", x, y - wiggle, "sleep", 0.05)
        return True

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        subprocess.run([sys.executable, "-c", SHOT, str(path)], check=True, timeout=60,
                       env={**os.environ, "DISPLAY": self.display, "QT_QPA_PLATFORM": "xcb"})
        return path


def centre(rect) -> tuple[int, int]:
    x, y, w, h = rect
    return x + w // 2, y + h // 2


def types(state) -> list[str]:
    return [layer["type"] for layer in state["layers"]]


@pytest.fixture
def app(tmp_path, x_display, xdotool, examples):
    project = Project.load(examples / "xor.json")
    project.training.epochs = 3
    path = tmp_path / "xor.json"
    project.save(path)
    home, shots = tmp_path / "home", Path(os.environ.get("PLAYGROUND_SHOTS", tmp_path / "shots"))
    home.mkdir()
    shots.mkdir(parents=True, exist_ok=True)
    probe = tmp_path / "probe.json"
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "HOME": str(home),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
           "PLAYGROUND_DESKTOP_PROBE": str(probe), "OMP_NUM_THREADS": "1"}
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "playground", str(path)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    running = App(proc, probe, x_display, shots)
    try:
        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "Playground"],
                               check=True, timeout=TIMEOUT, env={**os.environ, "DISPLAY": x_display},
                               capture_output=True, text=True)
        running.wait(lambda s: s.get("built") and s["layers"], "the built window")
        # no window manager on Xvfb: give the window the keyboard as a click on its title bar would
        running.xdo("windowfocus", "--sync", found.stdout.split()[0])
        running.wait(lambda s: s["active"], "the window to be active")
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        output = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
        assert "Traceback" not in output, output


def test_the_first_hour_with_a_real_mouse_and_keyboard(app):
    s = app.wait(lambda s: s["widgets"]["startButton"], "Start on the screen")
    first = app.screenshot("1-launch")

    # 10. the first window fits the 1024x700 screen; Start, the editor and the plots are in view
    sx, sy, sw, sh = s["screen"]
    x, y, w, h = s["window"]
    assert sx <= x and sy <= y and x + w <= sx + sw and y + h <= sy + sh, (s["window"], s["screen"])
    for name in ("startButton", "networkEditor"):
        bx, by, bw, bh = s["widgets"][name]
        assert bx >= sx and by >= sy and bx + bw <= sx + sw and by + bh <= sy + sh, name
    assert s["docks"]["plotsDock"][1] >= 150 and s["widgets"]["networkEditor"][2] >= 300
    # on this short screen the training panel's sections start folded: each one a line in sight
    for key in ("dataset", "loss", "optimizer", "scheduler", "training"):
        assert s["widgets"][f"{key}SectionHeader"], key
    assert s["widgets"]["mainToolBar"] and s["widgets"]["plotsEmptyState"]   # before any run: what to do
    start_layers, undo = types(s), s["undo"]

    # 10. a click unfolds a section, and the panel scrolls to bring it into sight
    app.xdo("mousemove", "--sync", *centre(s["widgets"]["trainingSectionHeader"]), "click", 1)
    s = app.wait(lambda s: s["sections"]["training"] and s["widgets"]["epochsSpin"] and s["panel_scroll"] > 0,
                 "a click to unfold the Training section, in sight")
    assert not any(s["sections"][key] for key in ("dataset", "loss", "optimizer", "scheduler"))

    # 4. the wheel over the training panel scrolls it and changes no setting
    scrolled = s["panel_scroll"]
    app.wheel(*centre(s["widgets"]["epochsSpin"]), 4)
    s = app.wait(lambda s: s["panel_scroll"] < scrolled, "the training panel to scroll under the wheel")
    assert (s["dataset"], s["scheduler"], s["undo"], s["modified"]) == ("xor", None, undo, False)

    # 4. the wheel over a card's field scrolls the editor, and the field keeps its value
    spin = s["cards"][0]["fields"]["out_features"]
    app.wheel(*centre(spin), -3)
    s = app.wait(lambda s: s["editor_scroll"] > 0, "the editor to scroll under the wheel")
    assert s["layers"][0]["params"] == {"out_features": 8} and s["undo"] == undo

    # a drag from the palette onto the editor appends there (search first, so ReLU is in view)
    app.xdo("mousemove", "--sync", *centre(s["widgets"]["paletteSearch"]), "click", 1)
    app.type("relu")
    s = app.wait(lambda s: s["search"] == "relu" and "ReLU" in s["palette"], "ReLU in the filtered palette")
    ex, ey, ew, eh = s["widgets"]["networkEditor"]
    app.drag(s["palette"]["ReLU"], (ex + ew // 2, ey + eh - 12))
    s = app.wait(lambda s: len(s["layers"]) == len(start_layers) + 1, "the dropped layer")
    assert "ReLU" in types(s) and s["modified"]
    dropped = types(s)
    app.screenshot("2-dropped")

    # 5. Ctrl+Z undoes, Ctrl+Y and Ctrl+Shift+Z both redo (Ctrl+Shift+Z was ambiguous under xcb)
    for redo in ("ctrl+y", "ctrl+shift+z"):
        app.key("ctrl+z")
        app.wait(lambda s: types(s) == start_layers, f"ctrl+z before {redo}")
        app.key(redo)
        app.wait(lambda s: types(s) == dropped, redo)

    # 6. the keyboard alone: Ctrl+F reaches the palette search, Enter picks, Enter appends,
    # Tab walks into the cards with visible focus, F5 trains
    app.key("ctrl+f")
    app.wait(lambda s: s["focus"] and s["focus"]["name"] == "paletteSearch", "Ctrl+F to focus the search")
    app.type("tanh")
    app.key("Return")
    app.wait(lambda s: s["focus"] and s["focus"]["name"] == "paletteTree", "Enter to move to the first match")
    app.key("Return")
    s = app.wait(lambda s: types(s) == dropped + ["Tanh"], "Enter to append Tanh")
    app.key("Tab")   # from the palette into the editor: a card is selected, so the focus shows
    s = app.wait(lambda s: s["focus"]["name"] == "networkEditor" and s["selected"] >= 0, "Tab into the editor")
    app.key("Up", "Up", "Return")   # walk up to the Linear card; Enter goes into its first field
    s = app.wait(lambda s: s["focus"]["name"].startswith("param_") and s["focus"]["rect"], "Enter into a card's field")
    # Ctrl+D typed into the field stays in the field: the editor's Duplicate does not take it
    field, layers = s["focus"]["name"], types(s)
    app.key("ctrl+d", "Tab")   # X delivers keys in order: once Tab has moved the focus, Ctrl+D was handled
    s = app.wait(lambda s: s["focus"]["name"] != field, "Tab out of the field after Ctrl+D")
    assert types(s) == layers, "Ctrl+D in a card's field duplicated the layer"
    app.key("F5")
    app.wait(lambda s: s["run_state"] != "idle" or s["runs"] == 1, "F5 to start the run")
    s = app.wait(lambda s: s["run_state"] == "idle" and s["runs"] == 1, "the run to finish")
    last = app.screenshot("3-trained")
    assert s["plots_scroll"] == 0, "the loss, accuracy and lr plots do not fit the Plots dock"
    assert first.stat().st_size > 0 and last.stat().st_size > 0
