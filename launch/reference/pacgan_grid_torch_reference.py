"""Reference PacGAN train step in PyTorch, CPU: the nets of configs/gan_grid.py (gans/nets/mlp.py) and
the step of gans/methods/gan.py with packing m (``method.pack``). Not part of gans: torch is not its
dependency; run it from a venv with a CPU torch (launch/compare_reference.sh gan_grid does).

    python pacgan_grid_torch_reference.py [B] [STEPS] [M]    (defaults 100 300 1: B points per step)

Prints each net's parameter count, then steps/s after 20 warm-up steps, on os.cpu_count() torch threads.

Nets (weights ~ N(0, 0.02²), biases 0, as the recipe's ``kernel_init_std``):
  G: z [B, 2] ~ N(0, I) -> [Linear(400) -> BatchNorm1d (momentum 0.1 = flax's 0.9, eps 1e-5) -> ReLU] × 4
    -> Linear(2).
  D: packs [B/m, 2m] -> [Linear(200·5) -> maxout of 5 pieces (viewed as [B/m, 200, 5], max over the last
    axis)] × 3 -> Linear(1).
Packing (gans.methods.gan.pack_samples): points [B, 2] -> [B/m, 2m], pack j = points j·m, ..., j·m + m - 1.
Step (adversarial.alternate with n_critic 1, reuse_fakes False; Adam lr 1e-4, betas (0.8, 0.999) for both
players): one D update: fresh z, fakes = G in training mode without gradients; D on the packed real batch
(a fixed batch of grid points, no input pipeline) and on the packed fakes; BCE with logits, real -> 1,
fake -> 0 (sum of the two means); Adam step of D. Then one G update: fresh z, G in training mode, D's
parameters frozen, non-saturating loss BCE(D(pack(G(z))), 1); Adam step of G.
Differences in state only, not in work: torch's BatchNorm updates its running statistics in the no-grad G
pass of the D update (gans discards them).
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 100
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 300
M = int(sys.argv[3]) if len(sys.argv) > 3 else 1
G_HIDDEN, D_HIDDEN, PIECES, STD = (400,) * 4, (200,) * 3, 5, 0.02


def linear(fan_in, fan_out):
  layer = nn.Linear(fan_in, fan_out)
  nn.init.normal_(layer.weight, std=STD)
  nn.init.zeros_(layer.bias)
  return layer


class Maxout(nn.Module):
  def __init__(self, fan_in, width):
    super().__init__()
    self.width = width
    self.linear = linear(fan_in, width * PIECES)

  def forward(self, x):
    return self.linear(x).view(x.shape[0], self.width, PIECES).amax(-1)


def generator():
  layers, width = [], 2
  for hidden in G_HIDDEN:
    layers += [linear(width, hidden), nn.BatchNorm1d(hidden, momentum=0.1, eps=1e-5), nn.ReLU()]
    width = hidden
  return nn.Sequential(*layers, linear(width, 2))


def discriminator():
  layers, width = [], 2 * M
  for hidden in D_HIDDEN:
    layers.append(Maxout(width, hidden))
    width = hidden
  return nn.Sequential(*layers, linear(width, 1))


def pack(points):
  return points.reshape(points.shape[0] // M, M * points.shape[1])


torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)
g, d = generator(), discriminator()
g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.8, 0.999))
d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.8, 0.999))
centers = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], np.float32)
rng = np.random.default_rng(0)
real = torch.from_numpy(
  centers[rng.integers(0, 25, B)] + 0.05 * rng.standard_normal((B, 2), np.float32)
)
ones, zeros = torch.ones(B // M), torch.zeros(B // M)


def step():
  with torch.no_grad():
    fakes = g(torch.randn(B, 2))
  d_loss = F.binary_cross_entropy_with_logits(
    d(pack(real))[:, 0], ones
  ) + F.binary_cross_entropy_with_logits(d(pack(fakes))[:, 0], zeros)
  d_opt.zero_grad(set_to_none=True)
  d_loss.backward()
  d_opt.step()
  for p in d.parameters():
    p.requires_grad_(False)
  g_loss = F.binary_cross_entropy_with_logits(d(pack(g(torch.randn(B, 2))))[:, 0], ones)
  g_opt.zero_grad(set_to_none=True)
  g_loss.backward()
  g_opt.step()
  for p in d.parameters():
    p.requires_grad_(True)


print(
  f'G params {sum(p.numel() for p in g.parameters())}, D params {sum(p.numel() for p in d.parameters())}'
)
print(f'pacgan grid (B={B} points, m={M}): steps/s={steps_per_s(step, STEPS, 20):.2f}')
