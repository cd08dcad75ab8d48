"""ui.worker: a TrainingRun trains in its own thread, delivers throttled signals in the GUI thread,
stops, pauses and shuts down promptly, and reports every failure as a finished(failed) signal."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from PySide6.QtCore import QThread
from shiboken6 import Shiboken
from torch import nn

from playground.core import training
from playground.core.spec import Project
from playground.core.training import FAILED, FINISHED, STOPPED, EndEvent
from playground.ui.worker import TrainingRun, _thread_keeper

TIMEOUT_MS = 60_000   # a whole short run on a busy 2-core machine
PROMPT_MS = 5_000     # stop, failure and shutdown must be this quick


@pytest.fixture
def xor(examples):
    def make(**settings) -> Project:
        project = Project.load(examples / "xor.json")
        data = settings.pop("data", None)
        if data:
            project.data.params.update(data)
        for key, value in settings.items():
            setattr(project.training, key, value)
        return project

    return make


@pytest.fixture
def make_run():
    """TrainingRuns that must have ended by the end of the test (shut down either way, never leaked)."""
    runs: list[TrainingRun] = []

    def make(project: Project, resume: dict | None = None) -> TrainingRun:
        run = TrainingRun(project, resume)
        runs.append(run)
        return run

    yield make
    left = [run for run in runs if run.thread_running]
    for run in runs:
        assert run.shutdown(PROMPT_MS)
    assert not left, f"{len(left)} run(s) still training at the end of the test"


class Recorder:
    """Everything a run emits, with the thread and time each slot ran in."""

    def __init__(self, run: TrainingRun):
        self.steps, self.epochs, self.progress, self.warnings = [], [], [], []
        self.step_times, self.progress_times = [], []
        self.threads: set = set()
        run.step_reported.connect(self._on_run_step_reported)
        run.epoch_finished.connect(self._on_run_epoch_finished)
        run.progressed.connect(self._on_run_progressed)
        run.warned.connect(self.warnings.append)

    def _on_run_step_reported(self, steps):
        self.threads.add(QThread.currentThread())
        self.step_times.append(time.perf_counter())
        self.steps.append(list(steps))

    def _on_run_epoch_finished(self, epoch):
        self.threads.add(QThread.currentThread())
        self.epochs.append(epoch)

    def _on_run_progressed(self, progress):
        self.threads.add(QThread.currentThread())
        self.progress_times.append(time.perf_counter())
        self.progress.append(progress)

    def all_steps(self):
        return [s for batch in self.steps for s in batch]


def loop_threads(run: TrainingRun) -> set[int]:
    """Records the threads the Trainer's callback is called in."""
    seen: set[int] = set()
    callback = run.trainer.callback

    def spy(event):
        seen.add(threading.get_ident())
        callback(event)

    run.trainer.callback = spy
    return seen


def test_trains_xor_to_the_end_with_signals_in_the_gui_thread(qtbot, qapp, xor, make_run):
    run = make_run(xor(epochs=12))
    rec = Recorder(run)
    loop = loop_threads(run)
    with qtbot.waitSignal(run.finished, timeout=TIMEOUT_MS) as blocker:
        run.start()
        assert run.is_running()
    end: EndEvent = blocker.args[0]
    assert end.status == FINISHED, end.reason
    assert end.epochs_completed == 12
    assert not run.thread_running and not run.is_running()
    assert run.wait(0)

    assert rec.threads == {qapp.thread()}          # every slot ran in the GUI thread ...
    assert loop and threading.get_ident() not in loop  # ... and the loop in another one
    assert [e.epoch for e in rec.epochs] == list(range(1, 13))
    assert rec.epochs[-1].val_loss < rec.epochs[0].val_loss * 0.7
    assert rec.epochs[-1].train_loss < rec.epochs[0].train_loss * 0.7
    steps = rec.all_steps()
    assert [s.global_step for s in steps] == sorted({s.global_step for s in steps})
    assert len(steps) == len(run.trainer.history["steps"])  # every reported loss reaches the GUI
    assert rec.progress[-1].fraction == pytest.approx(1.0)
    assert run.trainer.model is not None and run.end is end


