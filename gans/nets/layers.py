"""Shared layers.

`Conv` and `ConvTranspose` are drop-in replacements for `flax.linen.Conv` and
`flax.linen.ConvTranspose` on NHWC images: the same parameters (`kernel` [kh, kw, C_in / G,
features], `bias` [features]) give the same outputs and the same gradients. They compute their
convolution by `gans.conv.convolution`, so that each platform gets the implementation that is fast
there: XLA's own convolution on GPU and TPU, and on CPU exact rewrites of the input-dilated
convolutions (a strided transposed convolution, the input gradient of a strided convolution) that
XLA:CPU would run in a generic loop (`gans.conv.cpu`). docs/performance.md has the measurements.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

from gans import conv

Padding = str | Sequence[tuple[int, int]]


def _pairs(value: int | Sequence[int]) -> tuple[int, int]:
  return (value, value) if isinstance(value, int) else tuple(value)


class _Convolution(nn.Module):
  """Parameters and bias of `Conv`/`ConvTranspose`, laid out as in `flax.linen.Conv`/`ConvTranspose`."""

  features: int
  kernel_size: int | Sequence[int]
  strides: int | Sequence[int] = 1
  padding: Padding = 'SAME'
  use_bias: bool = True
  dtype: jnp.dtype | None = None
  param_dtype: jnp.dtype = jnp.float32
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()

  feature_group_count = 1  # G, a field of `Conv`; the kernel has C_in / G input channels.

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H', W', features]."""
    kernel_size = _pairs(self.kernel_size)
    kernel_shape = (*kernel_size, x.shape[-1] // self.feature_group_count, self.features)
    kernel = self.param('kernel', self.kernel_init, kernel_shape, self.param_dtype)
    bias = (
      self.param('bias', self.bias_init, (self.features,), self.param_dtype)
      if self.use_bias
      else None
    )
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    y = self._convolve(x, kernel, kernel_size, _pairs(self.strides))
    return y if bias is None else y + bias

  def _convolve(self, x, kernel, kernel_size, strides):
    raise NotImplementedError


class Conv(_Convolution):
  """`flax.linen.Conv` on [B, H, W, C], computed by `gans.conv.convolution`.

  padding: 'SAME' (output ceil(H / s)), 'VALID', or ((lo, hi), (lo, hi)), as in `flax.linen.Conv`;
  feature_group_count G: the channels split into G groups, each group of outputs a convolution of
  one group of inputs (G = C_in: depthwise), with the kernel [kh, kw, C_in / G, features] as in
  `flax.linen.Conv`.
  """

  feature_group_count: int = 1

  def _convolve(self, x, kernel, kernel_size, strides):
    if isinstance(self.padding, str):
      pads = lax.padtype_to_pads(x.shape[1:3], kernel_size, strides, self.padding)
    else:
      pads = self.padding
    return conv.convolution(x, kernel, strides, pads, feature_group_count=self.feature_group_count)


class ConvTranspose(_Convolution):
  """`flax.linen.ConvTranspose` (transpose_kernel=False) on [B, H, W, C], by gans.conv.convolution.

  Like flax, y = conv(x dilated by the strides, kernel) with the kernel not flipped, so 'SAME' gives
  [B, s_h H, s_w W, features]; padding is 'SAME', 'VALID', or explicit ((lo, hi), (lo, hi)) pads of
  the dilated input, as in `flax.linen.ConvTranspose`. On GPU and TPU this is `lax.conv_transpose`'s
  convolution; on CPU, a strided one is `gans.conv.cpu.dilated_conv`'s phase convolutions.
  """

  def _convolve(self, x, kernel, kernel_size, strides):
    if isinstance(self.padding, str):
      pads = [_transpose_pads(k, s, self.padding) for k, s in zip(kernel_size, strides)]
    else:
      pads = self.padding
    return conv.convolution(x, kernel, (1, 1), pads, lhs_dilation=strides)


def _transpose_pads(k: int, s: int, padding: str) -> tuple[int, int]:
  """Pads of the s-dilated input that `lax.conv_transpose` uses for 'SAME' (output s n) and 'VALID'."""
  if padding == 'SAME':
    total = k + s - 2
    low = k - 1 if s > k - 1 else -(-total // 2)
  elif padding == 'VALID':
    total = k + s - 2 + max(k - s, 0)
    low = k - 1
  else:
    raise ValueError(f'padding must be SAME, VALID or explicit pairs, got {padding!r}')
  return low, total - low
