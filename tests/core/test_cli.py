"""The headless commands, run as a user runs them: files written, messages, exit statuses."""

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from playground.cli import main
from playground.core.checkpoint import load_checkpoint
from playground.core.spec import ComponentSpec, Project



def run(*args, cwd):
    """The real command in a child process, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_train_prints_progress_and_writes_its_files(tmp_path, examples, capsys, monkeypatch):
    # in-process: the command as a child process (its exit status and streams through a pipe) is
    # test_python_dash_m_shows_help here and tests/robustness/test_pipes.py's train into `head`
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(examples / "xor.json"), "--epochs", "4"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert [line.split()[1] for line in err.splitlines() if line.startswith("epoch")] == [
        "1/4", "2/4", "3/4", "4/4"
    ]
    assert "finished: trained 4 epochs" in out

    metrics = json.loads((tmp_path / "xor.metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["test_accuracy"] is None
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4]
    for key in ("train_loss", "val_loss", "val_accuracy", "samples_per_second", "seconds"):
        assert isinstance(metrics["epochs"][0][key], float)
    assert metrics["epochs"][-1]["train_loss"] < metrics["epochs"][0]["train_loss"]

    ckpt = load_checkpoint(tmp_path / "xor.checkpoint.pt")
    assert ckpt.epoch == 4 and ckpt.project.name == "XOR"
    assert ckpt.history["epochs"] == metrics["epochs"]
    assert ckpt.optimizer is not None


def test_python_dash_m_shows_help(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("train", "inspect", "export"):
        assert command in result.stdout


def test_train_options_and_inspect_of_the_checkpoint(tmp_path, examples, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, metrics = tmp_path / "run" / "c.pt", tmp_path / "m.json"
    out.parent.mkdir()
    assert main(["train", str(examples / "spiral.json"), "--epochs", "2", "--seed", "5",
                 "--out", str(out), "--metrics", str(metrics), "--quiet"]) == 0
    assert load_checkpoint(out).project.training.seed == 5
    capsys.readouterr()

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Spiral — checkpoint" in text
    assert re.search(r"^4\s+Linear\s+\(3,\)\s+195\s", text, re.M) and "total parameters: 4,547" in text
    assert "trained epochs: 2" in text


def test_resume_continues_the_epochs(tmp_path, examples, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(examples / "xor.json"), "--epochs", "2", "--out", "a.pt", "--quiet"]) == 0
    assert main(["train", str(examples / "xor.json"), "--epochs", "2", "--resume", "a.pt",
                 "--out", "b.pt", "--metrics", "b.json", "--quiet"]) == 0
    assert [e["epoch"] for e in json.loads(Path("b.json").read_text())["epochs"]] == [1, 2, 3, 4]
    assert load_checkpoint("b.pt").epoch == 4


def test_inspect_lenet_project(examples, capsys):
    assert main(["inspect", str(examples / "mnist_lenet.json")]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^7\s+Linear\s+\(50,\)\s+16,050\s+16,000\s+200 bytes$", text, re.M)
    assert "total parameters: 21,840 (trainable 21,840)" in text
    assert "output: (10,)" in text


def test_inspect_broken_project_prints_the_table_then_the_error(tmp_path, examples, capsys):
    raw = json.loads((examples / "mnist_lenet.json").read_text())
    raw["network"]["layers"][7]["params"]["in_features"] = 500
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(raw))
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert re.search(r"^8\s+ReLU\s+unreachable\s+—\s+—\s+—$", captured.out, re.M)
    assert captured.err.strip() == (
        "playground: error: layer 7 Linear: receives 320 features but in_features is 500 — remove "
        "in_features to let Playground infer it, or change the layers before it to output 500"
    )


@pytest.mark.parametrize("fmt", ["state_dict", "safetensors"])
def test_export_loads_in_a_plain_script(tmp_path, examples, fmt, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(examples / "xor.json"), "--epochs", "1", "--out", "c.pt", "--quiet"]) == 0
    assert main(["export", "c.pt", "--format", fmt, "--out", f"w.{fmt}"]) == 0
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    if fmt == "state_dict":
        model.load_state_dict(torch.load(f"w.{fmt}"))
    else:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(f"w.{fmt}"))
    assert torch.equal(model[0].weight, load_checkpoint("c.pt").model["0.weight"])


@pytest.mark.parametrize("args, message", [
    (["train", "{dir}/nope.json"], "nope.json: no such file"),
    (["train", "{dir}/bad.json"], "bad.json: not a project file: it is not valid JSON"),
    (["train", "{examples}/xor.json", "--device", "cuda"], "device 'cuda' cannot be used on this machine"),
    (["train", "{examples}/xor.json", "--epochs", "0"], "--epochs must be from 1 to 100,000, not 0"),
    (["train", "{examples}/xor.json", "--data-root", "/tmp"], "--data-root is for MNIST, Fashion-MNIST, CIFAR-10 and image folders"),
    (["inspect", "{dir}/bad.json"], "not valid JSON"),
    (["inspect", "{dir}/w.pt"], "is a state_dict file: it holds weights but no network"),
    (["export", "{dir}/bad.json", "--out", "{dir}/x.pt"], "bad.json is a text file, not weights or a checkpoint"),
])
def test_bad_input_exits_1_with_one_message(tmp_path, examples, capsys, args, message):
    (tmp_path / "bad.json").write_text("{oops")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "w.pt")
    args = [a.format(dir=tmp_path, examples=examples) for a in args]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("playground: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.pt").exists()


def test_a_failed_run_exits_1_and_keeps_good_weights(tmp_path, examples, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = Project.load(examples / "quadratic.json")
    project.training.optimizer.params["lr"] = 50.0
    project.save("wild.json")
    assert main(["train", "wild.json", "--quiet"]) == 1
    assert "the loss became" in capsys.readouterr().err
    metrics = json.loads(Path("wild.metrics.json").read_text())
    assert metrics["status"] == "failed" and "learning rate" in metrics["reason"]
    ckpt = load_checkpoint("wild.checkpoint.pt")
    assert all(torch.isfinite(v).all() for v in ckpt.model.values())
    assert ckpt.optimizer is None  # its moments may hold NaN: not worth continuing from


def test_train_lenet_on_real_digits(tmp_path, examples, mnist_full_root, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project = Project.load(examples / "mnist_lenet.json")
    project.data.params.update(train_samples=4000, download=False)
    project.training.optimizer = ComponentSpec("Adam", {"lr": 0.002})
    project.save("lenet.json")
    assert main(["train", "lenet.json", "--epochs", "2", "--data-root", str(mnist_full_root), "--quiet"]) == 0
    metrics = json.loads(Path("lenet.metrics.json").read_text())
    assert metrics["epochs"][-1]["val_accuracy"] > 0.8
    assert metrics["test_accuracy"] > 0.8
    assert "test accuracy" in capsys.readouterr().out
