# source: yunjey/pytorch-tutorial tutorials/02-intermediate/convolutional_neural_network/main.py @ 78c6afe681c4ff5095ef13662c02a7e369b1bcbd (MIT)
# input: 1, 28, 28
# model: self.layer1
# kind: sequential
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
