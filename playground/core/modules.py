"""Recurrent layers that return one tensor, so they fit in an nn.Sequential.

torch's RNN, LSTM and GRU return `(output, hidden)`; a Sequential passes one
tensor on. These subclasses keep torch's parameters (the state_dict keys are
torch's own, so weights load into a plain nn.LSTM) and add one choice: pass on
the last time step (for classifying a sequence) or the whole sequence (to
stack another recurrent layer).
"""

from __future__ import annotations

import torch
from torch import nn

OUTPUTS = ("last", "sequence")


class _SequenceOutput:
    """Mixed in before torch's class: same constructor plus `output`, forward returns one tensor."""

    def __init__(self, *args, output: str = "last", **kwargs):
        super().__init__(*args, **kwargs)
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = super().forward(x)
        if self.output == "sequence":
            return y
        if self.bidirectional:
            # The backward direction has read the whole sequence at step 0, not at the end.
            h = self.hidden_size
            return torch.cat((y[:, -1, :h], y[:, 0, h:]), dim=-1)
        return y[:, -1]

    def extra_repr(self) -> str:
        return super().extra_repr() + f", output={self.output!r}"


class RNN(_SequenceOutput, nn.RNN):
    """nn.RNN passing on one tensor."""


class LSTM(_SequenceOutput, nn.LSTM):
    """nn.LSTM passing on one tensor."""


class GRU(_SequenceOutput, nn.GRU):
    """nn.GRU passing on one tensor."""
