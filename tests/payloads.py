"""Pickles that run code when loaded: loading must refuse them, and the marker they would create stays absent."""

import os
import pathlib


class TouchOnLoad:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


class SystemOnLoad:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
