"""Reference LapGAN train step in PyTorch, CPU: the nets of gans/nets/lapgan.py and gans/nets/mlp.py and
the step of gans/methods/lapgan.py at the default recipe of configs/lapgan.py (fashion_mnist: 28x28x1
images, levels 28 -> 14 -> 7, batch B = 128). Not part of gans: torch is not its dependency; run it from a
venv with a CPU torch (launch/compare_reference.sh lapgan does).

    python lapgan_torch_reference.py [B] [STEPS]    (defaults 128 20)

Prints each net's parameter count and multiply-accumulates, the step's FLOPs counted from them three ways
(every product; only those with inputs inside the image; those with the convolutions' kernel gradients
counted as gans.benchmark's XLA cost analysis counts them: 43.0 GFLOP at B = 128, against the 43.42 of
`python -m gans.benchmark --config=configs/lapgan.py`), then steps/s after 2 warm-up steps, on
os.cpu_count() torch threads.

Pyramid (gans/pyramid.py): the 5-tap binomial blur w = [1, 4, 6, 4, 1] / 16 with mirrored borders, as one
matrix per axis: reduce R_n = (blur_n)[::2] [n/2, n], expand E_n = 2 · blur_{2n} · (zeros inserted) [2n, n]
(built below in numpy from those formulas); d(I) = R I Rᵀ, u(I) = E I Eᵀ. Computed in every step, from a
fixed real batch (random pixels in [-1, 1) made once, no input pipeline), as gans's step computes it from
its batch: I_1 = d(I_0), l_0 = u(I_1), h_0 = I_0 - l_0 (28); I_2 = d(I_1), l_1 = u(I_2), h_1 = I_1 - l_1
(14); I_2 (7).

Nets (NCHW; weights lecun-normal as flax's default, truncated at 2 std, biases 0):
  coarse G (7): z [B, 100] -> [Linear -> BatchNorm1d (momentum 0.1 = flax's 0.9, eps 1e-5) -> ReLU] ×
    (1200, 1200) -> Linear(49) -> tanh -> [B, 1, 7, 7].
  coarse D (7): flatten -> [Linear -> LeakyReLU(0.2)] × (600, 600) -> Linear(1).
  band G (14, 28): cat([l, noise plane]) [B, 2, s, s] -> [Conv 5×5 (padding 2) -> ReLU] × (32, 32) ->
    Conv 5×5 to 1 channel (linear).
  band D (14, 28): cat([h, l]) [B, 2, s, s] -> Conv 5×5 (32, stride 1, padding 2) -> LeakyReLU(0.2) ->
    Conv 5×5 (64, stride 2, padding 2) -> LeakyReLU(0.2) -> flatten -> Linear(64 · s/2 · s/2, 1).
Step (gans.methods.lapgan.LapGAN.train_step with n_critic 1, reuse_fakes False: one
adversarial.alternate per level, finest first, 28, 14, 7; Adam lr 2e-4, betas (0.5, 0.999) for each of
the six players): per level, one D update: fresh noise, fakes = G in training mode without gradients; D on
the real (h, l) and on (fakes, l), two calls as gans's adversarial.discriminate makes; BCE with logits,
real -> 1, fake -> 0 (sum of the two means); Adam step of D. Then one G update: fresh noise, G in training
mode, D's parameters frozen (no weight gradients for D, as jax.grad over G's parameters only),
non-saturating loss BCE(D(G(z, l), l), 1); Adam step of G.
Differences in state or layout only, not in work: torch's BatchNorm updates its running statistics in
the no-grad G pass of the D update (gans discards them); flatten is C, H, W (gans: H, W, C); the stride-2
conv pads 2 on both sides where 'SAME' pads 1 before and 2 after (the same output size and work, windows
one pixel apart).
"""

