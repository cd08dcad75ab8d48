"""GUI responsiveness: how late a 10 ms timer in the main thread fires while an MLP trains at full
speed in the real main window (plots and views showing). Prints p50, p99 and max lateness in ms."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_root_or_random, emit, machine, mlp_project  # noqa: E402

TICK_MS = 10


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the run trains (about)")
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from playground.ui.gc_guard import MainThreadGarbageCollector
    from playground.ui.main_window import MainWindow

    torch.set_num_threads(2)
    batches = 600
    root, real, tmp = data_root_or_random(args.data_root, batches * 64)
    app = QApplication.instance() or QApplication(["bench"])
    collector = MainThreadGarbageCollector(app)
    collector.start()
    folder = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    window = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.IniFormat))
    window.show()
    app.processEvents()
    collector.settle()   # as run_gui does once the window is built

    # enough epochs of `batches` steps to train for about --seconds at full speed
    project = mlp_project(root, batches * 64, epochs=100)
    path = folder / "project.json"
    project.save(path)
    assert window.files.open_path(path)

    late: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            late.append(max(0.0, (now - last[0]) * 1000 - TICK_MS))
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    loop = QEventLoop()
    window.session.start()
    run = window.session.run
    assert run is not None, window.start_blocker()
    run.finished.connect(lambda end: loop.quit())
    start = time.perf_counter()
    timer.start()
    QTimer.singleShot(int(args.seconds * 1000), window.session.stop)
    loop.exec()
    timer.stop()
    seconds = time.perf_counter() - start
    samples = run.trainer.history["steps"][-1][0] * 64 if run.trainer.history["steps"] else 0
    window.session.shutdown()
    collector.stop()
    shutil.rmtree(folder, ignore_errors=True)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    emit({"benchmark": "gui_stall", "real_data": real, "ticks": len(late), "seconds": seconds,
          "samples_per_second": samples / seconds,
          "p50_ms": percentile(late, 50), "p99_ms": percentile(late, 99), "max_ms": max(late, default=float("nan")),
          "machine": machine()})


if __name__ == "__main__":
    main()
