# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/404_autoencoder.py @ 468039f49c95721b59c2d7138355e08d7b4b2cb8 (MIT)
# input: 3
# model: self.decoder
# kind: sequential
        self.decoder = nn.Sequential(
            nn.Linear(3, 12),
            nn.Tanh(),
            nn.Linear(12, 64),
            nn.Tanh(),
            nn.Linear(64, 128),
            nn.Tanh(),
            nn.Linear(128, 28*28),
            nn.Sigmoid(),       # compress to a range (0, 1)
        )