import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 128
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
WARMUP = 2
SIDE, CHANNELS, LEVELS, Z_DIM = 28, 1, 3, 100
COARSE_G, COARSE_D, BAND_G, BAND_D = (1200, 1200), (600, 600), (32, 32), (32, 64)
KERNEL, SLOPE = 5, 0.2
TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


# Pyramid matrices.


def binomial_blur(n):
  """[n, n]: the 5-tap blur with mirrored borders (x[-i] = x[i], x[n-1+i] = x[n-1-i]), as the blur of each
  unit vector (a column each)."""
  columns = []
  for e in np.eye(n):
    # 'reflect' mirrors about the border pixel (not repeating it); the taps are symmetric: no flip.
    padded = np.pad(e, 2, mode='reflect')
    columns.append(np.convolve(padded, TAPS, mode='valid'))
  return np.stack(columns, axis=1)


def reduce_rows(n):
  """R_n [n/2, n]: blur, keep the even pixels."""
  return binomial_blur(n)[0::2]


def expand_rows(n):
  """E_n [2n, n]: a zero inserted after each pixel, blur, times 2 (per axis: 4 for the image)."""
  upsample = np.zeros((2 * n, n))
  upsample[np.arange(0, 2 * n, 2), np.arange(n)] = 1.0
  return 2.0 * binomial_blur(2 * n) @ upsample


def as_tensor(matrix):
  return torch.from_numpy(np.ascontiguousarray(matrix)).float()


