"""core.training: the Trainer learns, matches a hand-written PyTorch loop, repeats itself with one seed,
stops and pauses across threads, fails cleanly on a non-finite loss, and checks the settings first."""

from __future__ import annotations

import math
import re
import sys
import threading
from dataclasses import asdict

import pytest
import torch
from torch import nn

from playground.core import distributed, optim, training
from playground.core.data import Batches, load
from playground.core.errors import TrainingError
from playground.core.optim import FUSED, OPTIMIZERS, SCHEDULERS
from playground.core.params import check_params
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import FAILED, FINISHED, STOPPED, EndEvent, EpochEvent, StepEvent, Trainer

TIMEOUT = 10.0   # seconds: the bound on every wait for another thread (a hang fails, it never sleeps)


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


def mlp(inputs: int, hidden: int, outputs: int, *, act: str = "Tanh", last: str | None = None) -> NetworkSpec:
    layers = [LayerSpec("Linear", {"out_features": hidden}), LayerSpec(act),
              LayerSpec("Linear", {"out_features": outputs})]
    if last:
        layers.append(LayerSpec(last))
    return NetworkSpec([inputs], layers)


def make(network: NetworkSpec | None = None, dataset: str = "xor", data: dict | None = None, *,
         loss: str = "CrossEntropyLoss", optimizer: tuple[str, dict] = ("Adam", {"lr": 0.03}),
         **settings) -> Project:
    """A small project: 400 samples (320 to train, 10 batches of 32), 3 epochs unless told."""
    settings.setdefault("epochs", 3)
    return Project(
        network=network or mlp(2, 8, 2),
        data=DataSpec(dataset, {"samples": 400, **(data or {})}),
        training=TrainingSpec(loss=ComponentSpec(loss), optimizer=ComponentSpec(*optimizer), **settings),
    )


def quadratic(**settings) -> Project:
    settings.setdefault("optimizer", ("Adam", {"lr": 0.02}))
    return make(mlp(1, 32, 1), "quadratic", {"noise": 0.05}, loss="MSELoss", **settings)


def train(project: Project, **kwargs) -> tuple[Trainer, list, EndEvent]:
    events: list = []
    trainer = Trainer(project, events.append, **kwargs)
    end = trainer.run()
    assert events[-1] is end   # the end is reported once, last
    return trainer, events, end


def steps_of(events) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent)]


def epochs_of(events) -> list[EpochEvent]:
    return [e for e in events if isinstance(e, EpochEvent)]


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def accuracy(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    return (predicted == labels).sum().item() / len(labels)


def run_in_thread(trainer: Trainer) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(trainer.run()), daemon=True)
    thread.start()
    return thread, result


# --- it learns -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, epochs, min_accuracy", [("xor", 15, 0.9), ("spiral", 15, 0.9)])
def test_examples_learn(examples, name, epochs, min_accuracy):
    project = Project.load(examples / f"{name}.json")
    project.training.epochs = epochs
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds)
    history = epochs_of(events)
    assert end.status == FINISHED and end.reason == f"trained {epochs} epochs" and end.epochs_completed == epochs
    assert history[-1].train_loss < 0.5 * history[0].train_loss
    assert history[-1].val_accuracy >= min_accuracy
    # the reported validation numbers are what PyTorch computes from the final model in eval mode
    trainer.model.eval()
    with torch.no_grad():
        out = trainer.model(ds.x_val)
    assert history[-1].val_accuracy == accuracy(out.argmax(1), ds.y_val)
    assert history[-1].val_loss == pytest.approx(nn.CrossEntropyLoss()(out, ds.y_val).item(), rel=1e-5)
    assert end.test_accuracy is None   # synthetic sets have no test split


