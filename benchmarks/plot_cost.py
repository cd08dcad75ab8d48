"""Plot cost: the time of one live loss-plot update (a delivery's new steps, setData, a repaint of the
plots) when a run already holds 10k, 100k and 1M points. Median of repeated updates, in ms."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import emit, machine, median  # noqa: E402

SIZES = (10_000, 100_000, 1_000_000)
PER_UPDATE = 4   # steps a 30 Hz delivery brings at ~120 reports a second


def events(start: int, n: int, steps: int):
    from playground.core.training import StepEvent

    return [StepEvent(1 + i // steps, 1 + i % steps, steps, i + 1, 2.0 / (1 + 0.001 * i) + 0.05 * ((i * 7919) % 13) / 13,
                      1e-3, 1e4) for i in range(start, start + n)]


def PaintCounter(widget):
    """Counts the widget's paint events: proof that each timed update included its repaint."""
    from PySide6.QtCore import QEvent, QObject

    class Counter(QObject):
        count = 0

        def eventFilter(self, watched, event):
            if event.type() == QEvent.Paint:
                self.count += 1
            return False

    counter = Counter(widget)
    widget.installEventFilter(counter)
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=15)
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from playground.ui.plots import TrainingPlots

    app = QApplication.instance() or QApplication(["bench"])
    result = {"benchmark": "plot_cost", "points": {}, "machine": machine()}
    for size in SIZES:
        plots = TrainingPlots()
        plots.resize(900, 400)
        plots.show()
        plots.begin_run(1, "Run 1", "")
        chunk = 100_000
        for start in range(0, size, chunk):
            plots.add_steps(1, events(start, min(chunk, size - start), 1000))
        plots.refresh()
        app.processEvents()
        painted = PaintCounter(plots.loss_plot.viewport())
        times, cpu = [], []
        for u in range(args.updates):
            new = events(size + u * PER_UPDATE, PER_UPDATE, 1000)
            c0 = time.thread_time()
            t0 = time.perf_counter()
            plots.add_steps(1, new)
            plots.refresh()      # setData on every curve, as the refresh timer does
            app.processEvents()  # the scene's deferred updates and the paint they ask for
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)   # the GUI thread's CPU time: what other load cannot inflate
        if painted.count < args.updates:
            raise RuntimeError(f"the loss plot painted {painted.count} times in {args.updates} updates")
        result["points"][str(size)] = {"median_ms": median(times), "max_ms": max(times), "cpu_median_ms": median(cpu)}
        print(size, round(median(times), 2), "ms, cpu", round(median(cpu), 2), "ms", file=sys.stderr, flush=True)
        plots.close()
        plots.deleteLater()
        app.processEvents()
    emit(result)


if __name__ == "__main__":
    main()
