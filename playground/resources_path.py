"""Where the shipped resources (example projects, icons) live, installed or in a checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    return Path(str(files("playground.resources").joinpath(*parts)))


def example_path(name: str) -> Path:
    return resource_path("examples", name) if name else resource_path("examples")
