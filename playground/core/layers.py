"""The layer catalogue: every layer type, its typed parameters, and how to build its nn.Module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from . import modules
from .params import BOOL, CHOICE, FLOAT, INT, INTS, SIZE, Param

# Categories in palette order.
CATEGORIES = (
    "Linear",
    "Convolution",
    "Pooling",
    "Reshape",
    "Normalization",
    "Dropout",
    "Activation",
    "Recurrent",
)

# Input ranks (without the batch dimension) and how to say them.
RANK_NAMES = {
    1: "(features,)",
    2: "(channels, length)",
    3: "(channels, height, width)",
}

BIG = 2**31 - 1  # an int parameter's ceiling; absurd sizes are refused by their memory, not here


@dataclass(frozen=True)
class LayerType:
    name: str                          # the torch.nn class name
    category: str
    doc: str                           # one line for tooltips
    params: tuple[Param, ...] = ()     # what the user sets
    infer: Callable[[tuple[int, ...]], dict] | None = None  # input-size arguments from the input shape
    ranks: tuple[int, ...] | None = None   # allowed input ranks without batch; None: any
    fixed: dict = field(default_factory=dict)  # arguments Playground sets (batch_first=True)
    module: Callable[..., nn.Module] | None = None  # defaults to getattr(nn, name)

    @property
    def inferred_names(self) -> tuple[str, ...]:
        """Constructor arguments taken from the input shape (shown read-only, never typed)."""
        return _INFERRED_NAMES.get(self.name, ())

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def build(self, input_shape: tuple[int, ...], params: dict) -> nn.Module:
        """Construct the module for `input_shape` from checked `params` (see shapes.check_layer)."""
        factory = self.module or getattr(nn, self.name)
        kwargs = {**(self.infer(input_shape) if self.infer else {}), **self.fixed}
        for name, value in params.items():
            kwargs[name] = tuple(value) if isinstance(value, list) else value
        return factory(**kwargs)


# --- shared parameter declarations --------------------------------------------------------


def _size(name: str, default, dims: int, help: str, minimum: int = 1, optional=False) -> Param:
    return Param(name, SIZE, default, help, minimum=minimum, maximum=BIG, dims=dims, optional=optional)


def _conv_params(dims: int, transpose: bool = False) -> tuple[Param, ...]:
    params = [
        Param("out_channels", INT, 8, "Number of filters (output channels).", 1, BIG),
        _size("kernel_size", 3, dims, "Size of each filter."),
        _size("stride", 1, dims, "Step between filter positions."),
        _size("padding", 0, dims, "Zeros added on each side of the input.", minimum=0),
    ]
    if transpose:
        params.append(
            _size("output_padding", 0, dims, "Extra size added to one side of the output.", minimum=0)
        )
    params += [
        _size("dilation", 1, dims, "Spacing between filter taps."),
        Param("groups", INT, 1, "Split channels into groups filtered separately.", 1, BIG),
        Param("bias", BOOL, True, "Learn an additive bias per output channel."),
    ]
    if not transpose:
        params.append(
            Param(
                "padding_mode",
                CHOICE,
                "zeros",
                "How padding values are made.",
                choices=("zeros", "reflect", "replicate", "circular"),
            )
        )
    return tuple(params)


def _pool_params(dims: int, average: bool) -> tuple[Param, ...]:
    params = [
        _size("kernel_size", 2, dims, "Size of each pooling window."),
        _size("stride", None, dims, "Step between windows (empty: the kernel size).", optional=True),
        _size("padding", 0, dims, "Padding on each side (at most half the kernel).", minimum=0),
    ]
    if not average:
        params.append(_size("dilation", 1, dims, "Spacing between window elements."))
    params.append(Param("ceil_mode", BOOL, False, "Round the output size up instead of down."))
    if average:
        params.append(Param("count_include_pad", BOOL, True, "Count padding zeros in the average."))
    return tuple(params)


def _norm_params(affine_name: str = "affine", running: bool = True) -> tuple[Param, ...]:
    params = [Param("eps", FLOAT, 1e-5, "Added to the variance for numerical stability.", 1e-12, 1.0, log=True)]
    if running:
        params.append(Param("momentum", FLOAT, 0.1, "Weight of each batch in the running statistics.", 0.0, 1.0))
    params.append(Param(affine_name, BOOL, True, "Learn a scale and shift."))
    if running:
        params.append(
            Param("track_running_stats", BOOL, True, "Keep running mean/variance for eval mode.")
        )
    return tuple(params)


def _recurrent_params(vanilla: bool) -> tuple[Param, ...]:
    params = [
        Param("hidden_size", INT, 32, "Features in the hidden state.", 1, BIG),
        Param("num_layers", INT, 1, "Recurrent layers stacked inside this one.", 1, 64),
    ]
    if vanilla:
        params.append(
            Param("nonlinearity", CHOICE, "tanh", "Activation inside the cell.", choices=("tanh", "relu"))
        )
    params += [
        Param("bias", BOOL, True, "Learn bias weights."),
        Param("bidirectional", BOOL, False, "Also read the sequence backwards."),
        Param("dropout", FLOAT, 0.0, "Dropout between stacked layers (needs num_layers > 1).", 0.0, 1.0),
        Param(
            "output",
            CHOICE,
            "last",
            "Pass on the last time step, or the whole sequence (to stack another recurrent layer).",
            choices=modules.OUTPUTS,
        ),
    ]
    return tuple(params)


def _dim(default: int = 1) -> Param:
    return Param("dim", INT, default, "Dimension (counting the batch as 0) to normalise over.", -8, 8)


def _p(default: float = 0.5) -> Param:
    return Param("p", FLOAT, default, "Probability of zeroing an element while training.", 0.0, 1.0)


def _channels(arg: str) -> Callable[[tuple[int, ...]], dict]:
    return lambda shape: {arg: shape[0]}


def _last(arg: str) -> Callable[[tuple[int, ...]], dict]:
    return lambda shape: {arg: shape[-1]}


_INFERRED_NAMES = {
    "Linear": ("in_features",),
    "Conv1d": ("in_channels",),
    "Conv2d": ("in_channels",),
    "ConvTranspose2d": ("in_channels",),
    "BatchNorm1d": ("num_features",),
    "BatchNorm2d": ("num_features",),
    "LayerNorm": ("normalized_shape",),
    "GroupNorm": ("num_channels",),
    "RNN": ("input_size",),
    "LSTM": ("input_size",),
    "GRU": ("input_size",),
}


def _catalogue() -> dict[str, LayerType]:
    L = LayerType
    entries = [
        # Linear
        L(
            "Linear",
            "Linear",
            "Fully connected layer: y = x·Wᵀ + b on the last dimension.",
            (
                Param("out_features", INT, 10, "Number of output features.", 1, BIG),
                Param("bias", BOOL, True, "Learn an additive bias."),
            ),
            infer=_last("in_features"),
        ),
        # Convolution
        L("Conv1d", "Convolution", "1-D convolution over (channels, length).",
          _conv_params(1), infer=_channels("in_channels"), ranks=(2,)),
        L("Conv2d", "Convolution", "2-D convolution over (channels, height, width).",
          _conv_params(2), infer=_channels("in_channels"), ranks=(3,)),
        L("ConvTranspose2d", "Convolution", "Transposed 2-D convolution: learns to upsample.",
          _conv_params(2, transpose=True), infer=_channels("in_channels"), ranks=(3,)),
        # Pooling
        L("MaxPool1d", "Pooling", "Maximum over sliding windows of a sequence.",
          _pool_params(1, average=False), ranks=(2,)),
        L("MaxPool2d", "Pooling", "Maximum over sliding windows of an image.",
          _pool_params(2, average=False), ranks=(3,)),
        L("AvgPool1d", "Pooling", "Average over sliding windows of a sequence.",
          _pool_params(1, average=True), ranks=(2,)),
        L("AvgPool2d", "Pooling", "Average over sliding windows of an image.",
          _pool_params(2, average=True), ranks=(3,)),
        L("AdaptiveAvgPool2d", "Pooling", "Average down to a fixed output size, whatever the input size.",
          (_size("output_size", 1, 2, "Height and width of the output."),), ranks=(3,)),
        # Reshape
        L("Flatten", "Reshape", "Flattens dimensions into one, e.g. (C, H, W) to C·H·W features.",
          (Param("start_dim", INT, 1, "First dimension to flatten (the batch is 0).", -8, 8),
           Param("end_dim", INT, -1, "Last dimension to flatten (-1: the last).", -8, 8))),
        L("Unflatten", "Reshape", "Splits one dimension into several, e.g. 784 features to (1, 28, 28).",
          (Param("dim", INT, 1, "Dimension to split (the batch is 0).", -8, 8),
           Param("unflattened_size", INTS, [1, 28, 28], "Sizes it is split into.", 1, BIG))),
        # Normalization
        L("BatchNorm1d", "Normalization", "Normalises each feature over the batch, for (features,) or (channels, length).",
          _norm_params(), infer=_channels("num_features"), ranks=(1, 2)),
        L("BatchNorm2d", "Normalization", "Normalises each channel over the batch and the image.",
          _norm_params(), infer=_channels("num_features"), ranks=(3,)),
        L("LayerNorm", "Normalization", "Normalises each sample over its last dimension.",
          (*_norm_params("elementwise_affine", running=False),
           Param("bias", BOOL, True, "Learn a shift (with elementwise_affine).")),
          infer=lambda shape: {"normalized_shape": (shape[-1],)}),
        L("GroupNorm", "Normalization", "Normalises groups of channels in each sample.",
          (Param("num_groups", INT, 2, "Number of channel groups (must divide the channels).", 1, BIG),
           *_norm_params(running=False)),
          infer=_channels("num_channels")),
        # Dropout
        L("Dropout", "Dropout", "Zeroes random elements while training; does nothing in eval mode.", (_p(),)),
        L("Dropout2d", "Dropout", "Zeroes whole random channels while training.", (_p(),), ranks=(3,)),
        # Activation
        L("ReLU", "Activation", "max(0, x)."),
        L("LeakyReLU", "Activation", "x for x > 0, negative_slope·x otherwise.",
          (Param("negative_slope", FLOAT, 0.01, "Slope for negative inputs.", 0.0, 1.0),)),
        L("PReLU", "Activation", "x for x > 0, a learned slope·x otherwise.",
          (Param("num_parameters", INT, 1, "Slopes to learn: 1, or one per input channel.", 1, BIG),
           Param("init", FLOAT, 0.25, "The slopes' starting value.", -1e6, 1e6))),
        L("ELU", "Activation", "x for x > 0, alpha·(eˣ − 1) otherwise.",
          (Param("alpha", FLOAT, 1.0, "Value approached for very negative inputs.", 0.0, 100.0),)),
        L("GELU", "Activation", "x·Φ(x), the smooth ReLU of transformers.",
          (Param("approximate", CHOICE, "none", "Exact or tanh approximation.", choices=("none", "tanh")),)),
        L("SiLU", "Activation", "x·sigmoid(x) (Swish)."),
        L("Sigmoid", "Activation", "1 / (1 + e⁻ˣ): squashes to (0, 1)."),
        L("Tanh", "Activation", "Hyperbolic tangent: squashes to (−1, 1)."),
        L("Softmax", "Activation", "Turns scores into probabilities that sum to 1.", (_dim(),)),
        L("LogSoftmax", "Activation", "Log of Softmax; pairs with NLLLoss.", (_dim(),)),
        L("Softplus", "Activation", "log(1 + e^(beta·x)) / beta, a smooth ReLU.",
          (Param("beta", FLOAT, 1.0, "Sharpness.", 1e-6, 1e6, log=True),
           Param("threshold", FLOAT, 20.0, "Above this beta·x, the output is linear.", 0.0, 1e6))),
        L("Identity", "Activation", "Passes the input through unchanged."),
        # Recurrent
        L("RNN", "Recurrent", "Elman RNN over (time, features) sequences.",
          _recurrent_params(vanilla=True), infer=_last("input_size"), ranks=(2,),
          fixed={"batch_first": True}, module=modules.RNN),
        L("LSTM", "Recurrent", "Long short-term memory over (time, features) sequences.",
          _recurrent_params(vanilla=False), infer=_last("input_size"), ranks=(2,),
          fixed={"batch_first": True}, module=modules.LSTM),
        L("GRU", "Recurrent", "Gated recurrent unit over (time, features) sequences.",
          _recurrent_params(vanilla=False), infer=_last("input_size"), ranks=(2,),
          fixed={"batch_first": True}, module=modules.GRU),
    ]
    return {entry.name: entry for entry in entries}


LAYERS: dict[str, LayerType] = _catalogue()


def by_category() -> dict[str, list[LayerType]]:
    """The catalogue grouped for the palette, categories in a fixed order."""
    groups: dict[str, list[LayerType]] = {c: [] for c in CATEGORIES}
    for layer in LAYERS.values():
        groups[layer.category].append(layer)
    return groups

