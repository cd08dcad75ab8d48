# source: pytorch/pytorch torch/nn/modules/lazy.py @ 020ccced0de22268e5f6655b92e1fa1af3ad2b1a (BSD-3-Clause)
# input: 10
# model: LazyMLP()
# kind: class
    >>> class LazyMLP(torch.nn.Module):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.fc1 = torch.nn.LazyLinear(10)
    ...         self.relu1 = torch.nn.ReLU()
    ...         self.fc2 = torch.nn.LazyLinear(1)
    ...         self.relu2 = torch.nn.ReLU()
    ...
    ...     def forward(self, input):
    ...         x = self.relu1(self.fc1(input))
    ...         y = self.relu2(self.fc2(x))
    ...         return y
