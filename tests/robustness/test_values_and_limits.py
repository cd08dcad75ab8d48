"""Values that overflow later and inputs beyond a parser's depth or size: each refused where it is
read, naming the key or line, in the window and the commands — never a traceback mid-training."""

from __future__ import annotations

import json

import pytest

from playground.core.spec import Project

from .conftest import project_dict, snapshot


def _raw_text(examples, change) -> str:
    raw = project_dict(examples)
    text = change(raw)
    return text if isinstance(text, str) else json.dumps(raw)


PROJECTS = {
    # name: (how the project is changed: returns None after editing the dict, or the whole text; message)
    "seed 2**64": (lambda r: r["training"].update(seed=2**64),
                   "training.seed: 18446744073709551616 is too large (at most 9223372036854775807, 2**63 - 1)"),
    "epochs 1e308": (lambda r: r["training"].update(epochs=1e308),
                     "training.epochs must be at most 100,000, not 1e+308"),
    "epochs 10**7": (lambda r: r["training"].update(epochs=10**7),
                     "training.epochs must be at most 100,000, not 10000000"),
    "batch_size 2**40": (lambda r: r["training"].update(batch_size=2**40), "training.batch_size must be at most 1,000,000"),
    "seed 2**40, more than the panel holds": (lambda r: r["training"].update(seed=2**40),
                                              "training.seed must be at most 2,147,483,647, not 1099511627776"),
    "a 5,000-digit integer": (lambda r: json.dumps(r).replace('"seed": 0', '"seed": ' + "7" * 5000),
                              "not a project file: it holds a number with too many digits"),
    "nesting 100,000 deep": (lambda r: json.dumps(r)[:-1] + ', "name": ' + "[" * 100_000 + "]" * 100_000 + "}",
                             "not a project file: it is nested more than 32 levels deep"),
    "nesting 40 deep in a parameter": (
        lambda r: r["data"]["params"].update(noise=json.loads("[" * 40 + "]" * 40)),
        "not a project file: data.params.noise" ),
    "NaN": (lambda r: json.dumps(r).replace('"seed": 0', '"seed": NaN'), "not a project file: NaN is not a JSON number"),
    "1e400": (lambda r: json.dumps(r).replace('"seed": 0', '"seed": 1e400'), "training.seed: inf is not a finite number"),
    "a lone surrogate in the name": (lambda r: r.update(name="net\ud800"),
                                     "name: the text holds a lone surrogate (\\ud800), which is not a character"),
    "a data seed beyond the editors' range": (lambda r: r["data"]["params"].update(seed=2**40),
                                               "data.params.seed must be at most 2,147,483,647 in size, not 1099511627776"),
    "a NUL in the name": (lambda r: r.update(name="net\x00work"),
                          "name: the text holds a NUL character, which no file name or script can"),
    "a NUL in the data folder": (lambda r: r["data"]["params"].update(root="/tmp/a\x00b"),
                                 "data.params.root: the text holds a NUL character"),
}


@pytest.mark.parametrize("case", PROJECTS)
def test_project_values_are_refused_where_they_are_read(window, dialogs, cli, work, examples, case):
    change, expected = PROJECTS[case]
    path = work / "p.json"
    path.write_text(_raw_text(examples, change), encoding="utf-8", errors="surrogatepass")
    before = snapshot(work)
    project_before = window.document.project
    assert window.files.open_path(path) is False
    kind, title, text = dialogs[-1]
    assert (kind, title) == ("warning", "Cannot open") and expected in text and str(path) in text, text
    assert window.document.project == project_before
    for args in (("inspect", path), ("train", path, "--out", work / "c.pt", "--metrics", work / "m.json"),
                 ("export", path, "--format", "python", "--out", work / "net.py")):
        code, out, err = cli(*args)
        assert code == 1 and expected in err and "Traceback" not in out + err, (args, err)
    assert snapshot(work) == before


