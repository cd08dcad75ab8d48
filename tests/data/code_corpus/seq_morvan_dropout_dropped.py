# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/503_dropout.py @ 4e5122c3734dcdc9ace164c2a87fbd412ca1d431 (MIT)
# input: 1
# model: net_dropped
# kind: sequential
N_SAMPLES = 20
N_HIDDEN = 300

net_dropped = torch.nn.Sequential(
    torch.nn.Linear(1, N_HIDDEN),
    torch.nn.Dropout(0.5),  # drop 50% of the neuron
    torch.nn.ReLU(),
    torch.nn.Linear(N_HIDDEN, N_HIDDEN),
    torch.nn.Dropout(0.5),  # drop 50% of the neuron
    torch.nn.ReLU(),
    torch.nn.Linear(N_HIDDEN, 1),
)
