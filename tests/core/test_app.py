"""The `playground` command's checks before any window opens."""

from playground.app import _mistyped_command, display_problem, main, qt_problem


def test_broken_pyside_python_pair_is_refused():
    assert "crashes Python 3.11" in qt_problem((3, 11), "6.12.0")
    assert qt_problem((3, 12), "6.12.0") is None
    assert qt_problem((3, 11), "6.11.3") is None


def test_no_display_is_explained():
    assert "no display" in display_problem({}, "linux")
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({}, "darwin") is None


def test_a_typo_is_not_opened_as_a_project(capsys):
    assert _mistyped_command(["trian", "x.json"]) == "unknown command or file 'trian' — did you mean `playground train`?"
    assert _mistyped_command(["project.json"]) is None
    assert _mistyped_command([]) is None
    assert main(["inspct", "x.json"]) == 2
    assert "did you mean `playground inspect`" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("playground ")


def test_missing_xcb_libraries_are_named_with_the_install_line(capsys, monkeypatch):
    import playground.app as app

    def loads(soname):
        return soname != "libxcb-cursor.so.0"   # a fresh Debian: everything but libxcb-cursor0

    problem = app.qt_library_problem({"DISPLAY": ":0"}, "linux", loads)
    assert "libxcb-cursor.so.0 is missing" in problem
    assert "\n    sudo apt install libxcb-cursor0\n" in problem
    assert app.qt_library_problem({"DISPLAY": ":0"}, "linux", lambda s: True) is None
    assert app.qt_library_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", loads) is None
    assert app.qt_library_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", loads) is None
    assert app.qt_library_problem({"DISPLAY": ":0"}, "darwin", loads) is None
    # `make run` on that machine: the line, status 1, and no QApplication (its failure is a core dump)
    monkeypatch.setattr(app, "_loads", loads)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("playground: error: the window needs") and "sudo apt install libxcb-cursor0" in err



def test_a_command_freezes_the_heap_only_when_it_ends_the_process(monkeypatch, capsys):
    # the interpreter's last collection walks every object the imports made (~0.5 s of each
    # `playground train`); a command that ends its process spares it, a call from inside a
    # process (a test, an embedding script) must not freeze that process's heap
    import gc
    import sys

    from playground.resources_path import example_path

    command = ["inspect", str(example_path("spiral.json"))]
    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    assert main(command) == 0
    assert frozen == []
    monkeypatch.setattr(sys, "argv", ["playground", *command])
    assert main() == 0
    assert frozen == [True]
    assert "Linear" in capsys.readouterr().out
