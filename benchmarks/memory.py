"""Memory: peak resident set size of the app (the main window, offscreen, and its training process)
training the Fashion-MNIST MLP example on the full training set for a fixed number of steps, and of
the headless command's core."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, data_root_or_random, emit, load_project, machine  # noqa: E402

STEPS = 400


def project(root: Path):
    p = load_project("fashion_mnist_mlp.json")   # 784-256-128-100-10, Adam, batch 128
    p.data.params.update(root=str(root), download=False)
    p.training.epochs = 1
    return p


def child(mode: str, root: Path) -> None:
    """Runs in its own process, so the peak belongs to this measurement alone."""
    import torch

    torch.set_num_threads(2)
    p = project(root)
    if mode == "headless":
        from playground.core.training import Trainer

        trainer = Trainer(p, None, report_interval=0.1)
        trainer.callback = lambda e: trainer.stop() if e.kind == "step" and e.global_step >= STEPS else None
        trainer.run()
    else:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QEventLoop, QSettings
        from PySide6.QtWidgets import QApplication

        from playground.ui.gc_guard import MainThreadGarbageCollector
        from playground.ui.main_window import MainWindow

        app = QApplication(["bench"])
        collector = MainThreadGarbageCollector(app)
        collector.start()
        folder = Path(tempfile.mkdtemp(prefix="bench-mem-"))
        window = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.IniFormat))
        window.show()
        collector.settle()   # as run_gui does once the window is built
        p.save(folder / "project.json")
        assert window.files.open_path(folder / "project.json")
        loop = QEventLoop()
        window.session.start()
        run = window.session.run
        run.step_reported.connect(lambda steps: window.session.stop() if steps[-1].global_step >= STEPS else None)
        run.finished.connect(lambda end: loop.quit())
        loop.exec()
        from playground.ui.worker import wait_for_training_threads

        wait_for_training_threads()   # the training process ends: its peak is counted with the children's
        collector.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def measure(mode: str, root: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--data-root", str(root)],
                         env=env, capture_output=True, text=True, timeout=600)
    line = next((l for l in out.stdout.splitlines() if l.startswith("{")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"the {mode} child failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root")
    parser.add_argument("--child", choices=("gui", "headless"))
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.data_root))
        return
    root, real, tmp = data_root_or_random(args.data_root, 60_000)
    try:
        gui = measure("gui", root)
        result = {"benchmark": "memory", "real_data": real, "steps": STEPS,
                  "gui_peak_rss_mb": gui["peak_rss_mb"], "worker_peak_rss_mb": gui["worker_peak_rss_mb"],
                  "headless_peak_rss_mb": measure("headless", root)["peak_rss_mb"], "machine": machine()}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()
