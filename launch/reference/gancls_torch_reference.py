"""Reference GAN-CLS game step in PyTorch, CPU: the nets of gans/nets/gancls.py (and the DCGAN 28x28 G of
gans/nets/dcgan.py at width 32) and the game step of gans/methods/gancls.py at the recipe of
configs/gancls.py (fashion_mnist: 28x28x1 images, captions of L = 8 tokens from a vocabulary of 25, batch
B = 64, n_critic 1, φ frozen). Not part of gans: torch is not its dependency; run it from a venv with a CPU
torch (launch/compare_reference.sh gancls does, against `gans.benchmark --config.method.pretrain_steps=0`,
the game phase; φ's pre-training phase is not timed).

    python gancls_torch_reference.py [B] [STEPS]    (defaults 64 20)

Prints steps/s after 2 warm-up steps, on os.cpu_count() torch threads, from a fixed batch (random pixels
in [-1, 1), random tokens with random lengths 3..8, random labels; no input pipeline).

Nets (NCHW; DCGAN weights N(0, 0.02), biases 0; φ's and the compressions' torch defaults: the init is not
timed):
  φ: Embedding(25, 32) -> GRU(64) over the words, its state after each caption's last word ->
    Linear(64) -> unit norm.
  G: [z (100), LReLU_0.2(Linear(64, 32)(h))] -> Linear(7·7·128, no bias) -> BN -> ReLU -> ConvT 5×5
    (64, s1) -> BN -> ReLU -> ConvT (32, s2) -> BN -> ReLU -> ConvT (1, s2) -> tanh (no biases).
  D: Conv 5×5 (32, s2) -> LReLU -> Conv (64, s2) -> BN -> LReLU -> [7×7 map ‖ LReLU(Linear(64, 32)(h))
    tiled] -> Conv 1×1 (64) -> BN -> LReLU -> Linear(7·7·64, 1).
  S: Conv 5×5 (32, s2) -> LReLU -> Conv (64, s2) -> LReLU -> Linear(7·7·64, 100).
Step (GANCLS.game_step): one D update: h = φ(a caption per image) without gradients, ĥ = h of a row of
another class, fakes = G(z, h) in training mode without gradients; D on (x, h), (fakes, h), (x, ĥ) (three
calls, as gans makes them); L_D = BCE(s(x, h), 1) + ½ BCE(s(x, ĥ), 0) + ½ BCE(s(G, h), 0); Adam (2e-4,
0.5, 0.999). One G update: h of another caption draw, G on [h, ½h + ½h_next] with 2B noises in training
mode, D (frozen, training mode) on them; non-saturating loss on each half, summed (λ_int = 1); Adam. One S
update: a third φ pass, G in inference mode (before its update in gans; here after, the same work) on B
noises, S in training mode, Σ_j (z - S(x))_j² averaged over the batch; Adam.
Differences in state or layout only, not in work: torch's BatchNorm updates its running statistics in the
no-grad passes (gans discards them); flatten is C, H, W (gans: H, W, C); the stride-2 convs pad 2 on both
sides where 'SAME' pads 1 before and 2 after; the transposed convs use output_padding 1 for 'SAME'.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 64
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
WARMUP = 2
VOCAB, LENGTH, CAPTIONS, CLASSES = 25, 8, 5, 10
Z_DIM, COMPRESS, EMBED, HIDDEN, TEXT_DIM = 100, 32, 32, 64, 64
SLOPE, KERNEL = 0.2, 5


def dcgan_init(module):
  nn.init.normal_(module.weight, 0.0, 0.02)
  if module.bias is not None:
    nn.init.zeros_(module.bias)
  return module


def conv(c_in, c_out, stride=2, kernel=KERNEL):
  return dcgan_init(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2))


def deconv(c_in, c_out, stride):
  return dcgan_init(
    nn.ConvTranspose2d(
      c_in, c_out, KERNEL, stride, padding=2, output_padding=stride - 1, bias=False
    )
  )


class TextEncoder(nn.Module):
  def __init__(self):
    super().__init__()
    self.embed = nn.Embedding(VOCAB, EMBED)
    self.gru = nn.GRU(EMBED, HIDDEN, batch_first=True)
    self.out = nn.Linear(HIDDEN, TEXT_DIM)

  def forward(self, tokens):
    lengths = (tokens != 0).sum(1).clamp(min=1)
    states = self.gru(self.embed(tokens))[0]  # [B, L, H]: the state after each word.
    last = states[torch.arange(tokens.shape[0]), lengths - 1]
    return F.normalize(self.out(last), dim=-1)


class Generator(nn.Module):
  def __init__(self):
    super().__init__()
    self.compress = nn.Linear(TEXT_DIM, COMPRESS)
    self.stem = dcgan_init(nn.Linear(Z_DIM + COMPRESS, 7 * 7 * 128, bias=False))
    self.stem_bn = nn.BatchNorm1d(7 * 7 * 128, momentum=0.1, eps=1e-5)
    self.body = nn.Sequential(
      deconv(128, 64, 1),
      nn.BatchNorm2d(64, momentum=0.1, eps=1e-5),
      nn.ReLU(),
      deconv(64, 32, 2),
      nn.BatchNorm2d(32, momentum=0.1, eps=1e-5),
      nn.ReLU(),
      deconv(32, 1, 2),
      nn.Tanh(),
    )

  def forward(self, z, h):
    x = torch.cat([z, F.leaky_relu(self.compress(h), SLOPE)], dim=1)
    x = F.relu(self.stem_bn(self.stem(x)))
    return self.body(x.view(-1, 128, 7, 7))


def trunk(batch_norm):
  norm = [nn.BatchNorm2d(64, momentum=0.1, eps=1e-5)] if batch_norm else []
  return nn.Sequential(
    conv(1, 32), nn.LeakyReLU(SLOPE), conv(32, 64), *norm, nn.LeakyReLU(SLOPE), nn.Flatten()
  )


class Discriminator(nn.Module):
  def __init__(self):
    super().__init__()
    self.trunk = trunk(batch_norm=True)
    self.compress = nn.Linear(TEXT_DIM, COMPRESS)
    self.joint = nn.Conv2d(64 + COMPRESS, 64, 1)
    self.joint_bn = nn.BatchNorm2d(64, momentum=0.1, eps=1e-5)
    self.head = nn.Linear(7 * 7 * 64, 1)

  def forward(self, x, h):
    maps = self.trunk(x).view(-1, 64, 7, 7)
    text = F.leaky_relu(self.compress(h), SLOPE)[:, :, None, None].expand(-1, -1, 7, 7)
    x = F.leaky_relu(self.joint_bn(self.joint(torch.cat([maps, text], dim=1))), SLOPE)
    return self.head(x.flatten(1))[:, 0]


def adam(net):
  return torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))


torch.manual_seed(0)
torch.set_num_threads(os.cpu_count())
text, g, d = TextEncoder(), Generator(), Discriminator()
s = nn.Sequential(trunk(batch_norm=False), nn.Linear(7 * 7 * 64, Z_DIM))
for p in text.parameters():
  p.requires_grad_(False)
opt_g, opt_d, opt_s = adam(g), adam(d), adam(s)
images = torch.rand(B, 1, 28, 28) * 2 - 1
labels = torch.randint(0, CLASSES, (B,))
lengths = torch.randint(3, LENGTH + 1, (B, CAPTIONS))
tokens = torch.randint(1, VOCAB, (B, CAPTIONS, LENGTH))
tokens = tokens * (torch.arange(LENGTH)[None, None] < lengths[..., None])
bce = F.binary_cross_entropy_with_logits


def embed():
  """φ of one of each image's captions, drawn at random: [B, D]."""
  pick = torch.randint(0, CAPTIONS, (B,))
  with torch.no_grad():
    return text(tokens[torch.arange(B), pick])


