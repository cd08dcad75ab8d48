"""The Trainer: a plain training loop that reports small records of plain numbers through a callback."""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import nn

from . import data as datasets
from .checkpoint import check_optimizer_state, check_scheduler_state
from .distributed import SINGLE, SingleProcess
from .errors import PlaygroundError, ShapeError, TrainingError
from .evaluation import eval_batch
from .health import HealthEvent, HealthProbe
from .losses import LOSSES, TargetPlan, build_loss, count_correct, encode_targets, plan_targets
from .optim import (
    OPTIMIZERS,
    PLATEAU,
    SCHEDULERS,
    STEP,
    build_optimizer,
    build_scheduler,
    check_device,
    mixed_precision_dtype,
    schedule_ended,
)
from .shapes import build_network, format_bytes, format_shape, infer_shapes, physical_memory
from .spec import Project
from .validation import check_component, validate_project

FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
# what the optimizer decides for itself, never a saved file (see checkpoint.check_optimizer_state)
_OWN_FLAGS = ("foreach", "fused", "capturable", "differentiable")
SNAPSHOT_INTERVAL = 0.5  # seconds between copies of the last good weights (kept for a non-finite loss)


@dataclass(frozen=True)
class StepEvent:
    epoch: int               # 1-based
    step: int                # batches done in this epoch
    steps: int               # batches per epoch
    global_step: int
    loss: float              # mean training loss over the steps since the last report
    lr: float
    samples_per_second: float
    penalty: float | None = None   # mean l1/l2 penalty over the same steps; None: the run has none
    kind: str = "step"


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    epochs: int              # the last epoch this run will reach
    train_loss: float
    val_loss: float | None   # None without a validation split
    val_accuracy: float | None  # None for regression or without a validation split
    samples_per_second: float
    seconds: float
    lr: float
    # share of the epoch's training samples the model got right as it trained on them (train mode,
    # weights moving: the running figure Keras shows); None for regression
    train_accuracy: float | None = None
    # the epoch's mean l1/l2 penalty (train_loss is the data's loss alone, as val_loss is); None: none
    penalty: float | None = None
    kind: str = "epoch"


@dataclass(frozen=True)
class ChangeEvent:
    """A setting changed while the run trained (core/live.py); `new` trains from step `step` + 1 on."""

    step: int                # global steps done when it took effect
    epoch: int               # the epoch under way (1-based)
    setting: str             # a name of live.LIVE
    old: object
    new: object
    kind: str = "change"


@dataclass(frozen=True)
class HeldEvent:
    """The loop reached a pause (asked for, or the end of a train_steps / train_epoch) and waits."""

    epoch: int               # the epoch under way (1-based)
    step: int                # batches done in it
    global_step: int
    kind: str = "held"


@dataclass(frozen=True)
class EndEvent:
    status: str              # finished | stopped | failed
    reason: str
    epochs_completed: int
    test_accuracy: float | None = None
    kind: str = "end"


Event = StepEvent | EpochEvent | EndEvent | HealthEvent | ChangeEvent | HeldEvent


def penalised_weights(model: nn.Module) -> list[nn.Parameter]:
    """The tensors the l1/l2 penalties count: those of two or more dimensions, the weights that multiply
    inputs (Linear, Conv, Embedding, RNN matrices). Biases and normalisation layers' scale and shift
    (and PReLU's slopes) are left out, as TensorFlow Playground penalises its links and not its biases:
    a bias or a shift moves a unit's output without making the function any more complex, so pulling it
    to 0 only costs fit (Goodfellow et al., Deep Learning, 7.1), and a BatchNorm's scale sets the size
    the next layer sees, which its own weights would grow back to make up."""
    return [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]


def epoch_record(event: EpochEvent) -> dict:
    """An epoch's event as the history (and the run store) keeps it: its fields but the kind; the
    penalty only in runs that have one, so the others' records stay as they were."""
    return {k: v for k, v in asdict(event).items() if k != "kind" and not (k == "penalty" and v is None)}


def weight_penalty(weights: list[torch.Tensor], l1: float, l2: float) -> torch.Tensor | None:
    """l1·Σ|w| + l2·Σw² over `weights` (float32, with gradients); None when both rates are 0."""
    total = None
    if l1:
        total = l1 * torch.stack([w.abs().sum() for w in weights]).sum()
    if l2:
        squares = l2 * torch.stack([w.square().sum() for w in weights]).sum()
        total = squares if total is None else total + squares
    return total


@dataclass
class Setup:
    """Everything built from the project before the first step, shared with the learning-rate finder."""

    device: torch.device
    dataset: datasets.Dataset
    plan: TargetPlan
    y_train: torch.Tensor
    y_val: torch.Tensor
    loss_fn: nn.Module
    batches: datasets.Batches
    optimizer_params: dict   # checked, defaults filled in
    warnings: list[str] = field(default_factory=list)


