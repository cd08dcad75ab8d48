"""ui.plots and ui.runs: curves made once and fed from buffers, smoothing, log scale, the best epoch,
hover values, a million points, PNG and CSV exports, and the run table with its show/hide boxes."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from playground.core.spec import Project
from playground.core.training import EndEvent, EpochEvent, StepEvent
from playground.ui.plots import PALETTE, TrainingPlots
from playground.ui.runs import RunList, settings_summary

STEPS = 10  # batches per synthetic epoch


def steps(first: int, count: int, *, lr: float = 0.01) -> list[StepEvent]:
    """Synthetic reports: global steps first..first+count-1 with a noisy falling loss."""
    out = []
    for g in range(first, first + count):
        epoch, step = (g - 1) // STEPS + 1, (g - 1) % STEPS + 1
        loss = 1.0 / math.sqrt(g) * (1.2 if g % 2 else 0.8)
        out.append(StepEvent(epoch, step, STEPS, g, loss, lr, 1000.0))
    return out


def epoch(n: int, val_loss: float | None, val_accuracy: float | None = 0.9, epochs: int = 5) -> EpochEvent:
    return EpochEvent(n, epochs, 1.0 / n, val_loss, val_accuracy, 1000.0, 0.5, 0.01)


@pytest.fixture
def plots(qtbot):
    widget = TrainingPlots()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def feed(plots: TrainingPlots, run_id: int, val_losses: list[float | None]) -> None:
    for n, val in enumerate(val_losses, start=1):
        plots.add_steps(run_id, steps((n - 1) * STEPS + 1, STEPS))
        plots.add_epoch(run_id, epoch(n, val, epochs=len(val_losses)))


def test_steps_reach_the_curves_on_the_timer(qtbot, plots):
    plots.begin_run(1, "Run 1", "")
    curves = plots.run_curves(1)
    plots.add_steps(1, steps(1, 37))
    # on screen once the timer has fed it and the view has taken it in
    qtbot.waitUntil(lambda: curves.raw.getData()[0] is not None and len(curves.raw.getData()[0]) == 37)
    x, y = curves.raw.getOriginalDataset()
    assert list(x) == list(range(1, 38))
    assert y[4] == pytest.approx(1.2 / math.sqrt(5))
    sx, sy = curves.smooth.getOriginalDataset()
    assert len(sx) == 37
    assert sy[0] == pytest.approx(y[0])  # debiased: the first smoothed value is the first value
    assert np.std(np.diff(sy)) < np.std(np.diff(y))  # smoothing takes out the zig-zag
    assert len(curves.lr.getOriginalDataset()[0]) == 37


def test_curves_are_created_once_per_run(qtbot, plots):
    plots.begin_run(1, "Run 1", "")
    curves = plots.run_curves(1)
    items = list(plots.loss_plot.getPlotItem().items)
    for first in range(1, 200, 20):
        plots.add_steps(1, steps(first, 20))
        plots.add_epoch(1, epoch(first // 20 + 1, 0.5))
        plots.refresh()
    assert plots.run_curves(1) is curves
    assert list(plots.loss_plot.getPlotItem().items) == items
    assert len(curves.raw.getOriginalDataset()[0]) == 200


def test_validation_loss_sits_at_each_epochs_last_step(plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5, None, 0.4])
    plots.refresh()
    x, y = plots.run_curves(1).val.getOriginalDataset()
    assert list(x) == [10, 20, 40]  # no validation in epoch 3: no point
    assert list(y) == [0.9, 0.5, 0.4]
    ax, ay = plots.run_curves(1).accuracy.getOriginalDataset()
    assert list(ax) == [10, 20, 30, 40] and ay[0] == pytest.approx(90.0)


def test_the_best_epoch_is_marked(plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5, 0.3, 0.4, 0.6])
    plots.refresh()
    assert plots.best_epoch(1) == 3
    bx, by = plots.run_curves(1).best.getOriginalDataset()
    assert list(bx) == [30] and list(by) == [0.3]
    assert plots.best_line.isVisible() and plots.best_line.value() == 30
    assert plots.best_label.text() == "★ best epoch 3: 0.3"


def test_epochs_fed_between_redraws_reach_the_curves_and_the_best_as_if_drawn_each_time(plots):
    # a toy set's dozens of epochs a second: the curves and the best epoch are kept as they come,
    # and equal what the whole history gives; of equal losses the first is the best
    plots.begin_run(1, "Run 1", "")
    losses = [0.9, 0.5, None, 0.3, 0.7, 0.3, float("nan"), 0.35] * 40
    for n, loss in enumerate(losses, start=1):
        plots.add_epoch(1, epoch(n, loss, None if n % 3 else 0.5 + n / 1000, epochs=len(losses)))
        if n % 7 == 0:
            plots.refresh()
    plots.refresh()
    c = plots.run_curves(1)
    finite = [(n, v) for n, v in enumerate(losses, start=1) if v is not None and math.isfinite(v)]
    x, y = c.val.getOriginalDataset()
    assert list(x) == [float(n) for n, _ in finite] and list(y) == [v for _, v in finite]   # no steps: x is the epoch
    ax, ay = c.accuracy.getOriginalDataset()
    assert list(ax) == [float(n) for n in range(3, len(losses) + 1, 3)]
    assert list(ay) == pytest.approx([(0.5 + n / 1000) * 100 for n in range(3, len(losses) + 1, 3)])
    assert plots.best_epoch(1) == 4 and plots.best_label.text() == "★ best epoch 4: 0.3"


def test_without_validation_there_is_no_best_marker(plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [None, None])
    plots.refresh()
    assert plots.best_epoch(1) is None
    assert not plots.best_line.isVisible() and plots.best_label.isHidden()


def test_log_scale_toggle(plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5])
    plots.refresh()
    vb = plots.loss_plot.getPlotItem().getViewBox()
    assert not vb.state["logMode"][1]
    plots.log_scale_check.setChecked(True)
    assert vb.state["logMode"][1]
    assert plots.run_curves(1).raw.opts["logMode"] == [False, True]
    plots.log_scale_check.setChecked(False)
    assert not vb.state["logMode"][1]


def test_hover_shows_the_nearest_point(qtbot, plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5, 0.3])
    plots.refresh()
    vb = plots.loss_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] >= 30)  # auto-range has taken in the data
    # the accuracy plot appeared with the first epoch and took its share of the height there and then
    QApplication.processEvents()
    assert plots.accuracy_plot.height() > 0 and vb.height() < plots.loss_plot.height()
    scene = plots.loss_plot.scene()
    scene.sigMouseMoved.emit(vb.mapViewToScene(QPointF(20, 0.5)))
    qtbot.waitUntil(lambda: plots.hover_text() is not None)
    assert "epoch 2" in plots.hover_text() and "val loss 0.5" in plots.hover_text()
    scene.sigMouseMoved.emit(vb.mapViewToScene(QPointF(7, 1.2 / math.sqrt(7))))
    qtbot.waitUntil(lambda: "step 7" in (plots.hover_text() or ""))
    assert f"loss {1.2 / math.sqrt(7):.4g}" in plots.hover_text()
    plots.set_run_visible(1, False)  # hidden runs are not hovered
    scene.sigMouseMoved.emit(vb.mapViewToScene(QPointF(20, 0.5)))
    # the hover follows the mouse through a rate-limited proxy: wait for it to take this move in
    qtbot.waitUntil(lambda: plots.hover_text() is None)


def test_a_million_points_are_clipped_and_downsampled(qtbot, plots):
    plots.begin_run(1, "Run 1", "")
    for first in range(1, 1_000_001, 100_000):
        plots.add_steps(1, steps(first, 100_000))
    plots.refresh()
    raw = plots.run_curves(1).raw
    # the curves get each block's peaks (a few thousand points), and they span the whole run
    x, _ = raw.getOriginalDataset()
    assert 1_000 < len(x) < 20_000 and (x[0], x[-1]) == (1, 1_000_000)
    assert len(plots.run_curves(1).smooth.getOriginalDataset()[0]) == len(x)
    for curve in (raw, plots.run_curves(1).smooth, plots.run_curves(1).lr):
        assert curve.opts["clipToView"] and curve.opts["autoDownsample"]
        assert curve.opts["downsampleMethod"] == "peak"
    # what is drawn is a few points per pixel, not a million
    qtbot.waitUntil(lambda: raw.curve.getData()[0] is not None and 0 < len(raw.curve.getData()[0]) < 20_000)


def test_runs_get_distinct_colours_and_earlier_runs_step_back(plots):
    colors = [plots.begin_run(i, f"Run {i}", "").name() for i in (1, 2, 3)]
    assert len(set(colors)) == 3
    old, new = plots.run_curves(1).smooth.opts["pen"], plots.run_curves(3).smooth.opts["pen"]
    assert old.color().alpha() < new.color().alpha()
    with pytest.raises(ValueError):
        plots.begin_run(2, "Run 2", "")


def test_hiding_and_clearing_runs(plots):
    plots.begin_run(1, "Run 1", "")
    plots.begin_run(2, "Run 2", "")
    feed(plots, 1, [0.5])
    feed(plots, 2, [0.4])
    plots.refresh()
    plots.set_run_visible(2, False)
    assert not any(item.isVisible() for item in plots.run_curves(2).items())
    assert plots.run_curves(1).smooth.isVisible()
    assert not plots.best_line.isVisible()  # the current run's marker goes with its curves
    plots.set_run_visible(2, True)
    assert plots.run_curves(2).smooth.isVisible() and plots.best_line.isVisible()
    before = len(plots.loss_plot.getPlotItem().items)
    plots.clear_runs()
    assert plots.run_ids() == []
    assert len(plots.loss_plot.getPlotItem().items) == before - 10  # five loss curves per run (one the penalty's)
    assert plots.begin_run(3, "Run 3", "").name() == PALETTE[0].lower()  # colours start over


def test_export_png_is_a_png_written_atomically(plots, tmp_path):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5, 0.3])
    path = tmp_path / "loss.png"
    path.write_bytes(b"old")
    plots.export_png(path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temporary file left behind


def test_run_history_csv_has_a_row_per_epoch(plots):
    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, None, 0.3])
    plots.end_run(1, EndEvent("finished", "trained 3 epochs", 3))
    rows = list(csv.DictReader(io.StringIO(plots.run_history_csv(1))))
    assert len(rows) == 3
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [r["step"] for r in rows] == ["10", "20", "30"]
    assert float(rows[0]["val_loss"]) == 0.9 and rows[1]["val_loss"] == ""
    assert float(rows[2]["train_loss"]) == pytest.approx(1 / 3)
    assert plots.run_history_csv(1).splitlines()[0].startswith("epoch,step,train_loss,val_loss,val_accuracy")


# --- the run table ----------------------------------------------------------------------------------


@pytest.fixture
def run_list(qtbot, plots):
    widget = RunList(plots)
    qtbot.addWidget(widget)
    return widget


def test_run_list_rows(run_list, plots):
    color = plots.begin_run(1, "Run 1", "Adam lr=0.03 · batch 32 · 3 epochs")
    run_list.add_run(1, "Run 1", "Adam lr=0.03 · batch 32 · 3 epochs", color)
    run_list.add_run(2, "Run 2", "SGD lr=0.1 · batch 8 · 5 epochs", plots.begin_run(2, "Run 2", ""))
    assert run_list.table.rowCount() == 2
    assert run_list.cell_text(1, "Run") == "Run 1"
    assert run_list.cell_text(2, "Settings") == "SGD lr=0.1 · batch 8 · 5 epochs"
    assert run_list.cell_text(1, "Status") == "ready"
    run_list.update_run(1, status="finished", reason="trained 3 epochs",
                        metrics={"train_loss": 0.123456, "val_loss": 0.2, "val_accuracy": 0.9512,
                                 "test_accuracy": None})
    assert run_list.cell_text(1, "Status") == "finished"
    assert [run_list.cell_text(1, c) for c in ("Train loss", "Val loss", "Val acc", "Test acc")] == [
        "0.1235", "0.2", "95.1%", "—"]
    assert run_list.selected_run() == 2  # the newest run is selected for export
    run_list.update_run(1, metrics={"epoch": 3, "val_loss": 0.25, "lr": 0.1})  # a history record as it is
    assert run_list.cell_text(1, "Val loss") == "0.25" and run_list.cell_text(1, "Train loss") == "0.1235"


def test_run_list_visibility_signal(qtbot, run_list, plots):
    with qtbot.assertNotEmitted(run_list.visibility_changed):
        run_list.add_run(7, "Run 7", "", plots.begin_run(7, "Run 7", ""))
    assert run_list.is_shown(7)
    with qtbot.waitSignal(run_list.visibility_changed) as blocker:
        run_list.set_shown(7, False)
    assert blocker.args == [7, False]
    assert not run_list.is_shown(7)
    with qtbot.waitSignal(run_list.visibility_changed) as blocker:
        run_list.set_shown(7, True)
    assert blocker.args == [7, True]


def test_run_list_exports(run_list, plots, tmp_path, monkeypatch):
    assert not run_list.export_csv_button.isEnabled() and not run_list.export_png_button.isEnabled()
    run_list.add_run(1, "Run 1", "", plots.begin_run(1, "Run 1", ""))
    feed(plots, 1, [0.9, 0.5])
    path = tmp_path / "history.csv"
    run_list.export_csv(1, path)
    assert path.read_text(encoding="utf-8") == plots.run_history_csv(1)
    assert len(path.read_text().splitlines()) == 3

    assert run_list.export_csv_button.isEnabled() and run_list.export_png_button.isEnabled()
    chosen = {"csv": tmp_path / "chosen.csv", "png": tmp_path / "chosen"}
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda parent, caption, name, filters: (str(chosen["csv" if "CSV" in filters else "png"]), ""))
    run_list.export_csv_button.click()
    run_list.export_png_button.click()
    assert chosen["csv"].read_text() == plots.run_history_csv(1)
    assert (tmp_path / "chosen.png").read_bytes().startswith(b"\x89PNG")


def test_run_list_without_plots_has_no_exports(qtbot, plots):
    run_list = RunList()
    qtbot.addWidget(run_list)
    run_list.add_run(1, "Run 1", "", plots.begin_run(1, "Run 1", ""))
    assert not run_list.export_csv_button.isEnabled() and not run_list.export_png_button.isEnabled()
    run_list.set_plots(plots)
    assert run_list.export_csv_button.isEnabled() and run_list.export_png_button.isEnabled()


def test_settings_summary(examples):
    project = Project.load(examples / "xor.json")
    assert settings_summary(project) == "Adam lr=0.03 · batch 32 · 30 epochs"
    project.training.optimizer.params.pop("lr")
    project.training.batch_size, project.training.epochs = 64, 1
    assert settings_summary(project) == "Adam lr=0.001 · batch 64 · 1 epoch"


def test_long_runs_draw_the_peak_envelope_of_every_block():
    import numpy as np

    from playground.ui.plots import LOSS, STEP, _Columns, _Envelope

    rng = np.random.default_rng(0)
    steps, envelope = _Columns(4), _Envelope(4, limit=64)
    for size in (10, 50, 4, 300, 7, 1000):   # deliveries of uneven sizes, through two doublings
        start = len(steps)
        x = np.arange(start, start + size, dtype=float) + 1
        steps.extend(x, rng.normal(size=size), rng.normal(size=size), np.full(size, 0.1))
        drawn = envelope.view(steps)
        n = len(steps)
        if n <= 64:   # a short run is drawn as it is
            assert all(np.array_equal(d, steps[c]) for c, d in enumerate(drawn))
            continue
        b = envelope.block
        full = n // b * b
        loss = steps[LOSS][:full].reshape(-1, b)
        expected = np.column_stack((loss.max(axis=1), loss.min(axis=1))).ravel()
        assert np.array_equal(drawn[LOSS][: 2 * (full // b)], expected)
        assert np.array_equal(drawn[LOSS][2 * (full // b):], steps[LOSS][full:])   # the open tail as it is
        assert np.array_equal(drawn[STEP][: 2 * (full // b)], np.repeat(steps[STEP][:full:b], 2))
        assert len(drawn[STEP]) <= 64 + b and len(drawn[STEP]) == len(drawn[LOSS])


# --- axes, legend, export and runs of other data (issue 16 item 8) ------------------------------------


def test_the_value_axes_follow_a_live_run_in_jumps_and_keep_a_range_the_person_chose(plots):
    # a falling loss and a rising accuracy redrawn 400 times: every curve stays in view, but the
    # axes (whose every move re-ticks and repaints them) move a few times, not at every redraw
    plots.begin_run(1, "Run 1", "")
    moves = {name: [] for name in ("loss", "acc")}
    for name, plot in (("loss", plots.loss_plot), ("acc", plots.accuracy_plot)):
        plot.getViewBox().sigYRangeChanged.connect(lambda _vb, r, name=name: moves[name].append(tuple(r)))
    for n in range(1, 401):
        plots.add_steps(1, steps((n - 1) * STEPS + 1, STEPS))
        plots.add_epoch(1, EpochEvent(n, 400, 1.0 / n, 2.0 / n ** 0.5, 1 - 0.5 / n ** 0.5, 1000.0, 0.5, 0.01, 0.5))
        plots.refresh()
        for plot, curves in ((plots.loss_plot, ("raw", "smooth", "val")), (plots.accuracy_plot, ("accuracy",))):
            y0, y1 = plot.getViewBox().viewRange()[1]
            for name in curves:
                data = getattr(plots.run_curves(1), name).yData
                assert y0 <= data.min() and data.max() <= y1, (n, name)
    assert 1 <= len(moves["loss"]) <= 10 and 1 <= len(moves["acc"]) <= 10, moves
    y0, y1 = plots.accuracy_plot.getViewBox().viewRange()[1]
    assert y0 >= 0 and y1 <= 101                                  # no room beyond what an accuracy can be
    vb = plots.loss_plot.getViewBox()
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])     # the person zooms in on the loss ...
    vb.setYRange(0.05, 0.06, padding=0)
    plots.add_steps(1, steps(4001, STEPS))
    plots.refresh()
    assert vb.viewRange()[1] == pytest.approx([0.05, 0.06])       # ... and it stays where they put it


def test_hiding_a_run_fits_the_axes_to_the_runs_shown(qtbot, plots):
    plots.begin_run(1, "Run 1", "")
    plots.add_steps(1, steps(1, 50))                           # losses about 0.1 to 1.2
    plots.begin_run(2, "Run 2", "")
    plots.add_steps(2, [StepEvent(1, g, 10, g, 100.0 * (1.2 if g % 2 else 0.8), 0.01, 1.0) for g in range(1, 500)])
    plots.refresh()
    vb = plots.loss_plot.getViewBox()
    assert vb.viewRange()[1][1] > 100 and vb.viewRange()[0][1] > 450
    plots.set_run_visible(2, False)
    (x0, x1), (y0, y1) = vb.viewRange()
    assert y1 < 2 and x1 < 60                                   # run 1's range, with the view's padding
    assert plots.legend_text() == "Run 1"
    vb.scaleBy((4, 4))                                          # the person zooms with the mouse ...
    qtbot.mouseClick(plots.fit_button, Qt.LeftButton)           # ... and the Fit button brings it back
    assert vb.viewRange()[1][1] < 2


def test_the_legend_sits_above_the_plots_never_over_a_curve(plots):
    from pyqtgraph import LegendItem

    for i in (1, 2, 3):
        plots.begin_run(i, f"Run {i}", "")
    assert not [item for item in plots.loss_plot.getPlotItem().scene().items() if isinstance(item, LegendItem)]
    assert plots.legend.isVisible() and plots.legend_text() == "Run 1 · Run 2 · Run 3"
    legend = plots.legend.geometry()
    for plot in (plots.loss_plot, plots.accuracy_plot, plots.lr_plot):
        top_left = plot.mapTo(plots, plot.rect().topLeft())
        assert legend.bottom() < top_left.y()


def test_export_png_renders_at_twice_the_size_shown_or_a_chosen_width(plots, tmp_path):
    from PySide6.QtGui import QImage

    plots.begin_run(1, "Run 1", "")
    feed(plots, 1, [0.9, 0.5, 0.3])
    plots.export_png(tmp_path / "plots.png")
    image = QImage(str(tmp_path / "plots.png"))
    assert (image.width(), image.height()) == (2 * plots.width(), 2 * plots.height())
    plots.export_png(tmp_path / "wide.png", width=4 * plots.width())
    wide = QImage(str(tmp_path / "wide.png"))
    assert wide.width() == 4 * plots.width() and wide.height() == 4 * plots.height()
    # the curve is drawn in the run's colour somewhere in the loss plot's area (not a blank image)
    color = plots.run_color(1)
    top_left = plots.loss_plot.mapTo(plots, plots.loss_plot.rect().topLeft())
    found = any(
        abs(QColor(image.pixel(x, y)).red() - color.red()) < 30 and abs(QColor(image.pixel(x, y)).blue() - color.blue()) < 30
        and abs(QColor(image.pixel(x, y)).green() - color.green()) < 30
        for x in range(2 * top_left.x(), 2 * (top_left.x() + plots.loss_plot.width()), 3)
        for y in range(2 * top_left.y(), 2 * (top_left.y() + plots.loss_plot.height()), 3)
    )
    assert found


def test_training_accuracy_is_drawn_beside_validation(plots):
    plots.begin_run(1, "Run 1", "")
    for n, (train_acc, val_acc) in enumerate([(0.6, 0.55), (0.8, 0.7)], start=1):
        plots.add_steps(1, steps((n - 1) * STEPS + 1, STEPS))
        plots.add_epoch(1, EpochEvent(n, 2, 1.0 / n, 0.5, val_acc, 1000.0, 0.5, 0.01, train_acc))
    plots.refresh()
    curves = plots.run_curves(1)
    np.testing.assert_allclose(curves.train_accuracy.getData()[1], [60.0, 80.0])
    np.testing.assert_allclose(curves.accuracy.getData()[1], [55.0, 70.0])
    assert plots.accuracy_plot.isVisible()
    rows = list(csv.DictReader(io.StringIO(plots.run_history_csv(1))))
    assert [float(r["train_accuracy"]) for r in rows] == [0.6, 0.8]


def test_without_validation_the_training_accuracy_still_shows(plots):
    plots.begin_run(1, "Run 1", "")
    plots.add_steps(1, steps(1, STEPS))
    plots.add_epoch(1, EpochEvent(1, 1, 1.0, None, None, 1000.0, 0.5, 0.01, 0.75))
    plots.refresh()
    assert plots.accuracy_plot.isVisible()
    assert list(plots.run_curves(1).train_accuracy.getData()[1]) == [75.0]


def test_a_run_on_other_data_hides_the_earlier_ones_and_clearing_removes_ended_runs(qtbot, run_list, plots,
                                                                                   monkeypatch):
    run_list.visibility_changed.connect(plots.set_run_visible)   # as the main window wires them
    run_list.add_run(1, "Run 1", "Adam", plots.begin_run(1, "Run 1", ""), task="xor")
    run_list.add_run(2, "Run 2", "SGD", plots.begin_run(2, "Run 2", ""), task="xor")
    run_list.update_run(1, status="finished")
    run_list.update_run(2, status="finished")
    with qtbot.waitSignals([run_list.visibility_changed] * 2):
        run_list.add_run(3, "Run 3", "Adam", plots.begin_run(3, "Run 3", ""), task="mnist")
    assert [run_list.is_shown(r) for r in (1, 2, 3)] == [False, False, True]
    assert [plots.is_run_visible(r) for r in (1, 2, 3)] == [False, False, True]
    assert run_list.cell_text(3, "Settings") == "mnist · Adam"
    assert plots.legend_text() == "Run 3"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    qtbot.mouseClick(run_list.clear_button, Qt.LeftButton)     # run 3 is still training: it stays
    assert run_list.run_ids() == [3] and plots.run_ids() == [3]
    assert run_list.cell_text(3, "Run") == "Run 3"


def test_a_narrow_legend_wraps_between_runs_never_inside_a_name(qtbot, plots):
    plots.resize(230, 400)
    plots.begin_run(1, "Run 1", "")
    plots.begin_run(2, "Run 2", "")
    assert "Run&nbsp;1" in plots.legend.text() and "Run 1" not in plots.legend.text()


def test_the_step_axis_grows_in_jumps_and_keeps_a_range_the_person_chose(qtbot, plots):
    """Redrawing the axes was most of a live redraw: the step axis widens by STEP_HEADROOM when a
    run passes its end, so its ticks stay put for most redraws, and the newest step is always in view."""
    from playground.ui.plots import STEP_HEADROOM, _round_up

    plots.begin_run(1, "Run 1", "")
    vb = plots.loss_plot.getViewBox()
    ranges = []
    for first in range(1, 2001, 10):             # 200 redraws of a growing run
        plots.add_steps(1, steps(first, 10))
        plots.refresh()
        x0, x1 = vb.viewRange()[0]
        assert x0 <= 1 and first + 9 <= x1 <= _round_up((first + 9) * STEP_HEADROOM)
        if not ranges or ranges[-1] != (x0, x1):
            ranges.append((x0, x1))
    # from 10 steps to 2,000 the axis changed about log(200)/log(1.5) ≈ 13 times, not 200
    assert len(ranges) <= math.ceil(math.log(2000 / 10) / math.log(STEP_HEADROOM)) + 2
    assert [_round_up(v) for v in (0.7, 1.0, 14.0, 62.5, 4001)] == [0.8, 1.0, 15.0, 80.0, 5000.0]

    vb.setXRange(100, 300, padding=0)            # the person zooms in (pyqtgraph says so) ...
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    plots.add_steps(1, steps(2001, 500))
    plots.refresh()
    assert vb.viewRange()[0] == [100, 300]       # ... and the run's growth leaves their range alone
    qtbot.mouseClick(plots.fit_button, Qt.LeftButton)
    plots.add_steps(1, steps(2501, 2000))
    plots.refresh()
    assert vb.viewRange()[0][1] >= 4500          # Fit: the axis follows the run again


def test_a_run_of_thousands_of_epochs_draws_its_epochs_as_a_line_without_dots(qtbot, plots):
    from playground.ui.plots import EPOCH_MARKERS

    plots.begin_run(1, "Run 1", "")
    c = plots.run_curves(1)
    for n in range(1, EPOCH_MARKERS + 1):
        plots.add_epoch(1, epoch(n, 1.0 / n, epochs=10 * EPOCH_MARKERS))
    plots.refresh()
    assert c.val.opts["symbol"] == "o" and c.accuracy.opts["symbol"] == "o"
    plots.add_epoch(1, epoch(EPOCH_MARKERS + 1, 0.001, epochs=10 * EPOCH_MARKERS))
    plots.refresh()
    assert c.val.opts["symbol"] is None and c.accuracy.opts["symbol"] is None
    assert len(c.val.getData()[0]) == EPOCH_MARKERS + 1           # every epoch still on the line
