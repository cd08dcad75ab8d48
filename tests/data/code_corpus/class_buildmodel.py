# source: pytorch/tutorials beginner_source/basics/buildmodel_tutorial.py @ c53e7d4efc0e39e455c531d21ec7db28ba220214 (BSD-3-Clause)
# input: 28, 28
# model: NeuralNetwork()
# kind: class
class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits
