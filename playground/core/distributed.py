"""Training under torchrun: the launch from the environment, the process group, sharded batches, summed metrics.

The Trainer talks to its ranks through one object. `SINGLE` (one process) makes every hook the
identity; `Ranks` (a torchrun launch) wraps the model in DistributedDataParallel, gives each rank its
part of every global batch and sums metrics across ranks. Decisions that end or change the loop (a
non-finite loss, a stop, early stopping) are taken on reduced values, so every rank takes them at
the same step and none is left waiting in a collective.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .errors import TrainingError

LAUNCH_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")   # torchrun sets all three for every process it starts
DEFAULT_TIMEOUT = 60.0      # seconds a rank waits in a collective before the job fails instead of hanging
REPORTS_PER_EPOCH = 10      # step reports are collectives, so ranks take them at the same steps, not on a clock
# A testing hook, read only on the distributed path: the named rank fails at its Nth training step.
FAULT_RANK_ENV = "PLAYGROUND_FAULT_RANK"   # the rank that fails
FAULT_STEP_ENV = "PLAYGROUND_FAULT_STEP"   # at its Nth training step (default 3)
FAULT_KIND_ENV = "PLAYGROUND_FAULT_KIND"   # "raise" (default) or "hang"
_FAILURE_KEY = "playground/failure"   # the first failing rank's message, for rank 0 to print


@dataclass(frozen=True)
class Launch:
    """Where this process sits in a torchrun job."""

    rank: int          # global rank, 0 .. world_size - 1
    world_size: int
    local_rank: int    # rank on this machine: picks the GPU

    @classmethod
    def from_env(cls, env=None) -> Launch | None:
        """The launch torchrun describes in the environment, or None for a plain process."""
        env = os.environ if env is None else env
        if not all(name in env for name in LAUNCH_ENV):
            return None
        try:
            rank, world, local = (int(env[name]) for name in LAUNCH_ENV)
        except ValueError:
            raise TrainingError(
                "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them) — "
                "unset them to train in one process"
            ) from None
        if not 0 <= rank < world or local < 0:
            raise TrainingError(f"RANK {rank} does not fit WORLD_SIZE {world} (torchrun sets them)")
        return cls(rank, world, local)


def torchrun_command(project: str | Path, *, processes: int = 1, device: str = "cuda", nodes: int = 1,
                     endpoint: str | None = None, job: str = "playground", multiline: bool = False) -> str:
    """The shell line that trains `project` with torchrun: one machine (`--standalone`) or, with
    `endpoint` (HOST:PORT of the c10d rendezvous), `nodes` machines each running the same line.
    `multiline` breaks it before the rendezvous and the command, with shell continuations."""
    launcher = ["torchrun", "--standalone"] if endpoint is None else ["torchrun", "--nnodes", str(nodes)]
    launcher += ["--nproc_per_node", str(processes)]
    rendezvous = [] if endpoint is None else ["--rdzv_id", job, "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint]
    command = ["-m", "playground", "train", str(project), "--device", device]
    groups = [shlex.join(g) for g in (launcher, rendezvous, command) if g]
    return " \\\n    ".join(groups) if multiline else " ".join(groups)


class SingleProcess:
    """One process: the model trains as it is and every number is already the total."""

    rank = 0
    world_size = 1
    is_main = True

    def prepare(self, setup, project) -> None:
        pass

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    def report_due(self, since_report: float, interval: float, step: int, steps: int) -> bool:
        return since_report >= interval or step == steps

    def window_loss(self, window_sum: Tensor, window_steps: int) -> tuple[float, bool]:
        """Mean loss of the steps since the last report, and whether any rank asked to stop."""
        return window_sum.item() / window_steps, False

    def total(self, loss_sum: Tensor, count: int) -> tuple[float, int]:
        return loss_sum.item(), count

    def shard(self, x: Tensor) -> Tensor:
        return x

    def totals(self, loss_sum: Tensor, correct: Tensor, count: int) -> tuple[float, int, int]:
        """Evaluation's loss sum, correct predictions and samples, over every rank (one host sync)."""
        total, n_correct = torch.stack([loss_sum.double(), correct.double()]).tolist()
        return total, int(n_correct), count


SINGLE = SingleProcess()


