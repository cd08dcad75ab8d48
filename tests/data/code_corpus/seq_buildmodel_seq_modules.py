# source: pytorch/tutorials beginner_source/basics/buildmodel_tutorial.py @ c53e7d4efc0e39e455c531d21ec7db28ba220214 (BSD-3-Clause)
# input: 28, 28
# model: seq_modules
# kind: sequential
flatten = nn.Flatten()
layer1 = nn.Linear(in_features=28*28, out_features=20)
seq_modules = nn.Sequential(
    flatten,
    layer1,
    nn.ReLU(),
    nn.Linear(20, 10)
)
