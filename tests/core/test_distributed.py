"""Training under torchrun: the launch from the environment, DistributedSampler-style shards that
rebuild the single-process batches, and real two-process gloo jobs that match a single process,
write one set of files, and end with the failing rank's message when a rank fails or hangs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from playground.core.checkpoint import load_checkpoint
from playground.core.data import Batches
from playground.core.distributed import Launch, ShardedBatches
from playground.core.errors import TrainingError
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import Trainer

REPO = Path(__file__).resolve().parents[2]
BOUND = 60.0   # seconds: a failed job must be over well within this


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_torch_thread):
    """One torch thread for this module (see conftest.one_torch_thread)."""


# --- the launch ------------------------------------------------------------------------------


def test_launch_is_read_from_torchruns_variables():
    assert Launch.from_env({}) is None
    assert Launch.from_env({"RANK": "1", "WORLD_SIZE": "2"}) is None   # all three, or a plain process
    assert Launch.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Launch(3, 4, 1)
    with pytest.raises(TrainingError, match="RANK 4 does not fit WORLD_SIZE 4"):
        Launch.from_env({"RANK": "4", "WORLD_SIZE": "4", "LOCAL_RANK": "0"})
    with pytest.raises(TrainingError, match="whole numbers"):
        Launch.from_env({"RANK": "a", "WORLD_SIZE": "4", "LOCAL_RANK": "0"})


# --- the shards ------------------------------------------------------------------------------


def shards(n: int, batch: int, world: int, **kw) -> list[ShardedBatches]:
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    return [ShardedBatches(x, x.squeeze(1).long(), batch, r, world, seed=7, **kw) for r in range(world)]


@pytest.mark.parametrize("n, batch, world, shuffle, drop_last", [
    (96, 16, 2, True, False),    # every batch full
    (100, 16, 2, True, False),   # last batch of 4: 2 per rank
    (100, 16, 4, False, False),  # in order, last batch of 4: 1 per rank
    (103, 16, 2, True, True),    # drop_last drops the partial batch, as in one process
    (103, 12, 3, True, True),
])
def test_the_ranks_strides_rebuild_the_single_process_batches(n, batch, world, shuffle, drop_last):
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    single = Batches(x, x.squeeze(1).long(), batch, shuffle=shuffle, drop_last=drop_last, seed=7)
    ranks = shards(n, batch, world, shuffle=shuffle, drop_last=drop_last)
    assert {len(r) for r in ranks} == {len(single)}
    for epoch in range(2):   # each epoch draws a new order, the same on every rank as in one process
        per_rank = [list(r) for r in ranks]
        for k, (xb, _) in enumerate(single):
            parts = [per_rank[r][k][0] for r in range(world)]
            assert {len(p) for p in parts} == {len(xb) // world}   # equal parts: DDP's mean is the mean
            rebuilt = torch.stack(parts, 1).reshape(-1, 1)           # rank r holds every world-th sample
            assert torch.equal(rebuilt, xb), (epoch, k)


def test_without_drop_last_every_sample_comes_once_and_the_padding_repeats_the_first():
    n, world = 101, 4   # 101 samples over 4 ranks: 26 each, 3 padded
    ranks = shards(n, 32, world)   # 8 per rank: batches of 8, 8, 8 and 2
    seen = torch.cat([torch.cat([xb for xb, _ in r]) for r in ranks]).squeeze(1).long()
    counts = torch.bincount(seen, minlength=n)
    assert len(seen) == 26 * world and counts.min() == 1 and counts.sum() == n + 3
    order = torch.randperm(n, generator=torch.Generator().manual_seed(7))   # the epoch's order, as one process
    assert set(torch.nonzero(counts == 2).squeeze(1).tolist()) == set(order[:3].tolist())
    assert {len(r) for r in ranks} == {4} and {r.smallest_batch() for r in ranks} == {2}


def test_with_drop_last_the_tail_goes_and_no_sample_repeats():
    ranks = shards(103, 12, 3, drop_last=True)
    seen = torch.cat([torch.cat([xb for xb, _ in r]) for r in ranks]).squeeze(1).long()
    assert len(seen) == 96 and len(set(seen.tolist())) == 96


def test_a_global_batch_that_does_not_split_over_the_ranks_is_refused():
    x = torch.zeros(50, 1)
    with pytest.raises(TrainingError, match=r"batch size 30 does not split over 4 ranks: the project's batch "
                                            r"size is the global batch.*multiple of 4 \(e.g. 28\)"):
        ShardedBatches(x, x, 30, 0, 4)


def test_a_rank_prepares_its_shard_and_refuses_batchnorm_on_single_samples():
    from playground.core.distributed import Ranks
    from playground.core.training import prepare_setup

    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 8}), LayerSpec("BatchNorm1d"),
                                LayerSpec("Linear", {"out_features": 2})])
    project = Project(network, DataSpec("xor", {"samples": 100}), TrainingSpec(batch_size=8))
    setup = prepare_setup(project)   # 80 training samples: 10 batches of 8
    Ranks(Launch(1, 4, 1), torch.device("cpu")).prepare(setup, project)
    assert isinstance(setup.batches, ShardedBatches) and len(setup.batches) == 10
    assert setup.batches.batch_size == 2 and setup.batches.global_batch_size == 8

    project.training.batch_size = 4   # 1 sample per rank: BatchNorm cannot normalise it
    with pytest.raises(TrainingError, match=r"BatchNorm normalises each rank's part of a batch, and some parts "
                                            r"hold 1 sample \(batch size 4 over 4 ranks, last batch included\)"):
        Ranks(Launch(0, 4, 0), torch.device("cpu")).prepare(prepare_setup(project), project)


# --- real jobs: torchrun, two processes, gloo ----------------------------------------------------


def small_project(path, *, epochs: int = 3) -> Project:
    """336 training samples, batch 32: a last batch of 16, 8 per rank; no dropout, no BatchNorm."""
    network = NetworkSpec([2], [LayerSpec("Linear", {"out_features": 32}), LayerSpec("Tanh"),
                                LayerSpec("Linear", {"out_features": 3})])
    project = Project(
        network,
        DataSpec("spiral", {"samples": 420, "val_fraction": 0.2, "seed": 3}),
        TrainingSpec(optimizer=ComponentSpec("SGD", {"lr": 0.1, "momentum": 0.9}), batch_size=32,
                     epochs=epochs, seed=11),
        name="tiny",
    )
    project.save(path)
    return project


@pytest.mark.slow
def test_two_ranks_train_the_weights_one_process_trains(tmp_path, torchrun):
    project = small_project(tmp_path / "tiny.json")
    result, seconds = torchrun("--standalone", "--nproc_per_node", "2",
                               "-m", "playground", "train", "tiny.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "Traceback" not in out
    # rank 0 alone prints: one line per epoch, one final line
    assert [line.split()[1] for line in out.splitlines() if line.startswith("epoch")] == ["1/3", "2/3", "3/3"]
    assert out.count("finished: trained 3 epochs") == 1
    # one checkpoint and one metrics file; no second copy, no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.checkpoint.pt", "tiny.json", "tiny.metrics.json"]

    single = Trainer(project)
    assert single.run().status == "finished"
    ckpt = load_checkpoint(tmp_path / "tiny.checkpoint.pt")
    expected = single.model.state_dict()
    assert list(ckpt.model) == list(expected)   # the unwrapped module's keys: no "module." prefix
    diff = max((ckpt.model[k] - expected[k]).abs().max().item() for k in expected)
    assert diff < 1e-5, f"DDP weights differ from one process's by {diff}"

    # metrics are sums over both ranks' shards, not an average of per-rank averages
    metrics = json.loads((tmp_path / "tiny.metrics.json").read_text())
    assert metrics["status"] == "finished" and len(metrics["epochs"]) == 3
    for mine, theirs in zip(metrics["epochs"], single.history["epochs"]):
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-5), key
    assert ckpt.project.training.device == "cpu" and ckpt.epoch == 3 and ckpt.optimizer is not None

    # the weights load into a plain nn.Sequential, as any checkpoint does
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3))
    model.load_state_dict(ckpt.model)
    print(f"torchrun job: {seconds:.1f} s, largest weight difference to one process {diff:.2e}")


@pytest.mark.slow
def test_a_rank_that_raises_ends_the_job_with_its_message(tmp_path, torchrun):
    small_project(tmp_path / "tiny.json", epochs=50)
    result, seconds = torchrun("--standalone", "--nproc_per_node", "2", "-m", "playground", "train", "tiny.json",
                               cwd=tmp_path, env={"PLAYGROUND_FAULT_RANK": "1"}, timeout=BOUND)
    assert result.returncode != 0 and seconds < BOUND
    message = "rank 1: training failed: RuntimeError: injected fault at step 3"
    # the failing rank says it, rank 0 repeats it rather than its own symptom, torchrun names the root cause
    assert f"playground: error: {message}" in result.stdout
    assert "playground: error: rank 0:" not in result.stdout   # rank 0 prints rank 1's cause, if anything
    assert f"traceback : {message}" in result.stdout
    assert not list(tmp_path.glob("tiny.checkpoint.pt*")) and not (tmp_path / "tiny.metrics.json").exists()
    print(f"failed job ended in {seconds:.1f} s")


@pytest.mark.slow
def test_a_rank_that_hangs_ends_the_job_after_the_timeout(tmp_path, torchrun):
    small_project(tmp_path / "tiny.json", epochs=50)
    result, seconds = torchrun(
        "--standalone", "--nproc_per_node", "2", "-m", "playground", "train", "tiny.json", "--timeout", "3",
        cwd=tmp_path, env={"PLAYGROUND_FAULT_RANK": "1", "PLAYGROUND_FAULT_KIND": "hang"}, timeout=BOUND,
    )
    assert result.returncode != 0 and seconds < BOUND
    assert "playground: error: rank 0: training failed" in result.stdout
    assert "a rank did not answer for 3 s (--timeout)" in result.stdout
    assert not (tmp_path / "tiny.checkpoint.pt").exists()
    print(f"hung job ended in {seconds:.1f} s")


# --- the command line without torchrun ------------------------------------------------------------


def test_help_says_the_batch_size_is_global(capsys):
    from playground.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "batch_size is the GLOBAL batch: each of the N ranks takes batch_size / N" in text
    assert "--timeout SECONDS" in text


def test_timeout_outside_torchrun_is_refused(examples, capsys, monkeypatch):
    from playground.cli import main

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", str(examples / "xor.json"), "--timeout", "5"]) == 1
    assert capsys.readouterr().err == "playground: error: --timeout is for runs launched by torchrun\n"


@pytest.mark.slow
def test_ctrl_c_stops_every_rank_at_the_same_step_and_rank_0_writes_the_run(tmp_path):
    small_project(tmp_path / "tiny.json", epochs=100_000)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}   # this checkout's playground
    with subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "playground", "train", "tiny.json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,   # its own process group, as a terminal's foreground job
    ) as job:
        try:
            lines = []
            for line in job.stdout:   # training has started once rank 0 printed an epoch
                lines.append(line)
                if line.startswith("epoch 2/"):
                    break
            start = time.perf_counter()
            os.killpg(job.pid, signal.SIGINT)   # Ctrl-C: torchrun and both ranks get it
            lines += job.stdout.readlines()
            job.wait(timeout=BOUND)
        finally:
            if job.poll() is None:
                os.killpg(job.pid, signal.SIGKILL)
    out = "".join(lines)
    assert time.perf_counter() - start < BOUND
    assert out.count("stopped: stopped by the user at epoch") == 1, out
    metrics = json.loads((tmp_path / "tiny.metrics.json").read_text())
    ckpt = load_checkpoint(tmp_path / "tiny.checkpoint.pt")
    assert metrics["status"] == "stopped" and ckpt.epoch >= 1 and ckpt.history["status"] == "stopped"
