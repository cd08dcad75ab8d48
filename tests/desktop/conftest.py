"""The desktop tier: the real app under Xvfb, driven with real X input (xdotool)."""

import shutil

import pytest

from tests.xvfb import x_display  # noqa: F401 — the fixture


@pytest.fixture(scope="session")
def xdotool():
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (Debian: apt install xdotool)")
    return shutil.which("xdotool")