def test_regression_learns():
    project = quadratic(epochs=30)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds)
    history = epochs_of(events)
    assert end.status == FINISHED
    assert history[-1].val_loss < 0.2 * ds.y_val.var().item()   # well below predicting the mean
    assert all(e.val_accuracy is None for e in history) and end.test_accuracy is None
    with torch.no_grad():
        expected = nn.MSELoss()(trainer.model(ds.x_val), ds.y_val).item()
    assert history[-1].val_loss == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "loss, outputs, last, predict",
    [
        ("BCEWithLogitsLoss", 1, None, lambda out: (out[:, 0] > 0).long()),
        ("BCELoss", 1, "Sigmoid", lambda out: (out[:, 0] > 0.5).long()),
        ("MSELoss", 2, None, lambda out: out.argmax(1)),   # one-hot targets
    ],
)
def test_other_losses_on_xor(loss, outputs, last, predict):
    project = make(mlp(2, 8, outputs, last=last), loss=loss, epochs=15)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds)
    history = epochs_of(events)
    assert end.status == FINISHED and trainer.warnings == []
    assert history[-1].train_loss < 0.5 * history[0].train_loss
    trainer.model.eval()
    with torch.no_grad():
        expected = accuracy(predict(trainer.model(ds.x_val)), ds.y_val)
    assert history[-1].val_accuracy == expected and expected >= 0.85


# --- the same loop as plain PyTorch --------------------------------------------------------------


def hand_written_losses(project: Project, ds, optimizer_cls, params: dict, grad_clip=None,
                        fused: bool = False) -> list[float]:
    """The loop a PyTorch user writes: same seed, same batches, same order of calls; torch's
    default (unfused) optimizer unless `fused`."""
    t = project.training
    torch.manual_seed(t.seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    if fused:
        kwargs["fused"] = True
    optimizer = optimizer_cls(model.parameters(), **kwargs)
    batches = Batches(ds.x_train, ds.y_train, t.batch_size, shuffle=True, seed=t.seed)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(t.epochs):
        for xb, yb in batches:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_trains_like_plain_pytorch(name):
    params = check_params(OPTIMIZERS[name].params, {}, "")
    project = make(optimizer=(name, {}), epochs=2)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds, report_interval=0)
    losses = [e.loss for e in steps_of(events)]
    assert end.status == FINISHED and all(math.isfinite(v) for v in losses)
    assert type(trainer.optimizer) is getattr(torch.optim, name)
    cls = getattr(torch.optim, name)
    # the fused kernels round differently from torch's default loop, within float tolerance ...
    assert losses == pytest.approx(hand_written_losses(project, ds, cls, params), rel=1e-5, abs=1e-6)
    # ... and the Trainer is exactly the plain loop with the fused kernel where torch has one
    fused = name in FUSED
    assert trainer.optimizer.defaults.get("fused") is (True if fused else None)
    assert losses == hand_written_losses(project, ds, cls, params, fused=fused)


def test_gradient_clipping_clips_and_still_learns():
    project = make(optimizer=("SGD", {"lr": 0.5, "momentum": 0.9}), epochs=15, grad_clip=0.1)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds, report_interval=0)
    history = epochs_of(events)
    assert end.status == FINISHED
    assert history[-1].train_loss < 0.5 * history[0].train_loss and history[-1].val_accuracy >= 0.85
    losses = [e.loss for e in steps_of(events)]
    params = check_params(OPTIMIZERS["SGD"].params, {"lr": 0.5, "momentum": 0.9}, "")
    assert losses == hand_written_losses(project, ds, torch.optim.SGD, params, grad_clip=0.1, fused=True)
    plain = hand_written_losses(project, ds, torch.optim.SGD, params, grad_clip=0.1)
    assert losses == pytest.approx(plain, rel=1e-4, abs=1e-6)   # 150 fused steps stay within float tolerance
    assert losses != pytest.approx(hand_written_losses(project, ds, torch.optim.SGD, params), rel=1e-3)


def test_sgd_nesterov_without_momentum_is_refused():
    project = make(optimizer=("SGD", {"lr": 0.1, "nesterov": True}))
    with pytest.raises(TrainingError, match="nesterov needs momentum above 0"):
        Trainer(project).prepare()


