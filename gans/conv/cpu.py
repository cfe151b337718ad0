"""Convolutions that XLA:CPU runs fast, at every order of derivative: the 'cpu_fast' backend.

XLA:CPU's fast convolution paths take only NHWC convolutions without input ("base") dilation
(YNNPACK, XLA's default on jaxlib 0.10, also needs neither the output nor the kernel to be larger
than the input; `gans.xla_flags` moves convolutions to XLA's other fast path, which is faster still
on AVX-512); the others go through a generic loop that can be 20-50x slower. A strided transposed
convolution *is* input-dilated, and so are the kernel gradient of a transposed convolution and the
input gradient of a strided convolution. Here each of them is computed exactly by stride-1
convolutions that qualify, one per output phase, and a depth-to-space interleave (`dilated_conv`).
Every convolution, the phases included, goes through `conv`, whose gradients are again such
convolutions written out in NHWC/HWIO, so derivatives of any order (WGAN-GP's and R1's penalties
differentiate a gradient) stay on the fast path. On one CPU device, each of these convolutions runs
in oneDNN's kernel (`gans.conv.onednn`, faster again) where jaxlib's XLA verifiably supports it.
docs/performance.md has the measurements.

`convolution` computes `gans.conv.convolution` (G feature groups, input dilation s_l, kernel
dilation d) by

  - `conv` where G = 1 and s_l = d = 1 (any strides);
  - `dilated_conv` where G = 1, d = 1 and s_l > 1 with unit strides (a transposed convolution);
  - XLA's own convolution (`gans.conv.xla`) with JAX's derivatives otherwise, grouped convolutions
    (G > 1) included: exact and forward-differentiable, but in XLA:CPU's generic loop wherever it is
    input-dilated (e.g. the input gradient of a strided grouped convolution).

Forward mode: `conv` is a `jax.custom_vjp`, so `jax.jvp`, `jax.linearize` and `jax.jacfwd` through
an ungrouped convolution fail here; `GANS_CONV_BACKEND=xla` gives every convolution JAX's rules.
"""

from collections.abc import Sequence
import functools
import math
from typing import NamedTuple

import jax
from jax import lax
import jax.numpy as jnp

from gans.conv import onednn, xla


def convolution(
  x: jax.Array,
  kernel: jax.Array,
  strides: tuple[int, int],
  pads: tuple[tuple[int, int], tuple[int, int]],
  *,
  lhs_dilation: tuple[int, int] = (1, 1),
  rhs_dilation: tuple[int, int] = (1, 1),
  feature_group_count: int = 1,
) -> jax.Array:
  """`gans.conv.convolution` (with its arguments as tuples) by `conv`, `dilated_conv` or, for what
  they do not compute, XLA's convolution."""
  if feature_group_count == 1 and rhs_dilation == (1, 1):
    if lhs_dilation == (1, 1):
      return conv(x, kernel, strides, pads)
    if strides == (1, 1):
      return dilated_conv(x, kernel, lhs_dilation, pads)
  return xla.convolution(
    x,
    kernel,
    strides,
    pads,
    lhs_dilation=lhs_dilation,
    rhs_dilation=rhs_dilation,
    feature_group_count=feature_group_count,
  )


