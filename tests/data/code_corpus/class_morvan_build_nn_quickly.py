# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/303_build_nn_quickly.py @ 4e5122c3734dcdc9ace164c2a87fbd412ca1d431 (MIT)
# input: 1
# model: Net(1, 10, 1)
# kind: class
import torch
import torch.nn.functional as F


# replace following class code with an easy sequential network
class Net(torch.nn.Module):
    def __init__(self, n_feature, n_hidden, n_output):
        super(Net, self).__init__()
        self.hidden = torch.nn.Linear(n_feature, n_hidden)   # hidden layer
        self.predict = torch.nn.Linear(n_hidden, n_output)   # output layer

    def forward(self, x):
        x = F.relu(self.hidden(x))      # activation function for hidden layer
        x = self.predict(x)             # linear output
        return x

net1 = Net(1, 10, 1)
