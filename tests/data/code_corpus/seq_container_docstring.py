# source: pytorch/pytorch torch/nn/modules/container.py @ 67de33e9c168ad1e804ba5abaad5284ddf698d71 (BSD-3-Clause)
# input: 1, 28, 28
# model: model
# kind: sequential
        model = nn.Sequential(
                  nn.Conv2d(1,20,5),
                  nn.ReLU(),
                  nn.Conv2d(20,64,5),
                  nn.ReLU()
                )
