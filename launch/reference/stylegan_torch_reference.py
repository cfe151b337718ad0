"""Reference StyleGAN2 train step in PyTorch, CPU: the nets of gans/nets/stylegan.py and the step of
gans/methods/stylegan.py at the default recipe of configs/stylegan.py (fashion_mnist: 32x32x1 images,
batch B = 32, z = w = 64, 2 mapping layers, channels min(512 / r, 64), minibatch-std group 4, R1 γ 0.05
every 16 steps, path length weight 2 every 4 steps on B / 2 samples, style mixing 0.9). For speed
comparison only; torch is not a dependency of gans (launch/compare_reference.sh stylegan runs it).

    python stylegan_torch_reference.py [B] [STEPS]    (defaults 32 32)

Prints G's and D's parameter counts, then steps/s after 2 warm-up steps (STEPS a multiple of 16, so
the lazy regularisers run as often as in a long run: R1 on 1/16 of the steps, path length on 1/4).

Nets (NCHW; equalized LR: weights stored N(0, 1/lr_mul²), used times lr_mul/√fan_in; leaky ReLU 0.2
times √2):
  G: mapping = pixel norm, 2 × (Linear(64, 64), lr_mul 0.01, lrelu); synthesis = learned const
    [64, 4, 4]; at 4: style conv 64 -> 64, toRGB; at 8, 16, 32: bilinear ×2 (align_corners False),
    style conv, style conv, toRGB; image = up(image) + toRGB. Style conv: s = A(w) (bias 1),
    y = conv3x3(x · s) · (Σ (s w)² + 1e-8)^-½ (modulation by activation scaling, as gans's default
    form), + noise [B, 1, H, W] · strength [C] + bias, lrelu. toRGB: modulated 1×1, no demodulation.
  D: fromRGB 1×1 + lrelu at 32; blocks at 32, 16, 8: skip = conv1x1(pool(x)) (no bias), x =
    lrelu(conv3x3(x)), x = lrelu(conv3x3(pool(x))), (x + skip)/√2 (pool = 2×2 mean); minibatch std
    (group 4), lrelu(conv3x3), lrelu(Linear(64·16, 64)), Linear(64, 1).
Step (gans.methods.stylegan.StyleGAN.train_step; Adam β = (0, 0.99) at lr 0.0025, both players' Adam
corrected for their lazy regulariser: lr·c, β^c, c = k/(k+1)):
  D: fakes of fresh mixed latents without gradients; softplus(D(fake)) + softplus(-D(real)).
  G: fresh mixed latents; softplus(-D(G(z))), D's parameters frozen.
  every 16th step, D: (γ/2)·16 · E‖∇_x D(x)‖² on the real batch.
  every 4th step, G: 2·4 · E[(‖J_wᵀ y‖ - a)²] on B/2 mixed samples, a's running mean (decay 0.01).
  w̄ <- lerp towards the batch mean of w (β 0.995); G's EMA with the ramped half-life.
"""

import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 32
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 32
WARMUP = 2
RES, Z, MAP_LAYERS, BASE, MAX, GROUP = 32, 64, 2, 512, 64, 4
GAMMA, R1_EVERY, PL_WEIGHT, PL_EVERY, PL_DECAY, MIXING = 0.05, 16, 2.0, 4, 0.01, 0.9
SQRT2 = math.sqrt(2.0)
torch.set_num_threads(torch.get_num_threads())


def width(r):
  return min(BASE // r, MAX)


def lrelu(x):
  return F.leaky_relu(x, 0.2) * SQRT2


class Dense(nn.Module):
  def __init__(self, fan_in, out, lr_mul=1.0, bias_init=0.0):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(out, fan_in) / lr_mul)
    self.bias = nn.Parameter(torch.full((out,), bias_init / lr_mul))
    self.gain, self.lr_mul = lr_mul / math.sqrt(fan_in), lr_mul

  def forward(self, x):
    return F.linear(x, self.weight * self.gain, self.bias * self.lr_mul)


