# source: pytorch/tutorials beginner_source/nn_tutorial.py @ 05e7ce2c19e72d482475d91d458db210cdacec38 (BSD-3-Clause)
# input: 784
# model: Mnist_Logistic()
# kind: class
class Mnist_Logistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)
