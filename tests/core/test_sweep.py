"""Sweeps: the parameter syntax, grid and random plans, the same initial weights for the same seed,
and `playground sweep` / `playground runs` / `playground train` writing into the run store."""

import json
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.cli import main
from playground.core import sweep
from playground.core.run_store import RunStore
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(tmp_path, epochs=2) -> str:
    layers = [LayerSpec("Linear", {"out_features": 4}), LayerSpec("Tanh", {}), LayerSpec("Linear", {"out_features": 2})]
    project = Project(network=NetworkSpec([2], layers), data=DataSpec("xor", {"samples": 64}),
                      training=TrainingSpec(optimizer=ComponentSpec("Adam", {"lr": 0.05}), batch_size=16,
                                            epochs=epochs), name="Tiny")
    path = tmp_path / "tiny.json"
    project.save(path)
    return str(path)


def test_the_parameter_syntax():
    assert sweep.parse_param("lr=1e-4:1e-1:log:4").grid() == [0.0001, 0.001, 0.01, 0.1]
    assert sweep.parse_param("lr=0.1:0.3:lin:3").grid() == [0.1, 0.2, 0.3]
    assert sweep.parse_param("batch_size=16, 32").grid() == [16, 32]
    assert sweep.parse_param("optimizer=SGD,Adam").grid() == ["SGD", "Adam"]
    assert sweep.parse_param("layers.0.out_features=8,16").grid() == [8, 16]
    assert sweep.parse_param("seed=0:4:lin:3").grid() == [0, 2, 4]   # whole numbers stay whole


@pytest.mark.parametrize("text, words", [
    ("lr", "NAME=VALUES"), ("lr=", "NAME=VALUES"), ("colour=1,2", "cannot sweep 'colour'"),
    ("lr=0:1:log:3", "LOW above 0"), ("lr=1:0.1:lin:3", "LOW ≤ HIGH"), ("lr=1:2:cubic:3", "LOW:HIGH:log:COUNT"),
    ("lr=-1,2", "positive"), ("batch_size=0,8", "from 1"), ("batch_size=1.5", "whole number"),
    ("optimizer=Adamm", "not one of"), ("optimizer=1:2:log:2", "list of names"), ("lr=a,b", "not a number"),
    ("lr=1:2:log:0", "COUNT"), ("lr=1,,2", "empty value"),
])
def test_bad_parameters_are_refused_in_one_sentence(text, words):
    with pytest.raises(sweep.SweepError, match=re.escape(words)):
        sweep.parse_param(text)


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(st.text(alphabet="lr_batchsizeoptm.=0123456789:,-eEnglia ", max_size=30))
def test_any_parameter_text_is_read_or_refused_in_words(text):
    try:
        param = sweep.parse_param(text)
    except sweep.SweepError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert param.grid()


def test_grid_and_random_plans():
    params = [sweep.parse_param("lr=1e-3:1e-1:log:3"), sweep.parse_param("optimizer=SGD,Adam")]
    grid = sweep.plan(params)
    assert len(grid) == 6 and {"lr": 0.001, "optimizer": "SGD"} in grid
    drawn = sweep.plan(params, "random", 20, seed=3)
    assert drawn == sweep.plan(params, "random", 20, seed=3) != sweep.plan(params, "random", 20, seed=4)
    assert all(1e-3 <= d["lr"] <= 1e-1 and d["optimizer"] in ("SGD", "Adam") for d in drawn)
    assert len({d["lr"] for d in drawn}) == 20   # a range is drawn from, not stepped
    with pytest.raises(sweep.SweepError, match="twice"):
        sweep.plan(params + params[:1])
    with pytest.raises(sweep.SweepError, match="more than"):
        sweep.plan([sweep.parse_param("seed=0:999:lin:999"), sweep.parse_param("batch_size=1,2")])


def test_a_layers_width_is_set_and_a_wrong_layer_said(tmp_path):
    project = Project.load(tiny(tmp_path))
    wide = sweep.apply(project, "layers.0.out_features", 16)
    assert wide.network.layers[0].params["out_features"] == 16 and project.network.layers[0].params["out_features"] == 4
    with pytest.raises(sweep.SweepError, match="3 layers"):
        sweep.apply(project, "layers.5.out_features", 16)
    with pytest.raises(sweep.SweepError, match="Tanh, which has no parameter"):
        sweep.apply(project, "layers.1.out_features", 16)


