# source: pytorch/tutorials intermediate_source/ensembling.py @ 1dc22dff39bc8f6c862783393b70ca1e1b8ed516 (BSD-3-Clause)
# input: 1, 28, 28
# model: SimpleMLP()
# kind: class
# Here's a simple MLP
class SimpleMLP(nn.Module):
    def __init__(self):
        super(SimpleMLP, self).__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = x.flatten(1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        x = F.relu(x)
        x = self.fc3(x)
        return x
