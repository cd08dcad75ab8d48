# source: pytorch/tutorials beginner_source/examples_nn/polynomial_nn.py @ 90fb0068a1941e996b100fd9b4e05dbaa497076e (BSD-3-Clause)
# input: 3
# model: model
# kind: sequential
model = torch.nn.Sequential(
    torch.nn.Linear(3, 1),
    torch.nn.Flatten(0, 1)
)
