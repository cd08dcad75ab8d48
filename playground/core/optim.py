"""Optimizers and learning-rate schedulers: their typed hyper-parameters and how to build them."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import TrainingError
from .params import BOOL, CHOICE, FLOAT, FLOATS, INT, Choice, Param


def _lr(default: float) -> Param:
    return Param("lr", FLOAT, default, "Learning rate: the size of each step.", 1e-8, 100.0, log=True)


_BETAS = Param("betas", FLOATS, [0.9, 0.999], "Decay of the running averages of the gradient and its square.",
               0.0, 0.99999, dims=2)
_WEIGHT_DECAY = Param("weight_decay", FLOAT, 0.0, "L2 penalty pulling weights toward zero.", 0.0, 10.0)


def _eps(default: float) -> Param:
    return Param("eps", FLOAT, default, "Added to the denominator for numerical stability.", 1e-12, 1.0, log=True)


OPTIMIZERS: dict[str, Choice] = {
    c.name: c
    for c in (
        Choice("SGD", "Stochastic gradient descent, with optional (Nesterov) momentum.", (
            _lr(0.01),
            Param("momentum", FLOAT, 0.0, "Share of the previous step kept (0.9 is common).", 0.0, 0.9999),
            Param("dampening", FLOAT, 0.0, "Damps the gradient's share of the momentum.", 0.0, 1.0),
            _WEIGHT_DECAY,
            Param("nesterov", BOOL, False, "Look ahead along the momentum (needs momentum > 0)."),
        )),
        Choice("Adam", "Adaptive moments: momentum plus a per-weight step size.", (
            _lr(0.001), _BETAS, _eps(1e-8), _WEIGHT_DECAY,
            Param("amsgrad", BOOL, False, "Use the maximum of past squared gradients."),
        )),
        Choice("AdamW", "Adam with decoupled weight decay.", (
            _lr(0.001), _BETAS, _eps(1e-8),
            Param("weight_decay", FLOAT, 0.01, "Decoupled decay pulling weights toward zero.", 0.0, 10.0),
            Param("amsgrad", BOOL, False, "Use the maximum of past squared gradients."),
        )),
        Choice("RMSprop", "Divides each step by a running average of the squared gradient.", (
            _lr(0.01),
            Param("alpha", FLOAT, 0.99, "Smoothing of the squared-gradient average.", 0.0, 0.99999),
            _eps(1e-8), _WEIGHT_DECAY,
            Param("momentum", FLOAT, 0.0, "Momentum on the scaled step.", 0.0, 0.9999),
            Param("centered", BOOL, False, "Normalise by the gradient's variance instead."),
        )),
        Choice("Adagrad", "Per-weight step sizes that shrink with the sum of squared gradients.", (
            _lr(0.01),
            Param("lr_decay", FLOAT, 0.0, "Learning-rate decay per step.", 0.0, 1.0),
            _WEIGHT_DECAY, _eps(1e-10),
        )),
        Choice("Adadelta", "Adagrad with a running window instead of a sum.", (
            _lr(1.0),
            Param("rho", FLOAT, 0.9, "Smoothing of the running averages.", 0.0, 0.99999),
            _eps(1e-6), _WEIGHT_DECAY,
        )),
        Choice("Adamax", "Adam with the infinity norm.", (_lr(0.002), _BETAS, _eps(1e-8), _WEIGHT_DECAY)),
    )
}

EPOCH, STEP, PLATEAU = "epoch", "step", "plateau"


@dataclass(frozen=True)
class SchedulerType(Choice):
    every: str = EPOCH   # when it steps: each epoch, each batch, or each epoch on the validation loss


SCHEDULERS: dict[str, SchedulerType] = {
    s.name: s
    for s in (
        SchedulerType("StepLR", "Multiplies the learning rate by gamma every step_size epochs.", (
            Param("step_size", INT, 10, "Epochs between decays.", 1, 1_000_000),
            Param("gamma", FLOAT, 0.1, "Factor applied at each decay.", 0.0, 1.0),
        )),
        SchedulerType("CosineAnnealingLR", "Lowers the learning rate along a cosine to eta_min.", (
            Param("T_max", INT, 0, "Epochs to reach eta_min (0: all epochs of the run).", 0, 1_000_000),
            Param("eta_min", FLOAT, 0.0, "The lowest learning rate.", 0.0, 100.0),
        )),
        SchedulerType("OneCycleLR", "Warms up to max_lr, then anneals far below the start; steps every batch.", (
            Param("max_lr", FLOAT, 0.1, "Peak learning rate.", 1e-8, 100.0, log=True),
            Param("pct_start", FLOAT, 0.3, "Share of the run spent warming up.", 0.0, 1.0),
            Param("anneal_strategy", CHOICE, "cos", "Shape of the curve.", choices=("cos", "linear")),
            Param("div_factor", FLOAT, 25.0, "Start at max_lr / div_factor.", 1.0, 1e6),
            Param("final_div_factor", FLOAT, 1e4, "End at the start / final_div_factor.", 1.0, 1e9),
        ), every=STEP),
        SchedulerType("ReduceLROnPlateau", "Lowers the learning rate when the validation loss stops improving.", (
            Param("factor", FLOAT, 0.1, "Factor applied at each reduction.", 0.0, 0.9999),
            Param("patience", INT, 10, "Epochs without improvement before reducing.", 0, 1_000_000),
            Param("threshold", FLOAT, 1e-4, "Smallest relative change counted as improvement.", 0.0, 1.0),
            Param("min_lr", FLOAT, 0.0, "The learning rate never goes below this.", 0.0, 100.0),
        ), every=PLATEAU),
    )
}


# Optimizers with a fused kernel (one kernel over all parameters, no per-tensor Python) on these
# devices in torch >= 2.4; same update rule, results equal to float rounding (tests/core compare).
FUSED = ("SGD", "Adam", "AdamW")
_FUSED_DEVICES = ("cpu", "cuda")
_FUSED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def build_optimizer(name: str, params: dict, parameters, fused: bool | None = None) -> torch.optim.Optimizer:
    """torch.optim's `name` with `params`; fused kernels where torch has them (`fused=False`: never)."""
    if name == "SGD" and params.get("nesterov") and (params["momentum"] <= 0 or params["dampening"] != 0):
        raise TrainingError("SGD with nesterov needs momentum above 0 and dampening 0")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    parameters = list(parameters)
    if fused is not False and fusable(name, parameters):
        kwargs["fused"] = True
    return getattr(torch.optim, name)(parameters, **kwargs)