class _ChannelsLastGrad(torch.autograd.Function):
    """The identity on a channels-last activation, copied contiguous as Flatten would copy it,
    whose gradient goes back channels-last (see _flatten_channels_last)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


def _flatten_channels_last(module: nn.Module, args: tuple):
    """Flatten's forward pre-hook in a channels-last model: the gradient of Flatten's reshape comes
    back in the default layout, and every layer behind it (ReLU, BatchNorm, pooling) then runs its
    backward on two layouts at once, on a slow path (threshold_backward: 1.1 ms against 0.04 ms on
    a 128x64x7x7 bfloat16 batch). Handed back channels-last, they stay on the fast one: the fast
    Fashion-MNIST CNN's step took 7 % less. Values and the state_dict are the same. Only for a
    Flatten of everything but the batch (start_dim 1), which copies a channels-last input anyway."""
    x = args[0]
    if x.dim() == 4 and x.requires_grad and not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last):
        return (_ChannelsLastGrad.apply(x),)
    return None


def check_trainable(project: Project, info: datasets.DataInfo | None = None, n_train: int | None = None,
                    *, device: bool = True) -> tuple[TargetPlan, list[str]]:
    """Every check a run makes before its first step that needs no data in memory; raise a
    PlaygroundError that says what to change. The window asks this (with the data's description)
    to enable Start, and a run asks it again with the data it loaded: one decision, said once.

    `device`: whether this machine must have the project's device. Returns the target plan and
    its warnings."""
    p = project
    t = p.training
    validate_project(p)
    if device:
        check_device(t.device)
    check_component(t.loss, LOSSES, "loss", "training.loss")
    check_component(t.optimizer, OPTIMIZERS, "optimizer", "training.optimizer")
    if t.scheduler is not None:
        check_component(t.scheduler, SCHEDULERS, "scheduler", "training.scheduler")
    info = info or datasets.dataset_info(p.data)
    if tuple(p.network.input_shape) != tuple(info.input_shape):
        raise TrainingError(
            f"the network's input shape is {format_shape(tuple(p.network.input_shape))} but "
            f"{info.name} gives samples of shape {format_shape(info.input_shape)} — set the input "
            f"shape to {list(info.input_shape)}"
        )
    net = infer_shapes(p.network)
    if not net.ok:
        raise ShapeError(net.error)
    check_has_weights(net)
    last = p.network.layers[-1].type if p.network.layers else None
    plan = plan_targets(t.loss.type, net.output_shape, info.task, info.n_classes, info.name, last)
    _check_batches(p, datasets.train_size(p.data) if n_train is None else n_train, net)
    return plan, list(plan.warnings)


def prepare_setup(project: Project, dataset: datasets.Dataset | None = None) -> Setup:
    """Check the settings and build data, targets, batches and loss; a PlaygroundError says what to change."""
    p = project
    t = p.training
    device = check_device(t.device)
    check_trainable(p)   # before loading: a wrong setting is said without reading 60,000 images
    loss_params = check_component(t.loss, LOSSES, "loss", "training.loss")
    opt_params = check_component(t.optimizer, OPTIMIZERS, "optimizer", "training.optimizer")
    dataset = dataset or datasets.load(p.data, device)
    info = dataset.info
    plan, warnings = check_trainable(p, info, len(dataset.x_train))
    if t.mixed_precision and mixed_precision_dtype(device) is None:
        warnings.append(f"mixed precision needs CUDA or a CPU with bfloat16 instructions; training in "
                        f"float32 on {device}")
    y_train = encode_targets(dataset.y_train, plan, info.n_classes)
    return Setup(
        device=device,
        dataset=dataset,
        plan=plan,
        y_train=y_train,
        y_val=encode_targets(dataset.y_val, plan, info.n_classes),
        loss_fn=build_loss(t.loss.type, loss_params),
        batches=datasets.Batches(
            dataset.x_train, y_train, t.batch_size, shuffle=t.shuffle, drop_last=t.drop_last, seed=t.seed,
            transform=datasets.augmentation(p.data),   # training batches only: evaluation reads x_val as it is
        ),
        optimizer_params=opt_params,
        warnings=warnings,
    )


def check_has_weights(net) -> None:
    """torch.optim refuses an empty parameter list; say why in the network's terms (`net`: infer_shapes)."""
    if net.ok and net.trainable_params == 0:
        raise TrainingError("the network has no weights to train (none of its layers has parameters) "
                            "— add a layer with weights, such as Linear")


def initial_model(project: Project, device: torch.device, model_state: dict | None = None) -> nn.Sequential:
    """The network with a run's first weights: seeded by the project, or `model_state` copied in."""
    torch.manual_seed(project.training.seed)  # the same seed gives the same initial weights and dropout masks
    model = build_network(project.network)
    if model_state is not None:
        from .checkpoint import apply_state_dict

        apply_state_dict(model, model_state, project.network)
    return model.to(device)


def _check_batches(project: Project, n_train: int, net) -> None:
    t = project.training
    if n_train == 0:
        raise TrainingError("the training split is empty — lower val_fraction or use more samples")
    if t.drop_last and t.batch_size > n_train:
        raise TrainingError(
            f"batch size {t.batch_size} is larger than the {n_train} training samples and "
            "drop_last is on, so an epoch has no batches — lower the batch size or turn drop_last off"
        )
    # every layer's output is kept for the backward pass, and its gradient is as large again
    activations = 2 * 4 * t.batch_size * sum(math.prod(info.output_shape) for info in net.layers)
    if activations > physical_memory():
        raise TrainingError(
            f"a batch of {t.batch_size} would need about {format_bytes(activations)} for the layers' "
            f"outputs and their gradients, more than this machine has ({format_bytes(physical_memory())}) "
            "— lower the batch size or make the layers smaller"
        )
    # BatchNorm needs more than one value per channel; without spatial positions that means
    # more than one sample in every batch.
    lone_bn = any(
        layer.type.startswith("BatchNorm") and math.prod(info.input_shape[1:]) == 1
        for layer, info in zip(project.network.layers, net.layers)
    )
    if lone_bn and t.batch_size == 1:
        raise TrainingError(
            "BatchNorm cannot normalise a batch of 1 sample — use a batch size of 2 or more"
        )
    if lone_bn and not t.drop_last and n_train % t.batch_size == 1:
        raise TrainingError(
            f"the last batch of each epoch would hold 1 sample ({n_train} samples, batch size "
            f"{t.batch_size}) and BatchNorm cannot normalise a single sample — turn drop_last on "
            "or change the batch size"
        )


class Trainer:
    """Trains `project` headless. Construct, then `run()` in any thread; `stop()`, `pause()`,
    `resume()` may be called from another thread and take effect within one step."""

    def __init__(
        self,
        project: Project,
        callback: Callable[[Event], None] | None = None,
        *,
        dataset: datasets.Dataset | None = None,
        model_state: dict | None = None,        # continue from a checkpoint's weights ...
        optimizer_state: dict | None = None,    # ... and optimizer state
        scheduler_state: dict | None = None,
        start_epoch: int = 0,                   # epochs already done; this run adds training.epochs
        history: dict | None = None,
        progress: dict | None = None,           # where the data order and random numbers stood (resume.py)
        report_interval: float = 1 / 30,        # seconds between step reports (each costs a host sync)
        health_interval: float | None = None,   # seconds between HealthEvents (each measures one step); None: off
        ranks: SingleProcess = SINGLE,          # torchrun: distributed.Ranks shards, wraps and reduces
    ):
        self.project = project
        self.callback = callback or (lambda event: None)
        self.report_interval = report_interval
        self.health_interval = health_interval
        self.model: nn.Sequential | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.epoch = start_epoch
        self.history = _new_history(history)
        self.warnings: list[str] = []
        self._channels_last = False     # prepare() turned the model's convolutions channels-last
        self._layout_hooks: list = []   # Flatten's, while such a model trains (_flatten_channels_last)
        self._dataset = dataset
        self._states = (model_state, optimizer_state, scheduler_state)
        self._progress_in = progress
        self._start: tuple[int, torch.Tensor | None, int, int] = (0, None, 0, 0)
        self._scaler_state: dict | None = None
        self.progress: dict | None = None         # after the run: where to continue it from (see resume.py)
        self._setup: Setup | None = None
        self._stop = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._held = threading.Event()     # set while the loop waits in a pause
        self._optimizer_ok = True          # False after a non-finite loss corrupted its state
        self._health: HealthProbe | None = None
        self.ranks = ranks
        self.error: BaseException | None = None   # the exception that ended the run, if one did
        self._net: nn.Module | None = None        # the model as trained: itself, or its DDP wrapper
        t = project.training
        self._l1, self._l2 = t.l1, t.l2
        self._penalised = bool(t.l1 or t.l2)      # ever on in this run: its events carry the penalty
        self._control = threading.Lock()          # guards the three below, set from any thread
        self._pending: dict = {}                  # live changes for the next step boundary (change())
        self._budget: int | None = None           # steps left before the loop holds; None: no limit
        self._hold_at_epoch_end = False
        self._resized_epoch = False               # the batch size changed inside the epoch under way
        self._resumed_penalty = torch.zeros(())   # the penalties summed in a continued epoch so far

    # --- control, from any thread ----------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop wakes up to see the stop

    def pause(self) -> None:
        with self._control:
            self._budget, self._hold_at_epoch_end = None, False
        self._running.clear()

    def resume(self) -> None:
        with self._control:
            self._budget, self._hold_at_epoch_end = None, False
        self._running.set()

    def train_steps(self, steps: int = 1) -> None:
        """Train `steps` more steps, then hold as in a pause (a HeldEvent says so). Before run(): the
        run holds after its first `steps`. Asked again before the hold, the steps add up."""
        if steps < 1:
            raise ValueError(f"steps must be at least 1, not {steps}")
        with self._control:
            self._budget = steps + (self._budget or 0)
            self._hold_at_epoch_end = False
        self._running.set()

    def train_epoch(self) -> None:
        """Train to the end of the epoch under way (a whole epoch from a hold at an epoch's start), then hold."""
        with self._control:
            self._budget, self._hold_at_epoch_end = None, True
        self._running.set()

    def change(self, **settings) -> None:
        """Change live settings (core/live.py: lr, momentum, betas, l1, l2, batch_size, noise) from
        any thread; they apply at the next step boundary, each as a ChangeEvent and a record in
        history["changes"]. A value that does not fit raises a TrainingError and changes nothing."""
        from .live import apply_to_project, check_change, live_settings

        with self._control:
            planned = copy.deepcopy(self.project)
            apply_to_project(planned, self._pending)
            have = live_settings(planned)
            if "momentum" in settings and "momentum" not in have and "betas" in have:
                settings = dict(settings)   # an Adam's momentum is its beta1
                settings["betas"] = [settings.pop("momentum"), have["betas"][1]]
            checked = {name: check_change(planned, name, value) for name, value in settings.items()}
            apply_to_project(planned, checked)
            if "batch_size" in checked:
                net = infer_shapes(planned.network)
                n = len(self._setup.dataset.x_train) if self._setup else datasets.train_size(planned.data)
                _check_batches(planned, n, net)
            self._pending.update(checked)

    @property
    def penalty_rates(self) -> tuple[float, float]:
        """(l1, l2) as the run trains now."""
        return self._l1, self._l2

    @property
    def stopping(self) -> bool:
        """A stop was asked for."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        """A pause was asked for (the loop may still be finishing its step)."""
        return not self._running.is_set()

    @property
    def holding(self) -> bool:
        """The loop has reached the pause and waits: no step runs until resume() or stop()."""
        return self._held.is_set()

    def wait_held(self, timeout: float) -> bool:
        """Block until the loop holds in a pause (True) or `timeout` seconds pass (False)."""
        return self._held.wait(timeout)

    @property
    def dataset(self) -> datasets.Dataset | None:
        """The run's data, on its device, once prepared."""
        return self._setup.dataset if self._setup is not None else self._dataset

    def use_dataset(self, dataset: datasets.Dataset) -> None:
        """Train on data already loaded for these data settings (the worker keeps the last one)."""
        if self._setup is None:
            self._dataset = dataset

    # --- setup -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Build data, model, loss and optimizer; raise a PlaygroundError that says what to change."""
        if self._setup is not None:
            return
        t = self.project.training
        setup = prepare_setup(self.project, self._dataset)
        self.ranks.prepare(setup, self.project)
        self.model = initial_model(self.project, setup.device, self._states[0])
        if setup.device.type == "cpu" and any(isinstance(m, nn.Conv2d) for m in self.model.modules()):
            # oneDNN's convolutions run ~1.4x faster on CPU with channels-last weights (LeNet, 2 cores);
            # same values, other strides: state_dicts load into any model, exports copy contiguously
            self.model.to(memory_format=torch.channels_last)
            self._channels_last = True
        optimizer = build_optimizer(t.optimizer.type, setup.optimizer_params, self.model.parameters())
        saved = None
        if self._states[1] is not None:
            # checked before any kernel sees it: a buffer of the wrong size makes fused kernels write past it
            names = [name for name, _ in self.model.named_parameters()]
            saved = check_optimizer_state(self._states[1], optimizer, t.optimizer.type, names)
            optimizer.load_state_dict(saved)
            _match_layouts(optimizer)
        if t.scheduler is not None:
            sched_params = check_component(t.scheduler, SCHEDULERS, "scheduler", "training.scheduler")
            self.scheduler = build_scheduler(
                t.scheduler.type, sched_params, optimizer, t.epochs, len(setup.batches)
            )
            if self._states[2] is not None:
                self.scheduler.load_state_dict(check_scheduler_state(self._states[2], self.scheduler))
                # building a scheduler sets its first rate (a one-cycle also its momentum): the saved
                # run was further along, and its optimizer state says where
                if saved is not None:
                    for group, kept in zip(optimizer.param_groups, saved["param_groups"]):
                        group.update({k: v for k, v in kept.items() if k not in ("params", *_OWN_FLAGS)})
                if schedule_ended(self.scheduler):
                    # a schedule as long as its run (cosine to T_max, one cycle) that has run out:
                    # continuing it would train at its final rate (0 for a cosine); start a new one
                    # over the added epochs instead, from the project's rate, as a warm restart
                    for group in optimizer.param_groups:
                        group["lr"] = setup.optimizer_params["lr"]
                        group.pop("initial_lr", None)
                    self.scheduler = build_scheduler(
                        t.scheduler.type, sched_params, optimizer, t.epochs, len(setup.batches)
                    )
                    setup.warnings.append(
                        f"the saved {t.scheduler.type} schedule had ended; a new one runs over these "
                        f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}, from lr "
                        f"{optimizer.param_groups[0]['lr']:g}"
                    )
        self._start = self._restore_progress(setup)
        self.optimizer = optimizer   # only now: a run refused in setup has no optimizer, and its weights are not adopted
        self.warnings = setup.warnings
        self._net = self.ranks.wrap(self.model)   # after loading weights: DDP starts every rank from rank 0's
        self._setup = setup

    def _restore_progress(self, setup: Setup) -> tuple[int, torch.Tensor | None, int, int]:
        """Put the data order and the random numbers where the continued run left them; the batches
        of the first epoch already done, its summed loss, its samples and how many it got right
        (0, None, 0, 0 for a new epoch)."""
        progress = self._progress_in
        if not progress:
            return 0, None, 0, 0
        try:
            step = int(progress["step"])
            if not 0 <= step < len(setup.batches):
                raise ValueError(f"step {step} of {len(setup.batches)}")
            setup.batches.generator.set_state(progress["data_order"])
            torch.set_rng_state(progress["rng"])
            if setup.device.type == "cuda" and progress.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(progress["cuda_rng"], setup.device)
            loss_sum = torch.as_tensor(progress["loss_sum"], dtype=torch.float32).to(setup.device)
            seen = int(progress["seen"])
            correct = int(progress.get("correct", 0))
            self._resumed_penalty = torch.as_tensor(progress.get("penalty_sum", 0.0),
                                                    dtype=torch.float32).to(setup.device)
            self._scaler_state = progress.get("scaler")
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            setup.warnings.append(f"the saved data order does not fit this run ({e}); it starts a new epoch "
                                  "with a fresh order")
            return 0, None, 0, 0
        return step, loss_sum, seen, correct

    def _leave(self, step: int, order: torch.Tensor, loss_sum: torch.Tensor, seen: int, scaler,
               correct: torch.Tensor | int = 0, penalty_sum: torch.Tensor | None = None) -> None:
        """Note where the run stands, so another run can continue it exactly (resume.py)."""
        device = self._setup.device
        if step and self._resized_epoch:
            # its batches so far had two sizes: no count of batches says where it stands, so a
            # continued run starts a new epoch, drawing its order from the seed
            self.progress = None
            return
        self.progress = {
            "step": step,                                   # batches done in the epoch under way
            "data_order": order,                            # the data generator as that epoch began
            "rng": torch.get_rng_state(),                   # dropout's random numbers, from here on
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
            "loss_sum": loss_sum.detach().to("cpu", copy=True),
            "seen": seen,
            "correct": int(correct),                        # of those samples, classified right
            "scaler": scaler.state_dict() if scaler is not None else None,
        }
        if penalty_sum is not None:
            self.progress["penalty_sum"] = penalty_sum.detach().to("cpu", copy=True)

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> EndEvent:
        """Train to the end, a stop, or a failure; the EndEvent is also sent to the callback."""
        try:
            self.prepare()
            end = self._train()
        except PlaygroundError as e:
            self.error = e
            end = EndEvent(FAILED, str(e), self.epoch)
        except Exception as e:  # noqa: BLE001 — a training failure must reach the user, not kill the app
            self.error = e
            end = EndEvent(FAILED, f"training failed: {type(e).__name__}: {e}", self.epoch)
        finally:
            if self._health is not None:
                self._health.close()   # no hook outlives the run, not even one armed when a step failed
            for hook in self._layout_hooks:
                hook.remove()   # the model the run leaves behind is the plain one
            self._layout_hooks = []
        self.history.update(status=end.status, reason=end.reason, test_accuracy=end.test_accuracy)
        self.callback(end)
        return end

    def _train(self) -> EndEvent:
        s = self._setup
        t = self.project.training
        model, optimizer, net = self.model, self.optimizer, self._net
        if self._channels_last and not self._layout_hooks:   # removed again as run() ends
            self._layout_hooks = [m.register_forward_pre_hook(_flatten_channels_last) for m in model.modules()
                                  if isinstance(m, nn.Flatten) and m.start_dim == 1]
        dtype = mixed_precision_dtype(s.device) if t.mixed_precision else None
        # float16 needs its loss scaled so small gradients survive; bfloat16 has float32's range
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        if scaler is not None and self._scaler_state:
            scaler.load_state_dict(self._scaler_state)
        autocast = (
            (lambda: torch.autocast(s.device.type, dtype=dtype))
            if dtype is not None
            else contextlib.nullcontext
        )
        step_scheduler = self.scheduler if self._scheduler_every() == STEP else None
        n_train = len(s.dataset.x_train)
        steps = len(s.batches)
        weights = penalised_weights(model)
        last_epoch = self.epoch + t.epochs
        good = _Snapshot(model)
        best: tuple[float, int, dict] | None = None  # (val loss, epoch, weights) for early stopping
        since_best = 0
        skip, resumed_sum, resumed_seen, resumed_correct = self._start   # a run may continue inside an epoch
        global_step = self.epoch * steps + skip
        health = self._health = HealthProbe(model) if self.health_interval is not None else None
        health_at = -math.inf
        # the schedule's peak: OneCycleLR keeps it as max_lr, the others start there
        peak_lr = optimizer.param_groups[0].get("max_lr", optimizer.param_groups[0]["lr"])

        while self.epoch < last_epoch:
            epoch = self.epoch + 1
            model.train()
            epoch_start = time.perf_counter()
            paused_for = epoch_paused = 0.0
            order = s.batches.generator.get_state()   # where this epoch's shuffle starts: kept for a resume
            epoch_sum = torch.zeros((), device=s.device)
            epoch_correct = torch.zeros((), device=s.device, dtype=torch.long)   # summed on the device
            epoch_penalty = torch.zeros((), device=s.device) if self._penalised else None
            seen = done = 0
            steps = len(s.batches)
            self._resized_epoch = False
            batches = enumerate(s.batches, start=1)
            if skip or resumed_sum is not None:
                epoch_sum += resumed_sum
                epoch_correct += resumed_correct
                seen, done = resumed_seen, skip
                if epoch_penalty is not None:
                    epoch_penalty += self._resumed_penalty
                batches = itertools.islice(batches, skip, None)   # the same order, minus what was done
                skip, resumed_sum, resumed_correct = 0, None, 0
            # the window's detached losses, summed at the report: no tensor op per step beyond the step
            window: list[torch.Tensor] = []
            window_sizes: list[int] = []
            penalties: list[torch.Tensor] = []   # the window's penalties, while one is on
            last_report = epoch_start
            while True:
                # the step boundary: a hold, a stop, live changes; only then is the next batch drawn,
                # so a batch size or data changed here already shapes it
                if self._budget == 0:
                    self._hold()
                if not self._running.is_set():
                    self.callback(HeldEvent(epoch, done, global_step))
                    waited = self._wait_while_paused()
                    paused_for += waited
                    epoch_paused += waited
                if self._stop.is_set():
                    self._leave(done, order, epoch_sum, seen, scaler, epoch_correct, epoch_penalty)
                    return self._stopped(epoch, done, good, window)
                if self._pending:
                    steps = self._apply_changes(epoch, done, global_step, seen, steps)
                    if self._penalised and epoch_penalty is None:
                        epoch_penalty = torch.zeros((), device=s.device)
                drawn = next(batches, None)
                if drawn is None:
                    break
                step, (xb, yb) = drawn
                measure = health is not None and time.perf_counter() - health_at >= self.health_interval
                if measure:
                    health.arm()
                with autocast():
                    out = net(xb)
                    loss = s.loss_fn(out, yb)
                # in float32 outside autocast: the weights themselves, not their half-precision copies
                penalty = weight_penalty(weights, self._l1, self._l2) if self._penalised else None
                objective = loss if penalty is None else loss + penalty
                if s.plan.accuracy:
                    epoch_correct += count_correct(out.detach(), _labels(yb, s.plan), s.plan)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(objective).backward()
                    if t.grad_clip or measure:
                        scaler.unscale_(optimizer)   # health reads the true gradients, not scaled ones
                    if measure:
                        health.gradients()
                    if t.grad_clip:
                        nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    objective.backward()
                    if measure:
                        health.gradients()   # before clipping, which would hide an explosion
                    if t.grad_clip:
                        nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                    optimizer.step()
                step_lr = optimizer.param_groups[0]["lr"]   # this step's: the scheduler moves it on now
                if step_scheduler is not None and not schedule_ended(step_scheduler):
                    step_scheduler.step()   # a continued cycle shorter than the run holds its final rate
                window.append(loss.detach())
                window_sizes.append(len(xb))
                # summed every step, in step order: the epoch's loss does not depend on when reports fell
                epoch_sum.add_(window[-1].float(), alpha=len(xb))
                if penalty is not None:
                    penalties.append(penalty.detach())
                    epoch_penalty.add_(penalties[-1], alpha=len(xb))
                seen += len(xb)
                done = step
                global_step += 1
                if self._budget:
                    with self._control:
                        if self._budget:
                            self._budget -= 1
                if measure:
                    health_at = time.perf_counter()
                    share = step_lr / peak_lr if self.scheduler and peak_lr > 0 else 1.0
                    self.callback(health.finish(global_step, share))
                now = time.perf_counter()
                # a hold comes next (a pause, the end of train_steps): what it trained is reported first
                holds = self._budget == 0 or not self._running.is_set()
                if self.ranks.report_due(now - last_report, self.report_interval, step, steps) or holds:
                    losses = torch.stack(window)
                    value, stop = self.ranks.window_loss(losses.sum(), len(window))  # the one host sync per report
                    if stop:
                        self.stop()   # every rank learns it at this report and stops before the same step
                    if not math.isfinite(value):
                        return self._non_finite(value, epoch, step, good)
                    window_samples = sum(window_sizes)
                    rate = window_samples / max(now - last_report - paused_for, 1e-9)
                    self.history["steps"].append([global_step, value])
                    mean_penalty = None
                    if self._penalised:   # steps without one (its rates set to 0) count as 0
                        mean_penalty = torch.stack(penalties).sum().item() / len(window) if penalties else 0.0
                        self.history.setdefault("penalties", []).append([global_step, mean_penalty])
                    self.callback(StepEvent(epoch, step, steps, global_step, value, self._lr(), rate, mean_penalty))
                    if now - good.taken >= SNAPSHOT_INTERVAL:
                        good.take(epoch, step)
                    window, window_sizes, penalties = [], [], []
                    paused_for = 0.0
                    last_report = now

            seconds = time.perf_counter() - epoch_start - epoch_paused
            total, n_correct, seen = self.ranks.totals(epoch_sum, epoch_correct, seen)   # one sync, as before
            train_loss = total / seen if seen else float("nan")  # drop_last skips some
            train_acc = n_correct / seen if s.plan.accuracy and seen else None
            epoch_pen = epoch_penalty.item() / seen if epoch_penalty is not None and seen else None
            val_loss, val_acc = self.evaluate(s.dataset.x_val, s.y_val, s.dataset.y_val)
            if not math.isfinite(train_loss) or (val_loss is not None and not math.isfinite(val_loss)):
                bad = train_loss if not math.isfinite(train_loss) else val_loss
                return self._non_finite(bad, epoch, steps, good)
            if val_loss is not None:
                good.confirm(epoch, steps)   # the finite validation loss came from these very weights
            else:
                good.take(epoch, steps)
            self.epoch = epoch
            self._step_epoch_scheduler(val_loss if val_loss is not None else train_loss)
            self._resized_epoch = False
            self._leave(0, s.batches.generator.get_state(), torch.zeros(()), 0, scaler)
            record = EpochEvent(
                epoch, last_epoch, train_loss, val_loss, val_acc,
                n_train / max(seconds, 1e-9), seconds, self._lr(), train_acc, epoch_pen,
            )
            self.history["epochs"].append(epoch_record(record))
            self.callback(record)
            if self._hold_at_epoch_end:
                with self._control:
                    self._hold_at_epoch_end = False
                    self._running.clear()   # held before the next epoch's first step

            if t.early_stopping and val_loss is not None:
                if best is None or val_loss < best[0]:
                    best, since_best = (val_loss, epoch, _copy_state(model)), 0
                else:
                    since_best += 1
                if since_best >= t.early_stopping:
                    model.load_state_dict(best[2])
                    self.progress = None   # the best epoch's weights with a later data order: not one run
                    reason = (
                        f"early stopping: the validation loss has not improved for {since_best} epochs; "
                        f"kept the best weights, from epoch {best[1]} (validation loss {best[0]:.4g})"
                    )
                    return EndEvent(FINISHED, reason, self.epoch, self._test_accuracy())

        reason = f"trained {t.epochs} epoch{'s' if t.epochs != 1 else ''}"
        return EndEvent(FINISHED, reason, self.epoch, self._test_accuracy())

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor) -> tuple[float | None, float | None]:
        """Mean loss and accuracy (classification) in eval mode without gradients; None when empty."""
        s = self._setup
        if len(x) == 0:
            return None, None
        x, y, labels = self.ranks.shard(x), self.ranks.shard(y), self.ranks.shard(labels)  # sums, then totals
        self.model.eval()
        loss_sum = torch.zeros((), device=s.device)
        correct = torch.zeros((), device=s.device, dtype=torch.long)
        bite = eval_batch(s.device)
        with torch.no_grad():
            for start in range(0, len(x), bite):
                out = self.model(x[start : start + bite])
                yb = y[start : start + bite]
                loss_sum += s.loss_fn(out.float(), yb) * len(yb)
                if s.plan.accuracy:
                    correct += count_correct(out, labels[start : start + bite], s.plan)
        self.model.train()
        total, n_correct, n = self.ranks.totals(loss_sum, correct, len(x))
        accuracy = n_correct / n if s.plan.accuracy else None
        return total / n, accuracy

    def _test_accuracy(self) -> float | None:
        ds = self._setup.dataset
        if ds.x_test is None or not self._setup.plan.accuracy:
            return None
        y = encode_targets(ds.y_test, self._setup.plan, ds.info.n_classes)
        return self.evaluate(ds.x_test, y, ds.y_test)[1]

    # --- helpers ------------------------------------------------------------------------------

    def _hold(self) -> None:
        """The steps train_steps asked for are done: hold as in a pause."""
        with self._control:
            if self._budget == 0:
                self._budget = None
                self._running.clear()

    def _apply_changes(self, epoch: int, done: int, global_step: int, seen: int, steps: int) -> int:
        """Take the live changes asked for since the last step; returns the epoch's step count,
        which a new batch size changes (the epoch goes on from sample `seen` in its batches)."""
        from .live import apply_to_project, live_settings

        with self._control:
            pending, self._pending = self._pending, {}
            before = live_settings(self.project)
            self.project = copy.deepcopy(self.project)   # the caller's project stays as it was given
            apply_to_project(self.project, pending)
        s = self._setup
        for name, new in pending.items():
            old = self._optimizer_value(name) if name in ("lr", "momentum", "betas") else before.get(name)
            if old == new:
                continue
            if name in ("lr", "momentum", "betas"):
                self._set_optimizer(name, old, new)
            elif name in ("l1", "l2"):
                setattr(self, f"_{name}", new)
                self._penalised = self._penalised or bool(new)
            elif name == "batch_size":
                s.batches.batch_size = new
                n = len(s.dataset.x_train)
                rest = (n - seen) // new if s.batches.drop_last else -(-(n - seen) // new)
                steps = done + rest
                self._resized_epoch = self._resized_epoch or done > 0
            elif name == "noise":
                self._regenerate()
            self.history.setdefault("changes", []).append(
                {"step": global_step, "epoch": epoch, "setting": name, "old": old, "new": new})
            self.callback(ChangeEvent(global_step, epoch, name, old, new))
        return steps

    def _optimizer_value(self, name: str):
        """What the optimizer trains with now (a scheduler may have moved it from the project's)."""
        group = self.optimizer.param_groups[0]
        return list(group["betas"]) if name == "betas" else group[name]

    def _set_optimizer(self, name: str, old, new) -> None:
        # a schedule goes on scaled: its later rates by new / old, as if it had started there
        ratio = new / old if name == "lr" and old else None
        for group in self.optimizer.param_groups:
            if name == "lr":
                if self.scheduler is not None and ratio is not None:
                    for key in ("initial_lr", "max_lr", "min_lr"):
                        if key in group:
                            group[key] *= ratio
                group["lr"] = new
            elif name == "betas":
                group["betas"] = tuple(new)
            else:
                group["momentum"] = new
                if isinstance(self.optimizer, torch.optim.RMSprop) and new > 0:
                    for p in group["params"]:   # RMSprop makes its buffer only when built with momentum
                        state = self.optimizer.state.get(p)
                        if state and "momentum_buffer" not in state:
                            state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if ratio is not None and self.scheduler is not None and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr * ratio for lr in self.scheduler.base_lrs]

    def _regenerate(self) -> None:
        """The data again from its seed with the project's new settings (a synthetic set's noise):
        the same points, split the same way, jittered otherwise."""
        s = self._setup
        dataset = datasets.load(self.project.data, s.device)
        s.y_train = encode_targets(dataset.y_train, s.plan, dataset.info.n_classes)
        s.y_val = encode_targets(dataset.y_val, s.plan, dataset.info.n_classes)
        s.batches.replace(dataset.x_train, s.y_train)
        s.dataset = self._dataset = dataset

    def _wait_while_paused(self) -> float:
        start = time.perf_counter()
        self._held.set()
        try:
            self._running.wait()
        finally:
            self._held.clear()
        return time.perf_counter() - start

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _scheduler_every(self) -> str | None:
        sched = self.project.training.scheduler
        return SCHEDULERS[sched.type].every if sched else None

    def _step_epoch_scheduler(self, metric: float) -> None:
        every = self._scheduler_every()
        if every == PLATEAU:
            self.scheduler.step(metric)
        elif every is not None and every != STEP:
            self.scheduler.step()

    def _stopped(self, epoch: int, step: int, good: "_Snapshot", window: list) -> EndEvent:
        if window and not math.isfinite(torch.stack(window).sum().item()):
            return self._non_finite(float("nan"), epoch, step, good)
        return EndEvent(STOPPED, f"stopped by the user at epoch {epoch}, step {step}", self.epoch)

    def _non_finite(self, value: float, epoch: int, step: int, good: "_Snapshot") -> EndEvent:
        good.restore(self.model)
        self._optimizer_ok = False
        self.progress = None
        lr = self.project.training.optimizer.params.get("lr")
        hint = (
            f"the learning rate ({lr:g}) is probably too high — try {lr / 10:g}"
            if isinstance(lr, (int, float))
            else "lower the learning rate"
        )
        reason = (
            f"the loss became {value} at epoch {epoch}, step {step}: {hint}, or add gradient "
            f"clipping. The weights were restored to the last good ones (epoch {good.epoch}, "
            f"step {good.step})."
        )
        return EndEvent(FAILED, reason, self.epoch)

    @property
    def optimizer_state_valid(self) -> bool:
        """False after a non-finite loss: the optimizer's moments may hold NaN, so don't save them."""
        return self._optimizer_ok


