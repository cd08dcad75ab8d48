# source: pytorch/tutorials beginner_source/knowledge_distillation_tutorial.py @ 035c541fa706ab2b1eca57e0625b5bbdca5e04cb (BSD-3-Clause)
# input: 3, 32, 32
# model: self.features
# kind: sequential
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(16, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
