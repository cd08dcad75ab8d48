# source: pytorch/tutorials beginner_source/basics/buildmodel_tutorial.py @ c53e7d4efc0e39e455c531d21ec7db28ba220214 (BSD-3-Clause)
# input: 784
# model: self.linear_relu_stack
# kind: sequential
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )
