r"""Speed of the 28x28 DCGAN's convolutions: the project's layers against flax's, one layer at a time.

    python -m gans.benchmark_layers [--batch=128] [--repeats=8]
    GANS_XLA_DEFAULTS=0 python -m gans.benchmark_layers     # without gans.xla_flags' defaults

For each convolution of ``configs/dcgan.py`` (the shapes of ``gans.nets.dcgan`` at batch B) it times, as
the median of ``repeats`` calls of a jitted function, the forward pass and the backward pass (the
gradients with respect to the kernel and the input, given a random output cotangent), for
``gans.nets.layers`` (by ``gans.conv``'s backend, named in the first line printed) and for
``flax.linen``, and prints a Markdown table. The two share parameters and are tested equal
(tests/test_layers.py), so only their speed differs.
"""

from __future__ import annotations

import time

from absl import app, flags
import flax.linen as nn
import jax
import numpy as np

from gans import conv, xla_flags
from gans.nets import layers

FLAGS = flags.FLAGS

# (name, kind, input [H, W, C_in], features, stride): the 28x28 DCGAN's G and D convolutions.
DCGAN_28_CONVOLUTIONS = (
  ('G ConvTranspose 7x7x256 -> 7x7x128', 'transpose', (7, 7, 256), 128, 1),
  ('G ConvTranspose 7x7x128 -> 14x14x64', 'transpose', (7, 7, 128), 64, 2),
  ('G ConvTranspose 14x14x64 -> 28x28x1', 'transpose', (14, 14, 64), 1, 2),
  ('D Conv 28x28x1 -> 14x14x64', 'conv', (28, 28, 1), 64, 2),
  ('D Conv 14x14x64 -> 7x7x128', 'conv', (14, 14, 64), 128, 2),
)
MODULES = {
  'transpose': {'gans': layers.ConvTranspose, 'flax': nn.ConvTranspose},
  'conv': {'gans': layers.Conv, 'flax': nn.Conv},
}


def median_ms(fn, *args, repeats: int) -> float:
  """Median wall time of ``fn(*args)`` (jitted, compiled beforehand) in milliseconds."""
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return 1000 * float(np.median(times))


def time_layer(module: nn.Module, input_shape, batch: int, repeats: int) -> tuple[float, float]:
  """(forward ms, backward ms) of ``module`` on [batch, *input_shape]: the backward pass computes the
  kernel and input gradients of <module(x), cotangent>."""
  rng = np.random.default_rng(0)
  x = jax.numpy.asarray(rng.standard_normal((batch, *input_shape)), jax.numpy.float32)
  params = module.init(jax.random.key(0), x)
  forward = jax.jit(module.apply)
  cotangent = jax.numpy.asarray(rng.standard_normal(forward(params, x).shape), jax.numpy.float32)
  backward = jax.jit(lambda p, x: jax.vjp(module.apply, p, x)[1](cotangent))
  return median_ms(forward, params, x, repeats=repeats), median_ms(
    backward, params, x, repeats=repeats
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  added = xla_flags.set_defaults()  # Before JAX starts a backend, as gans.main does.
  print(
    f'batch {FLAGS.batch}, {jax.devices()[0].device_kind}, XLA flags added: {added or "none"}, '
    f'gans.conv backend: {conv.backend()}'
  )
  print('| convolution | gans fwd ms | gans bwd ms | flax fwd ms | flax bwd ms | bwd speed-up |')
  print('|---|---|---|---|---|---|')
  for name, kind, input_shape, features, stride in DCGAN_28_CONVOLUTIONS:
    times = {}
    for library, module in MODULES[kind].items():
      layer = module(features, (5, 5), stride, use_bias=kind == 'conv')
      times[library] = time_layer(layer, input_shape, FLAGS.batch, FLAGS.repeats)
    (ours_fwd, ours_bwd), (flax_fwd, flax_bwd) = times['gans'], times['flax']
    print(
      f'| {name} | {ours_fwd:.1f} | {ours_bwd:.1f} | {flax_fwd:.1f} | {flax_bwd:.1f} | '
      f'{flax_bwd / ours_bwd:.1f}x |'
    )


def define_flags():
  """Flags of this command (defined only when it runs)."""
  flags.DEFINE_integer('batch', 128, 'Batch size.')
  flags.DEFINE_integer('repeats', 8, 'Timed calls per measurement (the median is reported).')


if __name__ == '__main__':
  define_flags()
  app.run(main)