# --- reproducibility -----------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", [("Adam", {"lr": 0.03}), ("SGD", {"lr": 0.1, "momentum": 0.9})])
def test_one_seed_repeats_exactly_and_another_differs(optimizer):
    def losses(seed):
        project = make(mlp(2, 16, 3, act="ReLU"), "spiral", {"noise": 0.2}, epochs=3, seed=seed,
                       optimizer=optimizer)
        project.network.layers.insert(2, LayerSpec("Dropout", {"p": 0.2}))   # random masks too
        trainer, events, _ = train(project, report_interval=0)
        steps = [e.loss for e in steps_of(events)]
        epochs = [(e.train_loss, e.val_loss, e.val_accuracy) for e in epochs_of(events)]
        return steps, epochs, weights(trainer.model)

    first, again, other = losses(1), losses(1), losses(2)
    assert first[0] == again[0] and first[1] == again[1] and same(first[2], again[2])
    assert len(first[0]) == 30
    assert first[0] != other[0] and first[1] != other[1]


# --- stop and pause from other threads ------------------------------------------------------------


def test_stop_from_another_thread_ends_within_one_step():
    asked, done = threading.Event(), threading.Event()
    events: list = []

    def callback(event):
        events.append(event)
        if isinstance(event, StepEvent) and event.global_step == 13:
            asked.set()
            done.wait(TIMEOUT)   # hold the loop here until the other thread has called stop()

    trainer = Trainer(make(epochs=50), callback, report_interval=0)

    def stopper():
        if asked.wait(TIMEOUT):
            trainer.stop()
            done.set()

    thread = threading.Thread(target=stopper, daemon=True)
    thread.start()
    end = trainer.run()
    thread.join(TIMEOUT)
    assert done.is_set()
    assert end.status == STOPPED and end.epochs_completed == 1
    assert end.reason == "stopped by the user at epoch 2, step 3"
    assert max(e.global_step for e in steps_of(events)) <= 14   # at most one step after the stop
    assert len(epochs_of(events)) == 1 and trainer.history["status"] == STOPPED


def test_pause_holds_the_loop_until_resumed_from_another_thread():
    paused, moved = threading.Event(), threading.Event()
    reported: list[int] = []

    def callback(event):
        if isinstance(event, StepEvent):
            reported.append(event.global_step)
            if event.global_step == 3:
                trainer.pause()
                paused.set()
            elif trainer.paused:
                moved.set()   # a step finished while paused

    trainer = Trainer(make(epochs=2), callback, report_interval=0)
    thread, result = run_in_thread(trainer)
    assert paused.wait(TIMEOUT)
    assert not moved.wait(0.3)   # a bounded look for a step that must not come
    assert reported == [1, 2, 3] and trainer.paused and thread.is_alive()
    trainer.resume()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert not trainer.paused and not moved.is_set()
    assert result[0].status == FINISHED and reported == list(range(1, 21))


def test_stop_while_paused_ends_promptly():
    paused = threading.Event()
    reported: list[int] = []

    def callback(event):
        if isinstance(event, StepEvent):
            reported.append(event.global_step)
            if event.global_step == 3:
                trainer.pause()
                paused.set()

    trainer = Trainer(make(epochs=50), callback, report_interval=0)
    thread, result = run_in_thread(trainer)
    assert paused.wait(TIMEOUT)
    trainer.stop()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert result[0].status == STOPPED and result[0].reason == "stopped by the user at epoch 1, step 3"
    assert reported == [1, 2, 3]


# --- a non-finite loss ----------------------------------------------------------------------------


def watch_weights(project: Project, **kwargs) -> tuple[Trainer, dict, dict, EndEvent]:
    """Run, keeping the weights after every reported step (and before the first)."""
    seen: dict[int, dict] = {}
    where: dict[int, tuple[int, int]] = {0: (0, 0)}

    def callback(event):
        if isinstance(event, StepEvent):
            assert math.isfinite(event.loss)
            seen[event.global_step] = weights(trainer.model)
            where[event.global_step] = (event.epoch, event.step)

    trainer = Trainer(project, callback, report_interval=0, **kwargs)
    trainer.prepare()
    seen[0] = weights(trainer.model)
    end = trainer.run()
    return trainer, seen, where, end


def assert_restored_to_a_good_point(trainer: Trainer, seen: dict, where: dict, end: EndEvent):
    final = weights(trainer.model)
    assert all(torch.isfinite(v).all() for v in final.values())
    matches = [g for g, w in seen.items() if same(w, final)]
    assert matches, "the weights are not those of any earlier step"
    g = max(matches)
    # good: the step after them was reported, so the loss these weights gave was finite
    assert g + 1 in seen
    epoch, step = where[g]
    assert f"restored to the last good ones (epoch {epoch}, step {step})" in end.reason


