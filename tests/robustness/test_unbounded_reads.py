"""Files that never end or claim more than they hold: a FIFO, /dev/zero, a folder, a 17 MiB
project, an IDX header claiming 10^9 images, a gzip bomb, a FIFO in the recovery folder. Each is
refused by what it is or says before it is read — no hang, no read beyond what it honestly holds."""

from __future__ import annotations

import gzip
import os
import struct

import pytest
import torch

from playground.core import data
from playground.core.recovery import RecoveryStore
from playground.core.spec import MAX_PROJECT_BYTES, Project

from .conftest import snapshot
from .test_data import mnist_project, start_in_window, train_headless, write_mnist

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
DEV_ZERO = "/dev/zero"


@pytest.fixture(autouse=True)
def _fresh_cache():
    data._CACHE.clear()
    yield
    data._CACHE.clear()


@pytest.fixture
def fifo(work):
    def make(name):
        path = work / name
        os.mkfifo(path)
        return path
    return make


def _everywhere(window, dialogs, cli, work, path, expected):
    """File > Open, File > Load weights, the Code dock's Open, and inspect / train / export / --resume."""
    project_before = window.document.project
    assert window.files.open_path(path) is False
    assert dialogs[-1][:2] == ("warning", "Cannot open") and expected in dialogs[-1][2], dialogs[-1]
    assert window.files.load_weights_from(path) is False
    assert expected in dialogs[-1][2]
    assert window.code.open_path(path) is False
    assert expected in window.code.status.text()
    assert window.document.project == project_before

    good = work / "good.json"
    window.document.save(good)
    before = snapshot(work) if os.path.isfile(path) or not str(path).startswith(str(work)) else None
    for args in (("inspect", path), ("train", path), ("export", path, "--out", work / "o.pt"),
                 ("export", path, "--format", "python", "--out", work / "o.py"),
                 ("train", good, "--resume", path, "--out", work / "c.pt", "--metrics", work / "m.json")):
        code, out, err = cli(*args)
        assert code == 1 and expected in err and "Traceback" not in out + err, (args, err)
    assert not (work / "c.pt").exists() and not (work / "o.pt").exists() and not (work / "o.py").exists()
    if before is not None:
        assert snapshot(work) == before


@needs_fifo
@pytest.mark.parametrize("name", ["p.json", "w.pt", "net.py"])
def test_a_fifo_is_refused_without_opening_it(window, dialogs, cli, work, fifo, name):
    """Opening a FIFO waits for a writer forever: in the window that froze the GUI thread."""
    path = fifo(name)
    _everywhere(window, dialogs, cli, work, path, f"{path} is a named pipe (FIFO), not ")


@pytest.mark.skipif(not os.path.exists(DEV_ZERO), reason="no /dev/zero here")
def test_dev_zero_is_a_device_not_an_empty_file(window, dialogs, cli, work):
    _everywhere(window, dialogs, cli, work, DEV_ZERO, f"{DEV_ZERO} is a device, not ")


def test_a_folder_is_refused_as_a_folder(window, dialogs, cli, work):
    folder = work / "net.py"
    folder.mkdir()
    _everywhere(window, dialogs, cli, work, folder, f"{folder} is a folder, not ")


def test_a_project_larger_than_any_project_is_refused_by_its_size(window, dialogs, cli, work):
    path = work / "big.json"
    with open(path, "wb") as f:        # sparse: the size is real, the disk holds almost nothing
        f.write(b'{"format": "playground-project", ')
        f.truncate(MAX_PROJECT_BYTES + 1)
    assert window.files.open_path(path) is False
    assert "too large for a project file (at most 16.0 MiB)" in dialogs[-1][2]
    code, _, err = cli("inspect", path)
    assert code == 1 and "is 16.0 MiB, too large for a project file" in err


def _idx_header(n: int) -> bytes:
    return bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28)


