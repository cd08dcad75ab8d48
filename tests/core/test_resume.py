"""core.resume: a continued run is the same run — stopping and continuing gives, bit for bit, the
losses and weights of training straight through, for every scheduler, in the command and the window."""

from __future__ import annotations

import pytest
import torch

from playground.cli import main
from playground.core.checkpoint import load_checkpoint, save_checkpoint
from playground.core.resume import carry_over, resume_arguments, run_state
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import FINISHED, STOPPED, StepEvent, Trainer

SCHEDULERS = {
    "none": None,
    "StepLR": ComponentSpec("StepLR", {"step_size": 2, "gamma": 0.5}),
    "CosineAnnealingLR": ComponentSpec("CosineAnnealingLR", {}),
    "OneCycleLR": ComponentSpec("OneCycleLR", {"max_lr": 0.05}),
    "ReduceLROnPlateau": ComponentSpec("ReduceLROnPlateau", {"patience": 0, "factor": 0.5}),
}
OPTIMIZERS = {
    "SGD": ComponentSpec("SGD", {"lr": 0.05, "momentum": 0.9}),
    "Adam": ComponentSpec("Adam", {"lr": 0.01}),
}
# schedules with no end of their own: a finished run continued gives the longer run exactly
OPEN_ENDED = ("none", "StepLR", "ReduceLROnPlateau")


def project(optimizer: str, scheduler: str, epochs: int) -> Project:
    """A small spiral net with Dropout (random numbers every step) and a last batch of 8."""
    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 16}), LayerSpec("ReLU"),
                                LayerSpec("Dropout", {"p": 0.2}), LayerSpec("Linear", {"out_features": 3})])
    return Project(network, DataSpec("spiral", {"samples": 150, "val_fraction": 0.2, "seed": 2}),
                   TrainingSpec(optimizer=OPTIMIZERS[optimizer], scheduler=SCHEDULERS[scheduler],
                                batch_size=16, epochs=epochs, seed=5))


def epochs_of(trainer) -> list[tuple]:
    return [(e["epoch"], e["train_loss"], e["val_loss"], e["val_accuracy"], e["lr"])
            for e in trainer.history["epochs"]]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def continued(state, p: Project, tmp_path) -> Trainer:
    """Through a checkpoint file, as every real continuation goes."""
    save_checkpoint(state, tmp_path / "run.pt")
    kept, _ = carry_over(load_checkpoint(tmp_path / "run.pt"), p)
    trainer = Trainer(p, **resume_arguments(kept))
    return trainer


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_stopped_inside_an_epoch_and_continued_is_the_straight_run(optimizer, scheduler, tmp_path,
                                                                    one_torch_thread):
    straight = Trainer(project(optimizer, scheduler, 6))
    assert straight.run().status == FINISHED

    def stop_inside_epoch_4(event):
        # a stop lands on a step boundary, wherever the report fell: any one must do
        if isinstance(event, StepEvent) and event.epoch == 4:
            first.stop()

    first = Trainer(project(optimizer, scheduler, 6), stop_inside_epoch_4, report_interval=0)
    assert first.run().status == STOPPED
    state = run_state(first)
    assert state.epoch == 3 and 0 < state.progress["step"] < 8

    second = continued(state, project(optimizer, scheduler, 3), tmp_path)   # the 3 epochs left
    assert second.run().status == FINISHED
    assert epochs_of(second) == epochs_of(straight)
    assert same_weights(second.model.state_dict(), straight.model.state_dict())
    moments, expected = second.optimizer.state_dict()["state"], straight.optimizer.state_dict()["state"]
    assert moments.keys() == expected.keys()
    assert all(same_weights(moments[i], expected[i]) for i in expected)   # momentum, Adam's moments and step


