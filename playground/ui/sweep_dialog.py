"""Training > Sweep: parameters and values (core.sweep's syntax), grid or random, run one after another
through the worker; a sortable results table and a parallel-coordinates plot coloured by the metric,
the best run highlighted, a click opens a run. Stop keeps the finished runs."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..core import sweep
from ..core.errors import PlaygroundError

DEFAULT_PARAMS = (("lr", "1e-3:1e-1:log:4"), ("batch_size", "16,32,64"))
RUN_ID = Qt.UserRole


class SweepDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setObjectName("sweepDialog")
        self.setWindowTitle("Sweep")
        self.sweep_id: str | None = None
        self.run_ids: list[int] = []   # window run ids of this sweep's runs, in order
        self._expected = 0

        self.params = QTableWidget(0, 2)
        self.params.setObjectName("sweepParams")
        self.params.setHorizontalHeaderLabels(["Parameter", "Values"])
        self.params.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.params.setToolTip("lr, batch_size, optimizer, seed, epochs, l1, l2, optimizer.PARAM or layers.N.PARAM (layer N "
                               "from 0, e.g. layers.0.out_features for the first Linear's width); values as a list "
                               "(16,32,64 · SGD,Adam) or a range LOW:HIGH:log:COUNT / LOW:HIGH:lin:COUNT")
        self.params.setMaximumHeight(120)   # a few parameters: the room goes to the results
        for name, values in DEFAULT_PARAMS:
            self.add_param(name, values)
        add, remove = QPushButton("+"), QPushButton("−")
        add.setToolTip("Add a parameter")
        remove.setToolTip("Remove the selected parameter")
        add.clicked.connect(lambda: self.add_param("", ""))
        remove.clicked.connect(lambda: self.params.removeRow(max(0, self.params.currentRow())))
        self.mode = QComboBox()
        self.mode.setObjectName("sweepMode")
        self.mode.addItems(["grid", "random"])
        self.count = QSpinBox()
        self.count.setObjectName("sweepCount")
        self.count.setRange(1, sweep.MAX_RUNS)
        self.count.setValue(8)
        self.count.setPrefix("runs: ")
        self.count.setToolTip("Random: how many combinations to draw (a range is drawn from, log-uniformly for log)")
        self.mode.currentTextChanged.connect(lambda m: self.count.setEnabled(m == "random"))
        self.count.setEnabled(False)
        self.start_button = QPushButton("Start sweep")
        self.start_button.setObjectName("sweepStartButton")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("sweepStopButton")
        self.stop_button.setToolTip("Stop the run training now and the rest of the sweep; the finished runs stay")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.status = QLabel()
        self.status.setObjectName("sweepStatus")
        self.status.setWordWrap(True)
        self.store_label = QLabel()
        self.store_label.setObjectName("sweepStoreLabel")

        self.results = QTableWidget(0, 0)
        self.results.setObjectName("sweepResults")
        self.results.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.results.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.results.setSortingEnabled(True)
        self.results.verticalHeader().hide()
        self.results.setToolTip("Double-click a run to open it: its settings and weights in the editor")
        self.results.cellDoubleClicked.connect(self._on_results_cell_double_clicked)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("sweepParallelPlot")
        self.plot.setMinimumHeight(180)
        self.plot.hideAxis("left")
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.lines: dict[int, pg.PlotDataItem] = {}

        controls = QHBoxLayout()
        for widget in (add, remove, self.mode, self.count):
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.results)
        split.addWidget(self.plot)
        split.setSizes([260, 240])
        layout = QVBoxLayout(self)
        layout.addWidget(self.params)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addWidget(self.store_label)
        self.resize(760, 640)
        window.session.run_finished.connect(self._on_session_run_finished)
        window.session.run_started.connect(self._on_session_run_started)
        self._update_store()

    # --- the plan ----------------------------------------------------------------------------

    def add_param(self, name: str, values: str) -> None:
        row = self.params.rowCount()
        self.params.insertRow(row)
        self.params.setItem(row, 0, QTableWidgetItem(name))
        self.params.setItem(row, 1, QTableWidgetItem(values))

    def param_texts(self) -> list[str]:
        texts = []
        for row in range(self.params.rowCount()):
            name, values = (self.params.item(row, c).text().strip() if self.params.item(row, c) else "" for c in (0, 1))
            if name or values:
                texts.append(f"{name}={values}")
        return texts

    def plan(self) -> list[dict]:
        """The runs the settings ask for; SweepError in words."""
        params = [sweep.parse_param(text) for text in self.param_texts()]
        mode = self.mode.currentText()
        return sweep.plan(params, mode, self.count.value() if mode == "random" else None, seed=int(time.time()) % 10**6)

    def start(self) -> bool:
        w = self.window
        reason = "a run is training" if w.session.busy else w.start_blocker()
        if reason:
            self.status.setText(f"Cannot start the sweep: {reason}")
            return False
        try:
            combos = self.plan()
            projects = sweep.projects(w.document.project, combos)
        except PlaygroundError as e:
            self.status.setText(str(e))
            return False
        self.sweep_id = time.strftime("sweep-%Y%m%d-%H%M%S")
        self.run_ids, self._expected = [], len(combos)
        self.results.setRowCount(0)
        self.plot.clear()
        self.lines = {}
        runs = [(sweep.describe(c), p, {"id": self.sweep_id, "values": c}) for c, p in zip(combos, projects)]
        w.session.run_queue(runs)
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Sweep of {len(combos)} runs: training run 1 of {len(combos)}")
        return True

    def stop(self) -> None:
        self.window.session.stop()
        self._ended("stopped")

    def _ended(self, how: str) -> None:
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        done = len([r for r in self._records() if r[1].status == "finished"])
        self.status.setText(f"Sweep {how}: {done} of {self._expected} runs finished" + self._best_words())
        self._update_store()

    # --- results -----------------------------------------------------------------------------

    @Slot(int)
    def _on_session_run_started(self, run_id: int) -> None:
        record = self.window.archive.record_of(run_id)
        if record is not None and record.sweep and record.sweep.get("id") == self.sweep_id:
            self.run_ids.append(run_id)
            self.status.setText(f"Sweep: training run {len(self.run_ids)} of {self._expected} — {record.name}")

    @Slot(int, object)
    def _on_session_run_finished(self, run_id: int, end) -> None:
        if run_id not in self.run_ids:
            return
        self.refresh()
        if not self.window.session.queued:   # the last of the sweep, or the sweep stopped or failed
            self._ended("finished" if len(self.run_ids) == self._expected and end.status == "finished"
                        else end.status)

    def _records(self) -> list[tuple[int, object]]:
        out = []
        for run_id in self.run_ids:
            record = self.window.archive.record_of(run_id)
            if record is not None and record.status != "running":
                out.append((run_id, record))
        return out

    def rows(self) -> tuple[str, list[dict]]:
        """(metric, rows) of the runs that ended, from their stored histories (core.sweep.results)."""
        pairs = self._records()
        metric, rows = sweep.results([r for _, r in pairs])
        for (run_id, _), row in zip(pairs, rows):
            row["run_id"] = run_id
        return metric, rows

    def refresh(self) -> None:
        metric, rows = self.rows()
        names = list(dict.fromkeys(k for r in rows for k in r["values"]))
        best = sweep.best_row(metric, rows)
        headers = ["Run", *names, f"best {metric}", "epoch", "seconds", "status"]
        self.results.setSortingEnabled(False)
        self.results.clear()
        self.results.setColumnCount(len(headers))
        self.results.setHorizontalHeaderLabels(headers)
        self.results.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for i, r in enumerate(rows):
            cells = [(r["name"], r["name"]), *((_show(r["values"].get(n)), r["values"].get(n)) for n in names),
                     (_metric(metric, r["best"]), r["best"]), (str(r["epoch"] or "—"), r["epoch"]),
                     (f"{r['seconds']:.1f}", r["seconds"]), (r["status"], r["status"])]
            for j, (text, value) in enumerate(cells):
                item = _SortItem(text, value)
                item.setData(RUN_ID, r["run_id"])
                if r is best:
                    item.setFont(bold)
                    item.setBackground(QColor(255, 214, 102, 110))
                    item.setToolTip("The best run of the sweep")
                self.results.setItem(i, j, item)
        self.results.setSortingEnabled(True)
        self.results.resizeColumnsToContents()
        self._draw_parallel(metric, names, rows, best)
        self._update_store()

    def _best_words(self) -> str:
        metric, rows = self.rows()
        best = sweep.best_row(metric, rows)
        return f"; best: {best['name']} ({metric} {_metric(metric, best['best'])})" if best else ""

    def _draw_parallel(self, metric: str, names: list[str], rows: list[dict], best) -> None:
        """One polyline per run across an axis per parameter and one for the metric, coloured by the metric."""
        self.plot.clear()
        self.lines = {}
        axes = [*names, metric]
        columns = [[r["values"].get(n) for r in rows] for n in names] + [[r["best"] for r in rows]]
        scaled = [_normalise(n, c) for n, c in zip(axes, columns)]
        self.plot.getAxis("bottom").setTicks([[(i, a) for i, a in enumerate(axes)]])
        for i in range(len(axes)):
            self.plot.addItem(pg.InfiniteLine(i, angle=90, pen=pg.mkPen((150, 150, 150), width=1)))
        scores = [r["best"] for r in rows]
        finite = [s for s in scores if s is not None and math.isfinite(s)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        cmap = pg.colormap.get("viridis")
        better_high = metric.endswith("accuracy")
        for k, r in enumerate(rows):
            ys = [col[k] for col in scaled]
            score = r["best"]
            share = 0.5 if score is None or high == low else (score - low) / (high - low)
            color = cmap.map(share if better_high else 1 - share, mode="qcolor")
            pen = pg.mkPen(color, width=5 if r is best else 2)
            line = self.plot.plot(list(range(len(axes))), [np.nan if y is None else y for y in ys], pen=pen)
            line.setCurveClickable(True, width=8)
            line.sigClicked.connect(lambda _item, *_, rid=r["run_id"]: self.open_run(rid))
            line.setToolTip(f"{r['name']}: {metric} {_metric(metric, score)}")
            self.lines[r["run_id"]] = line
        self.plot.setYRange(-0.05, 1.05)
        self.plot.setXRange(-0.1, len(axes) - 0.9)   # the first and last axes' names inside the plot

    def _update_store(self) -> None:
        self.store_label.setText(self.window.archive.size_text())

    # --- opening a run ---------------------------------------------------------------------------

    @Slot(int, int)
    def _on_results_cell_double_clicked(self, row: int, _column: int) -> None:
        self.open_run(self.results.item(row, 0).data(RUN_ID))

    def open_run(self, run_id: int) -> bool:
        """The run selected in the run list (its timeline shown) and its settings and weights in the editor."""
        from .runs import use_run

        w = self.window
        if run_id not in w.runs.run_ids():
            return False
        w.runs.table.selectRow(w.runs._rows[run_id])
        return use_run(w, run_id)


class _SortItem(QTableWidgetItem):
    """Sorts by the value, not the text: 0.0215 after 0.00464, 128 after 64."""

    def __init__(self, text: str, value):
        super().__init__(text)
        self._value = value

    def __lt__(self, other):
        a, b = self._value, getattr(other, "_value", None)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        if a is None or b is None:
            return a is None and b is not None
        return str(a) < str(b)


def _normalise(name: str, values: list) -> list:
    """0..1 along an axis: numbers (on a log scale for lr and spans of 100x), names by their order."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(numbers) == len([v for v in values if v is not None]) and numbers:
        log = min(numbers) > 0 and (name == "lr" or max(numbers) / min(numbers) >= 100)
        f = math.log10 if log else (lambda x: x)
        lo, hi = f(min(numbers)), f(max(numbers))
        return [None if v is None else (0.5 if hi == lo else (f(v) - lo) / (hi - lo)) for v in values]
    kinds = sorted({str(v) for v in values if v is not None})
    return [None if v is None else (0.5 if len(kinds) == 1 else kinds.index(str(v)) / (len(kinds) - 1)) for v in values]


def _show(value) -> str:
    return "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))


def _metric(metric: str, value) -> str:
    if value is None:
        return "—"
    return f"{value:.2%}" if metric.endswith("accuracy") else f"{value:.4g}"