def test_trains_a_copy_of_the_project(xor, make_run):
    project = xor(epochs=3)
    run = make_run(project)
    project.training.epochs = 99
    assert run.project.training.epochs == 3


ENDLESS = 100_000   # epochs (the most a project takes) no machine finishes in a test: the run ends when told to


def test_stop_midway_ends_promptly(qtbot, xor, make_run):
    run = make_run(xor(epochs=ENDLESS))
    with qtbot.waitSignal(run.step_reported, timeout=TIMEOUT_MS):
        run.start()
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.stop()   # only sets a flag: the loop notices at its next step
    end = blocker.args[0]
    assert end.status == STOPPED
    assert "stopped by the user" in end.reason
    assert run.trainer.epoch < ENDLESS
    assert not run.thread_running


def test_pause_holds_progress_and_resume_continues(qtbot, xor, make_run):
    run = make_run(xor(epochs=ENDLESS))
    rec = Recorder(run)
    with qtbot.waitSignal(run.step_reported, timeout=TIMEOUT_MS):
        run.start()
    run.pause()
    assert run.is_paused()
    qtbot.waitUntil(lambda: run.trainer.holding, timeout=PROMPT_MS)  # the loop reached the pause and waits
    epoch, reported = run.trainer.epoch, len(run.trainer.history["steps"])
    # what it reported before the pause arrives with the next delivery; nothing after it
    qtbot.waitUntil(lambda: len(rec.all_steps()) == reported, timeout=PROMPT_MS)
    with qtbot.assertNotEmitted(run.step_reported, wait=200):
        pass
    assert run.trainer.holding
    assert (run.trainer.epoch, len(run.trainer.history["steps"])) == (epoch, reported)
    delivered = len(rec.all_steps())
    assert delivered == reported
    assert run.thread_running and run.is_running()

    with qtbot.waitSignal(run.step_reported, timeout=PROMPT_MS):
        run.resume()
    assert not run.is_paused()
    assert rec.all_steps()[-1].global_step > rec.all_steps()[delivered - 1].global_step
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.stop()
    assert blocker.args[0].status == STOPPED


def test_stop_while_paused_ends_the_run(qtbot, xor, make_run):
    run = make_run(xor(epochs=ENDLESS))
    with qtbot.waitSignal(run.step_reported, timeout=TIMEOUT_MS):
        run.start()
    run.pause()
    qtbot.waitUntil(lambda: run.trainer.holding, timeout=PROMPT_MS)
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.stop()
    assert blocker.args[0].status == STOPPED


def test_a_bad_setting_arrives_as_failed(qtbot, xor, make_run):
    run = make_run(xor(device="cuda:99"))  # no machine has a hundredth GPU
    rec = Recorder(run)
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.start()
    end = blocker.args[0]
    assert end.status == FAILED
    assert "cuda:99" in end.reason and "cannot be used" in end.reason
    assert rec.steps == [] and rec.epochs == []
    assert not run.is_running()


class Exploding(nn.Module):
    def forward(self, output, target):
        raise RuntimeError("the loss exploded on purpose")


def test_an_exception_in_the_loop_arrives_as_failed(qtbot, xor, make_run, monkeypatch):
    monkeypatch.setattr(training, "build_loss", lambda *args, **kwargs: Exploding())
    run = make_run(xor(epochs=5))
    with qtbot.waitSignal(run.finished, timeout=TIMEOUT_MS) as blocker:
        run.start()
    end = blocker.args[0]
    assert end.status == FAILED
    assert "RuntimeError" in end.reason and "exploded on purpose" in end.reason


def test_an_exception_out_of_the_trainer_arrives_as_failed(qtbot, xor, make_run, monkeypatch):
    def broken(self):
        raise MemoryError("no room")

    monkeypatch.setattr(training.Trainer, "run", broken)
    run = make_run(xor())
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.start()
    assert blocker.args[0].status == FAILED
    assert "MemoryError: no room" in blocker.args[0].reason


