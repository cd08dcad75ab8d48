"""What trained weights do with data: probabilities, predictions, per-sample losses, confusion matrices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checkpoint import apply_state_dict
from .data import _MEAN_STD, DATASETS, REGRESSION, Dataset
from .losses import BINARY, CLASSES, LOSSES, build_loss, encode_targets, plan_targets
from .params import check_params
from .shapes import build_network, infer_shapes
from .spec import DataSpec, NetworkSpec, Project

# Inference keeps no activations for a backward pass, so it can take bigger bites than training,
# but on a CPU a bite whose activations outgrow the caches runs slower: the fast Fashion-MNIST CNN
# evaluated its 10,000 test images in 0.42 s in bites of 256 and in 1.27 s in bites of 2048
# (float32, 2 Zen 4 cores). On CUDA and MPS a big bite keeps the device busy.
BATCH = {"cpu": 256}
BATCH_DEFAULT = 2048


def eval_batch(device: torch.device) -> int:
    """How many samples inference runs through a network at a time on `device`."""
    return BATCH.get(device.type, BATCH_DEFAULT)


DIGIT_BOX = 20      # MNIST fits each digit into a 20×20 box ...
DIGIT_SIZE = 28     # ... centred by its centre of mass in a 28×28 image


class Predictor:
    """A network rebuilt from its spec with given weights, in eval mode, answering without gradients.

    `probabilities` turns every loss's outputs into a distribution over the classes:

    - CrossEntropyLoss: softmax of the logits.
    - NLLLoss: softmax of the log-probabilities, which is exp() of them when they come from a
      LogSoftmax and still a distribution when the network forgot it.
    - BCELoss / BCEWithLogitsLoss with one output (two classes): [1 - p, p], p the output (clamped to
      [0, 1]) or its sigmoid. With one output per class each output is an independent probability;
      they are divided by their sum.
    - A regression loss on one-hot targets (MSELoss, L1Loss, ...): the outputs aim at 0 and 1, so they
      are clamped at 0 and divided by their sum (uniform where all are ≤ 0). Softmax would say 58 % for
      a perfect [1, 0, 0].

    `predict` reads the label as the trainer counts accuracy (argmax, or the output's threshold for a
    single binary output), so its accuracy equals the trainer's.

    `Predictor.live` wraps a model being trained instead (no rebuild, no copy): every answer runs
    inside `evaluating()`, which leaves its train/eval modes as they were. Inputs go to the model's
    device; answers stay there (the caller moves them to the CPU).
    """

    def __init__(
        self,
        network: NetworkSpec,
        state: dict | None,
        loss_type: str | None,             # None: the network alone (layer outputs), no classes or losses
        n_classes: int | None,
        loss_params: dict | None = None,   # e.g. label_smoothing, which changes the per-sample loss
        model: nn.Module | None = None,    # a built model to use as it is (live); None: build, then load `state`
    ):
        if loss_type is not None and loss_type not in LOSSES:
            raise ValueError(f"unknown loss {loss_type!r} (known: {', '.join(LOSSES)})")
        self.network = network
        self.loss_type = loss_type
        self.n_classes = n_classes
        output_shape = infer_shapes(network).output_shape
        last = network.layers[-1].type if network.layers else None
        task = REGRESSION if n_classes is None else "classification"
        self.plan = None if loss_type is None else plan_targets(
            loss_type, output_shape, task, n_classes, "the dataset", last)
        self.model = model if model is not None else build_network(network, initialise=False).eval()
        if model is None:
            self.load_state(state)   # built without initialising: the weights come here
        self._loss_fn = None if loss_type is None else build_loss(
            loss_type, {**(loss_params or {}), "reduction": "none"})

    @classmethod
    def from_project(cls, project: Project, state: dict, n_classes: int | None) -> Predictor:
        loss = project.training.loss
        return cls(project.network, state, loss.type, n_classes, loss.params)

    @classmethod
    def of_network(cls, network: NetworkSpec, state: dict) -> Predictor:
        """The network alone, for what its layers output: whatever the loss, which need not fit yet."""
        return cls(network, state, None, None)

    @classmethod
    def live(cls, model: nn.Module, project: Project, n_classes: int | None) -> Predictor:
        """The model a run is training, used in place between steps (never during one: no lock)."""
        loss = project.training.loss
        return cls(project.network, None, loss.type, n_classes, loss.params, model=model)

    def load_state(self, state: dict) -> None:
        """New weights for the same network (a live view gets several a second): no rebuild."""
        apply_state_dict(self.model, state, self.network)

    @property
    def device(self) -> torch.device:
        """Where the model's weights are: inputs go there."""
        tensor = next(self.model.parameters(), None)
        if tensor is None:
            tensor = next(self.model.buffers(), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    @contextmanager
    def evaluating(self) -> Iterator[Predictor]:
        """Eval mode under torch.no_grad(), then every submodule's own mode back: a live model's
        BatchNorm keeps its running statistics and its Dropout goes on dropping."""
        modes = [(module, module.training) for module in self.model.modules()]
        self.model.eval()
        try:
            with torch.no_grad():
                yield self
        finally:
            for module, training in modes:
                module.training = training

    @property
    def classifies(self) -> bool:
        return self.plan is not None and self.plan.accuracy is not None

    def outputs(self, x: Tensor, batch: int | None = None) -> Tensor:
        """The network's raw outputs for `x`, in float32, computed in batches (default: eval_batch)."""
        device = self.device
        batch = eval_batch(device) if batch is None else batch
        with self.evaluating():
            parts = [self.model(x[i : i + batch].to(device)).float() for i in range(0, len(x), batch)]
        if not parts:
            return torch.empty(0, *infer_shapes(self.network).output_shape, device=device)
        return torch.cat(parts)

    def probabilities(self, x: Tensor) -> Tensor:
        """(N, C): each row a distribution over the classes (see the class docstring for each loss)."""
        return self._probabilities(self.outputs(x))

    def predict(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(labels, confidence): the predicted class of each sample and its probability."""
        out = self.outputs(x)
        labels = self._labels(out)
        confidence = self._probabilities(out).gather(1, labels.unsqueeze(1)).squeeze(1)
        return labels, confidence

    def sample_losses(self, x: Tensor, y: Tensor, batch: int | None = None) -> Tensor:
        """(N,): the training loss of each sample (reduction="none", averaged over outputs), the
        same numbers whose mean the trainer reports. `y` holds class indices or regression targets."""
        self._need_loss()
        device = self.device
        batch = eval_batch(device) if batch is None else batch
        target = encode_targets(y.to(device), self.plan, self.n_classes)
        parts = []
        with self.evaluating():
            for i in range(0, len(x), batch):
                loss = self._loss_fn(self.model(x[i : i + batch].to(device)).float(), target[i : i + batch])
                parts.append(loss.flatten(1).mean(1) if loss.dim() > 1 else loss)
        return torch.cat(parts) if parts else torch.empty(0, device=device)

    def predict_with_losses(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(labels, confidence, losses) from one pass over `x`: what a gallery sorts and marks."""
        self._need_loss()
        out = self.outputs(x)
        labels = self._labels(out)
        confidence = self._probabilities(out).gather(1, labels.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            losses = self._loss_fn(out, encode_targets(y.to(out.device), self.plan, self.n_classes))
        # flatten(1), not reshape(len, -1): 0 samples (an empty split) give 0 losses, not an error
        return labels, confidence, losses.flatten(1).mean(1) if losses.dim() > 1 else losses

    def _need_loss(self) -> None:
        if self.plan is None:
            raise ValueError("this predictor has no loss (Predictor.of_network): no classes, no losses")

    def _labels(self, out: Tensor) -> Tensor:
        self._need_loss()
        if self.plan.accuracy is None:
            raise ValueError(f"{self.loss_type} here is a regression loss: there are no classes to predict")
        if self.plan.accuracy == "argmax":
            return out.argmax(1)
        threshold = 0.0 if self.plan.accuracy == "logit" else 0.5
        return (out[:, 0] > threshold).long()

    def _probabilities(self, out: Tensor) -> Tensor:
        self._need_loss()
        if self.plan.accuracy is None:
            raise ValueError(f"{self.loss_type} here is a regression loss: there are no class probabilities")
        kind = LOSSES[self.loss_type].target
        if kind == CLASSES:
            return out.softmax(1)
        if kind == BINARY:
            p = out.sigmoid() if self.loss_type == "BCEWithLogitsLoss" else out.clamp(0.0, 1.0)
            if self.plan.encode == "column":
                return torch.cat([1 - p, p], 1)
            return _normalized(p)
        return _normalized(out.clamp(min=0.0))


def _normalized(p: Tensor) -> Tensor:
    total = p.sum(1, keepdim=True)
    uniform = torch.full_like(p, 1.0 / p.shape[1])
    return torch.where(total > 0, p / total.clamp(min=1e-12), uniform)


# --- counting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    __test__ = False       # not a pytest test class, whatever its name says

    accuracy: float        # share of correct predictions
    per_class: Tensor      # (C,) accuracy of each true class; NaN for a class with no samples
    matrix: Tensor         # (C, C) counts, rows the true class, columns the predicted one
    predicted: Tensor      # (N,) the predicted labels, to find the samples behind a cell
    confidence: Tensor     # (N,) the probability of each predicted label


def confusion_matrix(predicted: Tensor, true: Tensor, n: int) -> Tensor:
    """(n, n) LongTensor: entry [t, p] counts samples of true class t predicted as p."""
    index = true.long().flatten() * n + predicted.long().flatten()
    return torch.bincount(index, minlength=n * n).view(n, n)


def per_class_accuracy(matrix: Tensor) -> Tensor:
    """(n,) float: the diagonal over each row's total; NaN where a class has no samples."""
    totals = matrix.sum(1).double()
    return torch.where(totals > 0, matrix.diagonal().double() / totals.clamp(min=1), torch.nan).float()


def evaluate(predictor: Predictor, x: Tensor, y: Tensor) -> TestResult:
    """Accuracy, per-class accuracy and the confusion matrix of `predictor` on (x, y)."""
    labels, confidence = predictor.predict(x)
    matrix = confusion_matrix(labels, y.to(labels.device), predictor.n_classes)
    accuracy = float(matrix.diagonal().sum()) / len(y) if len(y) else float("nan")
    return TestResult(accuracy, per_class_accuracy(matrix), matrix, labels, confidence)


def evaluate_test(predictor: Predictor, dataset: Dataset) -> TestResult:
    """The same on the official test split (MNIST-like datasets only)."""
    if dataset.x_test is None or dataset.y_test is None:
        raise ValueError(f"{dataset.info.name} has no official test split")
    return evaluate(predictor, dataset.x_test, dataset.y_test)


# --- inputs ----------------------------------------------------------------------------------------


def grid(bounds: tuple[float, float, float, float], resolution: int) -> tuple[Tensor, Tensor, Tensor]:
    """(xs, ys, points) over bounds = (x_min, x_max, y_min, y_max): `resolution` values per axis and
    the (resolution², 2) points row by row, so outputs.view(resolution, resolution)[i, j] is at (xs[j], ys[i])."""
    x0, x1, y0, y1 = bounds
    xs, ys = torch.linspace(x0, x1, resolution), torch.linspace(y0, y1, resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return xs, ys, torch.stack([gx.flatten(), gy.flatten()], 1)


def image_normalization(data: DataSpec) -> tuple[float, float]:
    """(mean, std) such that the dataset feeds the network (pixel - mean) / std, pixels in [0, 1]."""
    kind = DATASETS[data.dataset]
    how = check_params(kind.params, data.params, "data.params.")["normalize"]
    if how == "0.5":
        return 0.5, 0.5
    if how == "mean_std":
        return _MEAN_STD[data.dataset]
    return 0.0, 1.0


def digit_input(ink: Tensor) -> Tensor:
    """A drawing (H, W) of ink in [0, 1] prepared as MNIST prepared its digits: cropped to the ink,
    scaled to fit a 20×20 box keeping the aspect ratio, and put in a 28×28 image with the centre of
    mass in the middle. Returns (28, 28) pixels in [0, 1] (zeros for an empty drawing)."""
    out = torch.zeros(DIGIT_SIZE, DIGIT_SIZE)
    rows, cols = torch.nonzero(ink > 0.02, as_tuple=True)
    if len(rows) == 0:
        return out
    crop = ink[int(rows.min()) : int(rows.max()) + 1, int(cols.min()) : int(cols.max()) + 1].float()
    h, w = crop.shape
    scale = DIGIT_BOX / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(crop[None, None], size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]
    small = small.clamp(0.0, 1.0)
    mass = small.sum()
    cy = float((small.sum(1) * torch.arange(size[0])).sum() / mass)
    cx = float((small.sum(0) * torch.arange(size[1])).sum() / mass)
    # the centre of mass lands on the image centre, as long as the digit stays inside
    top = min(max(round(DIGIT_SIZE / 2 - 0.5 - cy), 0), DIGIT_SIZE - size[0])
    left = min(max(round(DIGIT_SIZE / 2 - 0.5 - cx), 0), DIGIT_SIZE - size[1])
    out[top : top + size[0], left : left + size[1]] = small
    return out
