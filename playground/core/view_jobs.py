"""The work the live views need from a model (fit curve, decision surface, prediction surface, every
neuron, gallery, confusion matrix, layer output), as plain jobs: a request names the job and its small parameters, a result carries what the view
paints. The window's views run them on their own weights; a training worker runs them on its live model.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from . import insight, neurons
from .data import REGRESSION, Dataset, model_inputs
from .errors import PlaygroundError
from .evaluation import Predictor, evaluate, grid


@dataclass(frozen=True)
class ViewRequest:
    view: str      # the asking view's key (its objectName): the result goes back to it
    kind: str      # a key of JOBS
    params: dict   # small and picklable (plain Python numbers/tuples/str): bounds, resolution, n, layer, sample index, split name ...


@dataclass
class ViewResult:
    view: str
    kind: str
    data: dict       # CPU tensors and Python numbers, small (what the view paints; never a whole dataset)
    error: str = ""  # one line when the job failed (the view shows it; the worker never dies of it)
    trace: str = ""  # the failure's traceback, for the error report; "" when it did not fail


class Split(NamedTuple):
    """The samples a view shows the model's predictions on, and the words that say which they are."""

    x: Tensor
    y: Tensor
    name: str      # "validation", "test" or "training"
    note: str      # "" for the validation split, else why another split stands in


def shown_split(dataset: Dataset) -> Split:
    """The validation split; without one (val_fraction 0) the official test split, else the training
    samples — never 0 samples, and the note says which split it is instead."""
    if len(dataset.x_val):
        return Split(dataset.x_val, dataset.y_val, "validation", "")
    if dataset.x_test is not None and len(dataset.x_test):
        return Split(dataset.x_test, dataset.y_test, "test", "no validation split — showing the test set")
    return Split(dataset.x_train, dataset.y_train, "training", "no validation split — showing the training samples")


class ViewJobError(PlaygroundError):
    """A job that cannot run for a reason the person can act on; the view shows the message as it is."""


# --- the jobs: each takes (predictor, dataset, params) and returns the data its view paints ----------------


def fit_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Fit: the model's curve over params low..high (`points` values) and the mean training and validation
    losses. Data: x, y (points,), train_loss, val_loss (None without a validation split)."""
    xs = torch.linspace(float(params["low"]), float(params["high"]), int(params["points"]))[:, None]
    ys = predictor.outputs(xs)[:, 0]
    d = dataset
    val_loss = float(predictor.sample_losses(d.x_val, d.y_val).mean()) if len(d.x_val) else None
    return {"x": xs[:, 0], "y": ys.cpu(), "train_loss": float(predictor.sample_losses(d.x_train, d.y_train).mean()),
            "val_loss": val_loss}


def boundary_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Decision boundary: the class and its probability at each point of a grid over params bounds
    (x_min, x_max, y_min, y_max) with `resolution` points per axis, and the accuracy on the shown split.
    Data: labels, confidence (resolution², row by row as evaluation.grid), classes, accuracy, split,
    bounds, resolution."""
    bounds, resolution = tuple(float(b) for b in params["bounds"]), int(params["resolution"])
    _, _, points = grid(bounds, resolution)   # on the CPU: the same points wherever the model is
    probabilities = predictor.probabilities(model_inputs(dataset.info, points))   # fed as the data is: its features
    confidence, labels = probabilities.max(1)
    split = shown_split(dataset)
    predicted, _ = predictor.predict(split.x)
    accuracy = float((predicted == split.y.to(predicted.device)).float().mean())
    return {"labels": labels.cpu(), "confidence": confidence.cpu(), "classes": int(probabilities.shape[1]),
            "accuracy": accuracy, "split": split.name, "bounds": bounds, "resolution": resolution}


def surface_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Prediction surface of a regression on points of the plane: the model's (first) output at each point
    of a grid over params bounds with `resolution` points per axis, and the mean training and validation
    losses. Data: values (resolution², row by row as evaluation.grid), bounds, resolution, train_loss,
    val_loss (None without a validation split)."""
    bounds, resolution = tuple(float(b) for b in params["bounds"]), int(params["resolution"])
    _, _, points = grid(bounds, resolution)
    values = predictor.outputs(model_inputs(dataset.info, points)).flatten(1)[:, 0]
    d = dataset
    val_loss = float(predictor.sample_losses(d.x_val, d.y_val).mean()) if len(d.x_val) else None
    return {"values": values.cpu(), "bounds": bounds, "resolution": resolution, "val_loss": val_loss,
            "train_loss": float(predictor.sample_losses(d.x_train, d.y_train).mean())}


def network_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Every neuron of an MLP on points of the plane (core.neurons.network_data) over a `resolution`² grid
    of params bounds, at most `most` neurons a column, and the model's output large: the decision
    surface (boundary_job) or the prediction surface (surface_job) at `output_resolution`. Data: those of
    network_data, and output (the other job's data) with output_kind ("boundary" or "surface")."""
    bounds = tuple(float(b) for b in params["bounds"])
    # a network that is no MLP raises neurons.NotAnMLP, a PlaygroundError: its words reach the view as they are
    data = neurons.network_data(predictor, dataset, bounds, int(params["resolution"]), int(params["most"]))
    big = {"bounds": bounds, "resolution": int(params["output_resolution"])}
    kind = "surface" if dataset.info.task == REGRESSION else "boundary"
    data["output"] = (surface_job if kind == "surface" else boundary_job)(predictor, dataset, big)
    data["output_kind"] = kind
    return data


