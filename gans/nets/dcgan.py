"""DCGAN generator and discriminator (Radford et al. 2015, arXiv:1511.06434).

One generator and one discriminator class cover every DCGAN recipe; `generator` and `discriminator` build
the two standard shapes:

- 28x28 (MNIST / Fashion-MNIST), 5x5 kernels:
  G: z [B, 100] -> Dense(7*7*256, no bias) -> BN -> ReLU -> ConvT(128, s1) -> BN -> ReLU
     -> ConvT(64, s2) -> BN -> ReLU -> ConvT(C, s2) -> tanh                         [B, 28, 28, C]
  D: x -> Conv(64, s2) -> LReLU(0.2) -> Conv(128, s2) -> BN -> LReLU(0.2) -> Dense(1)   [B]
- 32x32 (CIFAR-10) and 64x64 (CelebA), 4x4 kernels, base width f (64 in the paper):
  G: z -> Dense(4*4*f*2^(m-1)) -> BN -> ReLU -> m-1 x [ConvT(halving width, s2) -> BN -> ReLU]
     -> ConvT(C, s2) -> tanh, with m = log2(size / 4) up-samplings;
  D: x -> Conv(f, s2) -> LReLU -> m-1 x [Conv(doubling width, s2) -> BN -> LReLU] -> Dense(1).

All weights start from N(0, 0.02) as in the paper; BatchNorm uses momentum 0.9 and epsilon 1e-5
(PyTorch's 0.1 / 1e-5). `dtype` is the compute dtype (parameters stay float32). The nets know no loss.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans.nets import layers

_INIT = nn.initializers.normal(0.02)


def _batch_norm(train: bool, dtype) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=dtype)


class Generator(nn.Module):
  """z [B, latent] -> images [B, H, W, channels] in [-1, 1].

  Attributes:
    stem_size: spatial size of the projected and reshaped latent (7 for 28x28, 4 for 32/64).
    widths: channels of the stem and of each up-sampling block but the last (which outputs `channels`).
    strides: stride of each up-sampling block, len(widths) of them; H = stem_size * prod(strides).
    kernel_size: of every transposed convolution.
    channels: output image channels.
    dtype: compute dtype.
  """

  stem_size: int
  widths: Sequence[int]
  strides: Sequence[int]
  kernel_size: int
  channels: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, z: jax.Array, train: bool) -> jax.Array:
    x = nn.Dense(
      self.stem_size**2 * self.widths[0], use_bias=False, dtype=self.dtype, kernel_init=_INIT
    )(z)
    x = nn.relu(_batch_norm(train, self.dtype)(x))
    x = x.reshape(-1, self.stem_size, self.stem_size, self.widths[0])
    widths = [*self.widths[1:], self.channels]
    for i, (width, stride) in enumerate(zip(widths, self.strides, strict=True)):
      x = layers.ConvTranspose(
        width, (self.kernel_size,) * 2, stride, use_bias=False, dtype=self.dtype, kernel_init=_INIT
      )(x)
      if i < len(widths) - 1:
        x = nn.relu(_batch_norm(train, self.dtype)(x))
    return jnp.tanh(x)


class DiscriminatorTrunk(nn.Module):
  """images [B, H, W, C] -> features [B, F]: stride-2 convolutions (with bias, as in the reference) of the
  given widths, BN after all but the first (none if not `batch_norm`: WGAN-GP's critic, whose penalty is
  per example), LReLU(0.2); flattened."""

  widths: Sequence[int]
  kernel_size: int
  batch_norm: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    for i, width in enumerate(self.widths):
      x = layers.Conv(width, (self.kernel_size,) * 2, 2, dtype=self.dtype, kernel_init=_INIT)(x)
      if i > 0 and self.batch_norm:
        x = _batch_norm(train, self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    return x.reshape(x.shape[0], -1)


class Discriminator(nn.Module):
  """images [B, H, W, C] -> logits [B] (float32), and the trunk's features [B, F] if asked (InfoGAN's Q head)."""

  widths: Sequence[int]
  kernel_size: int
  batch_norm: bool = True
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool, return_features: bool = False):
    trunk = DiscriminatorTrunk(
      self.widths, self.kernel_size, self.batch_norm, self.dtype, name='trunk'
    )
    features = trunk(x, train)
    logits = nn.Dense(1, dtype=self.dtype, kernel_init=_INIT, name='head')(features)
    logits = logits[:, 0].astype(jnp.float32)
    return (logits, features) if return_features else logits


def generator(
  image_size: int = 28, channels: int = 1, base_features: int = 64, dtype: jnp.dtype = jnp.float32
) -> Generator:
  """The 28x28 generator (widths 4f, 2f, f) or Radford's for image_size = 4 * 2^m (32, 64, ...)."""
  f = base_features
  if image_size == 28:
    return Generator(7, (4 * f, 2 * f, f), (1, 2, 2), 5, channels, dtype)
  m = _doublings(image_size)
  return Generator(4, tuple(f * 2**i for i in reversed(range(m))), (2,) * m, 4, channels, dtype)


def discriminator(
  image_size: int = 28,
  base_features: int = 64,
  batch_norm: bool = True,
  dtype: jnp.dtype = jnp.float32,
) -> Discriminator:
  """The 28x28 discriminator (widths f, 2f) or Radford's for image_size = 4 * 2^m (widths f ... f 2^(m-1))."""
  f = base_features
  if image_size == 28:
    return Discriminator((f, 2 * f), 5, batch_norm, dtype)
  return Discriminator(tuple(f * 2**i for i in range(_doublings(image_size))), 4, batch_norm, dtype)


def image_generator(
  image_shape: Sequence[int], base_features: int = 64, dtype: jnp.dtype = jnp.float32
) -> Generator:
  """``generator`` for images [H, H, C] (H = 28, or 4·2^m), the form a config names
  (``model.generator = 'dcgan.image_generator'``)."""
  return generator(image_shape[0], image_shape[-1], base_features, dtype)


def _doublings(image_size: int) -> int:
  m = image_size.bit_length() - 3  # image_size = 4 * 2^m
  if m < 1 or image_size != 4 << m:
    raise ValueError(f'image_size must be 28 or 4 * 2^m (8, 16, 32, 64, ...), got {image_size}')
  return m
