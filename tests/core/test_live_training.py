"""L1/L2 penalties, settings changed while a run trains, and training a step or an epoch at a time:
the terms are their formulas, their gradient is autograd's, off changes nothing, a change takes
effect at exactly the next step and is recorded, a step is one optimizer step."""

from __future__ import annotations

import math
import threading

import pytest
import torch
from torch import nn

from playground.core.checkpoint import load_checkpoint, save_checkpoint
from playground.core.data import load
from playground.core.errors import TrainingError
from playground.core.optim import FUSED, OPTIMIZERS
from playground.core.params import check_params
from playground.core.resume import run_state
from playground.core.spec import Project
from playground.core.training import FINISHED, STOPPED, ChangeEvent, HeldEvent, Trainer, initial_model, penalised_weights

from .test_training import TIMEOUT, epochs_of, hand_written_losses, make, mlp, run_in_thread, steps_of, train

EPS32 = 2.0**-24   # float32's unit roundoff: each add or multiply is off by at most this share


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


def tiny(**settings) -> Project:
    """16 xor samples, all in one batch in their own order: step 1 trains on x_train as it is."""
    settings.setdefault("epochs", 1)
    settings.setdefault("optimizer", ("SGD", {"lr": 0.1}))
    project = make(mlp(2, 3, 2), data={"samples": 20}, batch_size=16, shuffle=False, **settings)
    return project


def hand_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor:
    """The formula, over the weight matrices only (not the biases), in float64."""
    ws = [p.detach().double() for name, p in model.named_parameters() if name.endswith("weight")]
    return l1 * sum(w.abs().sum() for w in ws) + l2 * sum(w.square().sum() for w in ws)


# --- penalties -----------------------------------------------------------------------------------


def test_the_penalty_terms_are_their_formulas_over_the_weights_alone():
    project = tiny(l1=0.01, l2=0.003)
    ds = load(project.data)
    start = initial_model(project, torch.device("cpu"))
    assert [tuple(p.shape) for p in penalised_weights(start)] == [(3, 2), (2, 3)]   # no bias
    trainer, events, end = train(project, dataset=ds, report_interval=0)
    step, epoch = steps_of(events)[0], epochs_of(events)[0]
    expected = hand_penalty(start, 0.01, 0.003).item()   # the step's loss comes from the first weights
    # float32 sums of n = 12 non-negative terms, times the rate, plus one add: each operation is off by
    # at most EPS32 of the running total, so the whole by at most (n + 3)·EPS32 of it
    assert step.penalty == pytest.approx(expected, rel=(12 + 3) * EPS32, abs=0)
    with_biases = expected + 0.01 * sum(p.abs().sum().item() for n, p in start.named_parameters() if "bias" in n)
    assert step.penalty != pytest.approx(with_biases, rel=1e-3)
    assert epoch.penalty == step.penalty          # one step an epoch: the epoch's mean is that step's
    assert trainer.history["penalties"] == [[1, step.penalty]]
    assert trainer.history["epochs"][0]["penalty"] == epoch.penalty
    # the data's loss stays its own figure: the penalty is not in it
    with torch.no_grad():
        data_loss = nn.CrossEntropyLoss()(start(ds.x_train[:16]), ds.y_train[:16]).item()
    assert step.loss == pytest.approx(data_loss, rel=8 * EPS32)


def test_the_penalty_gradient_is_autograd_of_the_formula():
    l1, l2, lr = 0.02, 0.05, 0.1
    project = tiny(l1=l1, l2=l2)
    ds = load(project.data)
    trainer, _, end = train(project, dataset=ds, report_interval=0)
    assert end.status == FINISHED
    model = initial_model(project, torch.device("cpu"))
    x, y = ds.x_train[:16], ds.y_train[:16]
    objective = nn.CrossEntropyLoss()(model(x), y) + sum(
        l1 * p.abs().sum() + l2 * p.square().sum() for n, p in model.named_parameters() if n.endswith("weight"))
    objective.backward()
    for (name, p), trained in zip(model.named_parameters(), trainer.model.parameters()):
        by_hand = p.detach() - lr * p.grad
        # the penalty's gradient is elementwise (l1·sign w + 2·l2·w): no sum whose order could differ,
        # so the two updates agree to the last bits of w − lr·g (one rounding each, and of the product)
        assert torch.allclose(trained.detach(), by_hand, rtol=4 * EPS32, atol=4 * EPS32 * lr * p.grad.abs().max()), name
    plain = initial_model(project, torch.device("cpu"))
    nn.CrossEntropyLoss()(plain(x), y).backward()
    assert not torch.allclose(plain[0].weight.grad, model[0].weight.grad)   # the penalty did move the step


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_penalties_off_train_exactly_as_before(name):
    project = make(optimizer=(name, {}), epochs=2, l1=0.0, l2=0.0)
    assert "l1" not in project.to_dict()["training"]   # off: the file is as an older Playground writes it
    ds = load(project.data)
    trainer, events, _ = train(project, dataset=ds, report_interval=0)
    params = check_params(OPTIMIZERS[name].params, {}, "")
    losses = [e.loss for e in steps_of(events)]
    assert losses == hand_written_losses(project, ds, getattr(torch.optim, name), params, fused=name in FUSED)
    assert all(e.penalty is None for e in events if e.kind in ("step", "epoch"))
    assert "penalties" not in trainer.history and "changes" not in trainer.history
    assert all("penalty" not in record for record in trainer.history["epochs"])