def test_non_finite_loss_fails_and_restores_good_weights(monkeypatch):
    monkeypatch.setattr(training, "SNAPSHOT_INTERVAL", 0.0)   # a snapshot at every report: the hard case
    project = quadratic(optimizer=("SGD", {"lr": 100.0}), epochs=5)
    trainer, seen, where, end = watch_weights(project)
    assert end.status == FAILED and trainer.history["status"] == FAILED
    assert re.search(r"the loss became (nan|inf) at epoch \d+, step \d+", end.reason)
    assert "learning rate (100) is probably too high — try 10" in end.reason
    assert not trainer.optimizer_state_valid
    assert len(seen) > 2   # it failed after some good steps, not at the first
    assert_restored_to_a_good_point(trainer, seen, where, end)


def test_non_finite_validation_loss_fails_and_names_it(monkeypatch):
    monkeypatch.setattr(training, "SNAPSHOT_INTERVAL", 0.0)
    project = quadratic(optimizer=("SGD", {"lr": 0.1}), epochs=3)
    ds = load(project.data)
    ds.y_val[0] = math.inf   # injected: training stays finite, validation does not
    trainer, seen, where, end = watch_weights(project, dataset=ds)
    assert end.status == FAILED and end.epochs_completed == 0
    assert end.reason.startswith("the loss became inf at epoch 1, step 10")
    assert not trainer.optimizer_state_valid
    assert_restored_to_a_good_point(trainer, seen, where, end)


def test_a_finished_run_keeps_a_valid_optimizer_state():
    trainer, _, end = train(make(epochs=1))
    assert end.status == FINISHED and trainer.optimizer_state_valid


# --- settings that do not fit, caught before the first step ---------------------------------------


@pytest.mark.parametrize(
    "project, fragments",
    [
        (make(mlp(1, 8, 1), "quadratic", loss="CrossEntropyLoss"),
         ["CrossEntropyLoss needs class labels", "quadratic is a regression dataset"]),
        (make(mlp(2, 8, 3)), ["outputs (3,)", "xor has 2 classes", "out_features 2"]),
        (make(mlp(2, 8, 2), "spiral", {"classes": 4}), ["spiral has 4 classes", "out_features 4"]),
        (make(mlp(2, 8, 1), loss="BCELoss"), ["Sigmoid", "BCEWithLogitsLoss"]),
        (make(mlp(1, 8, 10), "quadratic", loss="MSELoss"), ["outputs (10,)", "out_features 1"]),
        (make(mlp(3, 8, 2)), ["input shape is (3,)", "xor gives samples of shape (2,)", "[2]"]),
        (make(device="cuda:99"), ["'cuda:99' cannot be used", "choose one of cpu"]),
        (make(batch_size=500, drop_last=True), ["batch size 500", "320 training samples", "drop_last"]),
        (make(NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("BatchNorm1d"),
                                LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 2})]),
              batch_size=29),   # 320 = 11 * 29 + 1
         ["last batch of each epoch would hold 1 sample", "BatchNorm", "drop_last"]),
        (make(NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("BatchNorm1d"),
                                LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 2})]),
              batch_size=1, drop_last=True),
         ["BatchNorm cannot normalise a batch of 1 sample"]),
    ],
    ids=["ce-regression", "ce-outputs", "ce-classes", "bce-sigmoid", "mse-outputs", "input-shape", "device",
         "batch-drop-last", "batchnorm-last-1", "batchnorm-batch-1"],
)
def test_settings_that_do_not_fit(project, fragments):
    with pytest.raises(TrainingError) as caught:
        Trainer(project).prepare()
    for fragment in fragments:
        assert fragment in str(caught.value)
    end = Trainer(project).run()   # the same message, as a failed run
    assert end.status == FAILED and end.reason == str(caught.value) and end.epochs_completed == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_names_the_devices():
    with pytest.raises(TrainingError, match="no CUDA GPU is available — choose one of cpu"):
        Trainer(make(device="cuda")).prepare()