class Conv(nn.Module):
  def __init__(self, c_in, c_out, k=3, bias=True):
    super().__init__()
    self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
    self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
    self.gain, self.pad = 1 / math.sqrt(c_in * k * k), k // 2

  def forward(self, x):
    return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.pad)


class StyleConv(nn.Module):
  def __init__(self, c_in, c_out, up=False, k=3, demodulate=True, noise=True):
    super().__init__()
    self.affine = Dense(Z, c_in, bias_init=1.0)
    self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
    self.bias = nn.Parameter(torch.zeros(c_out))
    self.strength = nn.Parameter(torch.zeros(c_out)) if noise else None
    self.gain, self.pad, self.up, self.demodulate = (
      1 / math.sqrt(c_in * k * k),
      k // 2,
      up,
      demodulate,
    )

  def forward(self, x, w, noise=None):
    if self.up:
      x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    s = self.affine(w)
    weight = self.weight * self.gain
    y = F.conv2d(x * s[:, :, None, None], weight, padding=self.pad)
    if self.demodulate:
      energy = (s**2) @ weight.square().sum(dim=(2, 3)).t()
      y = y * torch.rsqrt(energy + 1e-8)[:, :, None, None]
    y = y + self.bias[None, :, None, None]
    if self.strength is None:
      return y
    return lrelu(y + noise * self.strength[None, :, None, None])


