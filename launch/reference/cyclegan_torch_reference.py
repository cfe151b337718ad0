"""Reference CycleGAN train step in PyTorch, CPU: the nets of gans/nets/cyclegan.py and the step of
gans/methods/cyclegan.py at the default recipe of configs/cyclegan.py (fashion_mnist: 28x28x1 images in
[-1, 1] in both domains, batch B = 4). Not part of gans: torch is not its dependency; run it from a venv
with a CPU torch (launch/compare_reference.sh cyclegan does).

    python cyclegan_torch_reference.py [B] [STEPS]    (defaults 4 20)

Prints each net's parameter count (G = F 1,073,281 and D_A = D_B 34,401, as gans's), the step's FLOPs
counted from the convolutions' multiply-accumulates two ways (every product, zero padding included, as torch
computes them: 9.38 GFLOP at B = 4; only the products with inputs inside the image, as gans.benchmark
counts a convolution: 9.17, against the 10.23 of `python -m gans.benchmark --config=configs/cyclegan.py`,
whose forwards count as these (G 0.478 against 0.474 GFLOP) and whose gradient convolutions count more
products, e.g. the input gradients of the reflection-padded convolutions), then steps/s after 2 warm-up
steps, on os.cpu_count() torch threads. On a machine loaded by other jobs, torch's OpenMP threads spin
at their barriers and the step slows by tens of times (2026-12-01, 2 cores, load 6, nice 10: 0.14
steps/s; 5.7 with OMP_WAIT_POLICY=passive; 8.4 on one thread): time it on a quiet machine.

Nets (NCHW; weights N(0, 0.02), biases 0; IN = InstanceNorm2d(affine=False, eps 1e-5), no running stats):
  G, F (ResNet generator, features 32, 3 blocks, 2 downsamplings): ReflectionPad2d(3) -> Conv 7×7 (32) ->
    IN -> ReLU; Conv 3×3 stride 2 padding 1 (64, then 128) -> IN -> ReLU, twice; 3 residual blocks
    x + IN(Conv 3×3(pad1(ReLU(IN(Conv 3×3(pad1(x))))))) at 128 channels, pad1 = ReflectionPad2d(1);
    ConvTranspose2d 3×3 stride 2 padding 1 output_padding 1 (64, then 32) -> IN -> ReLU, twice;
    ReflectionPad2d(3) -> Conv 7×7 (1) -> tanh.                              [B, 1, 28, 28]
  D_A, D_B (PatchGAN, features 32, 1 layer): Conv 4×4 stride 2 (32) -> LeakyReLU(0.2) -> Conv 4×4
    stride 1 (64) -> IN -> LeakyReLU(0.2) -> Conv 4×4 stride 1 (1), every conv zero-padded by 1.
                                                                               [B, 1, 12, 12] logits
Step (gans.methods.cyclegan.CycleGAN.train_step; Adam lr 2e-4, betas (0.5, 0.999) for each net), on a
fixed pair of batches a, b (random pixels in [-1, 1) made once, no input pipeline):
  G and F: one update of the joint loss, D_A and D_B frozen (no weight gradients for them, as jax.grad over
    G's and F's parameters only):
      mean((D_B(G(a)) − 1)²) + mean((D_A(F(b)) − 1)²)
      + 10 (mean|F(G(a)) − a| + mean|G(F(b)) − b|) + 0.5 · 10 (mean|G(b) − b| + mean|F(a) − a|)
    (six generator passes); one Adam step over both (Adam is per parameter: the same as gans's one
    optimiser each).
  D_A, then D_B: one update each on its real batch against that forward's fakes (F(b), G(a), detached)
    through its image pool: ½ mean((D(real) − 1)²) + ½ mean(D(pooled)²), two D calls; Adam step.
  Image pool (the paper's, after Shrivastava et al. 2017): 50 fakes per D; for each fake of the batch in
  turn, while fewer than 50 are stored store it and return it; then with probability ½ return a uniformly
  chosen stored one and store the fake in its place, else return the fake.
Differences in state or layout only, not in work: the learning rate is held at 2e-4 (gans's decays
linearly in the second half of training: one multiply); torch's transposed convolution is the
convolution of the 2-dilated input padded 1 before and 2 after with the flipped kernel, flax's 'SAME'
pads 2 before and 1 after without flipping (the same output size and work, windows one pixel apart);
the pool draws from Python's random, gans's from its step key.
"""

import os
import random
import sys

import torch
import torch.nn as nn
from torch_timing import steps_per_s

