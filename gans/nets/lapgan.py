"""LapGAN's band nets (Denton et al. 2015): one generator and one discriminator per pyramid level k < K.

The conditioning image l_k = u(I_{k+1}) [B, H, W, C] enters both nets as image channels:

* ``BandGenerator``: G_k(z_k, l_k[, y]) = h̃_k. The noise z_k [B, H, W, 1] is one more colour plane, as in
  the paper; ``num_classes`` > 0 (CC-LAPGAN) adds the label as a learned plane e(y) [H, W, 1]. Then
  [Conv 5×5 -> ReLU] × len(features), and a linear 5×5 conv to C channels: a band is signed and unbounded.
* ``BandDiscriminator``: D_k(h, l_k[, y]) -> logits [B] on the channels [h, l_k(, e(y))]: [Conv 5×5 (stride
  ``strides[i]``) -> LeakyReLU(0.2)] × len(features), then Dense(1).

Both are fully convolutional up to D's head, so one definition serves every level (14 and 28 on
Fashion-MNIST, 16 and 32 on CIFAR-10); each level has its own parameters. The coarsest level K is a plain
GAN on I_K (``gans.nets.mlp``, wrapped by ``gans.nets.conditional`` for CC-LAPGAN).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import layers


def _with_label_plane(x, labels, num_classes: int, dtype):
  """[B, H, W, C] -> [B, H, W, C + 1]: the label's learned plane e(y) [H, W] appended (num_classes > 0)."""
  if not num_classes:
    return x
  height, width = x.shape[1:3]
  plane = nn.Embed(num_classes, height * width, name='label_plane')(labels)
  return jnp.concatenate([x, plane.reshape(-1, height, width, 1).astype(dtype)], axis=-1)


class BandGenerator(nn.Module):
  """(noise [B, H, W, 1], low [B, H, W, C][, labels int [B]]) -> band [B, H, W, C]."""

  features: Sequence[int] = (64, 64)
  num_classes: int = 0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, noise, low, labels=None, *, train: bool):
    del train  # No BatchNorm or dropout.
    x = jnp.concatenate([low, noise], axis=-1).astype(self.dtype)
    x = _with_label_plane(x, labels, self.num_classes, self.dtype)
    for width in self.features:
      x = nn.relu(layers.Conv(width, 5, padding='SAME', dtype=self.dtype)(x))
    band = layers.Conv(low.shape[-1], 5, padding='SAME', dtype=self.dtype, name='band')(x)
    return band.astype(jnp.float32)


class BandDiscriminator(nn.Module):
  """(band [B, H, W, C], low [B, H, W, C][, labels int [B]]) -> logits [B]."""

  features: Sequence[int] = (64, 128)
  strides: Sequence[int] = (1, 2)
  negative_slope: float = 0.2
  num_classes: int = 0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, band, low, labels=None, *, train: bool):
    del train
    x = jnp.concatenate([band, low], axis=-1).astype(self.dtype)
    x = _with_label_plane(x, labels, self.num_classes, self.dtype)
    for width, stride in zip(self.features, self.strides, strict=True):
      x = layers.Conv(width, 5, strides=stride, padding='SAME', dtype=self.dtype)(x)
      x = nn.leaky_relu(x, self.negative_slope)
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(1, dtype=self.dtype, name='head')(x)[:, 0].astype(jnp.float32)


class TrunkDiscriminator(nn.Module):
  """images [B, H, W, C] -> logits [B]: ``trunk`` (images -> features [B, F]), then Dense(1); the
  unconditional coarse D (CC-LAPGAN's is ``gans.nets.conditional.ConditionalDiscriminator``)."""

  trunk: nn.Module
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    features = self.trunk(images, train=train)
    return nn.Dense(1, dtype=self.dtype, name='head')(features)[:, 0].astype(jnp.float32)
