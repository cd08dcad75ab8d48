# source: yunjey/pytorch-tutorial tutorials/03-advanced/generative_adversarial_network/main.py @ 48ebfa38b074628eec27142f440f5b6bb0c6e9bc (MIT)
# input: 784
# model: D
# kind: sequential
# Hyper-parameters
latent_size = 64
hidden_size = 256
image_size = 784

# Discriminator
D = nn.Sequential(
    nn.Linear(image_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, hidden_size),
    nn.LeakyReLU(0.2),
    nn.Linear(hidden_size, 1),
    nn.Sigmoid())
