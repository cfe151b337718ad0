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


class MLPGenerator(nn.Module):
  """z [B, z_dim] -> images [B, *image_shape] (or points [B, D] for toy data).

  Blocks of Dense -> BatchNorm -> ReLU (widths ``hidden``), then Dense(prod(image_shape)) and the
  ``output`` activation: the classic MNIST recipe is hidden = (128, 256, 512, 1024) with a sigmoid
  (pixels in (0, 1)); toy 2-D mixtures use a linear output.
  """

  image_shape: Sequence[int]
  hidden: Sequence[int] = (128, 256, 512, 1024)
  batch_norm: bool = True
  output: str = 'sigmoid'
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, train: bool):
    x = z.astype(self.dtype)
    for width in self.hidden:
      x = nn.Dense(width, dtype=self.dtype)(x)
      if self.batch_norm:
        x = nn.BatchNorm(
          use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype
        )(x)
      x = nn.relu(x)
    x = nn.Dense(int(np.prod(self.image_shape)), dtype=self.dtype)(x)
    x = OUTPUT_ACTIVATIONS[self.output](x)
    return x.astype(jnp.float32).reshape((z.shape[0], *self.image_shape))


class MLPTrunk(nn.Module):
  """images [B, H, W, C] -> features [B, hidden[-1]]: [Dense -> LeakyReLU(slope)] × hidden."""

  hidden: Sequence[int] = (512, 256, 128)
  negative_slope: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    del train  # No BatchNorm or dropout.
    x = x.reshape((x.shape[0], -1)).astype(self.dtype)
    for width in self.hidden:
      x = nn.leaky_relu(nn.Dense(width, dtype=self.dtype)(x), self.negative_slope)
    return x


class MLPDiscriminator(nn.Module):
  """images [B, H, W, C] -> logits [B].

  Blocks of Dense -> LeakyReLU(slope) (widths ``hidden``), then Dense(1): the classic recipe with
  hidden = (512, 256, 128) and slope 0.2. The output is a logit; no sigmoid.
  """

  hidden: Sequence[int] = (512, 256, 128)
  negative_slope: float = 0.2
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    x = MLPTrunk(self.hidden, self.negative_slope, self.dtype, name='trunk')(x, train)
    return nn.Dense(1, dtype=self.dtype, name='head')(x)[:, 0].astype(jnp.float32)


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
