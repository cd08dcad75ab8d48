"""Progress, elapsed time and ETA from a run's events."""

from playground.core.progress import ProgressTracker, format_duration
from playground.core.training import EpochEvent, StepEvent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def step(epoch, step, steps=10):
    return StepEvent(epoch, step, steps, (epoch - 1) * steps + step, 0.5, 0.01, 1000.0)


def test_fraction_elapsed_and_eta():
    clock = Clock()
    tracker = ProgressTracker(first_epoch=0, epochs=4, clock=clock)
    clock.now += 10
    p = tracker.update(step(1, 5))
    assert (p.epoch, p.epochs, p.step, p.steps) == (1, 4, 5, 10)
    assert p.fraction == 0.125 and p.elapsed == 10 and p.eta == 70
    clock.now += 10
    p = tracker.update(EpochEvent(2, 4, 0.4, 0.3, 0.9, 1000.0, 5.0, 0.01))
    assert p.fraction == 0.5 and p.epoch == 3 and p.eta == 20


def test_pauses_do_not_count():
    clock = Clock()
    tracker = ProgressTracker(0, 2, clock=clock)
    clock.now += 5
    tracker.pause()
    clock.now += 100
    assert tracker.elapsed() == 5
    tracker.resume()
    clock.now += 5
    assert tracker.update(step(1, 5)).elapsed == 10


def test_resumed_runs_count_from_their_first_epoch():
    tracker = ProgressTracker(first_epoch=3, epochs=2, clock=Clock())
    assert tracker.progress.epoch == 4 and tracker.progress.epochs == 5
    assert tracker.update(step(5, 10)).fraction == 1.0
    done = tracker.update(EpochEvent(5, 5, 0.1, 0.1, None, 1000.0, 1.0, 0.01))
    assert (done.epoch, done.step, done.steps, done.fraction) == (5, 10, 10, 1.0)


def test_format_duration():
    assert format_duration(None) == "—"
    assert format_duration(59.6) == "1:00"
    assert format_duration(3725) == "1:02:05"