@pytest.mark.parametrize("scheduler", OPEN_ENDED)
def test_a_finished_run_continued_is_the_longer_run(scheduler, tmp_path, one_torch_thread):
    straight = Trainer(project("Adam", scheduler, 6))
    straight.run()
    first = Trainer(project("Adam", scheduler, 3))
    assert first.run().status == FINISHED
    second = continued(run_state(first), project("Adam", scheduler, 3), tmp_path)
    second.run()
    assert epochs_of(second) == epochs_of(straight)
    assert same_weights(second.model.state_dict(), straight.model.state_dict())


@pytest.mark.parametrize("scheduler", ["CosineAnnealingLR", "OneCycleLR"])
def test_a_schedule_that_has_ended_restarts_instead_of_training_at_its_final_rate(scheduler, tmp_path,
                                                                                   one_torch_thread):
    first = Trainer(project("SGD", scheduler, 3))
    first.run()
    final_lr = first.history["epochs"][-1]["lr"]
    second = continued(run_state(first), project("SGD", scheduler, 3), tmp_path)
    second.prepare()
    assert any(f"the saved {scheduler} schedule had ended" in w for w in second.warnings)
    second.run()
    resumed = [e["lr"] for e in second.history["epochs"][3:]]
    assert len(resumed) == 3 and max(resumed) > 10 * max(final_lr, 1e-8)   # it trains, not at lr 0


def test_changed_settings_leave_the_parts_that_no_longer_apply(one_torch_thread):
    first = Trainer(project("SGD", "StepLR", 1))
    first.run()
    state = run_state(first)
    other = project("Adam", "StepLR", 1)
    kept, notes = carry_over(state, other)
    assert kept.optimizer is None and kept.scheduler is None and kept.progress is not None
    assert any("optimizer" in n for n in notes)
    reseeded = project("SGD", "StepLR", 1)
    reseeded.training.seed = 99
    kept, notes = carry_over(state, reseeded)
    assert kept.optimizer is not None and kept.progress is None
    assert any("new order from the seed" in n for n in notes)


def test_the_command_line_continues_the_same_run(tmp_path, capsys):
    path = tmp_path / "p.json"
    project("SGD", "StepLR", 6).save(path)
    assert main(["train", str(path), "--quiet", "--out", str(tmp_path / "six.pt"),
                 "--metrics", str(tmp_path / "six.json")]) == 0
    assert main(["train", str(path), "--quiet", "--epochs", "3", "--out", str(tmp_path / "three.pt"),
                 "--metrics", str(tmp_path / "three.json")]) == 0
    assert main(["train", str(path), "--quiet", "--epochs", "3", "--resume", str(tmp_path / "three.pt"),
                 "--out", str(tmp_path / "again.pt"), "--metrics", str(tmp_path / "again.json")]) == 0
    six, again = load_checkpoint(tmp_path / "six.pt"), load_checkpoint(tmp_path / "again.pt")
    assert again.epoch == 6
    assert [e["train_loss"] for e in again.history["epochs"]] == [e["train_loss"] for e in six.history["epochs"]]
    assert same_weights(again.model, six.model)


def test_a_cosine_run_continued_by_the_command_does_not_train_at_lr_0(tmp_path, capsys):
    path = tmp_path / "p.json"
    project("SGD", "CosineAnnealingLR", 2).save(path)
    assert main(["train", str(path), "--quiet", "--out", str(tmp_path / "a.pt"),
                 "--metrics", str(tmp_path / "a.json")]) == 0
    assert main(["train", str(path), "--quiet", "--resume", str(tmp_path / "a.pt"),
                 "--out", str(tmp_path / "b.pt"), "--metrics", str(tmp_path / "b.json")]) == 0
    lrs = [e["lr"] for e in load_checkpoint(tmp_path / "b.pt").history["epochs"]]
    assert lrs[1] == pytest.approx(0.0, abs=1e-12) and lrs[2] > 0.01   # epoch 3 trains after the restart
    assert "schedule had ended" in capsys.readouterr().err