def dilated_conv(
  x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]]
) -> jax.Array:
  """`lax.conv_general_dilated(x, kernel, (1, 1), pads, lhs_dilation=strides)`, without input dilation.

  Per spatial axis, with kernel size k, stride s, pads (p, p') and input length n, the input-dilated
  correlation is

      y[o] = sum_t x_s[o + t - p] w[t],   o in [0, L),   L = s (n - 1) + 1 + p + p' - k + 1,

  where x_s[s i] = x[i] and x_s is zero between those samples. Split the outputs into s phases,
  o = s q + r with r in [0, s): tap t reads a sample only if o + t - p = s i, i.e. t = t_r + s j with
  t_r = (p - r) mod s, and then i = q + d_r + j with d_r = (r + t_r - p) / s. So

      y[s q + r] = sum_{j < J_r} x[q + d_r + j] w[t_r + s j],   J_r = ceil((k - t_r) / s),

  a stride-1 correlation of x with the taps w[t_r::s] of that phase, and the s_h * s_w phase outputs,
  interleaved (depth-to-space), are y. No product with the zeros of x_s is computed when each phase has
  its own convolution; with 'SAME' padding (L = s n) each of them maps n inputs to n outputs. XLA:CPU
  runs a convolution in its fast library (YNNPACK) only if neither its output nor its kernel is larger
  than its input, and the gradients of such a convolution keep that property, so all of them run there.
  Narrow outputs (s_h s_w C_out < 128) instead stack all phases as the channels of one convolution over
  a shared window of max J_r taps (measured faster: a convolution with few output channels is memory
  bound), at the cost of the zero taps that pad the shorter phases.

  Args:
    x: [B, H, W, C_in].
    kernel: [kh, kw, C_in, C_out].
    strides: (sh, sw), the input dilation.
    pads: ((p_h, p'_h), (p_w, p'_w)), padding of the dilated input.

  Returns:
    [B, L_h, L_w, C_out].
  """
  (phases_h, length_h), (phases_w, length_w) = (
    _phases(k, s, pad, n) for k, s, pad, n in zip(kernel.shape[:2], strides, pads, x.shape[1:3])
  )
  # A kernel smaller than the stride leaves phases without taps: they get a zero tap.
  kernel = jnp.pad(
    kernel, [(0, max(s - k, 0)) for k, s in zip(kernel.shape[:2], strides)] + [(0, 0)] * 2
  )
  if math.prod(strides) * kernel.shape[-1] < _MAX_STACKED_FEATURES:
    groups = [(phases_h, phases_w)]
  else:
    groups = [([ph], [pw]) for ph in phases_h for pw in phases_w]
  outputs = {}
  for group_h, group_w in groups:
    outputs.update(_phase_outputs(x, kernel, strides, group_h, group_w))
  # Interleave the phases (later phases may have one output less: pad them to the first's).
  q_h, q_w = phases_h[0].outputs, phases_w[0].outputs
  rows = [
    jnp.stack(
      [
        jnp.pad(outputs[ph, pw], [(0, 0), (0, q_h - ph.outputs), (0, q_w - pw.outputs), (0, 0)])
        for pw in phases_w
      ],
      axis=3,
    )
    for ph in phases_h
  ]
  y = jnp.stack(rows, axis=2)  # [B, Q_h, s_h, Q_w, s_w, C_out]
  return y.reshape(x.shape[0], q_h * len(phases_h), q_w * len(phases_w), -1)[
    :, :length_h, :length_w
  ]


_MAX_STACKED_FEATURES = 128


class _Phase(NamedTuple):
  """Outputs s q + r, q < outputs, of one axis: y[s q + r] = sum_{j < taps} x[q + offset + j] w[tap + s j]."""

  tap: int
  offset: int
  taps: int
  outputs: int


