"""core.features and the data of points of the plane: each feature is its formula, the data and the network's
input follow the chosen features, the 2-D regression sets are their formulas and repeat with their seed."""

from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from playground.core import features
from playground.core.data import dataset_info, load, model_inputs
from playground.core.errors import PlaygroundError, ProjectError
from playground.core.spec import DataSpec, LayerSpec, NetworkSpec, Project
from playground.core.training import check_trainable

ALL = list(features.FEATURES)


def test_each_feature_is_its_formula():
    g = torch.Generator().manual_seed(0)
    p = torch.randn(50, 2, generator=g) * 3
    x1, x2 = p[:, 0], p[:, 1]
    out = features.apply(ALL, p)
    # the same float32 operations as written here, on the same values: equal to the bit
    expected = torch.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, torch.sin(x1), torch.sin(x2)], 1)
    assert ALL == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    assert torch.equal(out, expected)
    assert torch.equal(features.apply(["x2^2", "x1"], p), torch.stack([x2 * x2, x1], 1))   # in the order named
    assert features.apply([], p) is p and features.apply(["x1", "x2"], p) is p            # raw: no copy


@given(st.lists(st.sampled_from(ALL + ["x3", "X1", ""]), max_size=9))
def test_check_features_takes_distinct_known_names_only(names):
    ok = bool(names) and len(set(names)) == len(names) and set(names) <= set(ALL)
    if ok:
        assert features.check_features(names) == tuple(names)
    else:
        with pytest.raises(ProjectError, match="^data.features"):
            features.check_features(names)


def test_the_data_carries_the_features_and_keeps_the_points():
    raw = load(DataSpec("circles", {"samples": 60, "seed": 2}))
    spec = DataSpec("circles", {"samples": 60, "seed": 2}, features=["x1^2", "x2^2", "x1"])
    ds = load(spec)
    assert ds.info.input_shape == (3,) == dataset_info(spec).input_shape
    assert ds.info.features == ("x1^2", "x2^2", "x1") and ds.info.plane
    # the same points, split the same way, fed as their features
    assert torch.equal(ds.points_train, raw.x_train) and torch.equal(ds.plane_val, raw.x_val)
    assert torch.equal(ds.x_train, features.apply(ds.info.features, raw.x_train))
    assert torch.equal(ds.y_train, raw.y_train)
    assert raw.points_train is None and raw.plane_train is raw.x_train
    assert torch.equal(model_inputs(ds.info, raw.x_val), ds.x_val)


def test_the_network_input_must_follow_the_features():
    net = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 2})])
    project = Project(net, DataSpec("circles", {}, features=["x1", "x2", "x1^2"]))
    with pytest.raises(PlaygroundError, match=r"set the input shape to \[3\]"):
        check_trainable(project, device=False)
    project.network.input_shape = [3]
    check_trainable(project, device=False)


def test_features_are_written_only_when_set():
    plain = Project(NetworkSpec([2]), DataSpec("xor", {}))
    assert "features" not in json.loads(plain.to_json())["data"]
    plain.data.features = ["x1^2", "sin(x2)"]
    again = Project.from_json(plain.to_json())
    assert again.data.features == ["x1^2", "sin(x2)"] and again == plain
    with pytest.raises(ProjectError, match="data.features must be"):
        Project.from_dict({**json.loads(plain.to_json()), "data": {"dataset": "xor", "features": "x1"}})


def test_features_are_for_points_of_the_plane_only():
    with pytest.raises(ProjectError, match="points of the plane, and linear gives none"):
        dataset_info(DataSpec("linear", {}, features=["x1"]))
    with pytest.raises(ProjectError, match="unknown feature 'x3'"):
        load(DataSpec("xor", {}, features=["x3"]))


# --- 2-D regression ---------------------------------------------------------------------------------


def test_the_plane_is_its_formula():
    ds = load(DataSpec("plane", {"noise": 0.0, "a": 2.0, "b": -3.0, "samples": 80}))
    x = torch.cat([ds.x_train, ds.x_val])
    y = torch.cat([ds.y_train, ds.y_val])
    assert ds.info.task == "regression" and ds.info.input_shape == (2,) and ds.info.plane
    assert x.min() >= -1 and x.max() <= 1 and y.shape == (80, 1)
    assert torch.equal(y, 2.0 * x[:, :1] - 3.0 * x[:, 1:])   # the same two products and a sum: exact


def test_the_gaussian_mixture_is_six_signed_bumps():
    ds = load(DataSpec("gaussian_mixture", {"noise": 0.0, "width": 0.3, "samples": 40}))
    x, y = torch.cat([ds.x_train, ds.x_val]), torch.cat([ds.y_train, ds.y_val])
    centres = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    for point, value in zip(x.tolist(), y[:, 0].tolist()):
        hand = sum(s * math.exp(-((point[0] - cx / 6) ** 2 + (point[1] - cy / 6) ** 2) / (2 * 0.3**2))
                   for cx, cy, s in centres)
        # float32 against float64: each term is within a few float32 ulps of 1, six of them summed
        assert value == pytest.approx(hand, abs=1e-5)


@pytest.mark.parametrize("name", ["plane", "gaussian_mixture"])
def test_the_2d_regression_sets_repeat_with_their_seed(name):
    a, b = load(DataSpec(name, {"seed": 7})), load(DataSpec(name, {"seed": 7}))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    c = load(DataSpec(name, {"seed": 8}))
    assert not torch.equal(a.x_train, c.x_train)
    d = load(DataSpec(name, {"seed": 7}, features=["x1*x2"]))
    assert torch.equal(d.x_train, a.x_train[:, :1] * a.x_train[:, 1:])