def test_penalty_rates_round_trip_and_are_checked():
    project = make(l1=0.001, l2=0.5)
    again = Project.from_json(project.to_json())
    assert (again.training.l1, again.training.l2) == (0.001, 0.5)
    raw = project.to_dict()
    raw["training"]["l2"] = -1
    with pytest.raises(Exception, match="training.l2 must be from 0"):
        Project.from_dict(raw)


# --- live changes --------------------------------------------------------------------------------


def seen_lrs(trainer: Trainer) -> list[float]:
    """The learning rate each optimizer step runs with, as torch's step sees it."""
    lrs: list[float] = []
    trainer.prepare()
    trainer.optimizer.register_step_pre_hook(lambda opt, args, kwargs: lrs.append(opt.param_groups[0]["lr"]))
    return lrs


def test_a_live_lr_change_takes_effect_at_exactly_the_next_step(tmp_path):
    project = make(optimizer=("SGD", {"lr": 0.1, "momentum": 0.5}), epochs=2)
    ds = load(project.data)
    plain_trainer, plain_events, _ = train(project, dataset=ds, report_interval=0)
    events: list = []

    def on_event(event):
        events.append(event)
        if event.kind == "step" and event.global_step == 3:
            trainer.change(lr=0.5)   # from the callback, between step 3 and step 4

    trainer = Trainer(project, on_event, dataset=ds, report_interval=0)
    lrs = seen_lrs(trainer)
    assert trainer.run().status == FINISHED
    assert lrs == [0.1] * 3 + [0.5] * (len(lrs) - 3)
    losses, plain = [e.loss for e in steps_of(events)], [e.loss for e in steps_of(plain_events)]
    # step 4's loss still comes from the weights of 3 steps at the old rate; step 5's from a faster one
    assert losses[:4] == plain[:4] and losses[4] != plain[4]
    change = {"step": 3, "epoch": 1, "setting": "lr", "old": 0.1, "new": 0.5}
    assert [e for e in events if isinstance(e, ChangeEvent)] == [ChangeEvent(**change)]
    assert trainer.history["changes"] == [change]
    assert trainer.project.training.optimizer.params["lr"] == 0.5   # the run's settings say what it trains with
    save_checkpoint(run_state(trainer), tmp_path / "run.pt")
    raw = torch.load(tmp_path / "run.pt", weights_only=True)
    assert raw["history"]["changes"] == [change]
    assert load_checkpoint(tmp_path / "run.pt").history["changes"] == [change]


def test_momentum_betas_and_penalties_change_live():
    project = make(optimizer=("Adam", {"lr": 0.01}), epochs=1)
    events: list = []

    def on_event(event):
        events.append(event)
        if event.kind == "step" and event.global_step == 2:
            trainer.change(momentum=0.5, l2=0.01)   # an Adam's momentum is its beta1

    trainer = Trainer(project, on_event, report_interval=0)
    betas: list = []
    trainer.prepare()
    trainer.optimizer.register_step_pre_hook(lambda opt, a, k: betas.append(opt.param_groups[0]["betas"]))
    trainer.run()
    assert betas[:2] == [(0.9, 0.999)] * 2 and set(betas[2:]) == {(0.5, 0.999)}
    steps = steps_of(events)
    assert [s.penalty for s in steps[:2]] == [None, None] and all(s.penalty > 0 for s in steps[2:])
    assert sorted((c["setting"], c["old"], c["new"]) for c in trainer.history["changes"]) == [
        ("betas", [0.9, 0.999], [0.5, 0.999]), ("l2", 0.0, 0.01)]
    assert trainer.penalty_rates == (0.0, 0.01)


