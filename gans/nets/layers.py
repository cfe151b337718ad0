"""Shared layers.

`Conv` and `ConvTranspose` are drop-in replacements for `flax.linen.Conv` and `flax.linen.ConvTranspose`
on NHWC images: the same parameters (`kernel` [kh, kw, C_in, features], `bias` [features]) give the same
outputs and the same gradients. They exist because XLA:CPU hands every NHWC f32 convolution without input
("base") dilation to a fast library (YNNPACK) and runs the others through a slow generic loop. A strided
transposed convolution *is* an input-dilated convolution, and so are the weight gradient of `nn.ConvTranspose`
and the input gradient of a strided `nn.Conv`; these three were 5-40x slower than PyTorch on CPU. Here
every one of them is rewritten as a stride-1 convolution followed by a depth-to-space shuffle (see
`dilated_conv`), which is exact, and which runs as fast on accelerators (see docs/performance.md).
"""

from collections.abc import Sequence
import functools
import math

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp

Padding = str | Sequence[tuple[int, int]]

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _pairs(value: int | Sequence[int]) -> tuple[int, int]:
  return (value, value) if isinstance(value, int) else tuple(value)


def dilated_conv(
  x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]]
) -> jax.Array:
  """`lax.conv_general_dilated(x, kernel, (1, 1), pads, lhs_dilation=strides)`, without input dilation.

  Per spatial axis, with kernel size k, stride s, pads (p, p') and input length n, the input-dilated
  correlation is

      y[o] = sum_t x_s[o + t - p] w[t],   o in [0, L),   L = s (n - 1) + 1 + p + p' - k + 1,

  where x_s[s i] = x[i] and x_s is zero between those samples. Output o reads the samples x[i] with
  s i = o + t - p, i.e. i in [c, c + J), c = ceil((o - p) / s), J = floor((k - 1) / s) + 1. The s
  consecutive outputs o = s c + p - s + 1 + m, m in [0, s), share that window c, with tap t = s j + s - 1 - m
  for x[c + j]:

      y[s c + p - s + 1 + m] = sum_{j < J} x[c + j] P[j, m],   P[j, m] = w[s j + s - 1 - m]  (0 if >= k).

  So one stride-1 correlation of x with the kernel P (J taps, s * C_out outputs: the s values of m as
  channels) gives every output; a depth-to-space shuffle puts them in order, starting from the window
  c0 = ceil(-p / s), i.e. from o = s c0 + p - s + 1 <= 0, and a crop of the first s - 1 - (p mod s) gives y.
  For a 5x5 kernel and stride 2, P is 3x3 with 4 C_out outputs (36 taps for the 25 of w), for 4x4 it is 2x2
  (no waste); for stride 1 it is w itself.

  The Q = ceil((L - 1 - p) / s) - c0 + 1 windows need x padded by (-c0, c0 + Q + J - 1 - n). Part of it is
  applied to x beforehand, so that the convolution maps Q inputs to Q outputs (its own pads sum to J - 1):
  XLA:CPU sends a convolution to its fast library only if neither its output nor its kernel is larger than
  its input, and this keeps that true of the convolution and of both its gradients (the kernel gradient
  convolves x with the [Q, Q] output gradient as the kernel).

  Args:
    x: [B, H, W, C_in].
    kernel: [kh, kw, C_in, C_out].
    strides: (sh, sw), the input dilation.
    pads: ((p_h, p'_h), (p_w, p'_w)), padding of the dilated input.

  Returns:
    [B, L_h, L_w, C_out].
  """
  batch, c_out = x.shape[0], kernel.shape[-1]
  tap_pads, blocks, x_pads, conv_pads, crops = [], [], [], [], []
  for k, s, (p, p_end), n in zip(kernel.shape[:2], strides, pads, x.shape[1:3]):
    taps = (k - 1) // s + 1  # J
    first = -(p // s)  # c0
    length = s * (n - 1) + 1 + p + p_end - k + 1  # L
    windows = -((p + 1 - length) // s) - first + 1  # Q
    low, high = -first, first + windows + taps - 1 - n
    x_low = max(0, windows - n - high)  # x_low + x_high = Q - n, leaving pads that sum to J - 1
    tap_pads.append((0, s * taps - k))
    blocks += [taps, s]
    x_pads.append((x_low, windows - n - x_low, 0))
    conv_pads.append((low - x_low, high - (windows - n - x_low)))
    crops.append(slice(s - 1 - p % s, s - 1 - p % s + length))
  phase_kernel = jnp.pad(kernel, (*tap_pads, (0, 0), (0, 0))).reshape(*blocks, *kernel.shape[2:])
  phase_kernel = jnp.flip(phase_kernel, (1, 3)).transpose(0, 2, 4, 1, 3, 5)  # [J_h, J_w, C_in, s_h, s_w, C_out]
  phase_kernel = phase_kernel.reshape(*phase_kernel.shape[:3], -1)
  x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *x_pads, (0, 0, 0)])
  y = lax.conv_general_dilated(x, phase_kernel, (1, 1), conv_pads, dimension_numbers=_NHWC)
  (_, q_h, q_w, _), (s_h, s_w) = y.shape, strides
  y = y.reshape(batch, q_h, q_w, s_h, s_w, c_out).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(batch, q_h * s_h, q_w * s_w, c_out)[:, crops[0], crops[1]]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def strided_conv(
  x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]]
) -> jax.Array:
  """`lax.conv_general_dilated(x, kernel, strides, pads)` (NHWC/HWIO) whose input gradient avoids input dilation.

  The input gradient of a correlation with stride s and pads (p, p') is the input-dilated correlation of
  the output gradient g with the flipped kernel (input and output channels swapped): per axis,

      dx[i] = sum_t g_s[i + t - (k - 1 - p)] w[k - 1 - t],

  with pads (k - 1 - p, n - 1 + p - s (m - 1)) around the s-dilated g of length m, which `dilated_conv`
  computes with stride-1 convolutions. The kernel gradient keeps JAX's rule (a kernel-dilated
  convolution, which XLA:CPU runs fast). Reverse-mode only: `jax.jvp` through it is not defined.
  """
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_NHWC)


