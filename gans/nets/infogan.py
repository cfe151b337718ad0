"""InfoGAN's nets for 28×28 / 32×32 images (Chen et al. 2016, Table 1, MNIST column).

G: c [B, d] -> Dense(hidden) -> BN -> ReLU -> Dense((H/4)·(W/4)·128) -> BN -> ReLU
   -> ConvT(64, 4×4, s2) -> BN -> ReLU -> ConvT(C, 4×4, s2) -> Tanh.
D/Q: x -> Conv(64, 4×4, s2) -> LReLU -> Conv(128, 4×4, s2) -> BN -> LReLU -> Dense(hidden) -> BN -> LReLU
   = trunk features h; D: Dense(1)(h); Q: Dense(q_hidden) -> BN -> LReLU -> Dense(K + L) on h, split into
   the categorical code's logits [B, K] and the continuous codes' means [B, L].
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import layers


def _batch_norm(train: bool, dtype):
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype)


class InfoGANGenerator(nn.Module):
  """latent [B, d] (noise and codes concatenated) -> images [B, *image_shape] in (-1, 1)."""

  image_shape: Sequence[int]
  hidden: int = 1024
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, latent, train: bool):
    height, width, channels = self.image_shape
    x = latent.astype(self.dtype)
    x = nn.relu(_batch_norm(train, self.dtype)(nn.Dense(self.hidden, dtype=self.dtype)(x)))
    x = nn.Dense((height // 4) * (width // 4) * 128, dtype=self.dtype)(x)
    x = nn.relu(_batch_norm(train, self.dtype)(x)).reshape((-1, height // 4, width // 4, 128))
    x = layers.ConvTranspose(64, (4, 4), strides=2, dtype=self.dtype)(x)
    x = nn.relu(_batch_norm(train, self.dtype)(x))
    x = layers.ConvTranspose(channels, (4, 4), strides=2, dtype=self.dtype)(x)
    return jnp.tanh(x).astype(jnp.float32)


class InfoGANDiscriminator(nn.Module):
  """images [B, H, W, C] -> (logits [B], code logits [B, num_categories], code means [B, num_continuous]).

  D and Q share every layer up to the trunk features; Q adds one hidden layer.
  """

  num_categories: int = 10
  num_continuous: int = 2
  hidden: int = 1024
  q_hidden: int = 128
  negative_slope: float = 0.1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    def lrelu(v):
      return nn.leaky_relu(v, self.negative_slope)

    x = lrelu(layers.Conv(64, (4, 4), strides=2, dtype=self.dtype)(images.astype(self.dtype)))
    x = layers.Conv(128, (4, 4), strides=2, dtype=self.dtype)(x)
    x = lrelu(_batch_norm(train, self.dtype)(x)).reshape((images.shape[0], -1))
    h = lrelu(_batch_norm(train, self.dtype)(nn.Dense(self.hidden, dtype=self.dtype)(x)))
    logits = nn.Dense(1, dtype=self.dtype, name='d_head')(h)[:, 0]
    q = nn.Dense(self.q_hidden, dtype=self.dtype, name='q_hidden')(h)
    q = lrelu(_batch_norm(train, self.dtype)(q))
    q = nn.Dense(self.num_categories + self.num_continuous, dtype=self.dtype, name='q_head')(q)
    q = q.astype(jnp.float32)
    return logits.astype(jnp.float32), q[:, : self.num_categories], q[:, self.num_categories :]