def test_a_live_batch_size_change_goes_on_from_the_same_sample():
    project = make(epochs=2, optimizer=("SGD", {"lr": 0.1}))   # 320 samples, 10 batches of 32
    events: list = []

    def on_event(event):
        events.append(event)
        if event.kind == "step" and event.global_step == 2:
            trainer.change(batch_size=64)

    trainer = Trainer(project, on_event, report_interval=0)
    trainer.run()
    first, second = [s for s in steps_of(events) if s.epoch == 1], [s for s in steps_of(events) if s.epoch == 2]
    assert len(first) == 2 + (320 - 64) // 64 and first[-1].step == first[-1].steps == 6
    assert len(second) == second[-1].steps == 5
    assert trainer.project.training.batch_size == 64 and trainer.progress["step"] == 0


def test_a_refused_change_says_why_and_changes_nothing():
    trainer = Trainer(make(network=mlp(2, 4, 2), optimizer=("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})))
    with pytest.raises(TrainingError, match="nesterov"):
        trainer.change(momentum=0.0)
    with pytest.raises(TrainingError, match="cannot change while a run trains"):
        trainer.change(seed=3)
    with pytest.raises(TrainingError, match="learning rate must be above 0"):
        trainer.change(lr=-1.0)
    with pytest.raises(TrainingError, match="drop_last"):
        Trainer(make(drop_last=True)).change(batch_size=10_000)
    assert trainer._pending == {}


def test_a_live_noise_change_regenerates_the_same_points_with_other_jitter():
    project = make(data={"noise": 0.0}, epochs=2)
    events: list = []

    def on_event(event):
        events.append(event)
        if event.kind == "epoch" and event.epoch == 1:
            trainer.change(noise=0.3)

    trainer = Trainer(project, on_event, report_interval=0)
    trainer.run()
    expected = load(trainer.project.data)
    assert trainer.project.data.params["noise"] == 0.3
    assert torch.equal(trainer.dataset.x_train, expected.x_train) and torch.equal(trainer.dataset.y_train,
                                                                                expected.y_train)
    clean = load(project.data)
    assert torch.equal(clean.y_train, expected.y_train) and not torch.equal(clean.x_train, expected.x_train)
    assert trainer.history["changes"][0]["setting"] == "noise" and trainer.history["changes"][0]["step"] == 10


# --- a step, an epoch ----------------------------------------------------------------------------


def test_one_step_is_one_optimizer_step_and_then_the_run_holds():
    project = tiny(epochs=3)
    ds = load(project.data)
    events: list = []
    trainer = Trainer(project, events.append, dataset=ds)
    lrs = seen_lrs(trainer)
    trainer.train_steps(1)
    thread, result = run_in_thread(trainer)
    try:
        assert trainer.wait_held(TIMEOUT)
        assert len(lrs) == 1 and isinstance(events[-1], HeldEvent) and events[-1].global_step == 1
        model = initial_model(project, torch.device("cpu"))
        nn.CrossEntropyLoss()(model(ds.x_train[:16]), ds.y_train[:16]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        for mine, theirs in zip(model.parameters(), trainer.model.parameters()):
            assert torch.allclose(mine, theirs, rtol=2 * EPS32, atol=0)
    finally:
        trainer.stop()
        thread.join(TIMEOUT)
    assert result[0].status == STOPPED and len(lrs) == 1


def test_one_epoch_is_ceil_n_over_batch_steps_from_the_start_and_from_a_step():
    project = make(epochs=3, batch_size=48)   # 320 samples: ceil(320 / 48) = 7 steps an epoch
    events: list = []
    trainer = Trainer(project, events.append)
    lrs = seen_lrs(trainer)
    trainer.train_epoch()
    thread, result = run_in_thread(trainer)
    try:
        assert trainer.wait_held(TIMEOUT) and len(lrs) == math.ceil(320 / 48)
        assert [e.epoch for e in epochs_of(events)] == [1]
        held = threading.Event()
        trainer.callback = lambda e: held.set() if e.kind == "held" else None
        trainer.train_steps(2)
        assert held.wait(TIMEOUT) and len(lrs) == 9
    finally:
        trainer.stop()
        thread.join(TIMEOUT)
    assert result[0].status == STOPPED


def test_the_headless_train_command_applies_the_penalty(tmp_path, examples, monkeypatch, capsys):
    import json

    from playground.cli import main

    monkeypatch.chdir(tmp_path)
    project = Project.load(examples / "xor.json")
    project.training.l2 = 0.01
    project.save(tmp_path / "p.json")
    assert main(["train", "p.json", "--epochs", "2", "--out", "c.pt", "--metrics", "m.json"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and all("penalty" in line for line in lines)
    epochs = json.loads((tmp_path / "m.json").read_text())["epochs"]
    assert all(e["penalty"] > 0 for e in epochs)
    assert load_checkpoint(tmp_path / "c.pt").project.training.l2 == 0.01
