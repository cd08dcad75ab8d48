"""ui.worker with live changes and stepping: through the real worker process, a Step from no run
holds after exactly one optimizer step with the weights sent first, an Epoch finishes the epoch, a
live change applies at exactly the next step and is in the run's result."""

from __future__ import annotations

import math

import torch
from torch import nn

from playground.core.data import Batches, load
from playground.core.spec import ComponentSpec
from playground.core.training import STOPPED, initial_model
from tests.ui.test_worker import ENDLESS, PROMPT_MS, TIMEOUT_MS, Recorder, make_run, xor  # noqa: F401 — fixtures

EPS32 = 2.0**-24


def sgd(xor, **settings):
    return xor(epochs=ENDLESS, optimizer=ComponentSpec("SGD", {"lr": 0.1}), **settings)


def test_a_step_from_no_run_is_one_optimizer_step_then_an_epoch_finishes_the_epoch(qtbot, xor, make_run):
    project = sgd(xor)
    run = make_run(project)
    rec = Recorder(run)
    weights = []
    run.weights_reported.connect(weights.append)
    with qtbot.waitSignal(run.held, timeout=TIMEOUT_MS):
        run.start_paused_after("step")
    assert run.is_paused() and run.holding and run.is_running()
    assert [s.global_step for s in rec.all_steps()] == [1]   # reported before the hold, and only it
    # the weights came before `held`: one SGD step on the first batch, from the seed's weights
    ds = load(project.data)
    xb, yb = next(iter(Batches(ds.x_train, ds.y_train, 32, shuffle=True, seed=project.training.seed)))
    model = initial_model(project, torch.device("cpu"))
    nn.CrossEntropyLoss()(model(xb), yb).backward()
    for (name, p), expected in zip(model.named_parameters(), [p - 0.1 * p.grad for p in model.parameters()]):
        # one multiply and one subtract each side, in another process: at most a rounding apart
        assert torch.allclose(weights[-1][name], expected.detach(), rtol=2 * EPS32, atol=0), name

    steps_per_epoch = math.ceil(len(ds.x_train) / 32)
    with qtbot.waitSignal(run.held, timeout=PROMPT_MS):
        run.advance("epoch")   # the rest of epoch 1
    assert rec.all_steps()[-1].global_step == steps_per_epoch and [e.epoch for e in rec.epochs] == [1]
    with qtbot.waitSignal(run.held, timeout=PROMPT_MS):
        run.advance("epoch")   # a whole epoch: ceil(n / batch) steps
    assert rec.all_steps()[-1].global_step == 2 * steps_per_epoch and [e.epoch for e in rec.epochs] == [1, 2]
    with qtbot.assertNotEmitted(run.step_reported, wait=200):
        pass   # held: nothing trains
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS) as blocker:
        run.stop()
    assert blocker.args[0].status == STOPPED and run.result.epoch == 2


def test_a_live_change_through_the_worker_applies_at_the_next_step_and_is_kept(qtbot, xor, make_run):
    run = make_run(sgd(xor))
    rec = Recorder(run)
    changes = []
    run.changed.connect(changes.extend)
    with qtbot.waitSignal(run.held, timeout=TIMEOUT_MS):
        run.start_paused_after("step")
    run.change({"lr": 0.5, "l2": 0.001})
    with qtbot.waitSignal(run.held, timeout=PROMPT_MS):
        run.advance("step")
    first, second = rec.all_steps()
    assert (first.lr, first.penalty) == (0.1, None) and second.lr == 0.5 and second.penalty > 0
    assert sorted((c.setting, c.step, c.old, c.new) for c in changes) == [("l2", 1, 0.0, 0.001), ("lr", 1, 0.1, 0.5)]
    assert run.project.training.optimizer.params["lr"] == 0.5 and run.project.training.l2 == 0.001
    with qtbot.waitSignal(run.warned, timeout=PROMPT_MS) as refused:
        run.change({"lr": -1})
    assert "learning rate must be above 0" in refused.args[0]
    with qtbot.waitSignal(run.finished, timeout=PROMPT_MS):
        run.stop()
    assert sorted(c["setting"] for c in run.result.history["changes"]) == ["l2", "lr"]
    assert run.result.project.training.optimizer.params["lr"] == 0.5