B = int(sys.argv[1]) if len(sys.argv) > 1 else 4
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
WARMUP = 2
SIDE, CHANNELS = 28, 1
G_FEATURES, G_BLOCKS, G_DOWNSAMPLINGS = 32, 3, 2
D_FEATURES, D_LAYERS, SLOPE = 32, 1, 0.2
CYCLE_WEIGHT, IDENTITY_WEIGHT, POOL_SIZE = 10.0, 0.5, 50


# Nets.


def normal(module):
  nn.init.normal_(module.weight, 0.0, 0.02)
  nn.init.zeros_(module.bias)
  return module


def conv(c_in, c_out, kernel, stride=1, padding=0):
  return normal(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding))


def instance_norm(channels):
  return nn.InstanceNorm2d(channels, affine=False, eps=1e-5)


class ResidualBlock(nn.Module):
  def __init__(self, channels):
    super().__init__()
    self.body = nn.Sequential(
      nn.ReflectionPad2d(1),
      conv(channels, channels, 3),
      instance_norm(channels),
      nn.ReLU(),
      nn.ReflectionPad2d(1),
      conv(channels, channels, 3),
      instance_norm(channels),
    )

  def forward(self, x):
    return x + self.body(x)


class ResnetGenerator(nn.Module):
  def __init__(self):
    super().__init__()
    f = G_FEATURES
    layers = [nn.ReflectionPad2d(3), conv(CHANNELS, f, 7), instance_norm(f), nn.ReLU()]
    for i in range(G_DOWNSAMPLINGS):
      c_in, c_out = f * 2**i, f * 2 ** (i + 1)
      layers += [conv(c_in, c_out, 3, 2, 1), instance_norm(c_out), nn.ReLU()]
    layers += [ResidualBlock(f * 2**G_DOWNSAMPLINGS) for _ in range(G_BLOCKS)]
    for i in reversed(range(G_DOWNSAMPLINGS)):
      c_in, c_out = f * 2 ** (i + 1), f * 2**i
      up = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
      layers += [normal(up), instance_norm(c_out), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), conv(f, CHANNELS, 7), nn.Tanh()]
    self.body = nn.Sequential(*layers)

  def forward(self, images):
    return self.body(images)


class PatchDiscriminator(nn.Module):
  def __init__(self):
    super().__init__()
    layers, width = [conv(CHANNELS, D_FEATURES, 4, 2, 1), nn.LeakyReLU(SLOPE)], D_FEATURES
    for n in range(1, D_LAYERS + 1):
      features = D_FEATURES * min(2**n, 8)
      stride = 2 if n < D_LAYERS else 1
      layers += [conv(width, features, 4, stride, 1), instance_norm(features), nn.LeakyReLU(SLOPE)]
      width = features
    self.body = nn.Sequential(*layers, conv(width, 1, 4, 1, 1))

  def forward(self, images):
    return self.body(images)


class ImagePool:
  """POOL_SIZE past fakes (the paper's history of generated images)."""

  def __init__(self, size):
    self.size, self.images = size, []

  def query(self, fakes):
    returned = []
    for fake in fakes:
      if len(self.images) < self.size:
        self.images.append(fake)
        returned.append(fake)
      elif random.random() < 0.5:
        slot = random.randrange(self.size)
        returned.append(self.images[slot])
        self.images[slot] = fake
      else:
        returned.append(fake)
    return torch.stack(returned)


# FLOPs, from the multiply-accumulates of each convolution.


def _inside_taps(size, positions, kernel, stride, pad):
  """Pairs (position, tap) along one axis with 0 <= position · stride + tap − pad < size."""
  return sum(0 <= p * stride + t - pad < size for p in range(positions) for t in range(kernel))


def layer_macs(net, images):
  """Per Conv2d and ConvTranspose2d of ``net``, in order, ``(all, inside)``: the MACs of one forward on
  ``images``, as every product torch computes (zero padding, and for a transposed convolution the
  products landing in the cropped border, included) and as only the products of an input inside the
  image with a kernel tap whose output is kept (as gans.benchmark.step_flops counts a convolution)."""
  macs, hooks = [], []

  def record(module, args, output):
    x, kernel = args[0], module.kernel_size
    transposed = isinstance(module, nn.ConvTranspose2d)  # Each input pixel scatters into a window.
    every = (x if transposed else output).numel() * kernel[0] * kernel[1]
    every *= module.out_channels if transposed else module.in_channels
    taps = []
    for a in (2, 3):
      size, positions = (
        (output.shape[a], x.shape[a]) if transposed else (x.shape[a], output.shape[a])
      )
      taps.append(
        _inside_taps(size, positions, kernel[a - 2], module.stride[a - 2], module.padding[a - 2])
      )
    inside = x.shape[0] * module.in_channels * module.out_channels * taps[0] * taps[1]
    macs.append((every, inside))

  for module in net.modules():
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
      hooks.append(module.register_forward_hook(record))
  with torch.no_grad():
    net(images)
  for hook in hooks:
    hook.remove()
  return macs