class Generator(nn.Module):
  def __init__(self):
    super().__init__()
    self.mapping = nn.ModuleList([Dense(Z, Z, lr_mul=0.01) for _ in range(MAP_LAYERS)])
    self.const = nn.Parameter(torch.randn(width(4), 4, 4))
    self.convs = nn.ModuleList([StyleConv(width(4), width(4))])
    self.rgbs = nn.ModuleList([StyleConv(width(4), 1, k=1, demodulate=False, noise=False)])
    r = 8
    while r <= RES:
      self.convs.append(StyleConv(width(r // 2), width(r), up=True))
      self.convs.append(StyleConv(width(r), width(r)))
      self.rgbs.append(StyleConv(width(r), 1, k=1, demodulate=False, noise=False))
      r *= 2
    self.num_ws = len(self.convs) + 1

  def map(self, z):
    x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
    for layer in self.mapping:
      x = lrelu(layer(x))
    return x

  def synthesize(self, ws, noises):
    x = self.const[None].expand(ws.shape[0], -1, -1, -1)
    x = self.convs[0](x, ws[:, 0], noises[0])
    image = self.rgbs[0](x, ws[:, 1])
    for b in range(1, len(self.rgbs)):
      i = 2 * b - 1
      x = self.convs[i](x, ws[:, i], noises[i])
      x = self.convs[i + 1](x, ws[:, i + 1], noises[i + 1])
      up = F.interpolate(image, scale_factor=2, mode='bilinear', align_corners=False)
      image = up + self.rgbs[b](x, ws[:, i + 2])
    return image


class Discriminator(nn.Module):
  def __init__(self):
    super().__init__()
    self.from_rgb = Conv(1, width(RES), k=1)
    blocks, r = [], RES
    while r > 4:
      blocks.append(
        nn.ModuleList(
          [
            Conv(width(r), width(r // 2), k=1, bias=False),
            Conv(width(r), width(r)),
            Conv(width(r), width(r // 2)),
          ]
        )
      )
      r //= 2
    self.blocks = nn.ModuleList(blocks)
    self.conv = Conv(width(4) + 1, width(4))
    self.fc = Dense(width(4) * 16, width(4))
    self.out = Dense(width(4), 1)

  def forward(self, x):
    x = lrelu(self.from_rgb(x))
    for skip, conv0, conv1 in self.blocks:
      s = skip(F.avg_pool2d(x, 2))
      x = lrelu(conv1(F.avg_pool2d(lrelu(conv0(x)), 2)))
      x = (x + s) / SQRT2
    b, c, h, w = x.shape
    g = min(GROUP, b)
    std = (
      (x.reshape(g, b // g, c, h, w).var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))
    )
    x = torch.cat([x, std.repeat(g)[:, None, None, None].expand(b, 1, h, w)], dim=1)
    x = lrelu(self.conv(x))
    x = lrelu(self.fc(x.flatten(1)))
    return self.out(x)[:, 0]


def adam(params, k):
  c = k / (k + 1)
  return torch.optim.Adam(params, lr=0.0025 * c, betas=(0.0, 0.99**c), eps=1e-8)


G, D = Generator(), Discriminator()
G_EMA = Generator()
G_EMA.load_state_dict(G.state_dict())
for p in G_EMA.parameters():
  p.requires_grad_(False)
opt_g, opt_d = adam(G.parameters(), PL_EVERY), adam(D.parameters(), R1_EVERY)
REAL = torch.rand(B, 1, RES, RES) * 2 - 1
SIDES = [4] + [r for r in (8, 16, 32) for _ in range(2)]
state = {'step': 0, 'pl_mean': torch.zeros(()), 'w_avg': torch.zeros(Z)}


def noises(n):
  return [torch.randn(n, 1, s, s) for s in SIDES]


def mixed_styles(n):
  w = G.map(torch.randn(n, Z))
  ws = w[:, None].repeat(1, G.num_ws, 1)
  if torch.rand(()) < MIXING:
    cut = int(torch.randint(1, G.num_ws, ()))
    ws[:, cut:] = G.map(torch.randn(n, Z))[:, None]
  return ws


def step():
  s = state['step']
  D.requires_grad_(True)
  with torch.no_grad():
    fakes = G.synthesize(mixed_styles(B), noises(B))
  loss_d = F.softplus(D(fakes)).mean() + F.softplus(-D(REAL)).mean()
  opt_d.zero_grad(set_to_none=True)
  loss_d.backward()
  opt_d.step()
  D.requires_grad_(False)
  loss_g = F.softplus(-D(G.synthesize(mixed_styles(B), noises(B)))).mean()
  opt_g.zero_grad(set_to_none=True)
  loss_g.backward()
  opt_g.step()
  if (s + 1) % R1_EVERY == 0:
    D.requires_grad_(True)
    real = REAL.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    r1 = grad.square().sum(dim=(1, 2, 3)).mean() * (GAMMA / 2) * R1_EVERY
    opt_d.zero_grad(set_to_none=True)
    r1.backward()
    opt_d.step()
  if (s + 1) % PL_EVERY == 0:
    ws = mixed_styles(B // 2)
    images = G.synthesize(ws, noises(B // 2))
    y = torch.randn_like(images) / math.sqrt(RES * RES)
    (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    state['pl_mean'] = state['pl_mean'] + PL_DECAY * (lengths.mean().detach() - state['pl_mean'])
    pl = (lengths - state['pl_mean']).square().mean() * PL_WEIGHT * PL_EVERY
    opt_g.zero_grad(set_to_none=True)
    pl.backward()
    opt_g.step()
  with torch.no_grad():
    w = G.map(torch.randn(B, Z)).mean(dim=0)
    state['w_avg'] = w + 0.995 * (state['w_avg'] - w)
    state['step'] = s + 1
    half_life = min(1000.0, state['step'] * B * 0.05)
    beta = 0.5 ** (B / max(half_life, 1e-8))
    for ema, live in zip(G_EMA.parameters(), G.parameters()):
      ema.lerp_(live, 1 - beta)


if __name__ == '__main__':
  count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
  print(f'G {count(G)} params, D {count(D)} params')
  print(f'batch {B}: steps/s={steps_per_s(step, STEPS, WARMUP):.3f}')
