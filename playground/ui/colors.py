"""Colour helpers, kept for their importers; the look itself lives in theme.py."""

from .theme import rgba, with_alpha  # noqa: F401