class _Snapshot:
    """The last weights known to give a finite loss, copied into preallocated buffers.

    The weights after a reported step have not given a loss yet (the step's loss came from the
    weights before it), so a copy taken at a report stays pending until a later finite report
    shows they were trained on without harm; only then does it become the good one."""

    def __init__(self, model: nn.Module):
        self._model = model
        self.state = _copy_state(model)
        self._pending = _copy_state(model)
        self._pending_at: tuple[int, int] | None = None
        self.epoch, self.step = 0, 0
        self.taken = time.perf_counter()

    def take(self, epoch: int, step: int) -> None:
        """After a finite report: the pending copy becomes good, the current weights pending."""
        if self._pending_at == (epoch, step):
            return   # no step since the last copy: nothing new is known
        if self._pending_at is not None:
            self.state, self._pending = self._pending, self.state
            self.epoch, self.step = self._pending_at
        self._copy_into(self._pending)
        self._pending_at, self.taken = (epoch, step), time.perf_counter()

    def confirm(self, epoch: int, step: int) -> None:
        """The current weights themselves gave a finite loss: they are good now."""
        self._copy_into(self.state)
        self._pending_at = None
        self.epoch, self.step, self.taken = epoch, step, time.perf_counter()

    def _copy_into(self, buffers: dict) -> None:
        for value, source in zip(buffers.values(), self._model.state_dict().values()):
            value.copy_(source)

    def restore(self, model: nn.Module) -> None:
        model.load_state_dict(self.state)


def _match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state its parameter's strides: a checkpoint's moments may be laid out
    otherwise (channels-last or not), and the fused kernels pair elements by memory position."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in state.items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def _copy_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _new_history(previous: dict | None) -> dict:
    history = {"status": None, "reason": "", "epochs": [], "test_accuracy": None, "steps": []}
    if previous:
        history["epochs"] = list(previous.get("epochs", []))
        history["steps"] = list(previous.get("steps", []))
        for key in ("penalties", "changes"):   # only runs that had them carry them
            if previous.get(key):
                history[key] = copy.deepcopy(list(previous[key]))
    return history


def _labels(yb: torch.Tensor, plan: TargetPlan) -> torch.Tensor:
    """The class indices of a batch of encoded targets (what count_correct compares with)."""
    if plan.encode == "onehot":
        return yb.argmax(1)
    if plan.encode == "column":
        return yb[:, 0].long()
    return yb
