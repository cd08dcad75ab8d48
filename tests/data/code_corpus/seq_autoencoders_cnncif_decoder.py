# source: pytorch/tutorials beginner_source/autoencoders_tutorial.py @ 4008cba53e4b031e3d5f64b9365fa33052af9b73 (BSD-3-Clause)
# input: 100
# model: self.decoder
# kind: sequential
        self.decoder = nn.Sequential(
            nn.Linear(in_features=100, out_features=512*6*6),
            nn.Unflatten(1, (512, 6, 6)),
            nn.ConvTranspose2d(in_channels=512, out_channels=128, kernel_size=(3,3), stride=(2,2)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=(5,5), stride=(1,1)),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=64, out_channels=32, kernel_size=(5,5), stride=(2,2), padding=2),
            nn.LeakyReLU(),
            nn.ConvTranspose2d(in_channels=32, out_channels=3, kernel_size=(4,4), stride=(1,1), padding=2),
            nn.Sigmoid()
        )
