"""Bad project files, opened with File > Open and with `playground inspect` / `playground train`:
a message that names the problem, the open project untouched, nothing written."""

from __future__ import annotations

import copy

import pytest
from playground.ui.cards import LayerCard

from .conftest import project_dict, snapshot, write_json


def _xor(examples, change=None):
    data = copy.deepcopy(project_dict(examples))
    if change:
        change(data)
    return data


def _layer0(**params):
    def change(d):
        d["network"]["layers"][0]["params"].update(params)
    return change


def _set(path, value):
    def change(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop_param(name):
    def change(d):
        del d["network"]["layers"][0]["params"][name]
    return change


# name: (file content or a change to XOR, the message both the window and the command line show)
REFUSED = {
    "not JSON": ("{ this is not json", "not a project file: it is not valid JSON (Expecting property name"),
    "not text": (b"\x89PNG\r\n\x1a\n\x00\x00", "is not a project file: it is not text (JSON)"),
    "a JSON list": ("[1, 2, 3]", "the project must be a JSON object, not [1, 2, 3]"),
    "JSON of another shape": ('{"name": "x", "layers": []}', 'not a Playground project: the "format" key is missing'),
    "another format": (_set(["format"], "keras-model"), "not a Playground project: format is 'keras-model'"),
    "a newer version": (_set(["version"], 7), "written by a newer Playground (format version 7); this one "
                        "reads up to version 3 — update Playground to open it"),
    "an unknown key": (_set(["data", "val_fraction"], 0.5), "data: unknown key 'val_fraction'"),
    "an unknown loss": (_set(["training", "loss", "type"], "CrossEntropy"),
                        "training.loss.type: unknown loss 'CrossEntropy' — did you mean CrossEntropyLoss?"),
    "an unknown optimizer": (_set(["training", "optimizer", "type"], "Adamm"),
                             "training.optimizer.type: unknown optimizer 'Adamm' — did you mean Adam?"),
    "an unknown dataset": (_set(["data", "dataset"], "imagenet"), "data.dataset: unknown dataset 'imagenet' (known:"),
    "a parameter of the wrong type": (_layer0(out_features="eight"),
                                      "layer 0 Linear: out_features must be a whole number, not 'eight'"),
    "a parameter out of range": (_layer0(out_features=0), "layer 0 Linear: out_features must be at least 1, not 0"),
    "a training value out of range": (_set(["training", "batch_size"], 0), "training.batch_size must be at least 1, not 0"),
    "an optimizer value of the wrong type": (_set(["training", "optimizer", "params"], {"lr": "fast"}),
                                             "training.optimizer.params.lr must be a number, not 'fast'"),
    "an absurd input shape": (_set(["network", "input_shape"], [100000, 100000, 2]),
                              "network.input_shape [100000, 100000, 2] is 20,000,000,000 values a sample "
                              "(74.5 GiB as float32)"),
    "a missing network": ('{"format": "playground-project", "version": 1}', "the project: the key 'network' is missing"),
}


def _write_case(work, examples, case):
    content, _ = REFUSED[case]
    path = work / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        write_json(path, _xor(examples, content))
    return path


@pytest.mark.parametrize("case", REFUSED)
def test_open_refuses_with_the_reason_and_keeps_the_open_project(window, dialogs, work, examples, case):
    path = _write_case(work, examples, case)
    before_disk = snapshot(work)
    before_project = window.document.project
    assert window.files.open_path(path) is False
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "Cannot open")
    assert str(path) in text and REFUSED[case][1] in text
    assert window.document.project == before_project and window.document.is_clean
    assert snapshot(work) == before_disk


@pytest.mark.parametrize("case", REFUSED)
def test_commands_refuse_with_the_same_reason_and_write_nothing(cli, work, examples, case, monkeypatch):
    path = _write_case(work, examples, case)
    monkeypatch.chdir(work)
    before = snapshot(work)
    for command in ("inspect", "train"):
        code, out, err = cli(command, path)
        assert code == 1, (command, out)
        assert err.startswith("playground: error: ") and REFUSED[case][1] in err, (command, err)
        assert "Traceback" not in out + err
    assert snapshot(work) == before  # train wrote no checkpoint or metrics file