def gallery_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Predictions: label, confidence and loss of the first params n samples of the shown split.
    Data: labels, confidence, losses (n,), split, total (the split's size)."""
    split = shown_split(dataset)
    n = min(int(params["n"]), len(split.x))
    labels, confidence, losses = predictor.predict_with_losses(split.x[:n], split.y[:n])
    return {"labels": labels.cpu(), "confidence": confidence.cpu(), "losses": losses.cpu(),
            "split": split.name, "total": len(split.x)}


def confusion_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Confusion matrix on the first params n samples of params split: "shown" (shown_split) or "test"
    (the official test split). Data: the fields of evaluation.TestResult (accuracy, per_class, matrix,
    predicted, confidence), split (its name), total (its size)."""
    if params.get("split", "shown") == "test":
        if dataset.x_test is None or dataset.y_test is None:
            raise ViewJobError(f"{dataset.info.name} has no official test split")
        x, y, name = dataset.x_test, dataset.y_test, "test"
    else:
        x, y, name, _ = shown_split(dataset)
    n = min(int(params.get("n", len(x))), len(x))
    result = evaluate(predictor, x[:n], y[:n])
    return {"accuracy": result.accuracy, "per_class": result.per_class.cpu(), "matrix": result.matrix.cpu(),
            "predicted": result.predicted.cpu(), "confidence": result.confidence.cpu(), "split": name,
            "total": len(x)}


def layer_output_job(predictor: Predictor, dataset: Dataset, params: dict) -> dict:
    """Layer output: what layer params layer makes of sample params sample of the shown split.
    Data: output (that one sample's output, no batch dimension), layer, sample, split."""
    split = shown_split(dataset)
    layer, sample = int(params["layer"]), int(params["sample"])
    if not 0 <= sample < len(split.x):
        raise ViewJobError(f"there is no {split.name} sample {sample} (there are {len(split.x)})")
    with predictor.evaluating():
        try:
            outputs = insight.run_layers(predictor.model, split.x[sample : sample + 1])
        except RuntimeError as e:   # a layer torch refuses at run time; shape inference caught the rest
            layers = predictor.network.layers
            name = f" {layers[layer].type}" if 0 <= layer < len(layers) else ""
            raise ViewJobError(f"layer {layer}{name}: {str(e).splitlines()[0]}") from e
    if not 0 <= layer < len(outputs):
        raise ViewJobError(f"the network has no layer {layer} (it has {len(outputs)})")
    return {"output": outputs[layer][0].detach().cpu().clone(), "layer": layer, "sample": sample,
            "split": split.name}


JOBS: dict[str, Callable[[Predictor, Dataset, dict], dict]] = {
    "fit": fit_job,
    "boundary": boundary_job,
    "surface": surface_job,
    "network": network_job,
    "gallery": gallery_job,
    "confusion": confusion_job,
    "layer_output": layer_output_job,
}


def compute(request: ViewRequest, predictor: Predictor, dataset: Dataset) -> ViewResult:
    """Run one request; exceptions become ViewResult.error (first line of 'Type: message', or of the
    message alone for a PlaygroundError, which is already written for the person)."""
    try:
        job = JOBS[request.kind]
        with predictor.evaluating():
            data = job(predictor, dataset, dict(request.params))
    except Exception as e:  # noqa: BLE001 — one failing view must not end the run that serves it
        what = str(e) if isinstance(e, PlaygroundError) else f"{type(e).__name__}: {e}"
        if isinstance(e, KeyError) and request.kind not in JOBS:
            what = f"KeyError: no view job {request.kind!r} (known: {', '.join(JOBS)})"
        lines = what.strip().splitlines()
        return ViewResult(request.view, request.kind, {}, lines[0] if lines else type(e).__name__,
                          traceback.format_exc())
    return ViewResult(request.view, request.kind, data)
