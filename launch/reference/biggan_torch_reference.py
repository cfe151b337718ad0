"""Reference BigGAN train step in PyTorch, CPU: the nets of gans/nets/biggan.py and the step of
gans/methods/biggan.py at the default recipe of configs/biggan.py (fashion_mnist: 32x32x1 images,
10 classes, batch B = 64, n_critic = 2, ch = 16, no attention). Not part of gans: torch is not its
dependency; run it from a venv with a CPU torch (launch/compare_reference.sh biggan does).

    python biggan_torch_reference.py [B] [STEPS] [N_CRITIC] [CH]    (defaults 64 20 2 16)

Prints G's and D's parameter counts, then steps/s after 2 warm-up steps.

Nets (NCHW; every layer spectrally normalised, torch.nn.utils.parametrizations.spectral_norm with
one power iteration per training call and eps 1e-6, except G's shared embedding; orthogonal
initialisation (gain 1) of every weight and embedding, biases 0):
  G(z [B, 120], y): e = Embedding(10, 128)(y) (no SN); z split into 4 chunks of 30; chunk 0 -> SN
    Linear(30, 4·4·4ch) -> [B, 4ch, 4, 4]; 3 up-blocks of 4ch outputs, block i conditioned on
    c_i = [e, z_{i+1}] (158 features):
      h = conv3x3(ReLU(CBN2(conv3x3(up(ReLU(CBN1(x, c)))), c))),  skip = up(conv1x1(x))
    (up = nearest x2; CBN(x, c) = BatchNorm2d(affine=False, momentum 0.1, eps 1e-5)(x)
    · (1 + SN Linear(c, no bias)) + SN Linear(c, no bias)); then BatchNorm2d (affine) -> ReLU
    -> SN conv3x3 to 1 channel -> tanh.                                        [B, 1, 32, 32]
  D(x, y): 4 down-blocks of 4ch outputs, pooling (2x2 average) in the first two; block
    h = pool(conv3x3(ReLU(conv3x3(ReLU(x))))) (block 0 without the leading ReLU), skip =
    conv1x1(pool(x)) where the block pools or changes the width, else x; -> ReLU -> sum over H, W
    -> h [B, 4ch];  D = SN Linear(h) + <SN Embedding(10, 4ch)(y), h>.
Step (gans.methods.biggan.BigGAN.train_step, Adam lr 2e-4, betas (0, 0.999) for both players):
  N_CRITIC D updates, update i on fixed real batch i (random images and labels made once, no
  input pipeline): fresh z, fakes = G(z, y_i) in training mode without gradients; D in training
  mode on cat([x_i, fakes]) with cat([y_i, y_i]) in ONE call (one power iteration of D's spectral
  norms per D update); hinge loss mean(relu(1 - D(x))) + mean(relu(1 + D(fakes))); Adam step of D.
  Then one G update: fresh z, labels of the last real batch, G and D in training mode, loss
  -mean(D(G(z, y), y)), D's parameters frozen (no weight gradients for D, as jax.grad over G's
  parameters only); Adam step of G. Then the EMA of G: every floating parameter and buffer
  (BatchNorm statistics, spectral norms' u and v) ema <- 0.999 ema + 0.001 live.
Differences in state only, not in work: torch stores the u (and v) that G's no-grad passes in the D
updates and D's pass in the G update compute, where gans discards them; torch's spectral norm keeps
v too; G's first linear layer reshapes to [C, 4, 4] (gans: [4, 4, C]).
"""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 64
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
N_CRITIC = int(sys.argv[3]) if len(sys.argv) > 3 else 2
CH = int(sys.argv[4]) if len(sys.argv) > 4 else 16
WARMUP = 2
NUM_CLASSES, Z_DIM, SHARED_DIM, SIDE, CHANNELS, BOTTOM = 10, 120, 128, 32, 1, 4
G_WIDTHS, D_WIDTHS, D_POOL = (4, 4, 4), (4, 4, 4, 4), (True, True, False, False)
EMA_DECAY = 0.999


def sn(module):
  """Orthogonal weight, zero bias, then spectral norm (one power iteration per training call)."""
  nn.init.orthogonal_(module.weight)
  if getattr(module, 'bias', None) is not None:
    nn.init.zeros_(module.bias)
  return spectral_norm(module, n_power_iterations=1, eps=1e-6)


def conv(c_in, c_out, k, bias=True):
  return sn(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias))


def up(x):
  return F.interpolate(x, scale_factor=2, mode='nearest')


class CBN(nn.Module):
  def __init__(self, features, c_dim):
    super().__init__()
    self.bn = nn.BatchNorm2d(features, affine=False, momentum=0.1, eps=1e-5)
    self.gain = sn(nn.Linear(c_dim, features, bias=False))
    self.bias = sn(nn.Linear(c_dim, features, bias=False))

  def forward(self, x, c):
    return self.bn(x) * (1 + self.gain(c))[:, :, None, None] + self.bias(c)[:, :, None, None]


