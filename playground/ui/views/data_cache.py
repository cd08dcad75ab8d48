"""One loaded copy of each dataset the views show, so switching tabs or redrawing never reloads it."""

from __future__ import annotations

import json

from ...core import data as datasets
from ...core.spec import DataSpec


class DataCache:
    def __init__(self, size: int = 2):
        self._size = size  # MNIST is 200 MB as floats: keep only the last few specs
        self._items: dict[str, datasets.Dataset] = {}

    def get(self, spec: DataSpec) -> datasets.Dataset:
        """The dataset on the CPU; raises the core's DataError / ProjectError when it cannot load."""
        key = json.dumps(spec.to_dict(), sort_keys=True)
        if key not in self._items:
            dataset = datasets.load(spec, "cpu")
            self._items[key] = dataset
            while len(self._items) > self._size:
                self._items.pop(next(iter(self._items)))
        return self._items[key]


shared_cache = DataCache()
