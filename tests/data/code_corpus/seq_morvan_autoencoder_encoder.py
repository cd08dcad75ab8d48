# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/404_autoencoder.py @ 468039f49c95721b59c2d7138355e08d7b4b2cb8 (MIT)
# input: 784
# model: self.encoder
# kind: sequential
        self.encoder = nn.Sequential(
            nn.Linear(28*28, 128),
            nn.Tanh(),
            nn.Linear(128, 64),
            nn.Tanh(),
            nn.Linear(64, 12),
            nn.Tanh(),
            nn.Linear(12, 3),   # compress to 3 features which can be visualized in plt
        )
