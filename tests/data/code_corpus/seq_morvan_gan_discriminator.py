# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/406_GAN.py @ 4e5122c3734dcdc9ace164c2a87fbd412ca1d431 (MIT)
# input: 15
# model: D
# kind: sequential
N_IDEAS = 5             # think of this as number of ideas for generating an art work (Generator)
ART_COMPONENTS = 15     # it could be total point G can draw in the canvas

D = nn.Sequential(                      # Discriminator
    nn.Linear(ART_COMPONENTS, 128),     # receive art work either from the famous artist or a newbie like G
    nn.ReLU(),
    nn.Linear(128, 1),
    nn.Sigmoid(),                       # tell the probability that the art work is made by artist
)
