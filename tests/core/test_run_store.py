"""The run store: runs kept on disk with their epochs' weights, consistent after a crash, bounded by
its budget, and a hostile file refused in one sentence while the other runs still load."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.core import run_store
from playground.core.checkpoint import load_checkpoint
from playground.core.errors import PlaygroundError
from playground.core.run_recorder import StoreRecorder, train_recorded
from playground.core.run_store import (
    RUN_FORMAT,
    RunStore,
    RunStoreError,
    default_store,
    parse_run,
    snapshot_name,
    store_for,
)
from playground.core.shapes import build_network
from playground.core.spec import ComponentSpec, DataSpec, LayerSpec, NetworkSpec, Project, TrainingSpec
from playground.core.training import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(epochs=3, seed=0, **training) -> Project:
    layers = [LayerSpec("Linear", {"out_features": 4}), LayerSpec("Tanh", {}), LayerSpec("Linear", {"out_features": 2})]
    return Project(network=NetworkSpec([2], layers), data=DataSpec("xor", {"samples": 64}),
                   training=TrainingSpec(optimizer=ComponentSpec("Adam", {"lr": 0.05}), batch_size=16,
                                         epochs=epochs, seed=seed, **training), name="Tiny")


def weights_of(trainer) -> dict:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def record_run(store, project, resume=None, **kwargs):
    """Train into the store as the command line does, keeping the weights after every epoch."""
    seen = {}
    box = []

    def on_event(event):
        if event.kind == "epoch":
            seen[event.epoch] = weights_of(box[0])

    writer = store.new_run(project, **kwargs)
    recorder = StoreRecorder(None, on_event)
    trainer = Trainer(project, recorder, **(resume or {}))
    box.append(trainer)
    trainer.prepare()
    recorder.begin(trainer, writer)
    end = trainer.run()
    recorder.end(trainer, end)
    return writer.id, trainer, end, seen


def test_a_penalised_run_keeps_its_penalty_and_an_unpenalised_one_has_none(tmp_path):
    """The epoch records in the store are the Trainer's own: the l1/l2 penalty where a run has one."""
    store = RunStore(tmp_path / "p.runs")
    record_run(store, tiny(l2=0.01))
    record_run(store, tiny())
    penalised, plain = RunStore(tmp_path / "p.runs").runs()[0]
    assert all(e["penalty"] > 0 for e in penalised.epochs)
    assert all("penalty" not in e for e in plain.epochs)


