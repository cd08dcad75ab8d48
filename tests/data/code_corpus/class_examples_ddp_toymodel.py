# source: pytorch/examples distributed/ddp/example.py @ 08f4d851e2dc01cd4a71f9537590bf47d55e3821 (BSD-3-Clause)
# input: 10
# model: ToyModel()
# kind: class
class ToyModel(nn.Module):
    def __init__(self):
        super(ToyModel, self).__init__()
        self.net1 = nn.Linear(10, 10)
        self.relu = nn.ReLU()
        self.net2 = nn.Linear(10, 5)

    def forward(self, x):
        return self.net2(self.relu(self.net1(x)))
