"""Shared test set-up: headless Qt and the real MNIST test set when it is present."""

import os
from pathlib import Path

import pytest

# Set before anything imports Qt, so every Qt test runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