SIDES = [SIDE // 2**k for k in range(LEVELS)]  # Finest first: 28, 14, 7.
REDUCE = {n: as_tensor(reduce_rows(n)) for n in SIDES[:-1]}
EXPAND = {n // 2: as_tensor(expand_rows(n // 2)) for n in SIDES[:-1]}


def separable(rows, images):
  """rows [n', n] applied to both spatial axes of images [B, C, n, n] -> [B, C, n', n']."""
  return torch.einsum('ih,bchw,jw->bcij', rows, images, rows)


def laplacian(images):
  """[(h_k, l_k) for k < K, finest first], I_K, as gans.pyramid.laplacian."""
  bands, image = [], images
  for side in SIDES[:-1]:
    smaller = separable(REDUCE[side], image)
    low = separable(EXPAND[side // 2], smaller)
    bands.append((image - low, low))
    image = smaller
  return bands, image


# Nets.


def lecun(module):
  fan_in = module.weight[0].numel()
  std = (1.0 / fan_in) ** 0.5 / 0.87962566103423978  # flax's truncated normal's correction.
  nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
  nn.init.zeros_(module.bias)
  return module


def linear(n_in, n_out):
  return lecun(nn.Linear(n_in, n_out))


def conv(c_in, c_out, stride=1):
  return lecun(nn.Conv2d(c_in, c_out, KERNEL, stride=stride, padding=KERNEL // 2))


class CoarseGenerator(nn.Module):
  def __init__(self):
    super().__init__()
    layers, width = [], Z_DIM
    for hidden in COARSE_G:
      layers += [linear(width, hidden), nn.BatchNorm1d(hidden, momentum=0.1, eps=1e-5), nn.ReLU()]
      width = hidden
    self.body = nn.Sequential(*layers, linear(width, SIDES[-1] ** 2 * CHANNELS), nn.Tanh())

  def forward(self, z):
    return self.body(z).view(-1, CHANNELS, SIDES[-1], SIDES[-1])


class CoarseDiscriminator(nn.Module):
  def __init__(self):
    super().__init__()
    layers, width = [], SIDES[-1] ** 2 * CHANNELS
    for hidden in COARSE_D:
      layers += [linear(width, hidden), nn.LeakyReLU(SLOPE)]
      width = hidden
    self.body = nn.Sequential(*layers, linear(width, 1))

  def forward(self, images):
    return self.body(images.flatten(1))[:, 0]


class BandGenerator(nn.Module):
  def __init__(self):
    super().__init__()
    layers, width = [], 2 * CHANNELS
    for hidden in BAND_G:
      layers += [conv(width, hidden), nn.ReLU()]
      width = hidden
    self.body = nn.Sequential(*layers, conv(width, CHANNELS))

  def forward(self, noise, low):
    return self.body(torch.cat([low, noise], dim=1))


class BandDiscriminator(nn.Module):
  def __init__(self, side):
    super().__init__()
    self.body = nn.Sequential(
      conv(2 * CHANNELS, BAND_D[0]),
      nn.LeakyReLU(SLOPE),
      conv(BAND_D[0], BAND_D[1], stride=2),
      nn.LeakyReLU(SLOPE),
    )
    self.head = linear(BAND_D[1] * (side // 2) ** 2, 1)

  def forward(self, band, low):
    return self.head(self.body(torch.cat([band, low], dim=1)).flatten(1))[:, 0]


# FLOPs, from the multiply-accumulates of each layer.


def layer_macs(net, *inputs):
  """Per Linear and Conv2d of ``net``, in order, ``(all, inside, conv)``: the MACs of one forward at batch
  B, as every product of an output with an input of its window (torch's work, zero padding included) and
  as only the products with inputs inside the image (as gans.benchmark.step_flops counts a convolution),
  and whether it is a convolution. From forward hooks."""
  macs, hooks = [], []

  def record(module, args, output):
    if isinstance(module, nn.Linear):
      macs.append((output.numel() * module.in_features,) * 2 + (False,))
      return
    taps = 1  # Pairs (output, tap) whose input lies inside the image, over both axes.
    for axis in (2, 3):
      size, stride, pad = args[0].shape[axis], module.stride[axis - 2], module.padding[axis - 2]
      taps *= sum(
        0 <= o * stride + t - pad < size for o in range(output.shape[axis]) for t in range(KERNEL)
      )
    inside = output.shape[0] * module.in_channels * module.out_channels * taps
    macs.append((output.numel() * module.weight[0].numel(), inside, True))

  for module in net.modules():
    if isinstance(module, (nn.Linear, nn.Conv2d)):
      hooks.append(module.register_forward_hook(record))
  mode = net.training
  net.eval()
  with torch.no_grad():
    net(*inputs)
  net.train(mode)
  for hook in hooks:
    hook.remove()
  return macs


def level_macs(g_layers, d_layers, which, conv_kernel_share=1.0):
  """MACs of one level's alternate (``which``: 0 all products, 1 inside the image), a layer's input
  gradient and its weight gradient each as many as its forward, counted where the step needs them: no
  input gradient into a net's first layer unless something needs it (D's in the G update: the gradient
  reaches G); no weight gradients of D in the G update. ``conv_kernel_share``: the share of the
  convolutions' weight gradients counted."""
  fwd = [sum(m[which] for m in layers) for layers in (g_layers, d_layers)]
  past_first = [sum(m[which] for m in layers[1:]) for layers in (g_layers, d_layers)]
  weight_grad = [
    sum(m[which] * (conv_kernel_share if m[2] else 1.0) for m in layers)
    for layers in (g_layers, d_layers)
  ]
  # G's forward; D's forward and backward on the real and on the fake batch.
  d_update = fwd[0] + 2 * (fwd[1] + weight_grad[1] + past_first[1])
  # G's forward; D's forward and input gradient; G's backward.
  g_update = fwd[0] + 2 * fwd[1] + weight_grad[0] + past_first[0]
  return d_update + g_update


# On one CPU device gans.conv.cpu._kernel_grad sums a convolution's weight gradient over chunks of 16
# images: the first chunk, a lax.scan over the other whole chunks, the B mod 16 left. XLA's cost
# analysis counts a scan's body once, so gans.benchmark's GFLOP/step counts 2 · 16 + B mod 16 images of it.
KERNEL_GRAD_CHUNK = 16
SCANNED_SHARE = (
  (2 * KERNEL_GRAD_CHUNK + B % KERNEL_GRAD_CHUNK) / B if B // KERNEL_GRAD_CHUNK >= 2 else 1.0
)


def count(module):
  return sum(p.numel() for p in module.parameters())


torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)
nets = {}  # side -> (G, D), finest first.
for side in SIDES:
  if side == SIDES[-1]:
    nets[side] = CoarseGenerator(), CoarseDiscriminator()
  else:
    nets[side] = BandGenerator(), BandDiscriminator(side)
optimizers = {
  side: tuple(torch.optim.Adam(net.parameters(), 2e-4, betas=(0.5, 0.999)) for net in pair)
  for side, pair in nets.items()
}
real = torch.rand(B, CHANNELS, SIDE, SIDE) * 2 - 1
ones, zeros = torch.ones(B), torch.zeros(B)
bce = F.binary_cross_entropy_with_logits


def g_inputs(side, low=None):
  """Fresh latents: z [B, 100] at the coarsest level, else a noise plane [B, 1, s, s] and l."""
  if low is None:
    return (torch.randn(B, Z_DIM),)
  return torch.randn(B, 1, side, side), low


def toggle(module, on):
  for p in module.parameters():
    p.requires_grad_(on)


def alternate(side, image, low):
  """One D update on (image[, low]) against fresh fakes, then one G update on fresh latents."""
  (g, d), (og, od) = nets[side], optimizers[side]
  conditions = () if low is None else (low,)
  toggle(d, True)
  with torch.no_grad():
    fake = g(*g_inputs(side, low))
  real_scores, fake_scores = d(image, *conditions), d(fake, *conditions)
  ld = bce(real_scores, ones) + bce(fake_scores, zeros)
  od.zero_grad(set_to_none=True)
  ld.backward()
  od.step()
  toggle(d, False)
  lg = bce(d(g(*g_inputs(side, low)), *conditions), ones)  # Non-saturating: -log D(G(z)).
  og.zero_grad(set_to_none=True)
  lg.backward()
  og.step()
  return ld.item() + lg.item()


def step():
  with torch.no_grad():
    bands, coarse = laplacian(real)
  total = 0.0
  for side, (band, low) in zip(SIDES, bands):
    total += alternate(side, band, low)
  return total + alternate(SIDES[-1], coarse, None)


bands, coarse = laplacian(real)
# All products; inside the image; inside, the convolutions' kernel gradients as XLA counts them.
step_macs = [0, 0, 0]
for side, (g, d) in nets.items():
  if side == SIDES[-1]:
    image, conditions = coarse, ()
  else:
    image, low = bands[SIDES.index(side)]
    conditions = (low,)
  g_layers = layer_macs(g, *g_inputs(side, *conditions))
  d_layers = layer_macs(d, image, *conditions)
  for i, (which, share) in enumerate(((0, 1.0), (1, 1.0), (1, SCANNED_SHARE))):
    step_macs[i] += level_macs(g_layers, d_layers, which, share)
  print(
    f'level {side}: params G={count(g)} D={count(d)}, MACs of one forward at B={B}: '
    f'G={sum(m[0] for m in g_layers) / 1e9:.3f}G D={sum(m[0] for m in d_layers) / 1e9:.3f}G'
  )
all_products, inside, as_xla = (2 * m / 1e9 for m in step_macs)
print(
  f'step: {all_products:.1f} GFLOP (2 per product of every Linear and Conv2d, zero padding included); '
  f"{inside:.1f} with inputs inside the image only; {as_xla:.1f} with the convolutions' weight "
  f'gradients counted for {SCANNED_SHARE * B:.0f} of {B} images, as gans.benchmark reports them'
)
for g, d in nets.values():
  g.train(), d.train()
rate = steps_per_s(step, STEPS, WARMUP)
print(f'torch threads={torch.get_num_threads()} B={B} steps/s={rate:.2f} img/s={B * rate:.0f}')
