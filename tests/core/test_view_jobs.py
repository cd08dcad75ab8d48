"""core.view_jobs: every job gives what the Predictor gives for the same weights, failures come back as
words, and a job on a live (training) model leaves it exactly as it was — BatchNorm statistics, Dropout,
every module's mode."""

from __future__ import annotations

import pickle

import pytest
import torch

from playground.core import insight
from playground.core.data import Dataset, DataInfo
from playground.core.evaluation import Predictor, evaluate, grid
from playground.core.shapes import build_network
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.view_jobs import JOBS, Split, ViewRequest, ViewResult, compute, shown_split

# Every comparison below is exact (torch.equal, ==): the job runs the same torch operations, on the same
# float32 weights and inputs, in the same order and batches, as the Predictor call it is compared with, on
# one CPU — float32 arithmetic is deterministic there, so there is nothing for a tolerance to absorb.


def plane_project(loss: str = "CrossEntropyLoss", outputs: int = 3) -> Project:
    layers = [LayerSpec("Linear", {"out_features": 8}), LayerSpec("BatchNorm1d", {"num_features": 8}),
              LayerSpec("ReLU"), LayerSpec("Dropout", {"p": 0.5}), LayerSpec("Linear", {"out_features": outputs})]
    return Project(NetworkSpec([2], layers), DataSpec("xor"), TrainingSpec(loss=ComponentSpec(loss)))


def plane_data(val: int = 30, test: bool = False) -> Dataset:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(90, 2, generator=g), torch.randint(0, 3, (90,), generator=g)
    info = DataInfo("toy", "classification", (2,), 3, ("a", "b", "c"))
    cut = 90 - val
    x_test, y_test = (x[:40] * 2, y[:40]) if test else (None, None)
    return Dataset(info, x[:cut], y[:cut], x[cut:], y[cut:], x_test, y_test)