def fusable(name: str, parameters: list) -> bool:
    """True when torch's fused kernel can take these parameters: one supported device, floating dtypes."""
    tensors = [p["params"] if isinstance(p, dict) else p for p in parameters]
    tensors = [t for group in tensors for t in (group if isinstance(group, (list, tuple)) else [group])]
    return (
        name in FUSED
        and bool(tensors)
        and len({t.device for t in tensors}) == 1
        and tensors[0].device.type in _FUSED_DEVICES
        and all(t.dtype in _FUSED_DTYPES for t in tensors)
    )


def build_scheduler(name: str, params: dict, optimizer, epochs: int, steps_per_epoch: int):
    kwargs = dict(params)
    if name == "CosineAnnealingLR" and kwargs["T_max"] == 0:
        kwargs["T_max"] = epochs
    if name == "OneCycleLR":
        kwargs["total_steps"] = epochs * steps_per_epoch
        # Adagrad and Adadelta have no momentum to cycle; torch refuses them unless told not to
        kwargs["cycle_momentum"] = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
    return getattr(torch.optim.lr_scheduler, name)(optimizer, **kwargs)


def schedule_ended(scheduler) -> bool:
    """True when a schedule with an end has reached it: a cosine at T_max, a one-cycle at its last step."""
    if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        return scheduler.last_epoch >= scheduler.total_steps
    if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        return scheduler.last_epoch >= scheduler.T_max
    return False


def available_devices() -> list[str]:
    """Devices torch can use on this machine, CPU first."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def mixed_precision_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype that mixed precision trains in on this device, or None where it would not pay.

    CUDA: float16 with a GradScaler. CPU: bfloat16 (float32's exponent, so no scaler), but only where
    oneDNN has bfloat16 kernels (AVX-512 BF16 or AMX): there a convolution step takes about half the
    time (a 32/64-channel CNN on 2 Zen 4 cores: 37 ms against 15 ms a batch of 128); elsewhere the
    emulation is slower than float32."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_bfloat16():
        return torch.bfloat16
    return None


def cpu_has_bfloat16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX) that oneDNN's kernels use.

    Not torch's `_is_mkldnn_bf16_supported`: that is true on any AVX-512 CPU, emulation included."""
    try:
        capabilities = torch.cpu.get_capabilities()
    except (AttributeError, RuntimeError):   # an older torch, or a CPU cpuinfo cannot read
        return False
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def check_device(device: str) -> torch.device:
    """The torch.device for a name, or TrainingError saying which devices exist here."""
    available = available_devices()
    name = "cuda:0" if device == "cuda" else device
    if name not in available:
        if name.startswith("cuda"):
            why = "no CUDA GPU is available" if not torch.cuda.is_available() else "there is no such GPU"
        elif name == "mps":
            why = "Apple's Metal (MPS) is not available"
        else:
            why = "it is not a device name torch knows"
        raise TrainingError(
            f"device {device!r} cannot be used on this machine: {why} — choose one of {', '.join(available)}"
        )
    return torch.device(name)
