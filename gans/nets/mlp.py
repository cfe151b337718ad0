"""Fully connected nets: the classic MNIST GAN pair and the VAE/AE encoder and decoder.

Every module maps arrays to arrays and knows nothing of the loss that trains it. Images are NHWC; MLPs
flatten them on the way in and reshape on the way out.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

OUTPUT_ACTIVATIONS = {'sigmoid': nn.sigmoid, 'tanh': nn.tanh, 'linear': lambda x: x}


def dense_init(std: float | None):
  """Dense kernels ~ N(0, std²), or Flax's LeCun normal when ``std`` is None."""
  return nn.linear.default_kernel_init if std is None else nn.initializers.normal(std)


class MLPGenerator(nn.Module):
  """z [B, z_dim] -> images [B, *image_shape] (or points [B, D] for toy data).

  Blocks of Dense -> BatchNorm -> ReLU (widths ``hidden``), then Dense(prod(image_shape)) and the
  ``output`` activation: the classic MNIST recipe is hidden = (128, 256, 512, 1024) with a sigmoid
  (pixels in (0, 1)); toy 2-D mixtures use a linear output. ``kernel_init_std`` σ draws the Dense
  weights from N(0, σ²) instead of LeCun normal.
  """

  image_shape: Sequence[int]
  hidden: Sequence[int] = (128, 256, 512, 1024)
  batch_norm: bool = True
  output: str = 'sigmoid'
  kernel_init_std: float | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, train: bool):
    init = dense_init(self.kernel_init_std)
    x = z.astype(self.dtype)
    for width in self.hidden:
      x = nn.Dense(width, dtype=self.dtype, kernel_init=init)(x)
      if self.batch_norm:
        x = nn.BatchNorm(
          use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype
        )(x)
      x = nn.relu(x)
    x = nn.Dense(int(np.prod(self.image_shape)), dtype=self.dtype, kernel_init=init)(x)
    x = OUTPUT_ACTIVATIONS[self.output](x)
    return x.astype(jnp.float32).reshape((z.shape[0], *self.image_shape))


class MLPTrunk(nn.Module):
  """images [B, H, W, C] -> features [B, hidden[-1]]: a block per width of ``hidden``.

  Each block is Dense(width) -> LeakyReLU(slope), or with ``maxout_pieces`` = k a maxout unit
  (Goodfellow et al. 2013): Dense(width·k) viewed as [B, width, k], then h_i = max_j a_{i,j}, the max
  over each unit's k pieces (PacGAN's toy D: 3 × 200 units of 5 pieces). ``kernel_init_std`` σ draws
  the Dense weights from N(0, σ²) (PacGAN's 0.02) instead of LeCun normal.
  """

  hidden: Sequence[int] = (512, 256, 128)
  negative_slope: float = 0.2
  maxout_pieces: int | None = None
  kernel_init_std: float | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    del train  # No BatchNorm or dropout.
    x = x.reshape((x.shape[0], -1)).astype(self.dtype)
    pieces = self.maxout_pieces or 1
    init = dense_init(self.kernel_init_std)
    for width in self.hidden:
      x = nn.Dense(width * pieces, dtype=self.dtype, kernel_init=init)(x)
      if self.maxout_pieces:
        x = jnp.max(x.reshape((x.shape[0], width, pieces)), axis=-1)
      else:
        x = nn.leaky_relu(x, self.negative_slope)
    return x


class MLPDiscriminator(nn.Module):
  """images [B, H, W, C] -> logits [B].

  ``MLPTrunk`` blocks (widths ``hidden``; LeakyReLU(slope), or maxout of ``maxout_pieces``), then
  Dense(1): the classic recipe with hidden = (512, 256, 128) and slope 0.2. The output is a logit; no
  sigmoid.
  """

  hidden: Sequence[int] = (512, 256, 128)
  negative_slope: float = 0.2
  maxout_pieces: int | None = None
  kernel_init_std: float | None = None
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = MLPTrunk(
      self.hidden,
      self.negative_slope,
      self.maxout_pieces,
      self.kernel_init_std,
      self.dtype,
      name='trunk',
    )(x, train)
    head = nn.Dense(1, dtype=self.dtype, kernel_init=dense_init(self.kernel_init_std), name='head')
    return head(x)[:, 0].astype(jnp.float32)


class MLPEncoder(nn.Module):
  """images [B, H, W, C] -> (mean [B, latent_dim], log_var [B, latent_dim]) of q(z | x).

  Dense -> ReLU blocks, then two Dense heads. An AE uses ``mean`` as its deterministic code.
  """

  latent_dim: int
  hidden: Sequence[int] = (512, 256)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    del train
    h = x.reshape((x.shape[0], -1)).astype(self.dtype)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width, dtype=self.dtype)(h))
    mean = nn.Dense(self.latent_dim, dtype=self.dtype, name='mean')(h)
    log_var = nn.Dense(self.latent_dim, dtype=self.dtype, name='log_var')(h)
    return mean.astype(jnp.float32), log_var.astype(jnp.float32)


class MLPDecoder(nn.Module):
  """z [B, latent_dim] -> pixel logits [B, *image_shape] (Bernoulli logits, or Gaussian means through
  a sigmoid, as the likelihood decides)."""

  image_shape: Sequence[int]
  hidden: Sequence[int] = (256, 512)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, train: bool):
    del train
    h = z.astype(self.dtype)
    for width in self.hidden:
      h = nn.relu(nn.Dense(width, dtype=self.dtype)(h))
    out = nn.Dense(int(np.prod(self.image_shape)), dtype=self.dtype)(h)
    return out.astype(jnp.float32).reshape((z.shape[0], *self.image_shape))