class Ranks(SingleProcess):
    """One rank of a torchrun job: DistributedDataParallel, this rank's share of the data, sums over ranks."""

    def __init__(self, launch: Launch, device: torch.device, timeout: float = DEFAULT_TIMEOUT):
        self.launch = launch
        self.rank, self.world_size = launch.rank, launch.world_size
        self.is_main = launch.rank == 0
        self.device = device
        self.timeout = timeout
        self._stop_requested = False

    @classmethod
    def start(cls, launch: Launch, device: str, timeout: float = DEFAULT_TIMEOUT) -> Ranks:
        """Join the job's process group: gloo on the CPU, nccl with this rank on cuda:LOCAL_RANK."""
        import torch.distributed as dist

        if not dist.is_available():
            raise TrainingError("this PyTorch build has no torch.distributed — install the standard build")
        if timeout <= 0:
            raise TrainingError(f"--timeout must be above 0 seconds, not {timeout:g}")
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise TrainingError(f"device {device!r}: no CUDA GPU is available — use --device cpu (gloo)")
            if launch.local_rank >= torch.cuda.device_count():
                raise TrainingError(
                    f"local rank {launch.local_rank} needs cuda:{launch.local_rank}, but this machine has "
                    f"{torch.cuda.device_count()} GPU(s) — start at most that many processes per machine"
                )
            torch_device, backend = torch.device("cuda", launch.local_rank), "nccl"
            torch.cuda.set_device(torch_device)
        elif device == "cpu":
            torch_device, backend = torch.device("cpu"), "gloo"
        else:
            raise TrainingError(f"torchrun training runs on cpu (gloo) or cuda (nccl), not {device!r}")
        dist.init_process_group(
            backend, timeout=datetime.timedelta(seconds=timeout),
            **({"device_id": torch_device} if backend == "nccl" else {}),
        )
        return cls(launch, torch_device, timeout)

    def close(self) -> None:
        """Leave the job together: a rank that tore down its side while rank 0 still wrote files
        sometimes aborted in gloo ("terminate called without an active exception")."""
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    # --- the Trainer's hooks ---------------------------------------------------------------

    def prepare(self, setup, project) -> None:
        """Swap the single-process batches for this rank's shard of every global batch."""
        t = project.training
        setup.batches = ShardedBatches(
            setup.batches.x, setup.batches.y, t.batch_size, self.rank, self.world_size,
            shuffle=t.shuffle, drop_last=t.drop_last, seed=t.seed, transform=setup.batches.transform,
        )
        smallest = setup.batches.smallest_batch()
        if smallest == 1 and any(layer.type.startswith("BatchNorm") for layer in project.network.layers):
            raise TrainingError(
                f"BatchNorm normalises each rank's part of a batch, and some parts hold 1 sample "
                f"(batch size {t.batch_size} over {self.world_size} ranks"
                + ("" if t.drop_last else ", last batch included") + ") — use a bigger batch size"
                + ("" if t.drop_last else " or turn drop_last on")
            )

    def wrap(self, model: nn.Module) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = DistributedDataParallel(model, device_ids=ids)
        fault = _fault_hook(self.rank)
        if fault is not None:
            ddp.register_forward_pre_hook(fault)   # on the wrapper: counts training steps, not evaluation
        return ddp

    def report_due(self, since_report: float, interval: float, step: int, steps: int) -> bool:
        return step == steps or step % max(1, steps // REPORTS_PER_EPOCH) == 0

    def request_stop(self) -> None:
        """Ask every rank to stop at the next report (from a signal handler: no collective here)."""
        self._stop_requested = True

    def window_loss(self, window_sum: Tensor, window_steps: int) -> tuple[float, bool]:
        packed = torch.stack([window_sum.float(), torch.tensor(float(self._stop_requested), device=window_sum.device)])
        total, stops = self._all_reduce(packed).tolist()
        return total / (window_steps * self.world_size), stops > 0

    def total(self, loss_sum: Tensor, count: int) -> tuple[float, int]:
        total, n = self._all_reduce(torch.stack([loss_sum.double(), self._scalar(count)])).tolist()
        return total, int(n)

    def shard(self, x: Tensor) -> Tensor:
        return torch.tensor_split(x, self.world_size)[self.rank]   # a contiguous view, no copy

    def totals(self, loss_sum: Tensor, correct: Tensor, count: int) -> tuple[float, int, int]:
        packed = torch.stack([loss_sum.double(), correct.double(), self._scalar(count)])
        total, n_correct, n = self._all_reduce(packed).tolist()
        return total, int(n_correct), int(n)

    def _scalar(self, value: float) -> Tensor:
        return torch.tensor(float(value), dtype=torch.float64, device=self.device)

    def _all_reduce(self, t: Tensor) -> Tensor:
        import torch.distributed as dist

        dist.all_reduce(t)
        return t

    # --- failures ----------------------------------------------------------------------------

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def post_failure(self, message: str) -> str:
        """Post this rank's failure; the first failure any rank posted (this one, or the cause of it).

        A rank that fails posts before it exits, and its exit is what breaks the others'
        collectives, so a rank that lost its peers finds the real cause already posted."""
        _write_error_file(message)   # torchrun's summary names the root cause from it
        try:
            return self._store().compare_set(_FAILURE_KEY, "", message).decode()
        except Exception:  # noqa: BLE001 — no store (torchrun gone): this rank says what it knows
            return message

    def _store(self, timeout: float = 5.0):
        import torch.distributed as dist

        # torchrun's rendezvous store (its own or rank 0's) outlives a failed rank, unlike the process group
        return dist.TCPStore(
            os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
            timeout=datetime.timedelta(seconds=timeout),
        )


def _write_error_file(message: str) -> None:
    """torchrun's summary names the root cause from this file (a plain message: no traceback)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    from .files import atomic_write_bytes

    try:
        # the layout torch's ErrorHandler.record_exception writes; the "traceback" is the message alone
        info = {"py_callstack": message, "timestamp": str(int(time.time()))}
        atomic_write_bytes(path, json.dumps({"message": {"message": message, "extraInfo": info}}).encode())
    except Exception:  # noqa: BLE001 — best effort: the message is on stderr as well
        pass


def _fault_hook(rank: int):
    """The testing hook: PLAYGROUND_FAULT_RANK=N makes rank N raise (or hang, with
    PLAYGROUND_FAULT_KIND=hang) at its PLAYGROUND_FAULT_STEP-th training step (default 3)."""
    if os.environ.get(FAULT_RANK_ENV) != str(rank):
        return None
    at = int(os.environ.get(FAULT_STEP_ENV, "3"))
    hang = os.environ.get(FAULT_KIND_ENV) == "hang"
    calls = 0

    def hook(module, args):
        nonlocal calls
        calls += 1
        if calls < at:
            return
        if hang:
            while True:   # stuck, not dead: only the collective timeout ends the job
                time.sleep(1)
        raise RuntimeError(f"injected fault at step {calls} ({FAULT_RANK_ENV}={rank}, a testing hook)")

    return hook


class ShardedBatches:
    """This rank's part of each global batch, with DistributedSampler's semantics.

    Every rank draws the same seeded permutation each epoch (the one a single process draws),
    pads it by repeating its first samples until it splits evenly over the ranks (or, with
    drop_last, drops the tail), and takes every world_size-th sample from its rank on. Batches of
    batch_size / world_size then make rank r's k-th batch the r-th stride of the single-process
    run's k-th batch: with mean losses, DDP's averaged gradient is the single-process gradient.
    The runs match exactly when drop_last is on or the training samples divide by world_size;
    otherwise up to world_size - 1 samples appear twice in the last batch of an epoch.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, rank: int, world_size: int,
                 shuffle: bool = True, drop_last: bool = False, seed: int = 0, transform=None):
        if batch_size % world_size:
            raise TrainingError(
                f"batch size {batch_size} does not split over {world_size} ranks: the project's batch size is "
                f"the global batch, and each rank takes batch_size / {world_size} — make it a multiple of "
                f"{world_size} (e.g. {max(world_size, batch_size // world_size * world_size)})"
            )
        n = len(x)
        per_rank_samples = n // world_size if drop_last else math.ceil(n / world_size)
        if per_rank_samples == 0:
            raise TrainingError(
                f"{n} training samples cannot be shared by {world_size} ranks with drop_last on "
                "— turn drop_last off or use fewer processes"
            )
        self.x, self.y = x, y
        self.batch_size = batch_size // world_size     # per rank
        self.global_batch_size = batch_size
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.samples = per_rank_samples                # per rank and epoch
        self._gen = torch.Generator(device=x.device).manual_seed(seed)   # as Batches: same seed, same orders
        self.transform = transform   # augmentation, as Batches'; every rank draws alike for its own samples

    @property
    def generator(self) -> torch.Generator:
        """The one source of every epoch's order: its state is where the data order stands."""
        return self._gen

    def __len__(self) -> int:
        n, b = self.samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def smallest_batch(self) -> int:
        """Samples in this rank's smallest batch (the last one, unless every batch is full)."""
        if not len(self):
            return 0
        return self.batch_size if self.drop_last else self.samples - (len(self) - 1) * self.batch_size

    def indices(self) -> Tensor:
        """This epoch's sample indices for this rank, drawing the epoch's permutation."""
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self._gen, device=self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        total = self.samples * self.world_size
        if total > n:   # pad with the epoch's first samples, repeated if there are fewer than the padding
            order = order.repeat(math.ceil(total / n))
        return order[self.rank:total:self.world_size]

    def __iter__(self):
        mine = self.indices()
        x, y = self.x[mine], self.y[mine]   # one gather per epoch; the batches are then views
        b = self.batch_size
        for start in range(0, len(self) * b, b):
            xb = x[start:start + b]
            yield (self.transform(xb, self._gen) if self.transform else xb), y[start:start + b]
