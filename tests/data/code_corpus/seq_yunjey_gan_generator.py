# source: yunjey/pytorch-tutorial tutorials/03-advanced/generative_adversarial_network/main.py @ 48ebfa38b074628eec27142f440f5b6bb0c6e9bc (MIT)
# input: 64
# model: G
# kind: sequential
# Hyper-parameters
latent_size = 64
hidden_size = 256
image_size = 784

# Generator 
G = nn.Sequential(
    nn.Linear(latent_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, hidden_size),
    nn.ReLU(),
    nn.Linear(hidden_size, image_size),
    nn.Tanh())
