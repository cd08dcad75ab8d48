"""Files that lie about themselves: a checkpoint whose weights do not fit its own project (or are
empty, meta or NaN), a history of another shape, a huge integer, keys that are not names; and
projects saved as UTF-8 with a BOM or as UTF-16. Each part is checked against the others on
reading and the refusal says what is wrong — or, for honest text encodings, the file opens."""

from __future__ import annotations

import json

import pytest
import torch

from .conftest import project_dict, snapshot


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    from playground.cli import main
    from tests.conftest import EXAMPLES

    folder = tmp_path_factory.mktemp("real")
    raw = json.loads((EXAMPLES / "xor.json").read_text())
    raw["training"]["epochs"] = 1
    (folder / "p.json").write_text(json.dumps(raw))
    assert main(["train", str(folder / "p.json"), "--out", str(folder / "c.pt"),
                 "--metrics", str(folder / "m.json"), "--quiet"]) == 0
    return torch.load(folder / "c.pt", weights_only=True)


def _other_network(d):
    d["model"]["2.weight"] = torch.zeros(5, 8)


LIES = {
    "weights of another network": (_other_network, "its weights do not fit its own project (a damaged or edited "
                                   "file): layer 2 Linear: weight is (5, 8) in the file but (2, 8) in this network"),
    "no weights at all": (lambda d: d.update(model={}), "its weights do not fit its own project"),
    "meta tensors": (lambda d: d["model"].update({"0.weight": torch.empty(8, 2, device="meta")}),
                     "the weight '0.weight' is a meta tensor (a shape without values), not one with values"),
    "NaN weights": (lambda d: d["model"]["0.bias"].fill_(float("nan")),
                    "the weight '0.bias' holds NaN or infinite values — the run that saved it had diverged"),
    "a history whose epochs are text": (lambda d: d["history"].update(epochs="many"),
                                        "the training history's 'epochs' and 'steps' must be lists"),
    "a history with a bare number per epoch": (lambda d: d["history"].update(epochs=[5]),
                                               "the training history's epochs[0] is an int, not an epoch's record"),
    "a history with a loss that is text": (lambda d: d["history"]["epochs"][0].update(train_loss="low"),
                                           "the training history's epochs[0]['train_loss'] is 'low', not a number"),
    "a history with a step of one value": (lambda d: d["history"].update(steps=[[1]]),
                                           "the training history's steps[0] is a list, not a [step, loss] pair"),
    "a huge integer": (lambda d: d.update(epoch=2**3000),
                       "it holds a whole number of more than 600 digits (pickle's LONG4), which the safe loader "
                       "does not read"),
    "an epoch count beyond any run": (lambda d: d.update(epoch=2**100),
                                      "the epoch count must be a whole number from 0 to 1,000,000,000, not "),
    "a key that is not a name": (lambda d: d["model"].update({1: torch.zeros(2)}),
                                 "it has a key 1, which is an int, not a parameter's name"),
}


@pytest.mark.parametrize("case", LIES)
def test_a_checkpoint_that_lies_is_refused_saying_what_is_wrong(window, dialogs, cli, work, real_checkpoint, case):
    change, expected = LIES[case]
    import copy

    crafted = copy.deepcopy(real_checkpoint)
    change(crafted)
    path = work / "lying.pt"
    torch.save(crafted, path)
    project = work / "p.json"
    project.write_text(json.dumps(crafted["project"]))
    before = snapshot(work)
    project_before = window.document.project

    assert window.files.open_path(path) is False
    assert dialogs[-1][:2] == ("warning", "Cannot open") and expected in dialogs[-1][2], dialogs[-1][2]
    assert window.files.load_weights_from(path) is False
    assert expected in dialogs[-1][2] or "do not fit" in dialogs[-1][2], dialogs[-1][2]
    assert window.document.project == project_before
    for args in (("inspect", path), ("export", path, "--format", "python", "--out", work / "net.py"),
                 ("train", project, "--resume", path, "--out", work / "c.pt", "--metrics", work / "m.json")):
        code, out, err = cli(*args)
        assert code == 1 and expected in err and "Traceback" not in out + err, (args, err)
        assert "pickled Python code" not in err         # nothing here is code; saying so would be false
    assert snapshot(work) == before


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_a_project_saved_with_a_bom_or_as_utf16_opens(window, dialogs, cli, work, examples, encoding):
    """Windows editors save UTF-8 with a BOM, or UTF-16: both are text, and the project opens."""
    raw = project_dict(examples)
    raw["name"] = "Réseau"
    path = work / "p.json"
    text = json.dumps(raw, ensure_ascii=False)
    # utf-8-sig, utf-16 and utf-32 write their BOM themselves; big-endian UTF-16 is given one by hand
    path.write_bytes(("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding))
    assert window.files.open_path(path), dialogs
    assert window.document.project.name == "Réseau"
    code, out, err = cli("inspect", path)
    assert code == 0 and "Réseau" in out, err