def test_a_12_run_sweep_from_the_command_line_prints_the_stored_results(tmp_path, capsys):
    path = tiny(tmp_path)
    code = main(["sweep", path, "--param", "lr=1e-3:1e-1:log:4", "--param", "batch_size=8,16,32",
                 "--param", "seed=7", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    store = RunStore(tmp_path / "tiny.runs")
    records, problems = store.runs()
    assert problems == [] and len(records) == 12
    assert all(r.status == "finished" and r.sweep["id"] == records[0].sweep["id"] for r in records)
    lines = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in out.splitlines()}
    for r in records:   # the table's numbers are the stored histories' best epochs
        best_epoch, best = r.best("val_accuracy")
        row = lines[r.id].replace("*", "").split()
        assert row[1:3] == [f"{r.sweep['values']['lr']:g}", str(r.sweep["values"]["batch_size"])]
        assert row[4:6] == [f"{best:.2%}", str(best_epoch)]
    metric, rows = sweep.results(records)
    best = sweep.best_row(metric, rows)
    assert f"best: {best['run']}" in out and lines[best["run"]].startswith("*")
    assert re.search(r"12 of 12 runs in .* of a 256.0 MiB budget", out)
    # the same seed: every run started from the same weights, whatever its lr and batch size
    first = store.snapshot(records[0].id, 0)
    for r in records[1:]:
        assert all(torch.equal(first[k], v) for k, v in store.snapshot(r.id, 0).items())


def test_another_seed_or_width_starts_from_other_weights(tmp_path, capsys):
    path = tiny(tmp_path, epochs=1)
    assert main(["sweep", path, "--param", "seed=1,2", "--quiet"]) == 0
    store = RunStore(tmp_path / "tiny.runs")
    a, b = (store.snapshot(r.id, 0) for r in store.runs()[0])
    assert not torch.equal(a["0.weight"], b["0.weight"])


def test_train_records_into_the_store_and_runs_lists_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tiny(tmp_path)
    assert main(["train", path, "--quiet"]) == 0
    assert main(["train", path, "--quiet", "--epochs", "1", "--no-runs"]) == 0
    assert main(["train", path, "--quiet", "--epochs", "1", "--runs", str(tmp_path / "elsewhere")]) == 0
    capsys.readouterr()
    assert main(["runs", path]) == 0
    out = capsys.readouterr().out
    assert re.search(r"run-0001\s+Run 1\s+finished\s+2\s", out) and "run-0002" not in out
    assert "1 run in" in out
    assert [r.last_epoch for r in RunStore(tmp_path / "elsewhere").runs()[0]] == [1]
    assert main(["runs", path, "--export", "1", "one.pt", "--epoch", "1"]) == 0
    from playground.core.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "one.pt").epoch == 1
    # a continued run carries its history: the store shows the epochs it went on from
    assert main(["train", path, "--quiet", "--resume", "one.pt", "--epochs", "1", "--out", "two.pt"]) == 0
    resumed = RunStore(tmp_path / "tiny.runs").run("run-0002")
    assert resumed.start_epoch == 1 and [e["epoch"] for e in resumed.epochs] == [1, 2]
    assert resumed.snapshots == [1, 2]


def test_runs_without_a_store_says_so(tmp_path, capsys):
    assert main(["runs", tiny(tmp_path)]) == 1
    assert "has no run store yet" in capsys.readouterr().err


def test_sweep_help_documents_the_syntax(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    out = capsys.readouterr().out
    for words in ("LOW:HIGH:log:COUNT", "layers.N.PARAM", "--random", "optimizer.PARAM"):
        assert words in out


def test_the_penalty_rates_sweep_and_out_of_range_ones_are_said():
    (p,) = sweep.projects(Project(network=NetworkSpec([2], [])), sweep.plan([sweep.parse_param("l2=0.01")]))
    assert p.training.l2 == 0.01 and p.training.l1 == 0.0
    with pytest.raises(sweep.SweepError, match="l1 must be from 0"):
        sweep.parse_param("l1=20")
