"""The window keeps every run in the project's run store: back after a restart with its curves and
weights, a timeline of its epochs that every view follows, forks from any epoch, rename, note, delete."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from playground.core.run_store import RunStore
from playground.core.spec import Project
from playground.ui.main_window import MainWindow
from tests.ui.store_support import RUN_TIMEOUT, every_epoch_snapshotted, no_questions, same, tiny  # noqa: F401 — fixtures


@pytest.fixture
def project_path(tmp_path):
    path = tmp_path / "tiny.json"
    tiny().save(path)
    return path


def open_window(qtbot, tmp_path, path):
    win = MainWindow(Project.load(path), path, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    return win


def train(qtbot, win):
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT) as blocker:
        win.session.start()
    win.archive.wait()
    return blocker.args[0]


def test_runs_come_back_after_a_restart_with_their_curves_and_weights(qtbot, tmp_path, project_path, monkeypatch):
    win = open_window(qtbot, tmp_path, project_path)
    run_id = train(qtbot, win)
    final = win.runs.kept_weights(run_id)[1].model
    store = RunStore(tmp_path / "tiny.runs")
    record = store.run("run-0001")
    assert record.status == "finished" and record.snapshots == [0, 1, 2, 3] and record.final
    assert same(store.final("run-0001").model, final)
    assert same(store.snapshot("run-0001", 3), final)
    assert len(record.steps) > 0 and record.steps_per_epoch == 4   # 4 batches of up to 16 per epoch
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or QMessageBox.Discard)
    assert win.close()
    assert asked == []   # the weights are in the store: nothing to lose by quitting

    again = open_window(qtbot, tmp_path, project_path)
    (listed,) = again.runs.run_ids()
    assert again.runs.run_name(listed) == "Run 1" and again.runs.cell_text(listed, "Status") == "finished"
    assert again.runs.cell_text(listed, "Val acc") == f"{record.epochs[-1]['val_accuracy']:.1%}"
    assert listed in again.plots.run_ids()
    assert [e.epoch for _, e in again.plots._runs[listed].epochs] == [1, 2, 3]
    assert same(again.runs.kept_weights(listed)[1].model, final)   # read from the store when asked for
    assert again.session.run_id == listed   # the next run is numbered after it
    again.close()


def test_the_timeline_shows_an_epoch_in_every_view_and_a_fork_starts_from_it(qtbot, tmp_path, project_path):
    win = open_window(qtbot, tmp_path, project_path)
    run_id = train(qtbot, win)
    seen = []
    win.views.set_weights = lambda state: seen.append(state)   # what every view is given
    win.runs.table.selectRow(0)
    assert win.timeline.run_id == run_id and win.timeline.slider.isEnabled()
    assert win.timeline.slider.maximum() == 3
    win.timeline.set_epoch(1)
    store = RunStore(tmp_path / "tiny.runs")
    epoch1 = store.snapshot("run-0001", 1)
    assert same(win.session.weights.model, epoch1) and win.session.weights.epoch == 1
    assert seen and same(seen[-1], epoch1)

    win.document.set_component_param("optimizer", "lr", 0.01)   # a fork with changed settings
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT):
        assert win.session.fork(run_id, 1)
    win.archive.wait()
    fork = store.run("run-0002")
    assert fork.parent == {"run": "run-0001", "epoch": 1} and fork.start_epoch == 1
    assert fork.project.training.optimizer.params["lr"] == 0.01
    assert same(store.snapshot("run-0002", 1), epoch1)   # it started from exactly those weights
    assert [e["epoch"] for e in fork.epochs] == [1, 2, 3, 4]
    assert fork.epochs[0] == store.run("run-0001").epochs[0]
    # on the plots the fork's own steps begin where its parent's epoch 1 ended
    fork_id = win.runs.run_ids()[-1]
    assert 1 * 4 < win.plots._runs[fork_id].steps[0][0] <= 4 * 4
    win.close()


def test_rename_note_and_delete_reach_the_store(qtbot, tmp_path, project_path, monkeypatch):
    win = open_window(qtbot, tmp_path, project_path)
    run_id = train(qtbot, win)
    win.runs.rename_run(run_id, "baseline")
    win.runs.annotate_run(run_id, "Adam 0.05")
    store = RunStore(tmp_path / "tiny.runs")
    assert (store.run("run-0001").name, store.run("run-0001").note) == ("baseline", "Adam 0.05")
    assert win.runs.run_name(run_id) == "baseline" and "baseline" in win.plots.legend_text()
    menu = win.runs.context_menu(run_id)
    assert {"renameRunAction", "annotateRunAction", "deleteRunAction"} <= {a.objectName() for a in menu.actions()}
    win.runs.delete_run(run_id)
    assert store.run_ids() == [] and win.runs.run_ids() == []
    win.close()


def test_a_12_run_sweep_from_the_window_matches_the_stored_histories(qtbot, tmp_path, project_path):
    win = open_window(qtbot, tmp_path, project_path)
    win.document.set_training("epochs", 1)
    dialog = win.open_sweep()
    dialog.params.item(0, 1).setText("1e-3:1e-1:log:4")
    dialog.params.item(1, 1).setText("8,16,32")
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT):
        assert dialog.start()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=4 * RUN_TIMEOUT)
    win.archive.wait()
    store = RunStore(tmp_path / "tiny.runs")
    records = store.runs()[0]
    assert len(records) == 12 and {r.sweep["id"] for r in records} == {dialog.sweep_id}
    assert dialog.results.rowCount() == 12 and len(dialog.lines) == 12
    metric, rows = dialog.rows()
    assert metric == "val_accuracy"
    by_name = {r.name: r for r in records}
    for row in range(12):   # each row of the table is its run's stored best epoch
        name = dialog.results.item(row, 0).text()
        best = by_name[name].best(metric)
        assert dialog.results.item(row, 3).text() == f"{best[1]:.2%}"
        assert dialog.results.item(row, 4).text() == str(best[0])
    best = max(records, key=lambda r: r.best(metric)[1])
    bold = [dialog.results.item(r, 0).text() for r in range(12) if dialog.results.item(r, 0).font().bold()]
    assert len(bold) == 1 and by_name[bold[0]].best(metric)[1] == best.best(metric)[1]   # ties: any of the best
    # the parallel plot's last axis is the metric, scaled between the worst and the best run
    scores = [r["best"] for r in rows]
    for r in rows:
        y = dialog.lines[r["run_id"]].yData[-1]
        assert y == pytest.approx((r["best"] - min(scores)) / (max(scores) - min(scores)) if max(scores) > min(scores) else 0.5)
    assert "Run store:" in dialog.store_label.text() and "of 256.0 MiB" in dialog.store_label.text()
    # one click opens a run: its settings in the editor
    run_id = rows[0]["run_id"]
    assert dialog.open_run(run_id)
    assert win.runs.selected_run() == run_id
    assert win.document.project.training.batch_size == rows[0]["values"]["batch_size"]
    win.close()


def test_stopping_a_sweep_keeps_the_finished_runs(qtbot, tmp_path, project_path):
    win = open_window(qtbot, tmp_path, project_path)
    win.document.set_training("epochs", 1)
    dialog = win.open_sweep()
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT):
        assert dialog.start()   # 4 x 3 runs planned
    with qtbot.waitSignal(win.session.run_started, timeout=RUN_TIMEOUT):
        pass
    with qtbot.waitSignal(win.session.run_finished, timeout=RUN_TIMEOUT):
        dialog.stop()
    win.archive.wait()
    assert win.session.run is None and win.session.queued == 0 and dialog.start_button.isEnabled()
    records = RunStore(tmp_path / "tiny.runs").runs()[0]
    assert 2 <= len(records) < 12 and records[0].status == "finished"
    assert "Sweep stopped" in dialog.status.text()
    win.close()


def test_epochs_closer_than_the_snapshot_gap_share_a_snapshot_and_every_record_is_kept(qtbot, tmp_path, monkeypatch):
    """A toy set's epochs take milliseconds: a state_dict through the pipe and onto disk after each held
    the window. Closer than SNAPSHOT_GAP_S they share one (here: a gap no run reaches), the first and
    last epochs always have theirs, and every epoch's record is in run.json."""
    from playground.ui import worker

    monkeypatch.setattr(worker, "SNAPSHOT_GAP_S", 1e9)
    path = tmp_path / "tiny.json"
    tiny(epochs=6).save(path)
    win = open_window(qtbot, tmp_path, path)
    train(qtbot, win)
    record = RunStore(tmp_path / "tiny.runs").run("run-0001")
    assert record.snapshots == [0, 1, 6]
    assert [e["epoch"] for e in record.epochs] == [1, 2, 3, 4, 5, 6]
    assert same(RunStore(tmp_path / "tiny.runs").snapshot("run-0001", 6), win.runs.kept_weights(1)[1].model)