def test_a_missing_required_parameter_takes_its_default_and_says_so(window, cli, work, examples):
    path = write_json(work / "p.json", _xor(examples, _drop_param("out_features")))
    assert window.files.open_path(path)
    assert window.document.layers[0].params.get("out_features", 10) == 10
    message = "layer 0 Linear: out_features was missing; using the default 10"
    assert message in window.statusBar().currentMessage()
    code, _, err = cli("inspect", path)
    assert code == 0 and f"playground: note: {message}" in err


def test_a_missing_optional_parameter_is_no_news(window, work, examples):
    data = _xor(examples)
    assert "bias" not in data["network"]["layers"][0]["params"]
    assert window.files.open_path(write_json(work / "p.json", data))
    assert "missing" not in window.statusBar().currentMessage()


def test_a_layer_that_does_not_fit_opens_with_its_card_showing_why(window, work, examples):
    """Unlike the cases above, this one the user can fix in the editor, so it opens."""
    path = write_json(work / "p.json", _xor(examples, _layer0(in_features=5)))
    assert window.files.open_path(path)
    assert "layer 0 Linear: receives 2 features but in_features is 5" in window.start_blocker()


def test_an_unknown_layer_opens_as_a_broken_card_with_a_suggestion(window, cli, work, examples):
    path = write_json(work / "p.json", _xor(examples, lambda d: d["network"]["layers"][1].update(type="Tanhh")))
    assert window.files.open_path(path)
    message = "layer 1 Tanhh: unknown layer type — did you mean Tanh?"
    assert window.start_blocker() == message
    footers = [card.footer.text() for card in window.editor.findChildren(LayerCard)]
    assert message in footers  # the card itself says it, in red
    before = snapshot(work)
    for command in ("inspect", "train"):
        code, _, err = cli(command, path)
        assert code == 1 and f"playground: error: {message}" in err
    assert snapshot(work) == before


ABSURD_NEEDS = "its 3,000,000,000 parameters would need 11.2 GiB of memory, and about 44.7 GiB to train"


def test_an_absurd_size_is_refused_with_the_memory_it_needs(window, cli, work, examples, monkeypatch):
    """out_features = 10**9: refused before anything is allocated, not an out-of-memory crash."""
    from playground.core import shapes

    monkeypatch.setattr(shapes, "physical_memory", lambda: 24 * 2**30)  # as on the 24 GiB machines
    path = write_json(work / "big.json", _xor(examples, _layer0(out_features=10**9)))
    assert window.files.open_path(path)  # opens: the card says what is wrong and the user fixes it
    reason = window.start_blocker()
    assert reason.startswith(f"layer 0 Linear: {ABSURD_NEEDS}") and "(24.0 GiB)" in reason
    monkeypatch.chdir(work)
    before = snapshot(work)
    for command in ("inspect", "train"):
        code, _, err = cli(command, path)
        assert code == 1 and ABSURD_NEEDS in err
    assert snapshot(work) == before


def test_a_batch_whose_activations_cannot_fit_is_refused_before_training(cli, work, examples, monkeypatch):
    from playground.core import training

    monkeypatch.setattr(training, "physical_memory", lambda: 24 * 2**30)
    path = write_json(work / "wide.json", _xor(examples, _layer0(out_features=10**8)))
    monkeypatch.chdir(work)
    code, _, err = cli("train", path)
    assert code == 1
    assert "a batch of 32 would need about 47.7 GiB for the layers' outputs and their gradients" in err
    assert snapshot(work) == {"wide.json": path.read_bytes()}


def test_a_folder_and_a_missing_file(window, dialogs, cli, work):
    assert window.files.open_path(work) is False
    assert "is a folder, not" in dialogs[-1][2]
    code, _, err = cli("inspect", work / "nothing.json")
    assert code == 1 and "nothing.json: no such file" in err
