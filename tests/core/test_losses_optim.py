"""core.losses and core.optim: target plans checked by hand, the catalogues against torch's own classes."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from playground.core.errors import TrainingError
from playground.core.losses import (
    BINARY,
    CLASSES,
    LOSSES,
    REGRESSION,
    TargetPlan,
    build_loss,
    count_correct,
    encode_targets,
    plan_targets,
)
from playground.core.optim import (
    FUSED,
    OPTIMIZERS,
    SCHEDULERS,
    available_devices,
    build_optimizer,
    build_scheduler,
    check_device,
)
from playground.core.params import check_params


def defaults(entry) -> dict:
    return check_params(entry.params, {}, "")


def torch_defaults(cls) -> dict:
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


# --- plan_targets ------------------------------------------------------------------------------


def test_loss_kinds():
    kinds = {name: loss.target for name, loss in LOSSES.items()}
    assert kinds == {
        "MSELoss": REGRESSION, "L1Loss": REGRESSION, "SmoothL1Loss": REGRESSION, "HuberLoss": REGRESSION,
        "CrossEntropyLoss": CLASSES, "NLLLoss": CLASSES, "BCELoss": BINARY, "BCEWithLogitsLoss": BINARY,
    }


@pytest.mark.parametrize(
    "loss, output, task, n_classes, last, expected",
    [
        ("MSELoss", (1,), "regression", None, "Linear", TargetPlan("same", None)),
        ("HuberLoss", (1,), "regression", None, "Linear", TargetPlan("same", None)),
        ("CrossEntropyLoss", (3,), "classification", 3, "Linear", TargetPlan("same", "argmax")),
        ("NLLLoss", (3,), "classification", 3, "LogSoftmax", TargetPlan("same", "argmax")),
        ("BCELoss", (1,), "classification", 2, "Sigmoid", TargetPlan("column", "probability")),
        ("BCEWithLogitsLoss", (1,), "classification", 2, "Linear", TargetPlan("column", "logit")),
        ("BCEWithLogitsLoss", (3,), "classification", 3, "Linear", TargetPlan("onehot", "argmax")),
        ("BCELoss", (2,), "classification", 2, "Sigmoid", TargetPlan("onehot", "argmax")),
        ("MSELoss", (3,), "classification", 3, "Linear", TargetPlan("onehot", "argmax")),
        ("L1Loss", (2,), "classification", 2, "Tanh", TargetPlan("onehot", "argmax")),
    ],
)
def test_plans_that_fit(loss, output, task, n_classes, last, expected):
    assert plan_targets(loss, output, task, n_classes, "data", last) == expected


@pytest.mark.parametrize(
    "loss, output, task, n_classes, last, fragments",
    [
        ("CrossEntropyLoss", (1,), "regression", None, "Linear",
         ["CrossEntropyLoss needs class labels", "quadratic is a regression dataset", "MSELoss"]),
        ("BCEWithLogitsLoss", (1,), "regression", None, "Linear", ["regression dataset"]),
        ("MSELoss", (10,), "regression", None, "Linear", ["outputs (10,)", "out_features 1"]),
        ("CrossEntropyLoss", (2,), "classification", 3, "Linear",
         ["outputs (2,)", "quadratic has 3 classes", "out_features 3"]),
        ("BCELoss", (1,), "classification", 2, "Linear", ["ends with Linear", "Sigmoid", "BCEWithLogitsLoss"]),
        ("BCELoss", (1,), "classification", 2, None, ["ends with its input", "Sigmoid"]),
        ("BCEWithLogitsLoss", (5,), "classification", 2, "Linear", ["out_features 1 (two classes) or 2"]),
        ("BCEWithLogitsLoss", (1,), "classification", 3, "Linear", ["outputs (1,)", "out_features 3"]),
        ("MSELoss", (1,), "classification", 2, "Linear", ["one-hot", "out_features 2", "CrossEntropyLoss"]),
    ],
)
def test_plans_that_do_not_fit(loss, output, task, n_classes, last, fragments):
    with pytest.raises(TrainingError) as caught:
        plan_targets(loss, output, task, n_classes, "quadratic", last)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize("loss, output, n_classes, says", [
    # the MNIST MLP without its Flatten: the last Linear is right, the image's dimensions are not
    ("CrossEntropyLoss", (1, 28, 10), 10, "insert a Flatten before the first Linear, so each sample"),
    ("CrossEntropyLoss", (1, 28, 32), 10,
     "insert a Flatten before the first Linear and make the last layer a Linear with out_features 10"),
    ("MSELoss", (1, 28, 10), 10, "insert a Flatten before the first Linear, so"),
])
def test_an_output_that_kept_the_image_shape_asks_for_a_flatten(loss, output, n_classes, says):
    with pytest.raises(TrainingError) as caught:
        plan_targets(loss, output, "classification", n_classes, "mnist", "Linear")
    assert says in str(caught.value)
    if output[-1] == n_classes:
        assert "out_features" not in str(caught.value)   # the last layer is already a Linear with 10


@pytest.mark.parametrize("last", ["Softmax", "LogSoftmax"])
def test_softmax_before_cross_entropy_warns(last):
    plan = plan_targets("CrossEntropyLoss", (3,), "classification", 3, "spiral", last)
    assert plan.encode == "same" and plan.accuracy == "argmax"
    assert len(plan.warnings) == 1 and f"remove the {last}" in plan.warnings[0]


def test_nll_without_log_softmax_warns():
    plan = plan_targets("NLLLoss", (3,), "classification", 3, "spiral", "Linear")
    assert len(plan.warnings) == 1 and "LogSoftmax" in plan.warnings[0]
    assert plan_targets("NLLLoss", (3,), "classification", 3, "spiral", "LogSoftmax").warnings == ()


# --- encode_targets and count_correct ------------------------------------------------------------


def test_encode_targets():
    y = torch.tensor([0, 2, 1, 2])
    onehot = encode_targets(y, TargetPlan("onehot", "argmax"), 3)
    assert onehot.dtype == torch.float32
    assert onehot.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]]
    column = encode_targets(torch.tensor([0, 1, 1]), TargetPlan("column", "logit"), 2)
    assert column.dtype == torch.float32 and column.tolist() == [[0.0], [1.0], [1.0]]
    assert encode_targets(y, TargetPlan("same", "argmax"), 3) is y


def test_encoded_targets_are_what_the_torch_losses_take():
    out = torch.tensor([[0.3], [-1.2], [2.0]])
    y = torch.tensor([1, 0, 0])
    column = encode_targets(y, TargetPlan("column", "logit"), 2)
    expected = -(torch.log(torch.sigmoid(out[0, 0])) + torch.log(1 - torch.sigmoid(out[1, 0]))
                 + torch.log(1 - torch.sigmoid(out[2, 0]))) / 3
    torch.testing.assert_close(nn.BCEWithLogitsLoss()(out, column), expected)
    scores = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    onehot = encode_targets(torch.tensor([0, 1]), TargetPlan("onehot", "argmax"), 2)
    torch.testing.assert_close(nn.MSELoss()(scores, onehot), torch.tensor((0 + 0 + 0.25 + 0.25) / 4))


def test_count_correct_by_hand():
    scores = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.5, 0.4], [0.0, 9.0]])
    n = count_correct(scores, torch.tensor([1, 0, 1, 0]), TargetPlan("same", "argmax"))
    assert isinstance(n, torch.Tensor) and n.item() == 2        # rows 0 and 1
    logits = torch.tensor([[0.3], [-0.2], [0.0], [-1.0]])
    # a logit of exactly 0 is probability 0.5: not class 1
    assert count_correct(logits, torch.tensor([1, 0, 1, 0]), TargetPlan("column", "logit")).item() == 3
    probs = torch.tensor([[0.7], [0.4], [0.5], [0.51]])
    assert count_correct(probs, torch.tensor([1, 1, 0, 1]), TargetPlan("column", "probability")).item() == 3


# --- the catalogues against torch --------------------------------------------------------------


@pytest.mark.parametrize("name", list(LOSSES))
def test_build_loss_is_the_torch_class(name):
    cls = getattr(nn, name)
    loss = build_loss(name, defaults(LOSSES[name]))
    assert type(loss) is cls
    signature = torch_defaults(cls)
    for p in LOSSES[name].params:
        assert signature[p.name] == p.default   # same names and defaults as torch
        assert getattr(loss, p.name) == p.default
    if LOSSES[name].params:
        p = LOSSES[name].params[0]
        assert getattr(build_loss(name, {p.name: 0.25}), p.name) == 0.25


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_build_optimizer_is_the_torch_class(name):
    cls = getattr(torch.optim, name)
    params = defaults(OPTIMIZERS[name])
    optimizer = build_optimizer(name, params, nn.Linear(2, 2).parameters())
    assert type(optimizer) is cls
    signature = torch_defaults(cls)
    group = optimizer.param_groups[0]
    for p in OPTIMIZERS[name].params:
        expected = tuple(p.default) if isinstance(p.default, list) else p.default
        assert group[p.name] == expected
        if (name, p.name) != ("SGD", "lr"):   # torch's SGD lr of 0.001 barely moves a playground net
            assert signature[p.name] == expected


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_params_are_torch_arguments(name):
    signature = torch_defaults(getattr(torch.optim.lr_scheduler, name))
    for p in SCHEDULERS[name].params:
        assert p.name in signature
        if signature[p.name] is not inspect.Parameter.empty:
            assert signature[p.name] == p.default


def test_build_scheduler_fills_in_the_run_length():
    def optimizer():
        return torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1, momentum=0.9)

    cosine = build_scheduler("CosineAnnealingLR", defaults(SCHEDULERS["CosineAnnealingLR"]), optimizer(), 7, 5)
    assert type(cosine) is torch.optim.lr_scheduler.CosineAnnealingLR and cosine.T_max == 7
    given = dict(defaults(SCHEDULERS["CosineAnnealingLR"]), T_max=3)
    assert build_scheduler("CosineAnnealingLR", given, optimizer(), 7, 5).T_max == 3
    one_cycle = build_scheduler("OneCycleLR", defaults(SCHEDULERS["OneCycleLR"]), optimizer(), 7, 5)
    assert type(one_cycle) is torch.optim.lr_scheduler.OneCycleLR and one_cycle.total_steps == 35
    step = build_scheduler("StepLR", {"step_size": 2, "gamma": 0.5}, optimizer(), 7, 5)
    assert type(step) is torch.optim.lr_scheduler.StepLR and (step.step_size, step.gamma) == (2, 0.5)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_one_cycle_works_with_every_optimizer(name):
    # Adagrad and Adadelta have no momentum for OneCycleLR to cycle; the lr must still cycle
    optimizer = build_optimizer(name, defaults(OPTIMIZERS[name]), nn.Linear(2, 2).parameters())
    scheduler = build_scheduler("OneCycleLR", defaults(SCHEDULERS["OneCycleLR"]), optimizer, 2, 5)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(9):   # 2 epochs of 5 batches: the last of 10 learning rates comes after 9 steps
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1)
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_kernels_where_torch_has_them(name):
    params = defaults(OPTIMIZERS[name])
    fused = build_optimizer(name, params, nn.Linear(2, 2).parameters()).defaults.get("fused")
    assert fused is (True if name in FUSED else None)
    assert not build_optimizer(name, params, nn.Linear(2, 2).parameters(), fused=False).defaults.get("fused")
    # integer parameters (or none at all) cannot take the fused kernel: torch's default then
    assert not build_optimizer(name, params, [torch.zeros(2, dtype=torch.long)]).defaults.get("fused")


STEPS = 20


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, params", [
    ("Adam", {"lr": 0.01}), ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}), ("SGD", {"lr": 0.05}), ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
])
def test_fused_steps_match_the_default_loop(name, params, dtype):
    """The fused kernel and torch's per-tensor loop apply the same update rule.

    Both start from the same weights and are fed the same gradients, drawn in advance: the gradients
    do not depend on the weights, so the two trajectories cannot diverge chaotically (a trained loop
    would feed each rounding difference back into the next gradient, and after 50 steps the result
    depended on the CPU's kernels). What is left is rounding: each step computes the update with a
    handful of operations in a different order (at most ~8 roundings of the update, |update| <= lr
    for Adam, <= lr * (|g| + |momentum|) for SGD) and adds it to the weight (one rounding of the
    weight). Over STEPS steps the two can differ by at most STEPS * (|w| + 8 * |update|) * eps each."""
    params = check_params(OPTIMIZERS[name].params, params, "")
    gen = torch.Generator().manual_seed(0)
    shapes = [(8, 5), (8,), (1, 8), (1,)]
    start = [torch.randn(s, generator=gen, dtype=dtype) for s in shapes]
    grads = [[torch.randn(s, generator=gen, dtype=dtype) for s in shapes] for _ in range(STEPS)]

    def stepped(fused: bool) -> list[torch.Tensor]:
        weights = [nn.Parameter(w.clone()) for w in start]
        optimizer = build_optimizer(name, params, weights, fused=None if fused else False)
        assert bool(optimizer.defaults.get("fused")) is fused
        for step_grads in grads:
            for w, g in zip(weights, step_grads):
                w.grad = g.clone()
            optimizer.step()
        return [w.detach() for w in weights]

    fused, plain = stepped(True), stepped(False)
    eps = torch.finfo(dtype).eps
    lr = params["lr"]
    largest_grad = max(g.abs().max().item() for step_grads in grads for g in step_grads)
    # SGD's momentum buffer sums at most 1 / (1 - momentum) gradients; Nesterov adds one more
    update = lr if name != "SGD" else lr * largest_grad * (1 + 1 / (1 - params["momentum"]))
    for a, b in zip(fused, plain):
        bound = STEPS * (a.abs().max().item() + 8 * update) * eps
        torch.testing.assert_close(a, b, rtol=0, atol=bound)
    # and the rule is the same one: not a loose bound that any update would pass
    assert any(not torch.equal(a, w) for a, w in zip(fused, start))


def test_sgd_nesterov_needs_momentum_and_no_dampening():
    base = defaults(OPTIMIZERS["SGD"])
    with pytest.raises(TrainingError, match="momentum above 0"):
        build_optimizer("SGD", dict(base, nesterov=True), nn.Linear(2, 2).parameters())
    with pytest.raises(TrainingError, match="dampening 0"):
        build_optimizer("SGD", dict(base, nesterov=True, momentum=0.9, dampening=0.1), nn.Linear(2, 2).parameters())
    ok = build_optimizer("SGD", dict(base, nesterov=True, momentum=0.9), nn.Linear(2, 2).parameters())
    assert ok.param_groups[0]["nesterov"] is True


# --- devices -----------------------------------------------------------------------------------


def test_available_devices_start_with_cpu():
    devices = available_devices()
    assert devices[0] == "cpu" and len(devices) == len(set(devices))
    assert ("cuda:0" in devices) == torch.cuda.is_available()
    for name in devices:
        assert check_device(name) == torch.device(name)


def test_unknown_devices_name_the_available_ones():
    listed = ", ".join(available_devices())
    with pytest.raises(TrainingError) as caught:
        check_device("cuda:99")
    assert "'cuda:99'" in str(caught.value) and str(caught.value).endswith(f"choose one of {listed}")
    with pytest.raises(TrainingError, match="not a device name torch knows"):
        check_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu():
    with pytest.raises(TrainingError, match="no CUDA GPU is available — choose one of cpu"):
        check_device("cuda")
