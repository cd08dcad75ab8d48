"""What a run leaves and how another run continues it: one answer for the command line, the
window and the file menu.

A continued run is the same run: with the same settings, training 3 epochs, stopping, and
continuing for 3 more gives the losses and weights of 6 epochs straight, bit for bit on one
machine. That takes more than the weights: the optimizer's moments, the scheduler's position,
where the data order and dropout's random numbers stood, and how far into an epoch it stopped.
"""

from __future__ import annotations

import copy

from .checkpoint import Checkpoint
from .spec import DataSpec, Project

# Data settings that say where the files are, not what the data is
_LOCATION_PARAMS = ("root", "download")


def run_state(trainer) -> Checkpoint:
    """Everything `trainer`'s run leaves, as CPU copies of the run's own tensors.

    The optimizer's and scheduler's state and the data position are left out after a non-finite
    loss: the moments may hold NaN, and the weights went back to the last good ones."""
    trusted = trainer.optimizer is not None and trainer.optimizer_state_valid
    return Checkpoint(
        project=copy.deepcopy(trainer.project),
        model={k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()},
        optimizer=cpu_copy(trainer.optimizer.state_dict()) if trusted else None,
        scheduler=cpu_copy(trainer.scheduler.state_dict()) if trusted and trainer.scheduler else None,
        epoch=trainer.epoch,
        history=copy.deepcopy(trainer.history),
        progress=cpu_copy(trainer.progress) if trusted and trainer.progress else None,
    )


def carry_over(state: Checkpoint, project: Project) -> tuple[Checkpoint, list[str]]:
    """What of `state` a run of `project` continues from, and a note for each part left behind.

    The weights always go (the run checks that they fit its network). The optimizer's state goes
    when the optimizer and its settings are the same (torch's state would otherwise bring back the
    old settings); the scheduler's when the optimizer's does and the scheduler is the same; the
    data position when the data, the batches and the seed are the same."""
    before, now = state.project.training, project.training
    notes = []
    optimizer, scheduler, progress = state.optimizer, state.scheduler, state.progress
    if optimizer is not None and before.optimizer != now.optimizer:
        optimizer = None
        notes.append(f"the optimizer's settings changed ({before.optimizer.type} → {now.optimizer.type}): "
                     "it starts with fresh state")
    if scheduler is not None and (optimizer is None or before.scheduler != now.scheduler):
        scheduler = None
        if before.scheduler is not None and now.scheduler is not None:
            notes.append(f"the scheduler changed: {now.scheduler.type} starts from the beginning")
    batching = ("batch_size", "shuffle", "drop_last", "seed")
    same_batches = all(getattr(before, k) == getattr(now, k) for k in batching)
    if progress is not None and not (same_batches and _same_data(state.project.data, project.data)):
        progress = None
        notes.append("the data or its batches changed: the next epoch draws a new order from the seed")
    return Checkpoint(
        project=project, model=state.model, optimizer=optimizer, scheduler=scheduler,
        epoch=state.epoch, history=state.history, progress=progress,
    ), notes


def resume_arguments(state: Checkpoint) -> dict:
    """The Trainer's keyword arguments that continue `state` (best passed through carry_over first).

    Copies: torch's optimizer.load_state_dict keeps the tensors it is given, and the run would
    then update the held state in place (continuing the same weights twice would differ)."""
    return dict(
        model_state=state.model,   # copied into the model's own parameters
        optimizer_state=cpu_copy(state.optimizer),
        scheduler_state=copy.deepcopy(state.scheduler),
        start_epoch=state.epoch,
        history=copy.deepcopy(state.history),
        progress=cpu_copy(state.progress),
    )


def _same_data(a: DataSpec, b: DataSpec) -> bool:
    def what(spec: DataSpec) -> tuple:
        return spec.dataset, {k: v for k, v in spec.params.items() if k not in _LOCATION_PARAMS}

    return what(a) == what(b)


def cpu_copy(state):
    """A deep copy with every tensor on the CPU: nothing shared with a run that may go on training."""
    if hasattr(state, "detach"):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: cpu_copy(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(v) for v in state)
    return copy.deepcopy(state)