class GBlock(nn.Module):
  def __init__(self, c_in, c_out, c_dim):
    super().__init__()
    self.cbn1, self.conv1 = CBN(c_in, c_dim), conv(c_in, c_out, 3)
    self.cbn2, self.conv2 = CBN(c_out, c_dim), conv(c_out, c_out, 3)
    self.skip = conv(c_in, c_out, 1)

  def forward(self, x, c):
    h = self.conv1(up(F.relu(self.cbn1(x, c))))
    h = self.conv2(F.relu(self.cbn2(h, c)))
    return h + up(self.skip(x))


class Generator(nn.Module):
  def __init__(self, ch):
    super().__init__()
    self.chunks = len(G_WIDTHS) + 1
    chunk, c_dim = Z_DIM // self.chunks, SHARED_DIM + Z_DIM // self.chunks
    self.width = ch * G_WIDTHS[0]
    self.shared = nn.Embedding(NUM_CLASSES, SHARED_DIM)
    nn.init.orthogonal_(self.shared.weight)
    self.linear = sn(nn.Linear(chunk, BOTTOM * BOTTOM * self.width))
    widths = [ch * w for w in G_WIDTHS]
    self.blocks = nn.ModuleList(
      GBlock(c_in, c_out, c_dim) for c_in, c_out in zip([self.width] + widths[:-1], widths)
    )
    self.bn = nn.BatchNorm2d(widths[-1], momentum=0.1, eps=1e-5)
    self.image_conv = conv(widths[-1], CHANNELS, 3)

  def forward(self, z, y):
    shared = self.shared(y)
    first, *chunks = torch.chunk(z, self.chunks, dim=1)
    x = self.linear(first).view(-1, self.width, BOTTOM, BOTTOM)
    for block, chunk in zip(self.blocks, chunks):
      x = block(x, torch.cat([shared, chunk], dim=1))
    return torch.tanh(self.image_conv(F.relu(self.bn(x))))


class DBlock(nn.Module):
  def __init__(self, c_in, c_out, pool, preactivation):
    super().__init__()
    self.pool, self.preactivation = pool, preactivation
    self.conv1, self.conv2 = conv(c_in, c_out, 3), conv(c_out, c_out, 3)
    self.skip = conv(c_in, c_out, 1) if pool or c_in != c_out else None

  def forward(self, x):
    h = F.relu(x) if self.preactivation else x
    h = self.conv2(F.relu(self.conv1(h)))
    if self.pool:
      h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
    return h + (self.skip(x) if self.skip is not None else x)


class Discriminator(nn.Module):
  def __init__(self, ch):
    super().__init__()
    widths = [ch * w for w in D_WIDTHS]
    self.blocks = nn.ModuleList(
      DBlock(c_in, c_out, pool, i > 0)
      for i, (c_in, c_out, pool) in enumerate(zip([CHANNELS] + widths[:-1], widths, D_POOL))
    )
    self.linear = sn(nn.Linear(widths[-1], 1))
    self.embed = sn(nn.Embedding(NUM_CLASSES, widths[-1]))

  def forward(self, x, y):
    for block in self.blocks:
      x = block(x)
    h = torch.sum(F.relu(x), dim=(2, 3))
    return self.linear(h)[:, 0] + torch.sum(self.embed(y) * h, dim=1)


def count(module):
  return sum(p.numel() for p in module.parameters())


torch.manual_seed(0)
G, D = Generator(CH), Discriminator(CH)
G_ema = Generator(CH)
G_ema.load_state_dict(G.state_dict())
for p in G_ema.parameters():
  p.requires_grad_(False)
live = [t for t in list(G.parameters()) + list(G.buffers()) if t.is_floating_point()]
ema = [t for t in list(G_ema.parameters()) + list(G_ema.buffers()) if t.is_floating_point()]
og = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.999))
od = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.999))
real = torch.rand(N_CRITIC, B, CHANNELS, SIDE, SIDE) * 2 - 1
labels = torch.randint(0, NUM_CLASSES, (N_CRITIC, B))


def toggle(module, on):
  for p in module.parameters():
    p.requires_grad_(on)


def step():
  toggle(D, True)
  for i in range(N_CRITIC):
    with torch.no_grad():
      fake = G(torch.randn(B, Z_DIM), labels[i])
    scores = D(torch.cat([real[i], fake]), torch.cat([labels[i], labels[i]]))
    real_scores, fake_scores = scores[:B], scores[B:]
    ld = F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
    od.zero_grad(set_to_none=True)
    ld.backward()
    od.step()
  toggle(D, False)
  lg = -D(G(torch.randn(B, Z_DIM), labels[-1]), labels[-1]).mean()
  og.zero_grad(set_to_none=True)
  lg.backward()
  og.step()
  with torch.no_grad():
    torch._foreach_lerp_(ema, live, 1 - EMA_DECAY)
  return ld.item() + lg.item()


G.train(), D.train()
print(f'params G={count(G)} D={count(D)} (ch={CH})')
rate = steps_per_s(step, STEPS, WARMUP)
print(
  f'torch threads={torch.get_num_threads()} B={B} n_critic={N_CRITIC} ch={CH} '
  f'steps/s={rate:.2f} img/s={B * rate:.0f}'
)
