"""A virtual X display (Xvfb) for the tests that need a real X server: a fixture, or a skip that says why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

SCREEN = "1024x700x24"   # the small laptop screen of issue 16: the first window must fit it


def start_xvfb(screen: str = SCREEN) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a display number of its own choosing (-displayfd: no clash with other servers);
    returns the process and ":N" once the server accepts connections."""
    read, write = os.pipe()
    try:
        server = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", screen, "-nolisten", "tcp", "-noreset"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()   # written once the server is ready: an event, not a sleep
    if not number:
        server.kill()
        server.wait()
        pytest.skip("Xvfb did not start (it wrote no display number)")
    return server, f":{number}"


@pytest.fixture(scope="session")
def x_display():
    """":N" of a fresh Xvfb screen of 1024x700, or a skip naming what is missing."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt install xvfb)")
    server, display = start_xvfb()
    yield display
    server.terminate()
    server.wait()
