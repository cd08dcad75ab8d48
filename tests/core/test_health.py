"""core.health and the Trainer's hook: numbers equal torch's own, problems warn, training is untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from playground.core.data import Batches, load
from playground.core.health import HealthEvent, LayerHealth, diagnose
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import FAILED, FINISHED, StepEvent, Trainer


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


def make(act: str = "ReLU", optimizer: tuple[str, dict] = ("Adam", {"lr": 0.03}), **settings) -> Project:
    settings.setdefault("epochs", 1)
    layers = [LayerSpec("Linear", {"out_features": 16}), LayerSpec(act), LayerSpec("Linear", {"out_features": 2})]
    return Project(
        network=NetworkSpec([2], layers),
        data=DataSpec("xor", {"samples": 400}),
        training=TrainingSpec(optimizer=ComponentSpec(*optimizer), **settings),
    )


def seeded_model(act: nn.Module, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), act, nn.Linear(16, 2))


def run(project: Project, **kwargs) -> tuple[Trainer, list, list[HealthEvent]]:
    events: list = []
    trainer = Trainer(project, events.append, **kwargs)
    trainer.run()
    return trainer, events, [e for e in events if isinstance(e, HealthEvent)]


def norm(tensors) -> float:
    return torch.linalg.vector_norm(torch.cat([t.flatten() for t in tensors])).item()


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


def test_numbers_equal_a_hand_run_step():
    project = make(optimizer=("Adam", {"lr": 0.003}))   # Adam's first step moves every weight by ~lr
    ds = load(project.data)
    _, _, health = run(project, dataset=ds, health_interval=0)
    assert [h.global_step for h in health] == list(range(1, 11))   # every step of the 10-batch epoch
    first = {h.index: h for h in health[0].layers}
    assert sorted(first) == [0, 1, 2]

    model = seeded_model(nn.ReLU())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    xb, yb = next(iter(Batches(ds.x_train, ds.y_train, 32, seed=0)))
    hidden = model[1](model[0](xb))
    nn.functional.cross_entropy(model[2](hidden), yb).backward()
    before = [[p.detach().clone() for p in model[i].parameters()] for i in (0, 2)]
    optimizer.step()
    for i, weights in zip((0, 2), before):
        layer = model[i]
        assert first[i].grad_norm == pytest.approx(norm(p.grad for p in layer.parameters()), rel=1e-6)
        moved = norm(p.detach() - b for p, b in zip(layer.parameters(), weights))
        assert first[i].update_ratio == pytest.approx(moved / norm(weights), rel=1e-5)
        assert first[i].dead_fraction is None and first[i].saturation is None
    dead = (hidden <= 0).all(dim=0).float().mean().item()
    assert first[1].dead_fraction == dead and first[1].grad_norm is None and first[1].update_ratio is None
    assert health[0].warnings == []


def test_a_dead_relu_layer_is_reported():
    model = seeded_model(nn.ReLU())
    with torch.no_grad():
        model[0].bias.fill_(-1e3)   # no input of XOR can lift it above 0
    _, events, health = run(make(), model_state=model.state_dict(), health_interval=0)
    relu = next(h for h in health[0].layers if h.type == "ReLU")
    assert relu.dead_fraction == 1.0
    warnings = health[0].warnings
    assert any(w.startswith("layer 1 ReLU: 100% of its units output 0") and "dead" in w for w in warnings)
    assert any(w.startswith("layer 0 Linear: gradient norm 0.0e+00") and "vanished" in w for w in warnings)


@pytest.mark.parametrize("act, module, saturated", [
    ("Sigmoid", nn.Sigmoid(), lambda s: (s < 0.01) | (s > 0.99)),
    ("Tanh", nn.Tanh(), lambda s: s.abs() > 0.99),
])
def test_huge_weights_saturate_a_squashing_layer(act, module, saturated):
    model = seeded_model(module)
    with torch.no_grad():
        model[0].weight.mul_(1000)
    project = make(act)
    ds = load(project.data)
    _, _, health = run(project, dataset=ds, model_state=model.state_dict(), health_interval=0)
    xb, _ = next(iter(Batches(ds.x_train, ds.y_train, 32, seed=0)))
    expected = saturated(model[1](model[0](xb))).float().mean().item()
    layer = next(h for h in health[0].layers if h.type == act)
    assert expected > 0.9 and layer.saturation == pytest.approx(expected, abs=1e-7)
    assert layer.dead_fraction is None
    assert any(w.startswith(f"layer 1 {act}:") and "saturated" in w for w in health[0].warnings)


def test_a_huge_learning_rate_warns_about_the_update_size():
    _, _, health = run(make(optimizer=("SGD", {"lr": 50.0})), health_interval=0)
    layer = next(h for h in health[0].layers if h.index == 0)
    assert layer.update_ratio > 0.1
    assert any("learning rate is likely too high" in w for w in health[0].warnings)


def test_health_on_changes_nothing_and_leaves_no_hooks():
    def losses_and_weights(**kwargs):
        trainer, events, health = run(make(epochs=2, grad_clip=0.5), report_interval=0, **kwargs)
        assert events[-1].status == FINISHED and no_hooks(trainer.model)
        losses = [e.loss for e in events if isinstance(e, StepEvent)]
        return losses, trainer.model.state_dict(), health

    off_losses, off_weights, none = losses_and_weights()
    on_losses, on_weights, health = losses_and_weights(health_interval=0)
    assert none == [] and len(health) == 20
    assert on_losses == off_losses
    assert all(torch.equal(on_weights[k], off_weights[k]) for k in off_weights)
    # a long interval measures the first step only
    _, _, once = losses_and_weights(health_interval=3600)
    assert [h.global_step for h in once] == [1]


def test_a_step_that_fails_mid_way_leaves_no_hooks():
    trainer = Trainer(make(), health_interval=0)
    trainer.prepare()

    def broken_loss(output, target):
        raise RuntimeError("boom")

    trainer._setup.loss_fn = broken_loss   # fails after the forward pass, while the hooks are armed
    end = trainer.run()
    assert end.status == FAILED and "boom" in end.reason
    assert no_hooks(trainer.model)


def test_diagnose_thresholds():
    def words(**fields) -> list[str]:
        values = dict(grad_norm=None, update_ratio=None, dead_fraction=None, saturation=None) | fields
        return diagnose([LayerHealth(3, "Linear", **values)])

    assert words(grad_norm=1.0, update_ratio=1e-3) == []
    assert "exploding" in words(grad_norm=5e3, update_ratio=1e-3)[0]
    assert "not finite" in words(grad_norm=float("inf"), update_ratio=float("nan"))[0]
    assert "too low" in words(grad_norm=1.0, update_ratio=1e-8)[0]
    assert words(dead_fraction=0.5, saturation=0.5) == []
    assert len(words(dead_fraction=0.6, saturation=0.6)) == 2


def test_a_schedule_that_lowered_the_learning_rate_is_not_called_too_low():
    slow = [LayerHealth(3, "Linear", 1.0, 1e-8, None, None)]
    assert "too low" in diagnose(slow)[0]
    # OneCycleLR's last step: lr at 1/250000 of max_lr, so 1e-8 would be 4e-3 at the peak: healthy
    assert diagnose(slow, lr_share=4e-6) == []
    # at half the peak, 1e-8 is still 2e-8 at the peak: still too low, and it says so
    assert "even at the schedule's peak learning rate" in diagnose(slow, lr_share=0.5)[0]


def test_the_end_of_a_one_cycle_run_raises_no_learning_rate_warning():
    project = make(optimizer=("Adam", {"lr": 0.001}), epochs=3, batch_size=100)
    project.training.scheduler = ComponentSpec("OneCycleLR", {"max_lr": 0.003})
    events: list[HealthEvent] = []
    trainer = Trainer(project, lambda e: events.append(e) if isinstance(e, HealthEvent) else None,
                      health_interval=0.0)   # every step measured
    assert trainer.run().status == FINISHED
    last = events[-1]
    assert last.global_step == 12
    # the step did shrink below the old threshold (the schedule's doing) ...
    assert min(h.update_ratio for h in last.layers if h.update_ratio is not None) < 1e-6
    # ... and no step of the run calls the learning rate too low
    assert not [w for e in events for w in e.warnings if "too low" in w]
