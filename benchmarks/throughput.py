"""Training throughput, samples per second, measured side by side in one process:

(a) Playground's core Trainer, headless, as `playground train` drives it;
(b) the same Trainer inside the running main window, started through Start, plots and views showing;
(c) a minimal hand-written loop over device-resident tensors with torch's defaults;
(d) the seed tutorial's loop: torchvision ToTensor + Normalize and a DataLoader.

Each variant trains two epochs of a fixed number of batches (64 samples) and the second epoch is
timed (the first warms up allocators and caches); the variants take turns, `--repeats` times. The
ratios compare each variant's best repeat: on a shared 2-core machine a repeat that another
process interrupts runs up to 30x slower (torch's OpenMP threads spin at a barrier while one of
them waits for a core), so the best repeat is the one that measured the code, not the neighbours.
Medians are reported too, and the window's target is on them. torch uses 2 intra-op threads in
this process; the window trains in its worker process with its own setting (ui/worker.py
training_threads).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    data_root_or_random, emit, lenet_project, machine, median, mlp_project, torchvision_layout,
)

BATCH = 64
NETWORKS = {  # name: (project factory, batches per epoch for a/b/c, batches per epoch for d)
    "mlp": (mlp_project, 300, 60),
    "lenet": (lenet_project, 120, 60),
}


def run_a(project) -> float:
    """Playground's trainer exactly as the command line runs it; samples/s of the second epoch."""
    from playground.core.training import Trainer

    epochs = []
    end = Trainer(project, lambda e: epochs.append(e) if e.kind == "epoch" else None, report_interval=0.1).run()
    assert end.status == "finished", end.reason
    return epochs[-1].samples_per_second


class GuiRunner:
    """The real main window, offscreen, training through its own Start path."""

    def __init__(self):
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from playground.ui.gc_guard import MainThreadGarbageCollector
        from playground.ui.main_window import MainWindow

        self.app = QApplication.instance() or QApplication(["bench"])
        self.collector = MainThreadGarbageCollector(self.app)
        self.collector.start()
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
        settings = QSettings(str(self.tmp / "settings.ini"), QSettings.IniFormat)
        self.window = MainWindow(settings=settings)
        self.window.show()
        self.app.processEvents()
        self.collector.settle()   # as run_gui does once the window is built

    def run(self, project) -> float:
        from PySide6.QtCore import QEventLoop

        path = self.tmp / "project.json"
        project.save(path)
        assert self.window.files.open_path(path)
        epochs, loop = [], QEventLoop()
        self.window.session.start()   # what Start (F5 / the panel's button) calls
        run = self.window.session.run
        assert run is not None, self.window.start_blocker()
        run.epoch_finished.connect(epochs.append)
        run.finished.connect(lambda end: loop.quit())
        loop.exec()
        assert run.end.status == "finished", run.end.reason
        return epochs[-1].samples_per_second

    def close(self) -> None:
        from playground.ui.worker import wait_for_training_threads

        self.window.session.shutdown()
        wait_for_training_threads()
        self.window.hide()
        self.collector.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def plain_data(project):
    """The very tensors the Trainer trains on (same files, same normalisation), on the CPU."""
    from playground.core import data

    ds = data.load(project.data, "cpu")
    return ds.x_train, ds.y_train


def plain_model(project):
    import torch

    from playground.core.shapes import build_network

    torch.manual_seed(0)
    return build_network(project.network)


def plain_optimizer(project, model):
    """What a careful user writes: the same optimizer and hyper-parameters, torch's defaults otherwise."""
    import torch

    o = project.training.optimizer
    return getattr(torch.optim, o.type)(model.parameters(), **{k: tuple(v) if isinstance(v, list) else v
                                                               for k, v in o.params.items()})


def run_c(project, x, y) -> float:
    """The minimal hand-written loop: shuffled index per epoch, model(x[idx]), backward, step, zero_grad."""
    import torch
    import torch.nn.functional as F

    model = plain_model(project)
    opt = plain_optimizer(project, model)
    n = len(x)
    rate = 0.0
    for _epoch in range(2):
        start = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
        rate = n / (time.perf_counter() - start)
    return rate


def run_d(project, tv_root: Path, n: int) -> float:
    """The seed tutorial: torchvision dataset with ToTensor + Normalize, DataLoader(batch 64, shuffle)."""
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    train = Subset(datasets.FashionMNIST(str(tv_root), train=True, download=False, transform=transform), range(n))
    loader = DataLoader(train, batch_size=BATCH, shuffle=True)
    model = plain_model(project)
    opt = plain_optimizer(project, model)
    rate = 0.0
    for _epoch in range(2):
        start = time.perf_counter()
        for images, labels in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            opt.step()
        rate = n / (time.perf_counter() - start)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="folder with the Fashion-MNIST files (default: Debian's, then the app's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--networks", default="mlp,lenet")
    parser.add_argument("--no-gui", action="store_true", help="skip (b)")
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import torch

    torch.set_num_threads(2)
    largest = max(NETWORKS[n][1] for n in args.networks.split(",")) * BATCH
    root, real, tmp = data_root_or_random(args.data_root, largest)
    tv_root = torchvision_layout(root)
    gui = None if args.no_gui else GuiRunner()
    result = {"benchmark": "throughput", "real_data": real, "data_root": str(root) if real else "random",
              "threads": torch.get_num_threads(), "batch": BATCH, "machine": machine(), "networks": {}}
    try:
        for name in args.networks.split(","):
            factory, steps, steps_d = NETWORKS[name]
            project = factory(root, steps * BATCH)
            x, y = plain_data(project)
            rates = {k: [] for k in "abcd"}
            for _ in range(args.repeats):   # interleaved, so drifting load hits every variant alike
                rates["a"].append(run_a(project))
                if gui is not None:
                    rates["b"].append(gui.run(project))
                rates["c"].append(run_c(project, x, y))
                rates["d"].append(run_d(project, tv_root, steps_d * BATCH))
                print(name, {k: round(v[-1]) for k, v in rates.items() if v}, file=sys.stderr, flush=True)
            best = {k: max(v) if v else float("nan") for k, v in rates.items()}
            result["networks"][name] = {
                "samples_per_second": best, "median": {k: median(v) for k, v in rates.items()}, "all": rates,
                "a/c": best["a"] / best["c"], "b/c": best["b"] / best["c"] if rates["b"] else None,
                "a/d": best["a"] / best["d"],
            }
    finally:
        if gui is not None:
            gui.close()
        shutil.rmtree(tv_root, ignore_errors=True)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()
