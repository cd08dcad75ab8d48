"""The wheel carries what an installed Playground needs; the desktop entry, metainfo and icons agree."""

import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest

from tests.conftest import REPO

DESKTOP_ID = "io.github.playground.Playground"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """Built by setuptools from a copy of the working tree, offline, as `python -m build` would."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (in the test extra)")
    work = tmp_path_factory.mktemp("wheel")
    for name in ("playground", "resources"):  # what the wheel is built from; nothing else in the checkout
        shutil.copytree(REPO / name, work / "src" / name, ignore=_SKIP)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, work / "src" / name)
    subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                    "b.build_wheel(sys.argv[1])", str(work / "dist")],
                   cwd=work / "src", check=True, capture_output=True, timeout=120)
    (path,) = (work / "dist").glob("playground-*.whl")
    with zipfile.ZipFile(path) as z:
        yield z


def test_the_wheel_carries_every_module_resource_and_example(wheel):
    names = set(wheel.namelist())
    for source in (REPO / "playground").rglob("*.py"):
        assert source.relative_to(REPO).as_posix() in names, f"{source} is missing: add its package to pyproject"
    for example in (REPO / "resources" / "examples").glob("*.json"):
        assert f"playground/resources/examples/{example.name}" in names
    assert "playground/resources/icons/playground.svg" in names
    for size in ICON_SIZES:
        assert f"playground/resources/icons/playground-{size}.png" in names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def test_the_wheel_installs_the_command_and_the_gui_script(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    config = configparser.ConfigParser()
    config.read_string(wheel.read(entry_points).decode())
    assert dict(config["console_scripts"]) == {"playground": "playground.app:main"}
    assert dict(config["gui_scripts"]) == {"playground-gui": "playground.app:main"}
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    text = wheel.read(metadata).decode()
    assert "Provides-Extra: onnx" in text and re.search(r"Requires-Dist: onnxscript.*extra == .onnx.", text)


def test_desktop_entry_metainfo_icons_and_the_app_agree():
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str
    desktop.read(REPO / "packaging" / f"{DESKTOP_ID}.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Icon"] == DESKTOP_ID and entry["Exec"].split()[0] == "playground"
    root = ET.parse(REPO / "packaging" / f"{DESKTOP_ID}.metainfo.xml").getroot()
    assert root.findtext("id") == DESKTOP_ID
    assert root.findtext("launchable") == f"{DESKTOP_ID}.desktop"
    assert root.find("releases/release").get("version") == __import__("playground").__version__
    source = (REPO / "playground" / "ui" / "main_window.py").read_text()
    assert f'DESKTOP_ID = "{DESKTOP_ID}"' in source and "setDesktopFileName(DESKTOP_ID)" in source
    for size in ICON_SIZES:  # real PNGs of the size their name says
        head = (REPO / "resources" / "icons" / f"playground-{size}.png").read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(head[16:20], "big") == int.from_bytes(head[20:24], "big") == size


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-validate is not installed")
def test_the_desktop_entry_is_valid():
    result = subprocess.run(["desktop-file-validate", str(REPO / "packaging" / f"{DESKTOP_ID}.desktop")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstreamcli is not installed")
def test_the_metainfo_is_valid():
    result = subprocess.run(["appstreamcli", "validate", "--no-net",
                             str(REPO / "packaging" / f"{DESKTOP_ID}.metainfo.xml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
