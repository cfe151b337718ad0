"""oneDNN's convolution kernels from XLA:CPU, as a JAX primitive.

XLA:CPU in jaxlib carries oneDNN and a runtime op for the custom call ``__onednn$convolution`` (oneDNN's
direct convolution, the kernels PyTorch runs on CPU), but the jaxlib wheels lack the build option that
lets XLA rewrite convolutions into it (``--xla_cpu_experimental_onednn_custom_call`` changes nothing), so
XLA runs every convolution as an image-patch expansion feeding a matrix product. ``conv`` emits that
custom call itself for a float32 NHWC x HWIO convolution: the 28x28 DCGAN train step went from 187 to
159-163 ms (docs/performance.md). Values match ``lax.conv_general_dilated`` up to float rounding.
``usable`` leaves outputs of fewer than ``MIN_OUTPUT_POSITIONS`` positions to XLA, which is faster there.

The custom call and its configuration are internal to XLA, so ``enabled()`` uses it only where it was
verified, and otherwise leaves every convolution to XLA:
  - jaxlib versions in ``VERIFIED_JAXLIB``, on the CPU backend;
  - a single device: the custom call has no SPMD partitioning rule, so on a data-parallel mesh XLA would
    gather the whole batch onto every device;
  - a one-time self-check that compares it with ``lax.conv_general_dilated``;
  - ``GANS_ONEDNN_CONV=0`` in the environment turns it off.
Other platforms, ``jax.vmap`` and derivatives of it lower to ``lax.conv_general_dilated``.
"""

from __future__ import annotations

from collections.abc import Sequence
import functools
import json
import os

from absl import logging
import jax
from jax import lax
from jax.extend import core
from jax.interpreters import ad, batching, mlir
import jax.numpy as jnp
import jaxlib
from jaxlib.mlir import ir
from jaxlib.mlir.dialects import stablehlo
import numpy as np

# jaxlib 'major.minor' versions whose XLA:CPU was checked to run the custom call as configured here.
VERIFIED_JAXLIB = ('0.10',)

_NHWC = ('NHWC', 'HWIO', 'NHWC')


def _lax_conv(x, kernel, *, strides, pads, rhs_dilation):
  return lax.conv_general_dilated(
    x, kernel, strides, pads, rhs_dilation=rhs_dilation, dimension_numbers=_NHWC
  )


_conv_p = core.Primitive('onednn_conv')


@functools.partial(jax.jit, static_argnames=('strides', 'pads', 'rhs_dilation'))
def _apply(x, kernel, *, strides, pads, rhs_dilation):
  return _conv_p.bind(x, kernel, strides=strides, pads=pads, rhs_dilation=rhs_dilation)


def _output_shape(x, kernel, **params) -> tuple[int, ...]:
  return jax.eval_shape(functools.partial(_lax_conv, **params), x, kernel).shape


_conv_p.def_impl(_apply)
_conv_p.def_abstract_eval(
  lambda x, kernel, **params: jax.core.ShapedArray(_output_shape(x, kernel, **params), x.dtype)
)


def _backend_config(kernel_shape, strides, pads, rhs_dilation) -> str:
  """XLA:CPU's ``BackendConfig`` JSON with the ``OneDnnConvolutionConfig`` of an NHWC x HWIO convolution."""
  data = {'batch_dim': 0, 'feature_dim': 3, 'spatial_dims': [1, 2]}
  return json.dumps(
    {
      'outer_dimension_partitions': [],
      'onednn_conv_config': {
        'dims': 4,
        'input': {'dims': 4, 'data': data},
        'kernel': {
          'dims': 4,
          'filter': {'input_feature_dim': 2, 'output_feature_dim': 3, 'spatial_dims': [0, 1]},
        },
        'output': {'dims': 4, 'data': data},
        'window': {
          'size': list(kernel_shape[:2]),
          'pad_left': [low for low, _ in pads],
          'pad_right': [high for _, high in pads],
          'strides': list(strides),
          'window_dilations': list(rhs_dilation),
        },
        'feature_groups': 1,
      },
    }
  )


def _cpu_lowering(ctx, x, kernel, *, strides, pads, rhs_dilation):
  (result,) = ctx.avals_out
  op = stablehlo.CustomCallOp(
    [mlir.aval_to_ir_type(ctx.module_context, result)],
    [x, kernel],
    call_target_name='__onednn$convolution',
    backend_config=ir.StringAttr.get(
      _backend_config(ctx.avals_in[1].shape, strides, pads, rhs_dilation)
    ),
    api_version=ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 1),
  )
  return op.results


mlir.register_lowering(_conv_p, mlir.lower_fun(_lax_conv, multiple_results=False))
mlir.register_lowering(_conv_p, _cpu_lowering, platform='cpu')


def _batch_rule(args, dims, **params):
  return jax.vmap(functools.partial(_lax_conv, **params), in_axes=dims)(*args), 0


