"""Training > A/B race: the open project and a copy with other settings, in lock-step from the same
initial weights, both curves in the plots and both runs in the store; Stop stops both."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from playground.core.run_store import RunStore
from playground.core.spec import ComponentSpec, Project
from playground.ui.main_window import MainWindow
from playground.ui.race import race_name, race_project
from tests.ui.store_support import RUN_TIMEOUT, every_epoch_snapshotted, no_questions, same, tiny  # noqa: F401 — fixtures


@pytest.fixture
def win(qtbot, tmp_path):
    path = tmp_path / "tiny.json"
    tiny().save(path)
    window = MainWindow(Project.load(path), path, settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    yield window
    window.close()


def start_race(win, **fields):
    dialog = win.open_race()
    for name, text in fields.items():
        dialog.fields[name].setText(text)
    assert dialog.start(), dialog.status.text()
    return win.session.race


def test_b_is_a_with_one_value_per_setting_and_bad_ones_are_said(win):
    base = tiny()
    b, changes = race_project(base, {"optimizer": "SGD", "lr": "0.1", "optimizer.momentum": "0.9", "l2": "0.001",
                                     "batch_size": ""})
    assert changes == {"optimizer": "SGD", "lr": 0.1, "optimizer.momentum": 0.9, "l2": 0.001}
    assert b.training.optimizer == ComponentSpec("SGD", {"lr": 0.1, "momentum": 0.9}) and b.training.l2 == 0.001
    assert b.network == base.network and base.training.optimizer.type == "Adam"   # A untouched
    assert race_name("A", base, changes) == "A: Adam lr=0.05 optimizer.momentum=— l2=0"
    assert race_name("B", b, changes) == "B: SGD lr=0.1 optimizer.momentum=0.9 l2=0.001"
    dialog = win.open_race()
    assert not dialog.start() and "B changes nothing" in dialog.status.text()
    dialog.fields["lr"].setText("0.1,0.2")
    assert not dialog.start() and "B takes one value" in dialog.status.text()
    dialog.fields["lr"].setText("fast")
    assert not dialog.start() and "not a number" in dialog.status.text()
    assert win.session.race is None and win.session.run is None and win.runs.run_ids() == []


def test_a_race_alternates_epochs_from_identical_weights_into_the_plots_and_the_store(qtbot, win, tmp_path):
    race = start_race(win, optimizer="SGD", lr="0.1")
    assert win.session.racing and win.document.locked
    win.session.start()   # refused while the race trains: no third run
    assert win.session.run is None
    with qtbot.waitSignal(race.finished, timeout=3 * RUN_TIMEOUT):
        pass
    assert race.order == [("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 3), ("B", 3)]
    assert not win.session.racing and not win.document.locked
    a_id, b_id = race.run_ids["A"], race.run_ids["B"]
    assert win.runs.run_name(a_id) == "A: Adam lr=0.05" and win.runs.run_name(b_id) == "B: SGD lr=0.1"
    for rid in (a_id, b_id):
        assert rid in win.plots.run_ids()
        assert [e.epoch for _, e in win.plots._runs[rid].epochs] == [1, 2, 3]
        assert win.runs.cell_text(rid, "Status") == "finished"
    assert win.plots.run_color(a_id) != win.plots.run_color(b_id)
    win.archive.wait()
    store = RunStore(tmp_path / "tiny.runs")
    a, b = (store.run(win.archive.stored_id(rid)) for rid in (a_id, b_id))
    assert a.status == b.status == "finished" and a.snapshots == b.snapshots == [0, 1, 2, 3]
    assert b.project.training.optimizer == ComponentSpec("SGD", {"lr": 0.1})
    assert same(store.snapshot(a.id, 0), store.snapshot(b.id, 0))   # bit for bit the same start
    assert same(store.snapshot(a.id, 0), race.initial)
    assert not same(store.final(a.id).model, store.final(b.id).model)   # and B trained with its own settings
    assert same(win.session.weights.model, store.final(a.id).model)    # A's weights continue the project


def test_stop_stops_both_runs(qtbot, win, tmp_path):
    race = start_race(win, lr="0.01")
    qtbot.waitUntil(lambda: "B" in race.runs, timeout=RUN_TIMEOUT)   # A held after epoch 1, B started
    with qtbot.waitSignal(race.finished, timeout=RUN_TIMEOUT):
        win.panel.stop_requested.emit()
    assert {x: e.status for x, e in race.ended.items()} == {"A": "stopped", "B": "stopped"}
    assert race.order[0] == ("A", 1) and ("A", 2) not in race.order
    assert not win.session.racing and not win.document.locked
    win.archive.wait()
    records = RunStore(tmp_path / "tiny.runs").runs()[0]
    assert sorted(r.status for r in records) == ["stopped", "stopped"]


def test_pause_holds_the_race_and_resume_goes_on_in_turn(qtbot, win):
    race = start_race(win, batch_size="32")
    qtbot.waitUntil(lambda: "B" in race.runs, timeout=RUN_TIMEOUT)
    win.session.set_paused(True)
    qtbot.waitUntil(lambda: race.runs["B"].holding, timeout=RUN_TIMEOUT)   # B held: at its epoch's end or inside it
    assert win.panel._state == "paused" and race.runs["A"].holding and ("A", 2) not in race.order
    with qtbot.waitSignal(race.finished, timeout=3 * RUN_TIMEOUT):
        win.session.set_paused(False)
    assert race.order == [("A", 1), ("B", 1), ("A", 2), ("B", 2), ("A", 3), ("B", 3)]
