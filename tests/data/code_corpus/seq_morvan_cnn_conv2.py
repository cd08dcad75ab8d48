# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/401_CNN.py @ 2ae0c0fa6a8f3918b74dca0fb1eb94e3dad1cce0 (MIT)
# input: 16, 14, 14
# model: self.conv2
# kind: sequential
        self.conv2 = nn.Sequential(         # input shape (1, 14, 14)
            nn.Conv2d(16, 32, 5, 1, 2),     # output shape (32, 14, 14)
            nn.ReLU(),                      # activation
            nn.MaxPool2d(2),                # output shape (32, 7, 7)
        )