def test_a_run_is_kept_with_its_history_and_the_weights_of_every_epoch(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    run_id, trainer, end, seen = record_run(store, tiny())
    assert end.status == "finished"
    reopened = RunStore(tmp_path / "p.runs")   # as a new window finds it
    runs, problems = reopened.runs()
    assert problems == [] and [r.id for r in runs] == [run_id] == ["run-0001"]
    r = runs[0]
    assert r.status == "finished" and r.name == "Run 1" and r.final
    assert r.epochs == trainer.history["epochs"]
    assert r.steps == trainer.history["steps"] and r.steps_per_epoch == 4   # 48 training samples / 16
    assert r.snapshots == [0, 1, 2, 3]
    for epoch in (1, 2, 3):
        assert same(reopened.snapshot(run_id, epoch), seen[epoch])
    final = reopened.final(run_id)
    assert same(final.model, seen[3]) and final.optimizer is not None and final.epoch == 3
    # the snapshots are plain state_dicts any script loads
    plain = torch.load(r.folder / snapshot_name(2), weights_only=True)
    assert same(plain, seen[2])


def test_a_fork_starts_from_exactly_the_weights_of_its_epoch(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    parent, _, _, seen = record_run(store, tiny(epochs=4))
    state = store.fork_state(parent, 2)
    assert state.optimizer is None   # a snapshot holds the weights only: the fork's optimizer starts fresh
    assert [e["epoch"] for e in state.history["epochs"]] == [1, 2]
    assert all(s[0] <= 2 * 4 for s in state.history["steps"])
    changed = tiny(epochs=2)
    changed.training.optimizer = ComponentSpec("SGD", {"lr": 0.1})   # a fork with other settings
    from playground.core.resume import carry_over, resume_arguments

    resume = resume_arguments(carry_over(state, changed)[0])
    trainer = Trainer(changed, model_state=resume["model_state"])
    trainer.prepare()
    assert same(weights_of(trainer), seen[2])   # bit-identical, tensor by tensor

    fork_id, fork, _, _ = record_run(store, changed, parent={"run": parent, "epoch": 2}, start_epoch=2,
                                     history=state.history, resume=resume)
    record = store.run(fork_id)
    assert record.parent == {"run": parent, "epoch": 2} and record.start_epoch == 2
    assert record.snapshots[0] == 2 and same(store.snapshot(fork_id, 2), seen[2])
    assert [e["epoch"] for e in record.epochs] == [1, 2, 3, 4]   # the parent's two, then its own


def test_a_fork_from_the_last_epoch_takes_the_optimizer_state_too(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    parent, trainer, _, _ = record_run(store, tiny(epochs=2))
    state = store.fork_state(parent, 2)
    expected = trainer.optimizer.state_dict()["state"]
    assert state.optimizer is not None
    for index, moments in expected.items():
        for key, value in moments.items():
            assert torch.equal(state.optimizer["state"][index][key], value)


def test_the_budget_thins_the_snapshots_keeping_first_best_and_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(run_store, "RECORD_INTERVAL_S", 0.0)   # run.json after every epoch: checked after each
    store = RunStore(tmp_path / "p.runs")
    sizes = []
    run_id, _, _, _ = record_run(store, tiny(epochs=1))
    one = os.path.getsize(store.run(run_id).folder / snapshot_name(0))
    store.delete(run_id)
    base = store.size()
    # room for about five snapshots and a run.json beside the store's own file
    store.set_budget(base + 5 * one + 6000)
    project = tiny(epochs=12)
    writer = store.new_run(project)

    def check(event):
        if event.kind == "epoch":
            sizes.append((store.size(), len(writer.record.snapshots)))

    train_recorded(project, writer, check)
    r = store.run(writer.id)
    assert 0 in r.snapshots and 12 in r.snapshots
    best = r.best("val_loss")[0]
    assert best in r.snapshots
    assert 3 <= len(r.snapshots) < 13 and len(r.snapshots) * one <= store.budget - base
    assert any(3 <= e <= 9 for e in r.snapshots)   # thinned across the run, not only its newest epochs kept
    # every snapshot named is on disk, and no other
    on_disk = sorted(int(p.stem.split("-")[1]) for p in r.folder.glob("epoch-*.pt"))
    assert on_disk == r.snapshots
    # while the run trained, the store stayed within its budget (before the final checkpoint)
    assert all(size <= store.budget for size, count in sizes if count > 3)
    assert max(size for size, _ in sizes) <= store.budget


def test_rename_annotate_delete_and_export(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    a, _, _, seen = record_run(store, tiny(epochs=2))
    b, _, _, _ = record_run(store, tiny(epochs=1))
    store.rename(a, "wide")
    store.annotate(a, "lr looks high\nsecond line")
    again = RunStore(tmp_path / "p.runs").run(a)
    assert (again.name, again.note) == ("wide", "lr looks high\nsecond line")
    store.export(a, tmp_path / "a1.pt", epoch=1)
    ckpt = load_checkpoint(tmp_path / "a1.pt")
    assert ckpt.epoch == 1 and same(ckpt.model, seen[1]) and len(ckpt.history["epochs"]) == 1
    store.delete(a)
    assert not (tmp_path / "p.runs" / a).exists()
    assert [r.id for r in store.runs()[0]] == [b]
    c = store.new_run(tiny())   # a deleted run's number is never given out again (a fork names its parent)
    assert c.id == "run-0003"
    with pytest.raises(RunStoreError, match="still training"):
        store.delete(c.id)
    store.rename(c.id, "named while it trains")   # through its writer: the next run.json keeps it
    c.epoch({"epoch": 1, "train_loss": 0.5})
    assert store.run(c.id).name == "named while it trains"
    c.close()


def test_a_run_whose_writer_died_reads_as_interrupted_with_its_epochs(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    writer = store.new_run(tiny())
    writer.epoch({"epoch": 1, "train_loss": 0.7}, {"w": torch.ones(2)})
    assert store.run(writer.id).status == "running"   # its lock is held
    writer.close()   # what a crash does to the lock: the system lets go of it
    r = store.run(writer.id)
    assert r.status == "interrupted" and [e["epoch"] for e in r.epochs] == [1]
    assert "epoch 2" in r.reason


CRASHING_WRITER = textwrap.dedent("""
    import sys, torch
    from playground.core import run_store
    from playground.core.run_store import RunStore
    from playground.core.shapes import build_network
    from playground.core.spec import Project
    project = Project.from_json(sys.argv[2])
    run_store.RECORD_INTERVAL_S = float(sys.argv[3])
    shapes = {k: v.shape for k, v in build_network(project.network).state_dict().items()}
    store = RunStore(sys.argv[1])
    w = store.new_run(project)
    w.snapshot(0, {k: torch.zeros(s) for k, s in shapes.items()})
    for epoch in range(1, 100000):
        if w.epoch({"epoch": epoch, "train_loss": 1.0 / epoch},
                   {k: torch.full(s, float(epoch)) for k, s in shapes.items()}, [[epoch * 4, 1.0 / epoch]], 4):
            print(epoch, flush=True)   # run.json names this epoch now
""")


# 0: run.json after every epoch; 0.02: epochs of a millisecond share a write, as a toy set's do
@pytest.mark.parametrize("interval", [0.0, 0.02])
def test_a_run_killed_mid_write_leaves_a_consistent_store(tmp_path, interval):
    root = tmp_path / "p.runs"
    RunStore(root).set_budget(12_000)   # thinning runs too: the kill may land in a removal
    with subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(root), tiny().to_json(), str(interval)],
                          stdout=subprocess.PIPE, text=True) as child:
        try:
            for line in child.stdout:
                written = int(line)
                if written >= 12:
                    break
            child.send_signal(signal.SIGKILL)   # wherever it is in its writes
        finally:
            child.wait(30)
    store = RunStore(root)
    runs, problems = store.runs()
    assert problems == []
    r = runs[0]
    assert r.status == "interrupted"
    assert len(r.epochs) >= written and [e["epoch"] for e in r.epochs] == list(range(1, len(r.epochs) + 1))
    assert 0 in r.snapshots and len(r.snapshots) < len(r.epochs)   # thinned as it went
    for epoch in r.snapshots:   # each named snapshot is whole and holds its epoch's weights
        assert all(torch.equal(v, torch.full_like(v, float(epoch))) for v in store.snapshot(r.id, epoch).values())


def test_fast_epochs_share_a_write_and_the_end_writes_them_all(tmp_path, monkeypatch):
    """A toy set's epochs take milliseconds: rewriting the whole history after each froze the window
    (the writing thread held the GIL). run.json is written at most once an interval; every epoch's
    snapshot still goes to disk, and finish() names them all."""
    clock = [100.0]   # a clock of the test's: quarters of a second are exact in binary
    monkeypatch.setattr(run_store, "time", SimpleNamespace(monotonic=lambda: clock[0], time=time.time))
    monkeypatch.setattr(run_store, "RECORD_INTERVAL_S", 1.0)
    store = RunStore(tmp_path / "p.runs")
    project = tiny()
    shapes = {k: v.shape for k, v in build_network(project.network).state_dict().items()}
    writer = store.new_run(project)
    written = []
    for epoch in range(1, 8):
        clock[0] += 0.25                                      # four epochs a second
        weights = {k: torch.full(shape, float(epoch)) for k, shape in shapes.items()}
        written.append(writer.epoch({"epoch": epoch, "train_loss": 1.0 / epoch}, weights))
    assert written == [True, False, False, False, True, False, False]   # the first at once, then once a second
    assert [e["epoch"] for e in store.run(writer.id).epochs] == [1, 2, 3, 4, 5]
    assert sorted(int(p.stem.split("-")[1]) for p in writer.record.folder.glob("epoch-*.pt")) == list(range(1, 8))
    writer.finish("finished", "")
    r = store.run(writer.id)
    assert [e["epoch"] for e in r.epochs] == list(range(1, 8)) and r.snapshots == list(range(1, 8))
    assert all(torch.equal(v, torch.full_like(v, 7.0)) for v in store.snapshot(r.id, 7).values())


def test_a_write_that_fails_midway_keeps_the_run_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(run_store, "RECORD_INTERVAL_S", 0.0)   # epoch 2 writes run.json at once
    store = RunStore(tmp_path / "p.runs")
    writer = store.new_run(tiny())
    writer.epoch({"epoch": 1, "train_loss": 0.7}, {"w": torch.ones(2)})
    real = os.replace

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(PlaygroundError, match="disk is full"):
        writer.epoch({"epoch": 2, "train_loss": 0.6}, {"w": torch.full((2,), 2.0)})
    monkeypatch.setattr(os, "replace", real)
    r = store.run(writer.id)
    assert [e["epoch"] for e in r.epochs] == [1] and r.snapshots == [1]
    assert not list(r.folder.glob("*.tmp"))
    writer.close()


def test_a_damaged_run_is_refused_in_one_sentence_and_the_others_load(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    good, _, _, _ = record_run(store, tiny(epochs=1))
    bad, _, _, _ = record_run(store, tiny(epochs=1))
    worse, _, _, _ = record_run(store, tiny(epochs=1))
    (store.root / bad / "run.json").write_text('{"format": "playground-run", "version": 1, "status": "fine"')
    (store.root / worse / "run.json").write_bytes(b"\x00\xff" * 10)
    runs, problems = store.runs()
    assert [r.id for r in runs] == [good]
    assert len(problems) == 2 and bad in problems[0] and "not valid JSON" in problems[0]
    assert worse in problems[1]
    assert all(p.count("\n") == 0 for p in problems)


@pytest.mark.parametrize("payload, words", [
    (["not", "a", "dict"], "not a dict of tensors"),
    ({"0.weight": "text"}, "not a state_dict"),
    ({"0.weight": torch.zeros(3, 3)}, "do not fit"),
])
def test_a_snapshot_that_is_not_the_runs_weights_is_refused(tmp_path, payload, words):
    store = RunStore(tmp_path / "p.runs")
    run_id, _, _, _ = record_run(store, tiny(epochs=1))
    torch.save(payload, store.root / run_id / snapshot_name(1))
    with pytest.raises(RunStoreError, match=words) as info:
        store.snapshot(run_id, 1)
    assert "\n" not in str(info.value)
    assert store.snapshot(run_id, 0)   # the others still load


def test_a_pickled_object_in_a_snapshot_is_never_run(tmp_path):
    store = RunStore(tmp_path / "p.runs")
    run_id, _, _, _ = record_run(store, tiny(epochs=1))

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"x": Evil()}, store.root / run_id / snapshot_name(1))
    with pytest.raises(RunStoreError):
        store.snapshot(run_id, 1)
    assert not (tmp_path / "pwned").exists()


def valid_run() -> dict:
    return {"format": RUN_FORMAT, "version": 1, "name": "a", "note": "", "created": 1.0,
            "project": tiny().to_dict(), "status": "finished", "reason": "", "steps_per_epoch": 4,
            "epochs": [{"epoch": 1, "train_loss": 0.5, "val_loss": None}], "steps": [[4, 0.5]],
            "snapshots": [0, 1], "final": True, "parent": None, "sweep": None, "start_epoch": 0}


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=12)


@settings(max_examples=60, deadline=None, database=None, derandomize=True)
@given(key=st.sampled_from(sorted(valid_run())), value=JSON)
def test_run_json_with_any_value_in_any_field_is_read_or_refused_in_words(key, value):
    raw = valid_run()
    raw[key] = value
    try:
        record = parse_run(raw, "run-0001")
    except RunStoreError as e:
        assert str(e).startswith("run-0001") and "\n" not in str(e)
    else:
        json.dumps(record.to_dict())   # what it read writes back


@settings(max_examples=100, deadline=None, database=None, derandomize=True)
@given(raw=JSON)
def test_any_json_document_is_read_or_refused_in_words(raw):
    with pytest.raises(RunStoreError):
        parse_run(raw, "run-0002")


def test_where_the_runs_go(tmp_path, examples, runs_folder):
    assert store_for(tmp_path / "net.json") == tmp_path / "net.runs"
    assert default_store(tmp_path / "net.json") == tmp_path / "net.runs"
    # never into the installation: a shipped example's runs, and an unsaved project's, go to the data folder
    assert default_store(examples / "xor.json") == runs_folder / "xor.runs"
    assert default_store(None, "My Net 2") == runs_folder / "my_net_2.runs"


def test_a_recorder_that_cannot_write_stops_recording_not_training(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "p.runs")
    writer = store.new_run(tiny())
    said = []
    recorder = StoreRecorder(writer, on_error=said.append)
    trainer = Trainer(tiny(epochs=3), recorder)
    trainer.prepare()
    recorder.begin(trainer)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "epoch", broken)
    end = trainer.run()
    assert end.status == "finished" and trainer.epoch == 3
    assert len(said) == 1 and "stopped recording" in said[0]
    assert store.run(writer.id).status == "interrupted"


def test_a_writer_counts_the_store_s_size_as_it_writes(tmp_path, monkeypatch):
    """The window shows the store's size during a run from the writer's count: walking the store's
    files (thousands of snapshots) at every write held the window."""
    monkeypatch.setattr(run_store, "RECORD_INTERVAL_S", 0.0)
    store = RunStore(tmp_path / "p.runs")
    record_run(store, tiny(epochs=1))                      # another run already there
    project = tiny(epochs=4)
    writer = store.new_run(project)
    shapes = {k: v.shape for k, v in build_network(project.network).state_dict().items()}
    for epoch in range(1, 5):
        writer.epoch({"epoch": epoch, "train_loss": 1.0 / epoch},
                     {k: torch.full(shape, float(epoch)) for k, shape in shapes.items()})
        assert writer.store_size == store.size()
    writer.close()
