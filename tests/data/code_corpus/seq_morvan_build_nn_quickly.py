# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/303_build_nn_quickly.py @ 4e5122c3734dcdc9ace164c2a87fbd412ca1d431 (MIT)
# input: 1
# model: net2
# kind: sequential
# easy and fast way to build your network
net2 = torch.nn.Sequential(
    torch.nn.Linear(1, 10),
    torch.nn.ReLU(),
    torch.nn.Linear(10, 1)
)
