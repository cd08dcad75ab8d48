"""Playground: a desktop neural-network playground for PyTorch."""

__version__ = "0.1.0"
