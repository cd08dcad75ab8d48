# source: pytorch/pytorch torch/nn/modules/module.py @ 00139f92d3170eee5bb89c16b6106b553ddd3dcb (BSD-3-Clause)
# input: 1, 28, 28
# model: Model()
# kind: class
        import torch.nn as nn
        import torch.nn.functional as F

        class Model(nn.Module):
            def __init__(self):
                super(Model, self).__init__()
                self.conv1 = nn.Conv2d(1, 20, 5)
                self.conv2 = nn.Conv2d(20, 20, 5)

            def forward(self, x):
               x = F.relu(self.conv1(x))
               return F.relu(self.conv2(x))
