"""Bad weights and checkpoints through File > Load weights, File > Open and the commands
(`inspect`, `export`, `train --resume`): explained, nothing loaded, no code run, nothing written."""

from __future__ import annotations

import pickle
import random

import pytest
import torch
from torch import nn

from playground.core.checkpoint import save_weights
from playground.core.shapes import build_network
from playground.ui.session import TrainedWeights
from tests.payloads import SystemOnLoad, TouchOnLoad

from .conftest import snapshot


@pytest.fixture
def trained(window):
    """The window holds weights for its network, as after a run; a failed load must keep them."""
    torch.manual_seed(3)
    state = build_network(window.document.network).state_dict()
    window.session.set_weights(TrainedWeights.bare(window.document.project, state))
    return state


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _good_weights(window, path):
    save_weights(build_network(window.document.network).state_dict(), path)
    return path


UNREADABLE = {
    "empty": (lambda w, p: p.write_bytes(b""), "is empty (0 bytes)"),
    "truncated": (lambda w, p: p.write_bytes(_good_weights(w, p).read_bytes()[:300]),
                  "is not a PyTorch weights file, or it is truncated"),
    "random bytes": (lambda w, p: p.write_bytes(random.Random(1).randbytes(5000)),
                     "is not a PyTorch weights file"),
    "a whole pickled model": (lambda w, p: torch.save(nn.Sequential(nn.Linear(2, 8)), p),
                              "refused: it contains pickled Python code"),
}


def _check_refused_everywhere(window, dialogs, cli, work, path, expected, marker=None):
    before = snapshot(work)
    weights_before = window.session.weights
    project_before = window.document.project

    assert window.files.load_weights_from(path) is False
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "Cannot load weights") and expected in text and str(path) in text
    assert window.files.open_path(path) is False
    assert expected in dialogs[-1][2]
    assert window.session.weights is weights_before and window.document.project == project_before

    project = work / "p.json"
    window.document.save(project)
    before[project.name] = project.read_bytes()
    for args in (("inspect", path), ("export", path, "--out", work / "out.pt"),
                 ("train", project, "--resume", path, "--out", work / "c.pt", "--metrics", work / "m.json")):
        code, out, err = cli(*args)
        assert code == 1 and expected in err and "Traceback" not in out + err, args
    assert snapshot(work) == before
    if marker is not None:
        assert not marker.exists()


@pytest.mark.parametrize("case", UNREADABLE)
def test_unreadable_weights_are_refused(window, dialogs, cli, work, trained, case):
    make, expected = UNREADABLE[case]
    path = work / "w.pt"
    make(window, path)
    _check_refused_everywhere(window, dialogs, cli, work, path, expected)


@pytest.mark.parametrize("payload", [TouchOnLoad, SystemOnLoad])
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dumps"])
def test_a_pickle_that_would_run_code_never_runs(window, dialogs, cli, work, trained, tmp_path, payload, writer):
    marker = tmp_path / "this-file-means-the-pickle-ran"
    path = work / "evil.pt"
    evil = {"0.weight": payload(marker), "0.bias": torch.zeros(8)}
    if writer == "torch.save":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps(evil))
    _check_refused_everywhere(window, dialogs, cli, work, path, "refused: it contains pickled Python code",
                              marker=marker)
    # and proof the payload is live: unpickling it for real would have made the marker
    pickle.loads(pickle.dumps(payload(marker)))
    assert marker.exists()


def test_weights_of_another_architecture_are_named_per_layer(window, dialogs, work, trained):
    other = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2), nn.ReLU(), nn.Linear(2, 2))
    path = work / "other.pt"
    save_weights(other.state_dict(), path)
    assert window.files.load_weights_from(path) is False
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "These weights do not fit")
    assert "layer 0 Linear: weight is (16, 2) in the file but (8, 2) in this network" in text
    assert "layer 2 Linear: weight is (2, 16) in the file but (2, 8) in this network" in text
    assert "the file has weights for layer 4, which this network does not have" in text
    assert same(window.session.weights.model, trained)


def test_missing_keys_are_named(window, dialogs, work, trained):
    state = dict(trained)
    del state["2.weight"]
    path = work / "partial.pt"
    save_weights(state, path)
    assert window.files.load_weights_from(path) is False
    assert "layer 2 Linear: weight missing from the file" in dialogs[-1][2]
    assert same(window.session.weights.model, trained)


@pytest.mark.parametrize("dtype, shape_change, expected", [
    (torch.int32, False, "layer 0 Linear: weight is int32 in the file but float32"),
    (torch.float32, True, "layer 0 Linear: weight is (8, 3) in the file but (8, 2) in this network"),
])
def test_safetensors_with_wrong_dtypes_or_shapes(window, dialogs, work, trained, dtype, shape_change, expected):
    state = {k: v.clone().to(dtype) for k, v in trained.items()}
    if shape_change:
        state["0.weight"] = torch.zeros(8, 3)
    path = work / "w.safetensors"
    save_weights(state, path, format="safetensors")
    assert window.files.load_weights_from(path) is False
    assert expected in dialogs[-1][2]
    assert same(window.session.weights.model, trained)


def test_good_weights_still_load_after_all_that(window, dialogs, work, trained):
    """The refusals leave the app able to do the normal thing."""
    path = _good_weights(window, work / "good.pt")
    assert window.files.load_weights_from(path)
    assert not dialogs


def test_resuming_from_another_networks_checkpoint_is_explained_per_layer(cli, work, examples):
    """`train --resume` with a checkpoint of a wider network: refused before training, nothing written."""
    from playground.core.checkpoint import Checkpoint, save_checkpoint
    from playground.core.spec import Project

    wide = Project.load(examples / "xor.json")
    wide.network.layers[0].params["out_features"] = 16
    save_checkpoint(Checkpoint(project=wide, model=build_network(wide.network).state_dict()), work / "wide.pt")
    project = work / "xor.json"
    project.write_bytes((examples / "xor.json").read_bytes())
    before = snapshot(work)
    code, out, err = cli("train", project, "--resume", work / "wide.pt", "--out", work / "c.pt",
                         "--metrics", work / "m.json")
    assert code == 1 and "Traceback" not in out + err
    assert "layer 0 Linear: weight is (16, 2) in the file but (8, 2) in this network" in err
    assert snapshot(work) == before
