"""Faults put into a training worker process (its `initializer`, as multiprocessing.Pool's): the
window must hear of every one of them as a failed run, and go on."""

from torch import nn


class _Exploding(nn.Module):
    def forward(self, output, target):
        raise RuntimeError("the loss exploded on purpose")


def exploding_loss() -> None:
    from playground.core import training

    training.build_loss = lambda *args, **kwargs: _Exploding()


def trainer_runs_out_of_memory() -> None:
    from playground.core import training

    def broken(self):
        raise MemoryError("no room")

    training.Trainer.run = broken


def stop_after_epoch_3() -> None:
    """Stop pressed as epoch 3 ends, in the training process itself (a Stop from the window would
    arrive a step or two later)."""
    from playground.core import worker_loop

    original = worker_loop._Run.on_event

    def on_event(self, event):
        original(self, event)
        if event.kind == "epoch" and event.epoch == 3:
            self.trainer.stop()

    worker_loop._Run.on_event = on_event


def loading_never_ends() -> None:
    """A dataset load that hangs (a first download on a dead network, a stalled network drive)."""
    import threading

    from playground.core import data

    def hang(*args, **kwargs):
        threading.Event().wait()

    data.load = hang
