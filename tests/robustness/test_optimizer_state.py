"""A checkpoint whose optimizer or scheduler state was crafted: `train --resume` and the window's
Start with "Continue from current weights" refuse it with a sentence before any fused kernel runs
(moments of the wrong size made them write past their buffers: free(): invalid next size)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from playground.core.checkpoint import load_checkpoint, save_checkpoint
from playground.core.spec import Project

from .conftest import snapshot

RUN_TIMEOUT = 60_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory, examples_dir):
    """A real checkpoint of one epoch of XOR with Adam, and one with SGD and momentum."""
    from playground.cli import main

    folder = tmp_path_factory.mktemp("trained")
    paths = {}
    for name, optimizer in (("adam", None), ("sgd", {"type": "SGD", "params": {"lr": 0.1, "momentum": 0.9}})):
        project = Project.load(examples_dir / "xor.json")
        project.training.epochs = 1
        if optimizer:
            project.training.optimizer = type(project.training.optimizer)(**optimizer)
        project.save(folder / f"{name}.json")
        assert main(["train", str(folder / f"{name}.json"), "--out", str(folder / f"{name}.pt"),
                     "--metrics", str(folder / f"{name}.m.json"), "--quiet"]) == 0
        paths[name] = folder / f"{name}.pt"
    return paths


@pytest.fixture(scope="module")
def examples_dir():
    from tests.conftest import EXAMPLES

    return EXAMPLES


def _moments(state):
    return state["state"][0]


CRAFTED = {
    # name: (base checkpoint, how the optimizer state is changed, what the refusal says)
    "moments of another size": ("adam", lambda s: _moments(s).update(exp_avg=torch.zeros(3)),
                                "'exp_avg' in the optimizer state of '0.weight' has shape (3,), but the parameter has (8, 2)"),
    "a momentum buffer of another size": ("sgd", lambda s: _moments(s).update(momentum_buffer=torch.zeros(100)),
                                          "'momentum_buffer' in the optimizer state of '0.weight' has shape (100,)"),
    "a moment missing": ("adam", lambda s: _moments(s).pop("exp_avg_sq"),
                         "the optimizer state of '0.weight' lacks exp_avg_sq, which Adam needs"),
    "a parameter fewer": ("adam", lambda s: s["param_groups"][0]["params"].pop(),
                          "param_groups[0] has 3 parameters, but this network has 4"),
    "two groups": ("adam", lambda s: s["param_groups"].append(dict(s["param_groups"][0])),
                   "has 2 parameter groups, but this optimizer has 1"),
    "a step that is a vector": ("adam", lambda s: _moments(s).update(step=torch.zeros(7)),
                                "'step' in the optimizer state of '0.weight' must be one number"),
    "a step beyond counting": ("adam", lambda s: _moments(s).update(step=torch.tensor(1e30)),
                               "must be a whole number of steps from 0 to 2**53"),
    "sparse moments": ("adam", lambda s: _moments(s).update(exp_avg=_moments(s)["exp_avg"].to_sparse()),
                       "is a sparse_coo tensor, not a plain dense one"),
    "integer moments": ("adam", lambda s: _moments(s).update(exp_avg=torch.zeros(8, 2, dtype=torch.int64)),
                        "holds int64 values, not floating-point ones"),
    "NaN moments": ("adam", lambda s: _moments(s)["exp_avg_sq"].fill_(float("nan")),
                    "holds NaN or infinite values"),
    "a stray key": ("adam", lambda s: _moments(s).update(momentum_buffer=torch.zeros(8, 2)),
                    "has 'momentum_buffer', which Adam does not keep"),
    "a learning rate that is text": ("adam", lambda s: s["param_groups"][0].update(lr="fast"),
                                     "param_groups[0]['lr'] is 'fast', not a finite number"),
    "an infinite learning rate": ("adam", lambda s: s["param_groups"][0].update(lr=float("inf")),
                                  "param_groups[0]['lr'] is inf, not a finite number"),
    "state for a parameter nobody lists": ("adam", lambda s: s["state"].update({99: dict(_moments(s))}),
                                           "has state for parameter 99, which no group lists"),
    "not a state_dict": ("adam", lambda s: s.pop("param_groups"), "is not an optimizer's state_dict"),
}


def _crafted(trained, work, case):
    base, change, expected = CRAFTED[case]
    ckpt = load_checkpoint(trained[base])
    change(ckpt.optimizer)
    path = work / "crafted.pt"
    save_checkpoint(ckpt, path)
    project = work / "p.json"
    ckpt.project.save(project)
    return path, project, expected


@pytest.mark.parametrize("case", CRAFTED)
def test_train_resume_refuses_crafted_optimizer_state(cli, work, trained, case):
    path, project, expected = _crafted(trained, work, case)
    before = snapshot(work)
    code, out, err = cli("train", project, "--resume", path, "--out", work / "c.pt", "--metrics", work / "m.json")
    assert code == 1 and expected in err and "Traceback" not in out + err, err
    assert err.count("\n") == 1   # one sentence
    assert snapshot(work) == before   # nothing written, the crafted file untouched


def test_the_command_that_aborted_now_refuses(work, trained):
    """In a process of its own, as a person runs it: on main this was `free(): invalid next size`
    and SIGABRT (status -6)."""
    path, project, expected = _crafted(trained, work, "moments of another size")
    before = snapshot(work)
    done = subprocess.run(
        [sys.executable, "-m", "playground", "train", str(project), "--resume", str(path),
         "--out", str(work / "c.pt"), "--metrics", str(work / "m.json"), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert snapshot(work) == before


@pytest.mark.parametrize("case", ["moments of another size", "a momentum buffer of another size", "a step that is a vector"])
def test_the_window_refuses_crafted_optimizer_state(qtbot, window, dialogs, work, trained, case):
    """File > Open the checkpoint, tick "Continue from current weights", press Start."""
    path, _, expected = _crafted(trained, work, case)
    before = snapshot(work)
    assert window.files.open_path(path)
    weights = window.session.weights
    window.panel.continue_check.setChecked(True)
    assert window.panel.continue_requested
    with qtbot.waitSignal(window.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        window.session.start()
    end = blocker.args[1]
    assert end.status == "failed" and expected in end.reason
    assert window.session.failure_box.text() == end.reason
    window.session.failure_box.close()
    assert window.session.weights is weights   # the opened checkpoint's weights are kept, as they were
    assert snapshot(work) == before


def test_a_crafted_scheduler_state_is_refused(cli, work, trained):
    """torch copies a scheduler's state into its attributes as it is: a stray key could replace
    its optimizer, a list of another length breaks it later."""
    ckpt = load_checkpoint(trained["adam"])
    ckpt.project.training.scheduler = type(ckpt.project.training.loss)(type="StepLR", params={})
    project = work / "p.json"
    ckpt.project.save(project)
    assert cli("train", project, "--out", work / "s.pt", "--metrics", work / "s.json", "--quiet")[0] == 0
    good = load_checkpoint(work / "s.pt")
    from playground.core.training import Trainer

    for change, expected in (
        (lambda s: s.update(optimizer=None), "the scheduler state has 'optimizer', which StepLR does not keep"),
        (lambda s: s.update(base_lrs=[0.1, 0.2, 0.3]), "the scheduler state['base_lrs'] is a list, not a list of 1"),
        (lambda s: s.update(last_epoch=2 ** 80), "the scheduler state['last_epoch'] is 1208925819614629174706176, not a whole number between"),
    ):
        state = dict(good.scheduler)
        change(state)
        trainer = Trainer(good.project, model_state=good.model, optimizer_state=good.optimizer,
                          scheduler_state=state, start_epoch=good.epoch)
        end = trainer.run()
        assert end.status == "failed" and expected in end.reason, end.reason
