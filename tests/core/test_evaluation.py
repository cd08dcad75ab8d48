"""core.evaluation: predictions, probabilities and per-sample losses against PyTorch itself, confusion
matrices against counting by hand, accuracy against the trainer's, and MNIST-style digit preparation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playground.core.data import Dataset, DataInfo
from playground.core.evaluation import (
    Predictor,
    confusion_matrix,
    digit_input,
    evaluate,
    evaluate_test,
    grid,
    image_normalization,
    per_class_accuracy,
)
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import Trainer


def network(outputs: int, last: str | None = None, inputs: int = 2) -> NetworkSpec:
    layers = [LayerSpec("Linear", {"out_features": 5}), LayerSpec("Tanh"),
              LayerSpec("Linear", {"out_features": outputs})]
    return NetworkSpec([inputs], layers + ([LayerSpec(last)] if last else []))


def reference(outputs: int, last: nn.Module | None = None, inputs: int = 2) -> nn.Sequential:
    """The hand-written PyTorch model with the same layers, seeded weights."""
    torch.manual_seed(7)
    layers = [nn.Linear(inputs, 5), nn.Tanh(), nn.Linear(5, outputs)]
    return nn.Sequential(*layers, *([last] if last else [])).eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(50, 2, generator=torch.Generator().manual_seed(1)) * 2


def test_outputs_probabilities_and_losses_match_torch_for_cross_entropy(x):
    ref = reference(3)
    y = torch.arange(50) % 3
    predictor = Predictor(network(3), ref.state_dict(), "CrossEntropyLoss", 3, {"label_smoothing": 0.1})
    with torch.no_grad():
        logits = ref(x)
    torch.testing.assert_close(predictor.outputs(x, batch=7), logits)   # batching changes nothing
    torch.testing.assert_close(predictor.probabilities(x), logits.softmax(1))
    labels, confidence = predictor.predict(x)
    assert torch.equal(labels, logits.argmax(1))
    torch.testing.assert_close(confidence, logits.softmax(1).max(1).values)
    expected = F.cross_entropy(logits, y, reduction="none", label_smoothing=0.1)
    torch.testing.assert_close(predictor.sample_losses(x, y, batch=16), expected)
    both = predictor.predict_with_losses(x, y)
    assert torch.equal(both[0], labels)
    torch.testing.assert_close(both[1], confidence)
    torch.testing.assert_close(both[2], expected)
    assert not predictor.model.training


def test_nll_loss_probabilities_are_the_exp_of_the_log_probabilities(x):
    ref = reference(3, nn.LogSoftmax(dim=1))
    predictor = Predictor(network(3, "LogSoftmax"), ref.state_dict(), "NLLLoss", 3)
    with torch.no_grad():
        log_p = ref(x)
    torch.testing.assert_close(predictor.probabilities(x), log_p.exp())
    y = torch.arange(50) % 3
    torch.testing.assert_close(predictor.sample_losses(x, y), F.nll_loss(log_p, y, reduction="none"))


@pytest.mark.parametrize("loss, last", [("BCEWithLogitsLoss", None), ("BCELoss", "Sigmoid")])
def test_one_binary_output_gives_two_class_probabilities_and_the_trainers_threshold(x, loss, last):
    ref = reference(1, nn.Sigmoid() if last else None)
    predictor = Predictor(network(1, last), ref.state_dict(), loss, 2)
    with torch.no_grad():
        out = ref(x)
    p = out.sigmoid() if loss == "BCEWithLogitsLoss" else out
    torch.testing.assert_close(predictor.probabilities(x), torch.cat([1 - p, p], 1))
    labels, confidence = predictor.predict(x)
    assert torch.equal(labels, (p[:, 0] > 0.5).long())
    torch.testing.assert_close(confidence, torch.where(labels == 1, p[:, 0], 1 - p[:, 0]))
    y = (torch.arange(50) % 2)
    fn = F.binary_cross_entropy_with_logits if loss == "BCEWithLogitsLoss" else F.binary_cross_entropy
    torch.testing.assert_close(predictor.sample_losses(x, y), fn(out, y.float()[:, None], reduction="none")[:, 0])


def test_a_regression_loss_on_one_hot_targets_reads_clamped_outputs_as_shares(x):
    ref = reference(3)
    predictor = Predictor(network(3), ref.state_dict(), "MSELoss", 3)
    with torch.no_grad():
        out = ref(x)
    p = predictor.probabilities(x)
    torch.testing.assert_close(p.sum(1), torch.ones(50))
    positive = out.clamp(min=0)
    some = positive.sum(1) > 0
    torch.testing.assert_close(p[some], positive[some] / positive[some].sum(1, keepdim=True))
    assert torch.equal(predictor.predict(x)[0], out.argmax(1))
    y = torch.arange(50) % 3
    torch.testing.assert_close(predictor.sample_losses(x, y), ((out - F.one_hot(y, 3)) ** 2).mean(1))


def test_regression_has_outputs_and_losses_but_no_classes():
    ref = reference(1, inputs=1)
    predictor = Predictor(network(1, inputs=1), ref.state_dict(), "L1Loss", None)
    x = torch.linspace(-1, 1, 9)[:, None]
    y = x ** 2
    with torch.no_grad():
        out = ref(x)
    torch.testing.assert_close(predictor.outputs(x), out)
    torch.testing.assert_close(predictor.sample_losses(x, y), (out - y).abs()[:, 0])
    with pytest.raises(ValueError, match="regression"):
        predictor.predict(x)


def test_new_weights_load_into_the_same_model(x):
    a, b = reference(3), reference(3)
    with torch.no_grad():
        b[2].bias.add_(1.0)
    predictor = Predictor(network(3), a.state_dict(), "CrossEntropyLoss", 3)
    model = predictor.model
    predictor.load_state(b.state_dict())
    assert predictor.model is model
    with torch.no_grad():
        torch.testing.assert_close(predictor.outputs(x), b(x))


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    true = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0])
    pred = torch.tensor([0, 1, 1, 1, 0, 2, 0, 0])
    matrix = confusion_matrix(pred, true, 4)
    by_hand = torch.zeros(4, 4, dtype=torch.long)
    for t, p in zip(true.tolist(), pred.tolist()):
        by_hand[t, p] += 1
    assert matrix.dtype == torch.long and torch.equal(matrix, by_hand)
    assert int(matrix.sum()) == len(true)
    per_class = per_class_accuracy(matrix)
    torch.testing.assert_close(per_class[:3], torch.tensor([2 / 3, 2 / 3, 1 / 2]))
    assert torch.isnan(per_class[3])   # class 3 has no samples: no accuracy, not 0 %


def test_evaluate_on_the_test_split_and_refuse_without_one(x):
    ref = reference(3)
    predictor = Predictor(network(3), ref.state_dict(), "CrossEntropyLoss", 3)
    y = torch.arange(50) % 3
    info = DataInfo("toy", "classification", (2,), 3, ("a", "b", "c"))
    dataset = Dataset(info, x[:0], y[:0], x[:0], y[:0], x, y)
    result = evaluate_test(predictor, dataset)
    with torch.no_grad():
        predicted = ref(x).argmax(1)
    assert result.accuracy == pytest.approx(float((predicted == y).float().mean()))
    assert int(result.matrix.sum()) == 50
    assert result.accuracy == pytest.approx(float(result.matrix.diagonal().sum()) / 50)
    torch.testing.assert_close(result.per_class, per_class_accuracy(result.matrix))
    assert torch.equal(result.predicted, predicted)
    with pytest.raises(ValueError, match="no official test split"):
        evaluate_test(predictor, Dataset(info, x, y, x, y, None, None))


def test_the_predictor_counts_accuracy_as_the_trainer_does():
    project = Project(
        NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("Tanh"),
                          LayerSpec("Linear", {"out_features": 1})]),
        DataSpec("xor", {"samples": 300}),
        TrainingSpec(loss=ComponentSpec("BCEWithLogitsLoss"), optimizer=ComponentSpec("Adam", {"lr": 0.03}),
                     epochs=2),
    )
    trainer = Trainer(project)
    trainer.run()
    data = trainer._setup.dataset
    y_val = trainer._setup.y_val
    loss, accuracy = trainer.evaluate(data.x_val, y_val, data.y_val)
    predictor = Predictor.from_project(project, trainer.model.state_dict(), 2)
    assert evaluate(predictor, data.x_val, data.y_val).accuracy == pytest.approx(accuracy)
    assert float(predictor.sample_losses(data.x_val, data.y_val).mean()) == pytest.approx(loss, rel=1e-5)


def test_grid_points_run_row_by_row_over_the_plane():
    xs, ys, points = grid((-1.0, 1.0, 0.0, 4.0), 5)
    torch.testing.assert_close(xs, torch.linspace(-1, 1, 5))
    torch.testing.assert_close(ys, torch.linspace(0, 4, 5))
    assert points.shape == (25, 2)
    image = points.view(5, 5, 2)
    assert image[3, 1].tolist() == [xs[1].item(), ys[3].item()]   # row i is ys[i], column j is xs[j]


def test_image_normalization_follows_the_normalize_parameter():
    assert image_normalization(DataSpec("mnist", {})) == (0.5, 0.5)
    assert image_normalization(DataSpec("mnist", {"normalize": "none"})) == (0.0, 1.0)
    assert image_normalization(DataSpec("mnist", {"normalize": "mean_std"})) == (0.1307, 0.3081)
    assert image_normalization(DataSpec("fashion_mnist", {"normalize": "mean_std"})) == (0.2860, 0.3530)


def test_digit_input_fits_a_stroke_into_20_pixels_centred_by_its_mass():
    ink = torch.zeros(280, 280)
    ink[40:240, 200:222] = 1.0   # a vertical bar off to the right of the canvas
    digit = digit_input(ink)
    assert digit.shape == (28, 28) and 0 <= float(digit.min()) and float(digit.max()) <= 1
    rows, cols = torch.nonzero(digit > 0.1, as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 == 20            # the long side fills the box
    assert int(cols.max() - cols.min()) + 1 <= 4             # the bar stays thin
    mass = digit.sum()
    cy = float((digit.sum(1) * torch.arange(28)).sum() / mass)
    cx = float((digit.sum(0) * torch.arange(28)).sum() / mass)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    assert torch.equal(digit_input(torch.zeros(50, 50)), torch.zeros(28, 28))


@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "MSELoss"])   # (N,) losses, and (N, 3) on one-hot targets
def test_zero_samples_give_zero_predictions_and_losses_not_an_error(x, loss):
    # an empty validation split (val_fraction 0) reaches here: reshape(0, -1) used to raise
    predictor = Predictor(network(3), reference(3).state_dict(), loss, 3)
    y = torch.zeros(0, dtype=torch.long)
    labels, confidence, losses = predictor.predict_with_losses(x[:0], y)
    assert labels.shape == confidence.shape == losses.shape == (0,)
    assert predictor.sample_losses(x[:0], y).shape == (0,)
