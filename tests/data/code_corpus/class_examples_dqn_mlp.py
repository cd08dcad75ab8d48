# source: pytorch/examples reinforcement_learning/dqn.py @ d60f6f8f417da1231a825f9365f5f16bb3af4d41 (BSD-3-Clause)
# input: 4
# model: LinearOutputMLP(4, [128, 128], 2)
# kind: class
class LinearOutputMLP(nn.Module):
    def __init__(self, input_dim, hidden_structure, output_dim):
        super(LinearOutputMLP, self).__init__()
        all_layers_dim = [input_dim] + hidden_structure
        layers = []

        for idx in range(len(all_layers_dim) - 1):
            n_in = all_layers_dim[idx]
            n_out = all_layers_dim[idx + 1]

            layers.append(nn.Linear(n_in, n_out))
            layers.append(nn.PReLU())
            # layers.append(nn.BatchNorm1d(n_out))
            layers.append(nn.Dropout(0.5))
        layers.append(nn.Linear(n_out, output_dim))

        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)