def test_command_line_values_have_ranges_too(cli, work, examples):
    path = work / "p.json"
    path.write_text(json.dumps(project_dict(examples)))
    before = snapshot(work)
    for args, expected in ((("--seed", str(2**64)), "--seed must be from 0 to 2,147,483,647"),
                           (("--seed", "-1"), "--seed must be from 0 to 2,147,483,647"),
                           (("--epochs", str(10**9)), "--epochs must be from 1 to 100,000")):
        code, _, err = cli("train", path, *args, "--out", work / "c.pt", "--metrics", work / "m.json")
        assert code == 1 and expected in err and "Traceback" not in err, err
    assert snapshot(work) == before


CODE = {
    "100,000 unary minus": ("nn.Sequential(nn.Linear(2, " + "-" * 100_000 + "1))",
                            "line 1: the code is nested too deeply to read"),
    "a long 1+1+...": ("nn.Sequential(nn.Linear(2, " + "+".join(["1"] * 50_000) + "))",
                       "line 1: the code is nested too deeply to read"),
    "a 20,000-digit literal": ("nn.Sequential(nn.Linear(2, " + "9" * 20_000 + "))",
                               "line 1: a number of more than 30 digits is no layer size"),
    "a 40-digit literal": ("nn.Sequential(nn.Linear(2, " + "9" * 40 + "))",
                           "line 1: nn.Linear: the value of out_features cannot be read: a number of more "
                           "than 30 digits is no layer size"),
    "a deep attribute chain": ("nn.Sequential(" + ".".join(["a"] * 20_000) + "())",
                               "line 1: the code is nested too deeply to read"),
    "a chain just past the limit": ("nn.Sequential(" + ".".join(["a"] * 150) + "())",
                                    "line 1: the code is nested more than 100 levels deep"),
    "more than a megabyte": ("nn.Sequential(nn.ReLU())" + " " * 1_000_001,
                             "line 1: the source is 1,000,025 bytes — too big to be a network's code"),
}


@pytest.mark.parametrize("case", CODE)
def test_pasted_code_beyond_the_parser_limits_is_refused_with_its_line(window, case):
    source, expected = CODE[case]
    layers = list(window.document.layers)
    window.code.edit.setPlainText(source)        # what a paste does
    assert window.code.apply() is False
    assert window.code.status.text().startswith(expected), window.code.status.text()[:200]
    assert window.document.layers == layers and window.document.is_clean


def test_a_network_without_weights_says_so_before_the_run(window, cli, work, examples):
    raw = project_dict(examples)
    raw["network"]["layers"] = [{"type": "ReLU", "params": {}}, {"type": "Flatten", "params": {}}]
    raw["training"]["loss"] = {"type": "MSELoss", "params": {}}
    raw["data"] = {"dataset": "linear", "params": {}}
    raw["network"]["input_shape"] = [1]
    path = work / "p.json"
    path.write_text(json.dumps(raw))
    expected = "the network has no weights to train (none of its layers has parameters) — add a layer with weights"
    assert window.files.open_path(path)
    assert window.start_blocker().startswith(expected)
    window.session.start()
    assert window.session.run is None
    code, _, err = cli("train", path, "--out", work / "c.pt", "--metrics", work / "m.json")
    assert code == 1 and expected in err and "optimizer got an empty parameter list" not in err
    assert not (work / "c.pt").exists()


def test_a_project_with_unusual_text_still_exports_a_script_that_runs(cli, work, examples):
    """A name in any script (not a lone surrogate, not a NUL) reaches the exported script intact."""
    import subprocess
    import sys

    raw = project_dict(examples)
    raw["name"] = "Réseau \"quoted\" \\ ''' 网络 😀"
    path = work / "p.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    code, _, err = cli("export", path, "--format", "python", "--out", work / "net.py")
    assert code == 0, err
    done = subprocess.run([sys.executable, "-c", "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read())",
                           str(work / "net.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Project.load(path).name == raw["name"]
