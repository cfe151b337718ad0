"""CycleGAN's nets (Zhu et al. 2017, after Johnson et al. 2016 and Isola et al. 2017's PatchGAN).

* ``ResnetGenerator``: images [B, H, W, C] -> [B, H, W, C_out] in (−1, 1). Reflection pad 3 -> Conv 7×7
  (f) -> IN -> ReLU; ``downsamplings`` × [Conv 3×3 stride 2 (2f, 4f, ...) -> IN -> ReLU]; ``blocks`` residual
  blocks x + IN(Conv3(pad(ReLU(IN(Conv3(pad(x))))))) with reflection padding 1; as many ×
  [ConvTranspose 3×3 stride 2 -> IN -> ReLU]; reflection pad 3 -> Conv 7×7 (C_out) -> tanh. The paper uses
  9 blocks at 256×256 and 6 at 128×128; the 28×28 recipe fewer (its config).
* ``PatchDiscriminator``: images [B, H, W, C] -> patch logits [B, H', W']: Conv 4×4 stride 2 (f) ->
  LeakyReLU(0.2), then ``layers`` − 1 × [Conv 4×4 stride 2 (f·min(2^n, 8)) -> IN -> LeakyReLU], Conv 4×4
  stride 1 -> IN -> LeakyReLU, Conv 4×4 stride 1 (1), every conv zero-padded by 1. Each logit sees a
  ``receptive_field(layers)``-pixel square: 70 with the paper's 3 layers (its "70×70 PatchGAN").

IN is instance normalisation without a learned scale and offset, ε = 1e-5 (the reference code's
``InstanceNorm2d`` default), which ``instance_norm`` is. Weights ~ N(0, 0.02), biases 0.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import layers

INIT = nn.initializers.normal(0.02)
EPSILON = 1e-5


def instance_norm(x):
  """(x − mean) / sqrt(var + 1e-5) over each example's and channel's pixels, [B, H, W, C]; no affine."""
  return nn.InstanceNorm(epsilon=EPSILON, use_scale=False, use_bias=False)(x)


def reflect_pad(x, pad: int):
  """[B, H, W, C] -> [B, H + 2 pad, W + 2 pad, C], mirrored without repeating the border pixel."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='reflect')


def receptive_field(num_layers: int) -> int:
  """The side of the input square one logit of ``PatchDiscriminator(layers=num_layers)`` sees."""
  field = 1
  for stride in reversed([2] * num_layers + [1, 1]):  # Every conv is 4×4.
    field = (field - 1) * stride + 4
  return field


def _conv(features: int, kernel: int, dtype, strides: int = 1, padding: Any = 'VALID'):
  return layers.Conv(
    features, kernel, strides=strides, padding=padding, dtype=dtype, kernel_init=INIT
  )


class ResidualBlock(nn.Module):
  """x + IN(Conv3(pad(ReLU(IN(Conv3(pad(x))))))), channels kept."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    features = x.shape[-1]
    y = nn.relu(instance_norm(_conv(features, 3, self.dtype)(reflect_pad(x, 1))))
    return x + instance_norm(_conv(features, 3, self.dtype)(reflect_pad(y, 1)))


class ResnetGenerator(nn.Module):
  """images [B, H, W, C] -> translated images [B, H, W, out_channels or C] in (−1, 1)."""

  features: int = 64
  blocks: int = 9
  downsamplings: int = 2
  out_channels: int = 0  # 0: as many as the input.
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    del train  # Instance norm has no running statistics; no dropout.
    x = images.astype(self.dtype)
    x = nn.relu(instance_norm(_conv(self.features, 7, self.dtype)(reflect_pad(x, 3))))
    for i in range(self.downsamplings):
      x = _conv(self.features * 2 ** (i + 1), 3, self.dtype, strides=2, padding=((1, 1), (1, 1)))(x)
      x = nn.relu(instance_norm(x))
    for _ in range(self.blocks):
      x = ResidualBlock(self.dtype)(x)
    for i in reversed(range(self.downsamplings)):
      x = layers.ConvTranspose(
        self.features * 2**i, 3, strides=2, padding='SAME', dtype=self.dtype, kernel_init=INIT
      )(x)
      x = nn.relu(instance_norm(x))
    out_channels = self.out_channels or images.shape[-1]
    x = _conv(out_channels, 7, self.dtype)(reflect_pad(x, 3))
    return nn.tanh(x).astype(jnp.float32)


class PatchDiscriminator(nn.Module):
  """images [B, H, W, C] -> patch logits [B, H', W'] (``receptive_field(layers)`` pixels each)."""

  features: int = 64
  layers: int = 3
  negative_slope: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    del train
    pad = ((1, 1), (1, 1))
    x = images.astype(self.dtype)
    x = nn.leaky_relu(_conv(self.features, 4, self.dtype, 2, pad)(x), self.negative_slope)
    for n in range(1, self.layers + 1):
      stride = 2 if n < self.layers else 1
      x = _conv(self.features * min(2**n, 8), 4, self.dtype, stride, pad)(x)
      x = nn.leaky_relu(instance_norm(x), self.negative_slope)
    return _conv(1, 4, self.dtype, 1, pad)(x)[..., 0].astype(jnp.float32)
