"""GUI responsiveness: how late a 10 ms timer in the main thread fires while LeNet trains at full
speed through the real main window (in its worker process; the loss plot and every view showing,
one tab after another). Prints p50, p99 and max lateness in ms, the time from Start to the first
step with a cold and with a warm worker, and the window's memory before and after the run."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import data_root_or_random, emit, lenet_project, machine, mlp_project  # noqa: E402

TICK_MS = 10


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else float("nan")


def rss_mb() -> float:
    """This process's resident memory now (Linux), MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the run trains (about)")
    parser.add_argument("--network", default="lenet", choices=("lenet", "mlp"))
    parser.add_argument("--network-view", action="store_true",
                        help="train the spiral example instead, with the Network view showing the whole run")
    parser.add_argument("--spiral-view", metavar="TAB",
                        help="the same with another view's tab showing (\"Decision boundary\"): a baseline")
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.network_view:
        args.spiral_view = "Network"
    args.network_view = args.network_view or bool(args.spiral_view)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from playground.ui.gc_guard import MainThreadGarbageCollector
    from playground.ui.main_window import MainWindow
    from playground.ui.worker import training_threads, wait_for_training_threads

    torch.set_num_threads(2)
    batches = 600
    root, real, tmp = data_root_or_random(args.data_root, batches * 64)
    app = QApplication.instance() or QApplication(["bench"])
    collector = MainThreadGarbageCollector(app)
    collector.start()
    folder = Path(tempfile.mkdtemp(prefix="bench-stall-"))
    window = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.IniFormat))
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    collector.settle()   # as run_gui does once the window is built
    collector.follow(window.session)

    factory = lenet_project if args.network == "lenet" else mlp_project
    project = factory(root, batches * 64, epochs=100)   # about --seconds at full speed, then Stop
    if args.network_view:   # every neuron of the spiral's MLP drawn a few times a second, the whole run
        from playground.core.spec import Project
        from playground.resources_path import example_path

        project = Project.load(example_path("spiral.json"))
        project.training.epochs = 100_000
    path = folder / "project.json"
    project.save(path)
    assert window.files.open_path(path)
    window.views_dock.show()
    window.views_dock.raise_()

    def first_step(epochs: int) -> tuple[float, object]:
        """Seconds from Start to the window's first step signal, for a run of `epochs`; the run."""
        window.document.set_training("epochs", epochs)
        loop = QEventLoop()
        began = time.perf_counter()
        window.session.start()
        run = window.session.run
        assert run is not None, window.start_blocker()
        seen = []
        run.step_reported.connect(lambda steps: seen.append(time.perf_counter()) or loop.quit())
        run.finished.connect(lambda end: loop.quit())
        loop.exec()
        return (seen[0] - began if seen else float("nan")), run

    def finish(run) -> None:
        loop = QEventLoop()
        run.finished.connect(lambda end: loop.quit())
        window.session.stop()
        if run.is_running():
            loop.exec()

    # cold: the first Start pays for the worker's start (torch's import) and the data's load
    cold, run = first_step(1)
    finish(run)
    # warm: the worker waits, the data is loaded; what a second Start costs
    rss_before = rss_mb()
    warm, run = first_step(100_000 if args.network_view else 100)   # the spiral: 100 epochs are 2 s

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
    run.finished.connect(lambda end: loop.quit())
    # every view the project has, one after another in the time (only one tab shows at once)
    tabs = window.views
    switches = max(1, tabs.count())
    if args.network_view:
        tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == args.spiral_view))
        switches = 0
    for k in range(switches):
        QTimer.singleShot(int(args.seconds * 1000 * k / switches), lambda k=k: tabs.setCurrentIndex(k))
    start = time.perf_counter()
    timer.start()
    QTimer.singleShot(int(args.seconds * 1000), window.session.stop)
    loop.exec()
    timer.stop()
    seconds = time.perf_counter() - start
    steps = run.history.get("steps") or []
    samples = steps[-1][0] * project.training.batch_size if steps else 0
    for _ in range(20):   # the run's objects go with the event loop's deleteLater, memory back after
        app.processEvents()
        time.sleep(0.05)
    rss_after = rss_mb()
    window.session.shutdown()
    wait_for_training_threads()
    collector.stop()
    shutil.rmtree(folder, ignore_errors=True)
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    emit({"benchmark": "gui_stall", "real_data": real, "network": args.network, "ticks": len(late),
          "seconds": seconds, "samples_per_second": samples / seconds, "views": [tabs.tabText(i) for i in range(switches)] or [tabs.tabText(tabs.currentIndex())],
          "p50_ms": percentile(late, 50), "p99_ms": percentile(late, 99), "max_ms": max(late, default=float("nan")),
          "first_step_cold_s": cold, "first_step_warm_s": warm,
          "window_rss_before_mb": rss_before, "window_rss_after_mb": rss_after,
          "training_threads": training_threads(project), "machine": machine()})


if __name__ == "__main__":
    main()
