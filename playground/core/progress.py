"""Progress of a run from its events: where it is, how fast it goes, when it will end."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    epoch: int                 # the epoch in progress (1-based)
    epochs: int                # the last epoch of the run
    step: int                  # batches done in this epoch
    steps: int                 # batches per epoch
    fraction: float            # of the whole run, 0..1
    samples_per_second: float
    elapsed: float             # seconds since the run started, pauses excluded
    eta: float | None          # seconds left, None until there is a rate to go by


class ProgressTracker:
    """Feed it the Trainer's events; `progress` says where the run stands."""

    def __init__(self, first_epoch: int, epochs: int, clock=time.perf_counter):
        self.first_epoch = first_epoch  # epochs already done before this run (resumed runs)
        self.epochs = epochs            # epochs this run trains
        self.clock = clock
        self.started = clock()
        self.paused_total = 0.0
        self._paused_at: float | None = None
        self.progress = Progress(first_epoch + 1, first_epoch + epochs, 0, 0, 0.0, 0.0, 0.0, None)

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self.paused_total += self.clock() - self._paused_at
            self._paused_at = None

    def elapsed(self) -> float:
        now = self._paused_at if self._paused_at is not None else self.clock()
        return now - self.started - self.paused_total

    def update(self, event) -> Progress:
        p = self.progress
        if event.kind == "step":
            done_epochs = event.epoch - 1 - self.first_epoch
            fraction = (done_epochs + event.step / max(event.steps, 1)) / self.epochs
            p = Progress(event.epoch, self.first_epoch + self.epochs, event.step, event.steps,
                         fraction, event.samples_per_second, 0.0, None)
        elif event.kind == "epoch":
            done = event.epoch - self.first_epoch
            last = event.epoch >= event.epochs  # the run is over: show it complete, not "step 0"
            p = Progress(min(event.epoch + 1, event.epochs), event.epochs, p.steps if last else 0, p.steps,
                         done / self.epochs, p.samples_per_second, 0.0, None)
        elapsed = self.elapsed()
        eta = elapsed * (1 - p.fraction) / p.fraction if p.fraction > 0 else None
        self.progress = Progress(p.epoch, p.epochs, p.step, p.steps, min(p.fraction, 1.0),
                                 p.samples_per_second, elapsed, eta)
        return self.progress


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
