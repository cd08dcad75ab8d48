# source: pytorch/pytorch torch/nn/modules/container.py @ 67de33e9c168ad1e804ba5abaad5284ddf698d71 (BSD-3-Clause)
# input: 10
# model: MyModule()
# kind: refused
        class MyModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.linears = nn.ModuleList([nn.Linear(10, 10) for i in range(10)])

            def forward(self, x):
                # ModuleList can act as an iterable, or be indexed using ints
                for i, l in enumerate(self.linears):
                    x = self.linears[i // 2](x) + l(x)
                return x