# Derivatives and batches of it are XLA's convolutions. gans.conv.cpu.conv differentiates through its
# own rule (oneDNN's again, at any order of input gradients); only differentiating a kernel gradient
# reaches these. The convolution is bilinear in (x, kernel).
ad.defjvp(
  _conv_p,
  lambda tangent, x, kernel, **params: _lax_conv(tangent, kernel, **params),
  lambda tangent, x, kernel, **params: _lax_conv(x, tangent, **params),
)
batching.primitive_batchers[_conv_p] = _batch_rule


def conv(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  pads: Sequence[tuple[int, int]],
  rhs_dilation: Sequence[int] = (1, 1),
) -> jax.Array:
  """``lax.conv_general_dilated(x, kernel, strides, pads, rhs_dilation=rhs_dilation)`` on NHWC x HWIO
  float32 arrays, by oneDNN on XLA:CPU. No input dilation; pads must be >= 0. x [B, H, W, C_in],
  kernel [kh, kw, C_in, C_out] -> [B, H', W', C_out]."""
  return _conv_p.bind(
    x,
    kernel,
    strides=tuple(strides),
    pads=tuple((int(low), int(high)) for low, high in pads),
    rhs_dilation=tuple(rhs_dilation),
  )


def convolution(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  pads: Sequence[tuple[int, int]],
  rhs_dilation: Sequence[int] = (1, 1),
) -> jax.Array:
  """The same convolution as ``conv``, by oneDNN where ``usable`` (float32 on one CPU device, outputs that
  are not tiny) and by XLA's ``lax.conv_general_dilated`` otherwise. ``gans.conv.cpu`` computes every
  convolution with it."""
  if usable(x, kernel, strides, pads, rhs_dilation):
    return conv(x, kernel, strides, pads, rhs_dilation)
  return _lax_conv(x, kernel, strides=strides, pads=pads, rhs_dilation=rhs_dilation)


# XLA's convolution is faster on outputs of fewer positions (per image): the kernel gradients of small
# kernels, e.g. 1.1-2.3 ms against oneDNN's 2.0-2.9 ms for the 2x2 to 3x3 phase kernels of the 28x28
# DCGAN's 7x7 -> 14x14 transposed convolution at batch 128; from 5x5 on, oneDNN's is faster.
MIN_OUTPUT_POSITIONS = 16


def usable(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int],
  pads: Sequence[tuple[int, int]],
  rhs_dilation: Sequence[int] = (1, 1),
) -> bool:
  """Whether ``conv`` should compute this convolution here: float32, non-negative pads, at least
  ``MIN_OUTPUT_POSITIONS`` output positions, and ``enabled()``."""
  if (
    x.dtype != jnp.float32
    or kernel.dtype != jnp.float32
    or any(p < 0 for pair in pads for p in pair)
  ):
    return False
  _, height, width, _ = _output_shape(
    x, kernel, strides=tuple(strides), pads=tuple(pads), rhs_dilation=tuple(rhs_dilation)
  )
  return height * width >= MIN_OUTPUT_POSITIONS and enabled()


@functools.cache
def enabled() -> bool:
  """Decided once per process, at the first convolution (after ``jax.distributed`` has started), and
  logged with the reason."""
  version = '.'.join(jaxlib.__version__.split('.')[:2])
  if os.environ.get('GANS_ONEDNN_CONV', '1') == '0':
    reason = 'GANS_ONEDNN_CONV=0'
  elif version not in VERIFIED_JAXLIB:
    reason = f'jaxlib {version} is not in VERIFIED_JAXLIB {VERIFIED_JAXLIB}'
  elif jax.default_backend() != 'cpu':
    reason = f'the backend is {jax.default_backend()}'
  elif jax.device_count() != 1:
    reason = f'{jax.device_count()} devices (no SPMD partitioning rule for the custom call)'
  elif not _self_check():
    reason = 'its self-check failed'
  else:
    logging.info('Convolutions run in oneDNN (gans.conv.onednn).')
    return True
  logging.info('Convolutions run in XLA: %s.', reason)
  return False


def _self_check() -> bool:
  """Runs a strided, dilated, asymmetrically padded convolution both ways; False (with a warning) if the
  custom call fails or disagrees. Compiled ahead of time and called directly, so that it runs even when
  the first convolution is met while tracing."""
  rng = np.random.default_rng(0)
  x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
  kernel = rng.standard_normal((3, 2, 3, 4)).astype(np.float32)
  params = dict(strides=(2, 1), pads=((1, 2), (0, 1)), rhs_dilation=(1, 2))

  def run(fn):
    return np.asarray(
      jax.jit(functools.partial(fn, **params)).lower(x, kernel).compile()(x, kernel)
    )

  try:
    got, want = run(conv), run(_lax_conv)
  except Exception as error:  # An XLA without the custom call, or with another configuration.
    logging.warning('oneDNN convolutions unavailable (%s); XLA computes every convolution.', error)
    return False
  if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-4):
    logging.warning('oneDNN convolution disagrees with XLA; XLA computes every convolution.')
    return False
  return True