def step_macs(g_layers, d_layers, which):
  """MACs of one step (``which``: 0 every product, 1 inside the image), a layer's input gradient and its
  weight gradient each as many as its forward, where the step needs them."""
  g_fwd, d_fwd = (sum(m[which] for m in layers) for layers in (g_layers, d_layers))
  g_first, d_first = g_layers[0][which], d_layers[0][which]
  # G and F: six generator passes, each with its weight gradients and its input gradients past the first
  # layer, and into the first layer for the two cycle passes (their input, G(a) or F(b), is a net's
  # output); D_B(G(a)) and D_A(F(b)): forward and input gradients of every layer, no weight gradients.
  generators = 6 * (g_fwd + g_fwd + g_fwd - g_first) + 2 * g_first + 2 * (d_fwd + d_fwd)
  # D_A, D_B: forward on the real and the pooled batch, weight gradients, input gradients past the first.
  discriminators = 2 * 2 * (d_fwd + d_fwd + d_fwd - d_first)
  return generators + discriminators


def count(module):
  return sum(p.numel() for p in module.parameters())


torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)
random.seed(0)
g_ab, g_ba = ResnetGenerator(), ResnetGenerator()  # G: A -> B, F: B -> A.
d_a, d_b = PatchDiscriminator(), PatchDiscriminator()
opt_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], 2e-4, betas=(0.5, 0.999))
opt_d_a, opt_d_b = (torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999)) for d in (d_a, d_b))
pool_a, pool_b = ImagePool(POOL_SIZE), ImagePool(POOL_SIZE)
real_a = torch.rand(B, CHANNELS, SIDE, SIDE) * 2 - 1
real_b = torch.rand(B, CHANNELS, SIDE, SIDE) * 2 - 1


def toggle(module, on):
  for p in module.parameters():
    p.requires_grad_(on)


def mean_square(x, target):
  return torch.mean(torch.square(x - target))


def l1(x, y):
  return torch.mean(torch.abs(x - y))


def update_discriminator(d, optimizer, real, pooled):
  loss = 0.5 * mean_square(d(real), 1.0) + 0.5 * mean_square(d(pooled), 0.0)
  optimizer.zero_grad(set_to_none=True)
  loss.backward()
  optimizer.step()
  return loss.item()


def step():
  a, b = real_a, real_b
  toggle(d_a, False), toggle(d_b, False)
  fake_b, fake_a = g_ab(a), g_ba(b)
  adversarial = mean_square(d_b(fake_b), 1.0) + mean_square(d_a(fake_a), 1.0)
  cycle = l1(g_ba(fake_b), a) + l1(g_ab(fake_a), b)
  identity = l1(g_ab(b), b) + l1(g_ba(a), a)
  loss = adversarial + CYCLE_WEIGHT * cycle + IDENTITY_WEIGHT * CYCLE_WEIGHT * identity
  opt_g.zero_grad(set_to_none=True)
  loss.backward()
  opt_g.step()
  toggle(d_a, True), toggle(d_b, True)
  pooled_a, pooled_b = pool_a.query(fake_a.detach()), pool_b.query(fake_b.detach())
  loss_d_a = update_discriminator(d_a, opt_d_a, a, pooled_a)
  loss_d_b = update_discriminator(d_b, opt_d_b, b, pooled_b)
  return loss.item() + loss_d_a + loss_d_b


g_layers, d_layers = layer_macs(g_ab, real_a), layer_macs(d_a, real_a)
print(
  f'params G={count(g_ab)} F={count(g_ba)} D_A={count(d_a)} D_B={count(d_b)}; MACs of one forward at '
  f'B={B}: G={sum(m[0] for m in g_layers) / 1e9:.3f}G D={sum(m[0] for m in d_layers) / 1e9:.4f}G'
)
every, inside = (2 * step_macs(g_layers, d_layers, which) / 1e9 for which in (0, 1))
print(
  f'step: {every:.2f} GFLOP (2 per product of every convolution, zero padding included); {inside:.2f} '
  'with inputs inside the image only, as gans.benchmark counts a convolution'
)
rate = steps_per_s(step, STEPS, WARMUP)
print(f'torch threads={torch.get_num_threads()} B={B} steps/s={rate:.2f} img/s={B * rate:.0f}')
