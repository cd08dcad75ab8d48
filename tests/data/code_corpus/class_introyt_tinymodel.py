# source: pytorch/tutorials beginner_source/introyt/modelsyt_tutorial.py @ 108cc1aa7d1eeab1ecea696fd418f1b1a0eaa6e3 (BSD-3-Clause)
# input: 100
# model: TinyModel()
# kind: class
import torch

class TinyModel(torch.nn.Module):
    
    def __init__(self):
        super(TinyModel, self).__init__()
        
        self.linear1 = torch.nn.Linear(100, 200)
        self.activation = torch.nn.ReLU()
        self.linear2 = torch.nn.Linear(200, 10)
        self.softmax = torch.nn.Softmax()
    
    def forward(self, x):
        x = self.linear1(x)
        x = self.activation(x)
        x = self.linear2(x)
        x = self.softmax(x)
        return x

tinymodel = TinyModel()