def test_warnings_are_signalled(qtbot, xor, make_run):
    run = make_run(xor(epochs=1, mixed_precision=True, device="cpu"))
    rec = Recorder(run)
    with qtbot.waitSignal(run.finished, timeout=TIMEOUT_MS):
        run.start()
    assert any("mixed precision needs CUDA" in w for w in rec.warnings)


def test_shutdown_while_running_leaves_no_thread(qtbot, xor, make_run):
    run = make_run(xor(epochs=ENDLESS))
    with qtbot.waitSignal(run.step_reported, timeout=TIMEOUT_MS):
        run.start()
    assert run.thread_running
    assert run.shutdown(PROMPT_MS)   # True: the thread ended within the time given
    assert not run.thread_running
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        pass
    assert blocker.args[0].status == STOPPED


def test_deleting_a_running_run_stops_it_without_destroying_its_thread(qtbot, xor):
    run = TrainingRun(xor(epochs=ENDLESS))
    with qtbot.waitSignal(run.step_reported, timeout=TIMEOUT_MS):
        run.start()
    trainer = run.trainer
    Shiboken.delete(run)  # what a parent window's destructor does; Qt would abort on a running QThread
    assert trainer._stop.is_set()
    qtbot.waitUntil(lambda: _thread_keeper().running() == 0, timeout=PROMPT_MS)


def test_a_run_starts_once(qtbot, xor, make_run):
    run = make_run(xor(epochs=1))
    with qtbot.waitSignal(run.finished, timeout=TIMEOUT_MS):
        run.start()
    with pytest.raises(RuntimeError, match="starts once"):
        run.start()


def test_signals_are_throttled_and_every_step_arrives(qtbot, xor, make_run):
    # one batch per epoch: the Trainer reports every step, hundreds a second
    run = make_run(xor(epochs=1500, batch_size=64, data={"samples": 40}))
    rec = Recorder(run)
    with qtbot.waitSignal(run.finished, timeout=TIMEOUT_MS) as blocker:
        run.start()
    assert blocker.args[0].status == FINISHED
    assert len(rec.epochs) == 1500
    assert len(rec.all_steps()) == len(run.trainer.history["steps"]) == 1500
    for times in (rec.step_times, rec.progress_times):
        assert times
        assert max_per_second(times) <= 35


def max_per_second(times: list[float]) -> int:
    """The most signals in any one-second window."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_resume_continues_from_a_checkpoint(qtbot, xor, make_run):
    first = make_run(xor(epochs=2))
    with qtbot.waitSignal(first.finished, timeout=TIMEOUT_MS):
        first.start()
    t = first.trainer
    resume = {
        "model_state": {k: v.clone() for k, v in t.model.state_dict().items()},
        "optimizer_state": t.optimizer.state_dict(),
        "start_epoch": t.epoch,
        "history": t.history,
    }
    second = make_run(xor(epochs=2), resume)
    rec = Recorder(second)
    with qtbot.waitSignal(second.finished, timeout=TIMEOUT_MS) as blocker:
        second.start()
    assert blocker.args[0].status == FINISHED
    assert [e.epoch for e in rec.epochs] == [3, 4]
    assert rec.progress[-1].fraction == pytest.approx(1.0)
    assert len(second.trainer.history["epochs"]) == 4
    assert torch.is_tensor(next(iter(second.trainer.model.state_dict().values())))


def test_live_weights_are_reported_when_wanted(qtbot, examples):
    from playground.core.spec import Project
    from playground.ui.worker import TrainingRun

    project = Project.load(examples / "xor.json")
    project.training.epochs = ENDLESS   # it must still be training when the pictures have come
    run = TrainingRun(project)
    got, ended = [], []
    run.weights_reported.connect(got.append)
    run.finished.connect(ended.append)
    run.set_weights_wanted(True)
    run.start()
    qtbot.waitUntil(lambda: len(got) >= 2, timeout=TIMEOUT_MS)
    run.stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT_MS)
    assert ended[0].status == STOPPED
    assert set(got[0]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert got[0]["0.weight"].device.type == "cpu"
    assert not torch.equal(got[0]["0.weight"], got[-1]["0.weight"])  # the model moved between pictures
