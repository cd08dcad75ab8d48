"""Shared test set-up: headless Qt, restored global state, and real MNIST digits."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Set before anything imports Qt, so every Qt test runs without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "resources" / "examples"
# 1,000 real MNIST test digits ship with the tests; the whole test set (t10k only) may sit in shared/
# beside the checkout, for the slower real-accuracy tests, which skip without it.
MNIST_SMALL = REPO / "tests" / "data" / "mnist-1k"
MNIST_T10K = Path(os.environ.get("PLAYGROUND_MNIST_DIR", REPO.parent / "shared" / "data" / "mnist-t10k"))


@pytest.fixture(autouse=True)
def recovery_folder(tmp_path, monkeypatch) -> Path:
    """Windows autosave here, never into the user's own recovery folder."""
    folder = tmp_path / "recovery"
    monkeypatch.setenv("PLAYGROUND_RECOVERY_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def runs_folder(tmp_path, monkeypatch) -> Path:
    """The run stores of unsaved projects and shipped examples here, never in the user's data folder."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def restore_global_state():
    """No test leaves process-wide state behind for the next one, whatever order they run in:
    torch's thread count, default dtype and grad mode, and the views' shared dataset cache."""
    import torch

    threads, dtype, grad = torch.get_num_threads(), torch.get_default_dtype(), torch.is_grad_enabled()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)
    torch.set_grad_enabled(grad)
    cache = sys.modules.get("playground.ui.views.data_cache")
    if cache is not None:
        cache.shared_cache.clear()


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread_in_the_test_process():
    """The tests' own process computes with one torch thread (the training processes and the child
    commands choose their own). Under `make test` each pytest worker has a core, and a second
    intra-op thread only spin-waits for the core another worker holds: LeNet's two real-digit
    epochs in test_cli took 18 s with two threads and 6.8 s with one, on the shared 2-core machine.
    No test may depend on the core count, so none depends on this."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny networks on a shared 2-core machine: intra-op threads only add spin-waits."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def mnist_t10k() -> Path:
    """The folder holding the whole real t10k-*.gz files, or a skip that says where they were looked for."""
    if not (MNIST_T10K / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"the full MNIST test set is not in {MNIST_T10K} (set PLAYGROUND_MNIST_DIR)")
    return MNIST_T10K


def _mnist_folder(tmp_path: Path, source: Path) -> Path:
    """A data folder with real digits; the t10k files also stand in for the training files."""
    root = tmp_path / "mnist"
    root.mkdir()
    for kind in ("images-idx3", "labels-idx1"):
        digits = source / f"t10k-{kind}-ubyte.gz"
        (root / digits.name).symlink_to(digits)
        (root / f"train-{kind}-ubyte.gz").symlink_to(digits)
    return root


@pytest.fixture
def mnist_root(tmp_path) -> Path:
    """1,000 real MNIST digits, committed with the tests (tests/data/mnist-1k): always there."""
    return _mnist_folder(tmp_path, MNIST_SMALL)


@pytest.fixture
def mnist_full_root(tmp_path, mnist_t10k) -> Path:
    """All 10,000 real test digits, for the checks of real accuracy; skips without them."""
    return _mnist_folder(tmp_path, mnist_t10k)


@pytest.fixture
def torchrun():
    """Run `torchrun ARGS` (as `python -m torch.distributed.run`) on this checkout's code; returns
    (CompletedProcess with stdout and stderr merged, seconds it took)."""

    def launch(*args, cwd, env: dict | None = None, timeout: float = 120):
        # the workers run `-m playground` from cwd: PYTHONPATH makes it this checkout, not an installed copy
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", *map(str, args)],
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
            env={**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "error",
                 **(env or {})},
        )
        return result, time.perf_counter() - start

    return launch