def _phases(k: int, s: int, pads: tuple[int, int], n: int) -> tuple[list[_Phase], int]:
  """The s phases r = 0 .. s - 1 of one axis of `dilated_conv`, and its output length L."""
  p, p_end = pads
  length = s * (n - 1) + 1 + p + p_end - k + 1
  phases = []
  for r in range(s):
    tap = (p - r) % s
    taps = max(-(-(k - tap) // s), 1)
    phases.append(_Phase(tap, (r + tap - p) // s, taps, -(-(length - r) // s)))
  return phases, length


def _shared_window(group: list[_Phase], n: int):
  """One axis of the convolution of a group of phases: (window start, taps, pads of x, pads of the conv).

  Output c of the convolution reads x[c + start : c + start + taps]; phase r's output q is its output
  q + offset_r - start. x is padded (or cropped) to the number of outputs, so that the convolution's own
  non-negative pads sum to taps - 1 (with 'SAME' padding and one phase per group, x is used as is).
  """
  start = min(phase.offset for phase in group)
  taps = max(phase.taps for phase in group)
  outputs = max(phase.offset + phase.outputs for phase in group) - start
  low, high = -start, start + outputs + taps - 1 - n
  conv_low = min(max(low, 0), taps - 1)
  conv_high = min(max(high, 0), taps - 1 - conv_low)
  return start, taps, (low - conv_low, high - conv_high, 0), (conv_low, conv_high)


def _phase_outputs(x, kernel, strides, group_h, group_w):
  """{(phase_h, phase_w): [B, Q_h, Q_w, C_out]} for the phases group_h x group_w, by one convolution."""
  (start_h, taps_h, x_pads_h, conv_pads_h), (start_w, taps_w, x_pads_w, conv_pads_w) = (
    _shared_window(group, n) for group, n in ((group_h, x.shape[1]), (group_w, x.shape[2]))
  )
  phase_kernels = [
    jnp.pad(
      kernel[ph.tap :: strides[0], pw.tap :: strides[1]],
      [(0, taps_h - ph.taps), (0, taps_w - pw.taps), (0, 0), (0, 0)],
    )
    for ph in group_h
    for pw in group_w
  ]
  x = lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), x_pads_h, x_pads_w, (0, 0, 0)])
  y = conv(x, jnp.concatenate(phase_kernels, axis=-1), (1, 1), (conv_pads_h, conv_pads_w))
  y = y.reshape(*y.shape[:3], len(group_h), len(group_w), kernel.shape[-1])
  return {
    (ph, pw): y[:, ph.offset - start_h :, pw.offset - start_w :][
      :, : ph.outputs, : pw.outputs, i, j
    ]
    for i, ph in enumerate(group_h)
    for j, pw in enumerate(group_w)
  }


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(
  x: jax.Array, kernel: jax.Array, strides: Sequence[int], pads: Sequence[tuple[int, int]]
) -> jax.Array:
  """`lax.conv_general_dilated(x, kernel, strides, pads)` on NHWC/HWIO, with gradients that XLA:CPU runs fast.

  Both gradients are written out as NHWC x HWIO convolutions without input dilation (XLA's fast paths
  and oneDNN take them) rather than left to JAX's rules (and XLA's rewriting of their layouts, which
  does not always happen). With g = d loss / d y of
  shape [B, L_h, L_w, C_out], per axis:

  - input: dx[i] = sum_t g_s[i + t - (k - 1 - p)] w[k - 1 - t], the input-dilated correlation of g with the
    flipped kernel (channels swapped) and pads (k - 1 - p, n - 1 + p - s (L - 1)), by `dilated_conv`;
  - kernel: dw[t] = sum_{b, q} x_p[b, s q + t] g[b, q], a correlation of x_p (padded x) with g dilated by s,
    computed with the batch as the contracted channel axis (`_kernel_grad`).

  Reverse mode only: `jax.jvp` through it is not defined.
  """
  return onednn.convolution(x, kernel, strides, pads)


def _conv_fwd(x, kernel, strides, pads):
  return conv(x, kernel, strides, pads), (x, kernel)


def _conv_bwd(strides, pads, residuals, g):
  x, kernel = residuals
  if g.size == 0:  # E.g. 'VALID' with a kernel larger than the input: nothing depends on x, kernel.
    return jnp.zeros_like(x), jnp.zeros_like(kernel)
  kh, kw = kernel.shape[:2]
  input_pads = [
    (k - 1 - p, n - 1 + p - s * (m - 1))
    for k, s, (p, _), n, m in zip((kh, kw), strides, pads, x.shape[1:3], g.shape[1:3])
  ]
  flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
  kernel_grad = _kernel_grad(x, g, strides, pads)[:, :kh, :kw].transpose(1, 2, 0, 3)
  return dilated_conv(g, flipped, strides, input_pads), kernel_grad


# Images per term of the kernel gradient's sum over the batch on one device. XLA:CPU computes a
# kernel gradient faster as a loop over chunks of 16 images than as one convolution contracting the
# whole batch: gans.benchmark's BigGAN step (batch 64) 1.29-1.40 -> 1.36-1.56 steps/s, DCGAN's
# (batch 128) 5.31-5.42 -> 5.44-5.67, alternated in one sitting (docs/performance.md).
KERNEL_GRAD_CHUNK = 16


def _kernel_grad(x, g, strides, pads):
  """dw[c, t_h, t_w, o] = sum_{b, q} x_p[b, s q + t, c] g[b, q, o] as [C_in, >= kh, >= kw, C_out].

  A correlation of x [B, H, W, C_in] (padded by pads) with g [B, L_h, L_w, C_out] dilated by the
  strides, the batch as its contracted channel axis: [C_in, H, W, B] * [L_h, L_w, B, C_out]. Rows and
  columns past the kernel's read no output. On a single device, the sum over b runs as a `lax.scan`
  over chunks of `KERNEL_GRAD_CHUNK` images, plus one convolution of the remaining B mod chunk images.
  With several devices the batch is sharded, and the sum is one convolution that XLA partitions.
  """

  def correlate(x, g):
    return onednn.convolution(
      x.transpose(3, 1, 2, 0), g.transpose(1, 2, 0, 3), (1, 1), pads, rhs_dilation=strides
    )

  chunks, rest = divmod(x.shape[0], KERNEL_GRAD_CHUNK)
  if chunks < 2 or jax.device_count() != 1:
    return correlate(x, g)
  split = chunks * KERNEL_GRAD_CHUNK

  def add_chunk(total, chunk):
    return total + correlate(*chunk), None

  def as_chunks(a):
    return a[:split].reshape(chunks, KERNEL_GRAD_CHUNK, *a.shape[1:])

  first = correlate(x[:KERNEL_GRAD_CHUNK], g[:KERNEL_GRAD_CHUNK])
  total, _ = lax.scan(add_chunk, first, (as_chunks(x)[1:], as_chunks(g)[1:]))
  return total + correlate(x[split:], g[split:]) if rest else total


conv.defvjp(_conv_fwd, _conv_bwd)
