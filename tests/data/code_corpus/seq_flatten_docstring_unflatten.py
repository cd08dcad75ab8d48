# source: pytorch/pytorch torch/nn/modules/flatten.py @ 060ace292e2211450b7515881cc6e453af315f35 (BSD-3-Clause)
# input: 50
# model: m
# kind: sequential
        >>> m = nn.Sequential(
        >>>     nn.Linear(50, 50),
        >>>     nn.Unflatten(1, (2, 5, 5))
        >>> )