def image_project() -> Project:
    layers = [LayerSpec("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
              LayerSpec("BatchNorm2d", {"num_features": 4}), LayerSpec("ReLU"), LayerSpec("Dropout2d", {"p": 0.3}),
              LayerSpec("Flatten"), LayerSpec("Linear", {"out_features": 10})]
    return Project(NetworkSpec([1, 8, 8], layers), DataSpec("mnist"), TrainingSpec())


def image_data() -> Dataset:
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(70, 1, 8, 8, generator=g), torch.randint(0, 10, (70,), generator=g)
    info = DataInfo("tiny images", "classification", (1, 8, 8), 10, tuple(map(str, range(10))))
    return Dataset(info, x[:40], y[:40], x[40:60], y[40:60], x[60:], y[60:])


def trained_state(project: Project, data: Dataset) -> dict:
    """Seeded weights and BatchNorm statistics that are not the initial ones (a few training passes)."""
    torch.manual_seed(5)
    model = build_network(project.network).train()
    with torch.no_grad():
        for _ in range(3):
            model(data.x_train)
    return {k: v.clone() for k, v in model.state_dict().items()}


def request(kind: str, **params) -> ViewRequest:
    return ViewRequest("someView", kind, params)


def run(kind: str, predictor: Predictor, data: Dataset, **params) -> dict:
    result = compute(request(kind, **params), predictor, data)
    assert result.error == "" and (result.view, result.kind) == ("someView", kind), result.error
    return result.data


# --- each job against the Predictor ------------------------------------------------------------------------


def test_the_fit_job_is_the_curve_and_the_mean_losses_of_the_predictor():
    layers = [LayerSpec("Linear", {"out_features": 6}), LayerSpec("Tanh"), LayerSpec("Linear", {"out_features": 1})]
    project = Project(NetworkSpec([1], layers), DataSpec("quadratic"), TrainingSpec(loss=ComponentSpec("MSELoss")))
    g = torch.Generator().manual_seed(3)
    x = torch.rand(50, 1, generator=g) * 4 - 2
    info = DataInfo("toy", "regression", (1,), None, ())
    data = Dataset(info, x[:40], x[:40] ** 2, x[40:], x[40:] ** 2, None, None)
    predictor = Predictor.from_project(project, trained_state(project, data), None)

    got = run("fit", predictor, data, low=-2.5, high=2.5, points=400)
    xs = torch.linspace(-2.5, 2.5, 400)[:, None]
    assert torch.equal(got["x"], xs[:, 0])
    assert torch.equal(got["y"], predictor.outputs(xs)[:, 0])
    assert got["train_loss"] == float(predictor.sample_losses(data.x_train, data.y_train).mean())
    assert got["val_loss"] == float(predictor.sample_losses(data.x_val, data.y_val).mean())

    no_val = Dataset(info, x, x ** 2, x[:0], x[:0], None, None)
    assert run("fit", predictor, no_val, low=-1, high=1, points=5)["val_loss"] is None


def test_the_boundary_job_is_the_predicted_class_and_its_probability_over_the_grid():
    project, data = plane_project(), plane_data()
    predictor = Predictor.from_project(project, trained_state(project, data), 3)
    bounds = (-2.0, 2.5, -1.5, 3.0)

    got = run("boundary", predictor, data, bounds=bounds, resolution=20)
    confidence, labels = predictor.probabilities(grid(bounds, 20)[2]).max(1)
    assert torch.equal(got["labels"], labels) and torch.equal(got["confidence"], confidence)
    assert got["classes"] == 3 and got["resolution"] == 20 and got["bounds"] == bounds
    predicted, _ = predictor.predict(data.x_val)
    assert got["accuracy"] == float((predicted == data.y_val).float().mean())
    assert got["split"] == "validation"


def test_the_boundary_job_without_a_validation_split_counts_the_training_samples():
    project, data = plane_project(), plane_data(val=0)
    predictor = Predictor.from_project(project, trained_state(project, data), 3)
    got = run("boundary", predictor, data, bounds=(-1, 1, -1, 1), resolution=4)
    predicted, _ = predictor.predict(data.x_train)
    assert got["split"] == "training"
    assert got["accuracy"] == float((predicted == data.y_train).float().mean())


def test_the_gallery_job_is_predict_with_losses_on_the_first_n_of_the_shown_split():
    project, data = image_project(), image_data()
    predictor = Predictor.from_project(project, trained_state(project, data), 10)
    got = run("gallery", predictor, data, n=7)
    labels, confidence, losses = predictor.predict_with_losses(data.x_val[:7], data.y_val[:7])
    assert torch.equal(got["labels"], labels) and torch.equal(got["confidence"], confidence)
    assert torch.equal(got["losses"], losses)
    assert (got["split"], got["total"]) == ("validation", 20)
    assert len(run("gallery", predictor, data, n=1000)["labels"]) == 20   # n beyond the split: all of it


def test_the_confusion_job_is_evaluate_on_the_shown_split_or_the_test_split():
    project, data = image_project(), image_data()
    predictor = Predictor.from_project(project, trained_state(project, data), 10)
    for split, x, y, n in (("shown", data.x_val, data.y_val, 12), ("test", data.x_test, data.y_test, 10)):
        got = run("confusion", predictor, data, split=split, n=n)
        expected = evaluate(predictor, x[:n], y[:n])
        assert got["accuracy"] == expected.accuracy
        for field in ("matrix", "predicted", "confidence"):
            assert torch.equal(got[field], getattr(expected, field)), field
        assert torch.equal(got["per_class"].isnan(), expected.per_class.isnan())
        assert torch.equal(got["per_class"].nan_to_num(-1), expected.per_class.nan_to_num(-1))
        assert got["total"] == len(x)
    assert run("confusion", predictor, data, split="test", n=10)["split"] == "test"


def test_the_layer_output_job_is_what_insight_gives_for_that_layer_and_sample():
    project, data = image_project(), image_data()
    state = trained_state(project, data)
    predictor = Predictor.of_network(project.network, state)
    expected = insight.layer_outputs(project.network, state, data.x_val[4:5])
    for layer in (0, 1, 5):
        got = run("layer_output", predictor, data, layer=layer, sample=4)
        assert torch.equal(got["output"], expected[layer][0])
        assert (got["layer"], got["sample"], got["split"]) == (layer, 4, "validation")


def test_shown_split_falls_back_to_the_test_split_then_the_training_samples():
    assert shown_split(plane_data()).name == "validation" and shown_split(plane_data()).note == ""
    split = shown_split(plane_data(val=0, test=True))
    assert split.name == "test" and split.note == "no validation split — showing the test set"
    assert len(split.x) == 40
    split = shown_split(plane_data(val=0))
    assert split.name == "training" and "training samples" in split.note
    assert isinstance(split, Split)


# --- failures ----------------------------------------------------------------------------------------------


def test_a_failing_job_comes_back_as_one_line_and_does_not_raise(monkeypatch):
    project, data = plane_project(), plane_data()
    predictor = Predictor.from_project(project, trained_state(project, data), 3)

    def broken(predictor, dataset, params):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied\nsecond line of detail")

    monkeypatch.setitem(JOBS, "boundary", broken)
    result = compute(request("boundary", bounds=(0, 1, 0, 1), resolution=3), predictor, data)
    assert result.error == "RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    assert result.data == {} and "broken" in result.trace

    unknown = compute(request("no such job"), predictor, data)
    assert unknown.error.startswith("KeyError: no view job 'no such job'")
    missing = compute(request("gallery"), predictor, data)      # no n
    assert missing.error == "KeyError: 'n'"
    no_test = compute(request("confusion", split="test", n=5), predictor, data)
    assert no_test.error == "toy has no official test split"   # a PlaygroundError: its words alone


def test_requests_and_results_cross_a_process_boundary():
    project, data = plane_project(), plane_data()
    predictor = Predictor.from_project(project, trained_state(project, data), 3)
    asked = request("boundary", bounds=(-1.0, 1.0, -1.0, 1.0), resolution=5)
    result = compute(asked, predictor, data)
    assert pickle.loads(pickle.dumps(asked)) == asked
    back = pickle.loads(pickle.dumps(result))
    assert isinstance(back, ViewResult) and torch.equal(back.data["labels"], result.data["labels"])
    assert all(not isinstance(v, torch.Tensor) or v.device.type == "cpu" for v in result.data.values())


# --- a live model being trained ----------------------------------------------------------------------------


def _modes(model: torch.nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


@pytest.mark.parametrize("which", ["plane", "images"])
def test_jobs_on_a_live_training_model_leave_it_exactly_as_it_was(which):
    if which == "plane":
        project, data, n_classes = plane_project(), plane_data(), 3
        asks = [request("boundary", bounds=(-2.0, 2.0, -2.0, 2.0), resolution=10)]
    else:
        project, data, n_classes = image_project(), image_data(), 10
        asks = [request("gallery", n=20), request("confusion", split="shown", n=20),
                request("confusion", split="test", n=10), request("layer_output", layer=3, sample=2)]
    state = trained_state(project, data)
    model = build_network(project.network, initialise=False)
    model.load_state_dict(state)
    model.train()
    model[0].eval()          # modes that are not all one: each module gets its own back
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = _modes(model)

    live = Predictor.live(model, project, n_classes)
    assert live.model is model                        # no rebuild, no copy
    rebuilt = Predictor.from_project(project, state, n_classes)
    for asked in asks:
        got = compute(asked, live, data)
        assert got.error == "", got.error
        want = compute(asked, rebuilt, data)
        for key, value in want.data.items():        # eval mode on the same weights: the same numbers
            if isinstance(value, torch.Tensor):
                assert torch.equal(got.data[key].nan_to_num(-1), value.nan_to_num(-1)), key
            else:
                assert got.data[key] == value, key
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key in before:                                # running_mean/var, num_batches_tracked included
        assert torch.equal(before[key], after[key]), key
    assert _modes(model) == modes
    assert torch.is_grad_enabled()

    torch.manual_seed(0)                              # still training: Dropout drops, BatchNorm updates
    x = data.x_train[:8]
    assert not torch.equal(model(x), model(x))


def test_evaluating_restores_the_modes_even_when_the_job_raises():
    project = plane_project()
    model = build_network(project.network).train()
    live = Predictor.live(model, project, 3)
    with pytest.raises(ZeroDivisionError):
        with live.evaluating():
            assert not any(_modes(model)) and not torch.is_grad_enabled()
            1 / 0
    assert all(_modes(model)) and torch.is_grad_enabled()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_jobs_on_a_cuda_model_and_dataset_return_cpu_tensors_close_to_the_cpu_ones():
    project, data = image_project(), image_data()
    state = trained_state(project, data)
    cuda = Dataset(data.info, *(t.cuda() for t in (data.x_train, data.y_train, data.x_val, data.y_val,
                                                   data.x_test, data.y_test)))
    model = build_network(project.network, initialise=False).cuda()
    model.load_state_dict(state)
    live = Predictor.live(model.train(), project, 10)
    cpu = Predictor.from_project(project, state, 10)
    for asked in (request("gallery", n=20), request("confusion", split="test", n=10),
                  request("layer_output", layer=1, sample=0)):
        got, want = compute(asked, live, cuda), compute(asked, cpu, data)
        assert got.error == "", got.error
        for key, value in want.data.items():
            if isinstance(value, torch.Tensor):
                assert got.data[key].device.type == "cpu", key
                # cuDNN's convolution sums in another order than the CPU's: float32 rounding, ~1e-6 relative
                torch.testing.assert_close(got.data[key].nan_to_num(-1), value.nan_to_num(-1), rtol=1e-4, atol=1e-5)
