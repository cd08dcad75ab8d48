# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/401_CNN.py @ 2ae0c0fa6a8f3918b74dca0fb1eb94e3dad1cce0 (MIT)
# input: 1, 28, 28
# model: self.conv1
# kind: sequential
        self.conv1 = nn.Sequential(         # input shape (1, 28, 28)
            nn.Conv2d(
                in_channels=1,              # input height
                out_channels=16,            # n_filters
                kernel_size=5,              # filter size
                stride=1,                   # filter movement/step
                padding=2,                  # if want same width and length of this image after con2d, padding=(kernel_size-1)/2 if stride=1
            ),                              # output shape (16, 28, 28)
            nn.ReLU(),                      # activation
            nn.MaxPool2d(kernel_size=2),    # choose max value in 2x2 area, output shape (16, 14, 14)
        )
