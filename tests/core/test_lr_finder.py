"""core.lr_finder: the range test matches a hand-written loop, suggests a sane lr, stops, changes nothing given."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from playground.core.data import Batches, load
from playground.core.lr_finder import LRFinderStep, find_lr, suggest_lr
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import StepEvent, Trainer


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


def make(dataset: str = "xor", optimizer: tuple[str, dict] = ("Adam", {"lr": 0.03}), **settings) -> Project:
    hidden = [LayerSpec("Linear", {"out_features": 16}), LayerSpec("ReLU")]
    classes = 3 if dataset == "spiral" else 2
    network = NetworkSpec([2], [*hidden, *copy.deepcopy(hidden), LayerSpec("Linear", {"out_features": classes})])
    return Project(
        network=network,
        data=DataSpec(dataset, {"samples": 400}),
        training=TrainingSpec(optimizer=ComponentSpec(*optimizer), **settings),
    )


def hand_written(project: Project, ds, steps: int, start: float, end: float) -> list[float]:
    """The range test a PyTorch user writes: seeded model, Adam, lr set before each batch."""
    t = project.training
    torch.manual_seed(t.seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters())
    lrs = torch.logspace(math.log10(start), math.log10(end), steps, dtype=torch.float64).tolist()
    batches = iter(Batches(ds.x_train, ds.y_train, t.batch_size, seed=t.seed))
    losses = []
    for lr in lrs:
        optimizer.param_groups[0]["lr"] = lr
        xb, yb = next(batches)
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_matches_a_hand_written_range_test_with_an_exponential_schedule():
    project = make()
    ds = load(project.data)
    steps, start, end = 8, 1e-4, 1e-1   # fewer steps than the 10 batches of an epoch
    seen: list[LRFinderStep] = []
    result = find_lr(project, dataset=ds, start_lr=start, end_lr=end, steps=steps, callback=seen.append)
    assert result.raw_losses == hand_written(project, ds, steps, start, end)
    assert not result.stopped_early and len(result.lrs) == steps
    assert result.lrs[0] == start and math.isclose(result.lrs[-1], end, rel_tol=1e-12)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert all(math.isclose(r, (end / start) ** (1 / (steps - 1)), rel_tol=1e-12) for r in ratios)
    # the smoothed loss is an exponential moving average with bias correction
    average, smoothed = 0.0, []
    for i, raw in enumerate(result.raw_losses, start=1):
        average = 0.95 * average + 0.05 * raw
        smoothed.append(average / (1 - 0.95**i))
    assert result.losses == pytest.approx(smoothed, rel=1e-12)
    assert [(s.step, s.lr, s.loss, s.raw_loss) for s in seen] == list(
        zip(range(steps), result.lrs, result.losses, result.raw_losses)
    )


def test_cycles_the_batches_and_starts_where_the_trainer_starts():
    project = make(epochs=1)
    ds = load(project.data)
    events: list = []
    Trainer(project, events.append, dataset=ds, report_interval=0).run()
    first = next(e for e in events if isinstance(e, StepEvent))
    result = find_lr(project, dataset=ds, start_lr=1e-6, end_lr=1e-5, steps=25)   # 2.5 epochs of batches
    assert result.raw_losses[0] == first.loss and len(result.raw_losses) == 25


@pytest.mark.parametrize("dataset", ["xor", "spiral"])
def test_suggests_a_sane_rate_for_adam(dataset):
    result = find_lr(make(dataset))
    start, end = 1e-7, 10.0
    assert start < result.suggested_lr < end
    assert 1e-4 <= result.suggested_lr <= 1.0
    # the suggestion sits where the curve falls, well below the lowest loss's lr
    best = result.lrs[result.losses.index(min(result.losses))]
    assert result.suggested_lr < best


def test_stops_when_the_loss_diverges():
    result = find_lr(make(optimizer=("SGD", {"lr": 0.1})), start_lr=1e-3, end_lr=1e4, steps=100)
    assert result.stopped_early and len(result.lrs) < 100
    assert result.losses[-1] > 4 * min(result.losses[:-1])
    assert all(loss <= 4 * min(result.losses[: i + 1]) for i, loss in enumerate(result.losses[:-1]))


def test_a_flat_curve_falls_back_to_a_tenth_of_the_best_rate():
    result = find_lr(make(), start_lr=1e-9, end_lr=1e-8, steps=60)
    best = result.lrs[result.losses.index(min(result.losses))]
    assert result.suggested_lr == best / 10
    assert suggest_lr([1e-3, 1e-2], [1.0, 0.5]) is None   # too few points to say


def test_should_stop_halts_at_once():
    calls = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    result = find_lr(make(), should_stop=should_stop)
    assert result.stopped_early and len(result.lrs) == 5 and result.suggested_lr is None


def test_changes_nothing_it_was_given():
    project = make(optimizer=("SGD", {"lr": 0.05, "momentum": 0.9}), grad_clip=1.0)
    ds = load(project.data)
    torch.manual_seed(3)
    source = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    state = source.state_dict()   # shares storage with `source`: any write would show in both
    before = {k: v.clone() for k, v in state.items()}
    data_before = [t.clone() for t in (ds.x_train, ds.y_train, ds.x_val, ds.y_val)]
    project_before = project.to_json()

    result = find_lr(project, dataset=ds, model_state=state, steps=50)

    assert all(torch.equal(state[k], before[k]) for k in before)
    assert all(torch.equal(a, b) for a, b in zip((ds.x_train, ds.y_train, ds.x_val, ds.y_val), data_before))
    assert project.to_json() == project_before
    # and the given weights were the ones tested
    xb, yb = next(iter(Batches(ds.x_train, ds.y_train, 32, seed=0)))
    assert result.raw_losses[0] == nn.functional.cross_entropy(source(xb), yb).item()


def test_refuses_a_backwards_range():
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        find_lr(make(), start_lr=1.0, end_lr=1e-3)
