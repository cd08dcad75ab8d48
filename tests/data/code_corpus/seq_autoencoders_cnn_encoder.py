# source: pytorch/tutorials beginner_source/autoencoders_tutorial.py @ 4008cba53e4b031e3d5f64b9365fa33052af9b73 (BSD-3-Clause)
# input: 1, 28, 28
# model: self.encoder
# kind: sequential
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels=1, out_channels=16, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=16, out_channels=64, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.Conv2d(in_channels=64, out_channels=128, kernel_size=(2,2), stride=(2,2)),
            nn.LeakyReLU(),
            nn.Flatten(),
            nn.Linear(in_features=128*10*10, out_features=144)
        )