def test_softmax_before_cross_entropy_warns():
    trainer = Trainer(make(mlp(2, 8, 2, last="Softmax")))
    trainer.prepare()
    assert len(trainer.warnings) == 1 and "remove the Softmax" in trainer.warnings[0]
    assert Trainer(make()).warnings == []


def test_mixed_precision_on_a_cpu_with_bfloat16_trains_in_bfloat16(monkeypatch, examples):
    # bfloat16 autocast runs on every CPU (emulated where it has no instructions): the same path
    # as a Zen 4 or a Sapphire Rapids takes, here only slower
    monkeypatch.setattr(optim, "cpu_has_bfloat16", lambda: True)
    project = Project.load(examples / "xor.json")
    project.training.epochs, project.training.mixed_precision = 15, True
    trainer = Trainer(project)
    trainer.prepare()
    seen = []
    trainer.model[0].register_forward_hook(lambda module, args, out: seen.append((module.training, out.dtype)))
    history = epochs_of(train_prepared(trainer))
    assert trainer.warnings == []
    assert {dtype for training_, dtype in seen if training_} == {torch.bfloat16}
    assert {dtype for training_, dtype in seen if not training_} == {torch.float32}   # evaluated in float32
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())   # the weights stay float32
    assert history[-1].train_loss < 0.5 * history[0].train_loss and history[-1].val_accuracy >= 0.9


def test_mixed_precision_without_cuda_or_bfloat16_warns_and_trains_in_float32(monkeypatch):
    monkeypatch.setattr(optim, "cpu_has_bfloat16", lambda: False)
    trainer = Trainer(make(mixed_precision=True, epochs=1))
    trainer.prepare()
    assert trainer.warnings == [
        "mixed precision needs CUDA or a CPU with bfloat16 instructions; training in float32 on cpu"]
    seen = []
    trainer.model[0].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    train_prepared(trainer)
    assert set(seen) == {torch.float32}


def train_prepared(trainer: Trainer) -> list:
    events: list = []
    trainer.callback = events.append
    assert trainer.run().status == FINISHED
    return events


def test_batch_larger_than_the_data_is_one_batch():
    trainer, events, end = train(make(batch_size=500), report_interval=0)
    assert end.status == FINISHED
    assert [(e.epoch, e.step, e.steps) for e in steps_of(events)] == [(1, 1, 1), (2, 1, 1), (3, 1, 1)]


def test_batchnorm_with_drop_last_trains():
    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("BatchNorm1d"),
                                LayerSpec("ReLU"), LayerSpec("Linear", {"out_features": 2})])
    trainer, events, end = train(make(network, batch_size=29, drop_last=True), report_interval=0)
    assert end.status == FINISHED and steps_of(events)[-1].steps == 11


# --- schedulers -----------------------------------------------------------------------------------