def _strided_conv_fwd(x, kernel, strides, pads):
  return strided_conv(x, kernel, strides, pads), (x, kernel)


def _strided_conv_bwd(strides, pads, residuals, g):
  x, kernel = residuals
  _, kernel_vjp = jax.vjp(
    lambda k: lax.conv_general_dilated(x, k, strides, pads, dimension_numbers=_NHWC), kernel
  )
  input_pads = [
    (k - 1 - p, n - 1 + p - s * (m - 1))
    for k, s, (p, _), n, m in zip(kernel.shape[:2], strides, pads, x.shape[1:3], g.shape[1:3])
  ]
  flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
  return dilated_conv(g, flipped, strides, input_pads), kernel_vjp(g)[0]


strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


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

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H', W', features]."""
    kernel_size = _pairs(self.kernel_size)
    kernel = self.param(
      'kernel', self.kernel_init, (*kernel_size, x.shape[-1], self.features), self.param_dtype
    )
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
  """`flax.linen.Conv` on [B, H, W, C] with a fast input gradient when strided (see `strided_conv`).

  padding: 'SAME' (output ceil(H / s)), 'VALID', or ((lo, hi), (lo, hi)), as in `flax.linen.Conv`.
  """

  def _convolve(self, x, kernel, kernel_size, strides):
    if isinstance(self.padding, str):
      pads = lax.padtype_to_pads(x.shape[1:3], kernel_size, strides, self.padding)
    else:
      pads = self.padding
    return strided_conv(x, kernel, strides, tuple(map(tuple, pads)))


class ConvTranspose(_Convolution):
  """`flax.linen.ConvTranspose` (transpose_kernel=False) on [B, H, W, C], computed by `dilated_conv`.

  Like flax, y = conv(x dilated by the strides, kernel) with the kernel not flipped, so 'SAME' gives
  [B, s_h H, s_w W, features]; padding is 'SAME', 'VALID', or explicit ((lo, hi), (lo, hi)) pads of the
  dilated input, as in `flax.linen.ConvTranspose`.
  """

  def _convolve(self, x, kernel, kernel_size, strides):
    if isinstance(self.padding, str):
      pads = [_transpose_pads(k, s, self.padding) for k, s in zip(kernel_size, strides)]
    else:
      pads = self.padding
    return dilated_conv(x, kernel, strides, pads)


def _transpose_pads(k: int, s: int, padding: str) -> tuple[int, int]:
  """Pads of the s-dilated input that `lax.conv_transpose` uses for 'SAME' (output s n) and 'VALID'."""
  if padding == 'SAME':
    total = k + s - 2
    low = k - 1 if s > k - 1 else math.ceil(total / 2)
  elif padding == 'VALID':
    total = k + s - 2 + max(k - s, 0)
    low = k - 1
  else:
    raise ValueError(f'padding must be SAME, VALID or explicit pairs, got {padding!r}')
  return low, total - low
