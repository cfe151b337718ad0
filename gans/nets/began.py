"""BEGAN's nets (Berthelot et al. 2017, Figure 1), scaled by ``filters`` n and ``blocks``.

Decoder (also the generator): h [B, hidden] -> Dense(h0·w0·n), h0 = H / 2^blocks
    -> [Conv(n, 3×3) -> ELU -> Conv(n, 3×3) -> ELU -> nearest-neighbour ×2] × blocks
    -> Conv(n, 3×3) -> ELU -> Conv(n, 3×3) -> ELU -> Conv(C, 3×3)                  (no output squashing)
Encoder: x -> Conv(n, 3×3) -> ELU
    -> [Conv(n·i, 3×3) -> ELU -> Conv(n·i, 3×3) -> ELU -> Conv(n·(i+1), 3×3, s2) -> ELU], i = 1..blocks
    -> Conv(n·(blocks+1), 3×3) -> ELU -> Conv(n·(blocks+1), 3×3) -> ELU -> Dense(hidden)
Discriminator: the autoencoder decoder(encoder(x)), images [B, H, W, C] -> reconstructions of that shape.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import layers


def upsample_nearest(x, factor: int = 2):
  """[B, H, W, C] -> [B, factor·H, factor·W, C], each pixel repeated factor × factor times."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def _conv_elu(x, features: int, dtype, strides: int = 1):
  return nn.elu(layers.Conv(features, (3, 3), strides=strides, dtype=dtype)(x))


class BEGANDecoder(nn.Module):
  """h [B, hidden] -> images [B, *image_shape] (unbounded; the data's range is (-1, 1))."""

  image_shape: Sequence[int]
  filters: int = 32
  blocks: int = 2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, h, train: bool):
    del train  # No BatchNorm.
    height, width, channels = self.image_shape
    h0, w0 = height >> self.blocks, width >> self.blocks
    x = nn.Dense(h0 * w0 * self.filters, dtype=self.dtype)(h.astype(self.dtype))
    x = x.reshape((-1, h0, w0, self.filters))
    for _ in range(self.blocks):
      x = _conv_elu(_conv_elu(x, self.filters, self.dtype), self.filters, self.dtype)
      x = upsample_nearest(x)
    x = _conv_elu(_conv_elu(x, self.filters, self.dtype), self.filters, self.dtype)
    return layers.Conv(channels, (3, 3), dtype=self.dtype)(x).astype(jnp.float32)


class BEGANEncoder(nn.Module):
  """images [B, H, W, C] -> h [B, hidden]."""

  hidden: int = 32
  filters: int = 32
  blocks: int = 2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    del train
    x = _conv_elu(images.astype(self.dtype), self.filters, self.dtype)
    for i in range(1, self.blocks + 1):
      x = _conv_elu(_conv_elu(x, self.filters * i, self.dtype), self.filters * i, self.dtype)
      x = _conv_elu(x, self.filters * (i + 1), self.dtype, strides=2)
    width = self.filters * (self.blocks + 1)
    x = _conv_elu(_conv_elu(x, width, self.dtype), width, self.dtype)
    return nn.Dense(self.hidden, dtype=self.dtype)(x.reshape((images.shape[0], -1)))


class BEGANAutoencoder(nn.Module):
  """BEGAN's discriminator: images [B, H, W, C] -> decoder(encoder(images)), same shape."""

  hidden: int = 32
  filters: int = 32
  blocks: int = 2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    h = BEGANEncoder(self.hidden, self.filters, self.blocks, self.dtype, name='encoder')(
      images, train
    )
    return BEGANDecoder(images.shape[1:], self.filters, self.blocks, self.dtype, name='decoder')(
      h, train
    )
