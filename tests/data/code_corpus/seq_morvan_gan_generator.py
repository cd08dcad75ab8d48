# source: MorvanZhou/PyTorch-Tutorial tutorial-contents/406_GAN.py @ 4e5122c3734dcdc9ace164c2a87fbd412ca1d431 (MIT)
# input: 5
# model: G
# kind: sequential
N_IDEAS = 5             # think of this as number of ideas for generating an art work (Generator)
ART_COMPONENTS = 15     # it could be total point G can draw in the canvas

G = nn.Sequential(                      # Generator
    nn.Linear(N_IDEAS, 128),            # random ideas (could from normal distribution)
    nn.ReLU(),
    nn.Linear(128, ART_COMPONENTS),     # making a painting from these random ideas
)