def wrong_rows():
  """A row of another class for each row, drawn uniformly (as gancls.wrong_rows)."""
  noise = torch.rand(B, B) + 2.0 * (labels[None, :] != labels[:, None])
  return noise.argmax(1)


def step():
  g.train(), d.train(), s.train()
  h = embed()
  h_wrong = h[wrong_rows()]
  with torch.no_grad():
    fakes = g(torch.randn(B, Z_DIM), h)
  real_right, fake_right, real_wrong = d(images, h), d(fakes, h), d(images, h_wrong)
  ones, zeros = torch.ones(B), torch.zeros(B)
  d_loss = bce(real_right, ones) + 0.5 * bce(real_wrong, zeros) + 0.5 * bce(fake_right, zeros)
  opt_d.zero_grad(set_to_none=True)
  d_loss.backward()
  opt_d.step()

  h = embed()
  h_g = torch.cat([h, 0.5 * h + 0.5 * torch.roll(h, -1, 0)])
  for p in d.parameters():
    p.requires_grad_(False)
  scores = d(g(torch.randn(2 * B, Z_DIM), h_g), h_g)
  g_loss = bce(scores[:B], ones) + bce(scores[B:], ones)
  opt_g.zero_grad(set_to_none=True)
  g_loss.backward()
  opt_g.step()
  for p in d.parameters():
    p.requires_grad_(True)

  z = torch.randn(B, Z_DIM)
  g.eval()
  with torch.no_grad():
    samples = g(z, embed())
  s_loss = (z - s(samples)).square().sum(1).mean()
  opt_s.zero_grad(set_to_none=True)
  s_loss.backward()
  opt_s.step()


print(f'gancls reference, batch {B}: steps/s={steps_per_s(step, STEPS, WARMUP):.3f}')