def torch_lrs(name: str, params: dict, lr: float, count: int, metrics=None) -> list[float]:
    """The learning rates torch's own scheduler gives after each of `count` steps."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    scheduler = getattr(torch.optim.lr_scheduler, name)(optimizer, **params)
    out = []
    for i in range(count):
        optimizer.step()
        scheduler.step(*([metrics[i]] if metrics else []))
        out.append(optimizer.param_groups[0]["lr"])
    return out


def scheduled(name: str, params: dict, epochs: int = 5):
    project = make(optimizer=("SGD", {"lr": 0.1, "momentum": 0.9}), epochs=epochs,
                   scheduler=ComponentSpec(name, params))
    trainer, events, end = train(project, report_interval=0)
    assert end.status == FINISHED
    return steps_of(events), epochs_of(events)


def test_step_lr():
    _, history = scheduled("StepLR", {"step_size": 2, "gamma": 0.5})
    lrs = [e.lr for e in history]
    assert lrs[0] == 0.1 and lrs[1] == pytest.approx(0.1 * 0.5)   # lowered after step_size epochs
    assert lrs == torch_lrs("StepLR", {"step_size": 2, "gamma": 0.5}, 0.1, 5)


def test_cosine_annealing_spans_the_run():
    _, history = scheduled("CosineAnnealingLR", {"eta_min": 0.001})
    lrs = [e.lr for e in history]
    assert lrs == torch_lrs("CosineAnnealingLR", {"T_max": 5, "eta_min": 0.001}, 0.1, 5)
    assert lrs[-1] == pytest.approx(0.001)


def test_one_cycle_steps_every_batch():
    params = {"max_lr": 0.2}
    steps, history = scheduled("OneCycleLR", params, epochs=2)
    lrs = [e.lr for e in steps]
    assert len(lrs) == 20 and len(set(lrs[:10])) == 10   # a new rate for every batch
    assert lrs == torch_lrs("OneCycleLR", dict(params, total_steps=20), 0.1, 20)
    assert max(lrs) == pytest.approx(0.2)
    # lrs[i] is the rate for batch i + 2: the last batch (the 20th) ran at the schedule's end
    assert lrs[-2] == pytest.approx(0.2 / 25 / 1e4) and history[-1].lr == lrs[-1]


def test_reduce_on_plateau_follows_the_validation_loss():
    params = {"factor": 0.5, "patience": 0, "threshold": 0.2}   # only a 20 % better loss counts
    _, history = scheduled("ReduceLROnPlateau", params, epochs=6)
    lrs = [e.lr for e in history]
    assert lrs == torch_lrs("ReduceLROnPlateau", params, 0.1, 6, [e.val_loss for e in history])
    assert lrs[-1] < 0.1


def test_every_scheduler_is_tested_above():
    assert set(SCHEDULERS) == {"StepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"}


# --- early stopping, resuming ---------------------------------------------------------------------


def test_early_stopping_keeps_the_best_weights():
    # a wide network on 50 noisy points overfits within a few epochs
    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 64}), LayerSpec("ReLU"),
                                LayerSpec("Linear", {"out_features": 64}), LayerSpec("ReLU"),
                                LayerSpec("Linear", {"out_features": 2})])
    project = make(network, data={"samples": 100, "noise": 0.4, "val_fraction": 0.5},
                   optimizer=("Adam", {"lr": 0.02}), batch_size=16, epochs=60, early_stopping=2)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds)
    history = epochs_of(events)
    assert end.status == FINISHED and end.epochs_completed == len(history) < 60
    best = min(history, key=lambda e: e.val_loss)
    assert best.epoch == len(history) - 2 and history[-1].val_loss > best.val_loss
    assert end.reason.startswith("early stopping") and f"from epoch {best.epoch}" in end.reason
    val_loss, val_accuracy = trainer.evaluate(ds.x_val, ds.y_val, ds.y_val)
    assert val_loss == pytest.approx(best.val_loss, rel=1e-6) and val_accuracy == best.val_accuracy


def test_resuming_continues_the_run():
    project = make(epochs=3)
    first, first_events, _ = train(project, report_interval=0)
    state, optimizer_state = weights(first.model), first.optimizer.state_dict()
    project.training.epochs = 2
    second = Trainer(project, model_state=state, optimizer_state=optimizer_state, start_epoch=3,
                     history=first.history, report_interval=0)
    second.prepare()
    assert same(weights(second.model), state)
    assert torch.equal(second.optimizer.state_dict()["state"][0]["exp_avg"], optimizer_state["state"][0]["exp_avg"])
    events: list = []
    second.callback = events.append
    end = second.run()
    history = epochs_of(events)
    assert end.status == FINISHED and end.epochs_completed == 5
    assert [(e.epoch, e.epochs) for e in history] == [(4, 5), (5, 5)]
    assert steps_of(events)[0].global_step == 31 and steps_of(events)[-1].global_step == 50
    assert [e["epoch"] for e in second.history["epochs"]] == [1, 2, 3, 4, 5]
    assert second.history["epochs"][:3] == first.history["epochs"]
    assert [g for g, _ in second.history["steps"]] == list(range(1, 51))
    assert history[0].train_loss < epochs_of(first_events)[0].train_loss   # learning went on from there


# --- what is reported -------------------------------------------------------------------------------


def test_epoch_events_and_history():
    trainer, events, end = train(make(epochs=3), report_interval=0)
    history = epochs_of(events)
    assert [(e.epoch, e.epochs) for e in history] == [(1, 3), (2, 3), (3, 3)]
    for e in history:
        assert e.samples_per_second > 0 and e.seconds > 0 and 0 <= e.val_accuracy <= 1
        assert e.lr == 0.03 and math.isfinite(e.train_loss) and math.isfinite(e.val_loss)
    # a run without penalties writes no penalty: its records are what they were before l1/l2 existed
    assert trainer.history["epochs"] == [{k: v for k, v in asdict(e).items() if k not in ("kind", "penalty")}
                                         for e in history]
    assert trainer.history["steps"] == [[e.global_step, e.loss] for e in steps_of(events)]
    assert (trainer.history["status"], trainer.history["reason"]) == (FINISHED, end.reason)
    steps = steps_of(events)
    assert all(e.samples_per_second > 0 and e.steps == 10 for e in steps)
    # train_loss is the mean over samples; with equal batches that is the mean of the batch losses
    for e in history:
        batch = [s.loss for s in steps if s.epoch == e.epoch]
        assert e.train_loss == pytest.approx(sum(batch) / len(batch), rel=1e-5)


def test_reports_are_rare_when_the_interval_is_long(monkeypatch):
    # each report costs a host sync; with a long interval only the epoch's last step reports
    item = torch.Tensor.item
    syncs: list[int] = []

    def counted(self):
        if sys._getframe(1).f_globals.get("__name__") in (training.__name__, distributed.__name__):
            syncs[-1] += 1
        return item(self)

    monkeypatch.setattr(torch.Tensor, "item", counted)
    for batch_size, steps in ((32, 10), (8, 40)):
        syncs.append(0)
        _, events, end = train(make(epochs=3, batch_size=batch_size, optimizer=("SGD", {"lr": 0.5})),
                               report_interval=10.0)
        assert end.status == FINISHED
        assert [(e.epoch, e.step, e.steps) for e in steps_of(events)] == [(i, steps, steps) for i in (1, 2, 3)]
    monkeypatch.undo()
    assert syncs[0] == syncs[1] > 0   # the trainer's syncs do not grow with the steps per epoch


def test_evaluation_is_in_eval_mode():
    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 32}), LayerSpec("ReLU"),
                                LayerSpec("Dropout", {"p": 0.9}), LayerSpec("Linear", {"out_features": 2})])
    project = make(network)
    ds = load(project.data)
    trainer = Trainer(project, dataset=ds)
    trainer.prepare()
    first = trainer.evaluate(ds.x_val, ds.y_val, ds.y_val)
    assert trainer.evaluate(ds.x_val, ds.y_val, ds.y_val) == first
    model = trainer.model
    with torch.no_grad():
        assert not torch.equal(model(ds.x_val), model(ds.x_val))   # in train mode, dropout does act
        model.eval()
        out = model(ds.x_val)
    assert first[0] == pytest.approx(nn.CrossEntropyLoss()(out, ds.y_val).item(), rel=1e-6)
    assert first[1] == accuracy(out.argmax(1), ds.y_val)


# --- convolutions on the CPU run channels-last ------------------------------------------------------


def conv_project(root, epochs: int = 2) -> Project:
    network = NetworkSpec([1, 28, 28], [
        LayerSpec("Conv2d", {"out_channels": 6, "kernel_size": 5}), LayerSpec("MaxPool2d", {"kernel_size": 2}),
        LayerSpec("ReLU"), LayerSpec("Conv2d", {"out_channels": 8, "kernel_size": 3}), LayerSpec("ReLU"),
        LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 10}),
    ])
    data = DataSpec("mnist", {"root": str(root), "download": False, "train_samples": 384, "val_fraction": 0.25})
    return Project(network, data, TrainingSpec(optimizer=ComponentSpec("Adam", {"lr": 0.01}), batch_size=64,
                                               epochs=epochs))


def test_conv_nets_train_channels_last_like_the_plain_loop(mnist_root):
    project = conv_project(mnist_root)
    ds = load(project.data)
    trainer, events, end = train(project, dataset=ds, report_interval=0)
    weight = trainer.model[3].weight   # the second convolution: with one input channel both layouts coincide
    assert end.status == FINISHED
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    losses = [e.loss for e in steps_of(events)]

    from playground.core.shapes import build_network

    torch.manual_seed(project.training.seed)   # the loop a user writes: default layout, unfused Adam
    model = build_network(project.network)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    batches = Batches(ds.x_train, ds.y_train, 64, seed=project.training.seed)
    plain = []
    for _ in range(2):
        for xb, yb in batches:
            loss = nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            plain.append(loss.item())
    assert losses == pytest.approx(plain, rel=1e-4, abs=1e-5)
    again = [e.loss for e in steps_of(train(project, dataset=ds, report_interval=0)[1])]
    assert again == losses   # the same seed, the same run, to the bit


def test_a_channels_last_net_gets_its_gradients_back_channels_last_through_flatten(mnist_root):
    # Flatten's reshape hands its gradient back in the default layout; the ReLU in front of it
    # then ran its backward on two layouts at once, on a slow path, at every step
    project = conv_project(mnist_root, epochs=1)
    trainer = Trainer(project, dataset=load(project.data), report_interval=0)
    trainer.prepare()
    relu, flatten = trainer.model[4], trainer.model[5]
    assert not flatten._forward_pre_hooks   # only while the run trains: a prepared model is the plain one
    layouts = []
    relu.register_full_backward_hook(lambda module, grad_in, grad_out: layouts.append(
        (grad_out[0].is_contiguous(memory_format=torch.channels_last), grad_out[0].is_contiguous())))
    assert trainer.run().status == FINISHED
    assert layouts and all(layout == (True, False) for layout in layouts)
    assert not flatten._forward_pre_hooks   # the model the run leaves is the plain one
    out = trainer.model(load(project.data).x_val[:4].requires_grad_())
    out.sum().backward()   # and it still trains outside the run, in torch's own layouts


def test_optimizer_state_of_another_layout_resumes_the_same(mnist_root):
    ds = load(conv_project(mnist_root).data)
    first, _, _ = train(conv_project(mnist_root, epochs=1), dataset=ds)

    def resumed(layout) -> dict:
        model = {k: layout(v) for k, v in first.model.state_dict().items()}
        optimizer = first.optimizer.state_dict()
        optimizer = {**optimizer, "state": {i: {k: layout(v) if v.dim() == 4 else v.clone() for k, v in s.items()}
                                            for i, s in optimizer["state"].items()}}
        trainer, _, end = train(conv_project(mnist_root, epochs=1), dataset=ds, model_state=model,
                                optimizer_state=optimizer, start_epoch=1)
        assert end.status == FINISHED
        return weights(trainer.model)

    as_saved = resumed(lambda v: v.clone())   # channels-last moments, as this trainer left them
    # contiguous moments (a checkpoint from a GPU or an older version): the fused kernel pairs
    # elements by memory position, so they are laid out like their parameters before the first step
    contiguous = resumed(lambda v: v.contiguous())
    assert same(as_saved, contiguous)


@pytest.mark.parametrize("loss, outputs, last", [("CrossEntropyLoss", 2, None), ("MSELoss", 2, None),
                                                 ("BCEWithLogitsLoss", 1, None)])
def test_the_training_accuracy_counts_the_epochs_training_samples(loss, outputs, last):
    # SGD at lr 1e-8: over one epoch the weights move by ~1e-7, so the epoch's running accuracy is the
    # starting model's accuracy on the training set, up to a sample whose logits sit within ~1e-7 of a tie
    project = make(mlp(2, 8, outputs, last=last), loss=loss, optimizer=("SGD", {"lr": 1e-8}), epochs=1)
    from playground.core.insight import initial_state
    from playground.core.shapes import build_network

    check = build_network(project.network)
    check.load_state_dict(initial_state(project.network, project.training.seed))   # the run's first weights
    trainer, events, end = train(project)
    (epoch,) = epochs_of(events)
    data = load(project.data)
    with torch.no_grad():
        out = check(data.x_train)
    predicted = (out[:, 0] > 0).long() if outputs == 1 else out.argmax(1)
    assert epoch.train_accuracy == pytest.approx(accuracy(predicted, data.y_train), abs=1 / len(data.y_train))
    assert trainer.history["epochs"][0]["train_accuracy"] == epoch.train_accuracy


def test_regression_has_no_training_accuracy():
    _, events, _ = train(quadratic(epochs=1))
    assert epochs_of(events)[0].train_accuracy is None
