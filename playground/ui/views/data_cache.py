"""One loaded copy of each dataset the views show, so switching tabs or redrawing never reloads it."""

from __future__ import annotations

import copy
import json
import time

from ...core import data as datasets
from ...core.errors import PlaygroundError
from ...core.spec import DataSpec

RETRY_AFTER_S = 30.0  # a failed load is not tried again on every redraw; files put in place later are found


class DataCache:
    def __init__(self, size: int = 2, retry_after_s: float = RETRY_AFTER_S):
        self._size = size  # MNIST is 200 MB as floats: keep only the last few specs
        self._retry_after_s = retry_after_s
        self._items: dict[str, datasets.Dataset] = {}
        self._failures: dict[str, tuple[float, PlaygroundError]] = {}

    def clear(self) -> None:
        """Forget every loaded dataset and remembered failure (their memory goes with the last user)."""
        self._items.clear()
        self._failures.clear()

    def get(self, spec: DataSpec) -> datasets.Dataset:
        """The dataset on the CPU; raises the core's DataError / ProjectError when it cannot load.

        Views never download (that is a training run's job, in its own thread): they show
        what is on disk, and a failure is remembered for a while instead of retried per redraw."""
        spec = copy.deepcopy(spec)
        fetches = False
        if spec.dataset in ("mnist", "fashion_mnist"):
            fetches = spec.params.get("download", True)
            spec.params["download"] = False
        key = json.dumps([spec.to_dict(), fetches], sort_keys=True)  # the message differs when a run would fetch
        failure = self._failures.get(key)
        if failure is not None and time.monotonic() - failure[0] < self._retry_after_s:
            raise failure[1].with_traceback(None)  # not one more frame per redraw
        if key not in self._items:
            try:
                dataset = datasets.load(spec, "cpu")
            except PlaygroundError as e:
                if fetches and str(e).endswith(datasets.TICK_DOWNLOAD):  # it is ticked: say what will fetch them
                    e = type(e)(str(e).removesuffix(datasets.TICK_DOWNLOAD) + ", or start training: download is "
                                "ticked, so the run fetches them.")
                self._failures[key] = (time.monotonic(), e)
                raise e from None
            self._failures.pop(key, None)
            self._items[key] = dataset
            while len(self._items) > self._size:
                self._items.pop(next(iter(self._items)))
        return self._items[key]


shared_cache = DataCache()
