"""The convolutions of the nets, by the implementation that suits the platform.

`convolution` is the one entry point (`gans.nets.layers` calls it); `backend()` names the
implementation, picked once per process at the first convolution and logged with the reason
(`choose_backend`):

  - 'xla' on GPU and TPU: `lax.conv_general_dilated` with JAX's own derivatives (`gans.conv.xla`),
    which cuDNN and XLA's convolution emitters run at any dilation, layout and feature grouping;
  - 'cpu_fast' on CPU: `gans.conv.cpu`, which computes input-dilated convolutions (transposed ones,
    and the gradients of strided ones) as stride-1 phase convolutions, with custom gradients that
    XLA:CPU runs fast at every order, in oneDNN's kernels where verified (`gans.conv.onednn`;
    `GANS_ONEDNN_CONV=0` keeps them in XLA). It is reverse mode only for ungrouped convolutions.

`GANS_CONV_BACKEND=xla` or `=cpu_fast` in the environment overrides the platform's choice. Both
give the same values and gradients up to float rounding (tests/test_layers.py and
tests/test_conv_backend.py check them against flax's layers).
"""

from collections.abc import Sequence
import functools
import os

from absl import logging
import jax

from gans.conv import cpu, xla

BACKENDS = {'xla': xla.convolution, 'cpu_fast': cpu.convolution}


def convolution(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  pads: Sequence[tuple[int, int]],
  *,
  lhs_dilation: Sequence[int] = (1, 1),
  rhs_dilation: Sequence[int] = (1, 1),
  feature_group_count: int = 1,
) -> jax.Array:
  """`lax.conv_general_dilated` of x [B, H, W, C_in] and kernel [kh, kw, C_in / G, C_out].

  Per spatial axis, with stride s, pads (p, p'), input dilation s_l (x_l[s_l i] = x[i], zero
  elsewhere, padding included), kernel dilation d and G = `feature_group_count` groups of input and
  output channels, output channel c (of group g = floor(c G / C_out)) is

      y[b, o, c] = sum_{t < k} sum_{i < C_in / G} x_l[b, s o + d t - p, g C_in / G + i] w[t, i, c],

  a [B, H', W', C_out] array with H' = floor((s_l (H - 1) + 1 + p + p' - d (k - 1) - 1) / s) + 1. A
  transposed convolution (as `lax.conv_transpose`, kernel not flipped) is strides (1, 1) with
  `lhs_dilation` its strides.
  """
  return BACKENDS[backend()](
    x,
    kernel,
    tuple(strides),
    tuple((low, high) for low, high in pads),
    lhs_dilation=tuple(lhs_dilation),
    rhs_dilation=tuple(rhs_dilation),
    feature_group_count=feature_group_count,
  )


def choose_backend(platform: str, setting: str) -> tuple[str, str]:
  """(name in `BACKENDS`, reason) for JAX's default platform and GANS_CONV_BACKEND ('' if unset)."""
  if setting:
    if setting not in BACKENDS:
      raise ValueError(
        f'GANS_CONV_BACKEND must be one of {", ".join(BACKENDS)} or unset, got {setting!r}'
      )
    return setting, f'GANS_CONV_BACKEND={setting}'
  if platform == 'cpu':
    return (
      'cpu_fast',
      'the platform is cpu (XLA:CPU runs input-dilated convolutions in a generic loop)',
    )
  return 'xla', f'the platform is {platform}'


@functools.cache
def backend() -> str:
  """Decided once per process, at the first convolution (after `jax.distributed` has started);
  logged."""
  name, reason = choose_backend(jax.default_backend(), os.environ.get('GANS_CONV_BACKEND', ''))
  logging.info('Convolutions use the %r backend (gans.conv): %s.', name, reason)
  return name
