"""A Trainer callback that writes the run into a run store as it trains (headless: the command line
and sweeps; the window records from its worker's messages with the same RunWriter)."""

from __future__ import annotations

from .errors import PlaygroundError
from .run_store import RunWriter
from .training import epoch_record


class StoreRecorder:
    """Wraps a Trainer's callback: each epoch goes to the writer with a copy of the weights after it.

    Construct, pass as the Trainer's callback, `begin(trainer)` after prepare() (the initial weights),
    `end(trainer, end_event)` after run() (the final checkpoint, the status)."""

    def __init__(self, writer: RunWriter | None, inner=None, snapshots: bool = True, on_error=None):
        self.writer = writer
        # a store that cannot be written (a full disk) stops the recording, never the training
        self.on_error = on_error or (lambda message: None)
        self.error: str | None = None
        self.inner = inner or (lambda event: None)
        self.snapshots = snapshots
        self.trainer = None
        self._steps: list = []
        self._steps_per_epoch = 0

    def begin(self, trainer, writer: RunWriter | None = None) -> None:
        self.trainer = trainer
        self.writer = writer or self.writer
        if self.writer is not None and self.snapshots and trainer.model is not None:
            self.writer.snapshot(trainer.epoch, _weights(trainer))

    def __call__(self, event) -> None:
        self.inner(event)
        if self.writer is None:
            return   # not recording (yet): the writer comes once the settings are known to train
        if event.kind == "step":
            self._steps.append((event.global_step, event.loss))
            self._steps_per_epoch = event.steps
        elif event.kind == "epoch":
            weights = _weights(self.trainer) if self.snapshots and self.trainer is not None else None
            record = epoch_record(event)
            try:
                self.writer.epoch(record, weights, self._steps, self._steps_per_epoch)
            except (PlaygroundError, OSError) as e:
                self._give_up(e)
            self._steps = []

    def _give_up(self, e: Exception) -> None:
        self.error = f"the run store stopped recording this run at its epoch: {e}"
        self.writer.close()   # the run reads as interrupted, the epochs written so far kept
        self.writer = None
        self.on_error(self.error)

    def end(self, trainer, end) -> None:
        from .resume import run_state

        if self.writer is None:
            return
        self.writer.add_steps(self._steps, self._steps_per_epoch)
        self._steps = []
        state = run_state(trainer) if trainer.model is not None and trainer.optimizer is not None else None
        self.writer.finish(end.status, end.reason, end.test_accuracy, state)


def _weights(trainer) -> dict:
    # between steps: no tensor the optimizer is writing; CPU copies, so the file holds plain tensors
    return {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}


def train_recorded(project, writer: RunWriter, callback=None, *, dataset=None, resume: dict | None = None,
                   should_stop=None):
    """Train `project` in this process into `writer`'s run: (trainer, EndEvent). A setting that cannot
    train ends the run as failed, in its words; `should_stop()` is asked at every event."""
    from .errors import PlaygroundError
    from .training import FAILED, EndEvent, Trainer

    def inner(event):
        if callback is not None:
            callback(event)
        if should_stop is not None and should_stop():
            trainer.stop()

    recorder = StoreRecorder(None, inner)
    trainer = Trainer(project, recorder, dataset=dataset, report_interval=0.1, **(resume or {}))
    try:
        trainer.prepare()
    except PlaygroundError as e:
        writer.finish(FAILED, str(e))
        return trainer, EndEvent(FAILED, str(e), trainer.epoch)
    recorder.begin(trainer, writer)
    try:
        end = trainer.run()
    except BaseException:
        writer.close()   # the run reads as interrupted, its finished epochs kept
        raise
    recorder.end(trainer, end)
    return trainer, end
