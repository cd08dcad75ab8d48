"""Faults put into a training worker process (its `initializer`, as multiprocessing.Pool's): the
window must hear of every one of them as a failed run, and go on."""

from torch import nn


class _Exploding(nn.Module):
    def forward(self, output, target):
        raise RuntimeError("the loss exploded on purpose")


def loss_explodes_then_out_of_memory() -> None:
    """The process's first run fails as its loss is computed, its second with a MemoryError in the
    Trainer; the runs after it train as usual. One process for all: it must outlive each failure."""
    from playground.core import training

    real_build_loss, real_prepare, real_run = training.build_loss, training.Trainer.prepare, training.Trainer.run
    trainers: list = []   # each run's Trainer, in the order the runs came

    def prepare(self):
        if not any(t is self for t in trainers):
            trainers.append(self)
        return real_prepare(self)

    def build_loss(*args, **kwargs):
        return _Exploding() if len(trainers) == 1 else real_build_loss(*args, **kwargs)

    def run(self):
        if len(trainers) == 2 and trainers[-1] is self:
            raise MemoryError("no room")
        return real_run(self)

    training.Trainer.prepare, training.Trainer.run, training.build_loss = prepare, run, build_loss


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