def test_an_idx_header_claiming_a_billion_images_is_refused_before_anything_is_allocated(
        qtbot, window, cli, work, examples, monkeypatch):
    root = write_mnist(work / "mnist")
    images = root / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(_idx_header(10**9) + bytes(784 * 40), mtime=0))
    allocated = []
    real = bytearray
    monkeypatch.setattr(data, "bytearray", lambda n=0, *a: allocated.append(n) or real(n, *a), raising=False)
    project = mnist_project(examples, root)
    end = start_in_window(qtbot, window, project)
    expected = f"{images} is corrupt or truncated: its header claims 1,000,000,000 images"
    assert end.status == "failed" and expected in end.reason, end.reason
    window.session.failure_box.close()
    code, _, err = train_headless(cli, work, project)
    assert code == 1 and expected in err
    assert all(n < 10**6 for n in allocated)     # no buffer sized by the lie
    assert not (work / "c.pt").exists()


def test_a_gzip_bomb_is_read_only_as_far_as_its_header_says(cli, work, examples, monkeypatch):
    """The header says 40 images; the stream inflates to far more. Reading stops one byte after the
    40 images (the real 12 GiB bomb was read whole: 4.9 GB, then MemoryError)."""
    root = write_mnist(work / "mnist")
    images = root / "train-images-idx3-ubyte.gz"
    torch.manual_seed(0)
    honest = _idx_header(40) + bytes(torch.randint(0, 256, (40 * 784,), dtype=torch.uint8).tolist())
    with gzip.GzipFile(images, "wb", mtime=0) as f:
        f.write(honest)
        zeros = bytes(1 << 20)
        for _ in range(64):                    # 64 MiB of zeros: ~64 KiB on disk
            f.write(zeros)
    inflated = []
    real_open = data.gzip.open

    class Counting:
        def __init__(self, raw):
            self.raw = raw

        def read(self, n=-1):
            chunk = self.raw.read(n)
            inflated.append(len(chunk))
            return chunk

        def readinto(self, buffer):
            n = self.raw.readinto(buffer)
            inflated.append(n)
            return n

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.raw.close()

    monkeypatch.setattr(data.gzip, "open", lambda *a, **k: Counting(real_open(*a, **k)))
    code, _, err = train_headless(cli, work, mnist_project(examples, root))
    assert code == 1 and f"{images} is corrupt or truncated: expected {40 * 784} bytes of image data, found more" in err
    assert sum(inflated) <= len(honest) + 1      # the header, the 40 images, and the one byte that says more
    assert not (work / "c.pt").exists()


@needs_fifo
def test_a_fifo_in_the_recovery_folder_hides_nothing(qtbot, settings, dialogs, recovery_folder, examples,
                                                      monkeypatch):
    """A FIFO named like a recovery file froze every start; a file nested 3000 deep raised at every
    start. Both are set aside with their reason, and the good recovery file beside them is offered."""
    from PySide6.QtWidgets import QMessageBox

    from playground.ui.main_window import MainWindow

    recovery_folder.mkdir(parents=True)
    os.mkfifo(recovery_folder / "recovery-fifo.json")
    (recovery_folder / "recovery-deep.json").write_text("[" * 3000 + "]" * 3000)
    store = RecoveryStore(recovery_folder)
    project = Project.load(examples / "xor.json")
    project.name = "Good one"
    store.save(project, None)
    (recovery_folder / "recovery-crashed.json").write_bytes(store.path.read_bytes())
    store.close()                              # what a crashed window leaves: a file no one holds
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda p, title, text, *a, **k: asked.append(text) or QMessageBox.Yes)
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    try:
        assert win.offer_recovery()
        assert win.document.project.name == "Good one" and len(asked) == 1
        assert not win.offer_recovery()          # the next start: the two bad files are explained, once
        warnings = [text for kind, title, text in dialogs if title == "Autosaved project unreadable"]
        assert len(warnings) == 2
        assert any("is a named pipe (FIFO)" in w for w in warnings)
        assert any("it is nested too deeply to be a recovery file" in w for w in warnings)
        names = sorted(p.name for p in recovery_folder.iterdir() if p.suffix == ".json")
        assert "recovery-fifo.unreadable.json" in names and "recovery-deep.unreadable.json" in names
    finally:
        win.session.shutdown()
        win.document.undo_stack.setClean()
