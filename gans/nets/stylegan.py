"""StyleGAN nets (Karras et al. 2019, 2020): a mapping network z -> w, a synthesis network of style
convolutions with noise inputs and a skip-connection output, and a residual discriminator with a
minibatch standard deviation layer, all with the equalized learning rate.

Equalized learning rate: a weight is stored as θ ~ N(0, 1/lr_mul²) and used as θ · lr_mul/√fan_in (a
bias as b · lr_mul), so every layer's effective weights start at He's scale and Adam's per-parameter
steps are the same relative size in every layer (``equalized``).

Style blocks (``style_block``):

  modulated (StyleGAN2): s = A(w) [B, C_in] (A affine, bias 1) scales the input channels of the shared
    weights, w'_{b,k,i,o} = s_{b,i} w_{k,i,o}; demodulation divides each output channel by
    σ_{b,o} = √(Σ_{k,i} w'²_{b,k,i,o} + ε), so that unit-variance i.i.d. inputs give unit-variance
    outputs. Computed in ``form='activations'`` (the default, the official code's training path):
    y = (conv(x ⊙ s, w)) / σ, one convolution shared by the batch; or ``form='grouped'``: one grouped
    convolution of the B per-sample kernels w'/σ (the official fused path). Both are the same function.
  adain (StyleGAN 2019): y = (1 + s_scale) ⊙ IN(conv(x, w)) + s_bias, IN the instance normalisation
    over H, W per channel, (s_scale, s_bias) = A(w) (so the scale starts at 1).

Then per layer single-channel noise [B, H, W, 1] times a per-channel strength (initialised to 0), a
bias and leaky ReLU(0.2)·√2. Images [B, H, W, C] are NHWC; resolutions are powers of two ≥ 4.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans import conv

STYLE_BLOCKS = ('modulated', 'adain')
MODULATION_FORMS = ('activations', 'grouped')


def equalized(param: jax.Array, fan_in: int, lr_mul: float = 1.0) -> jax.Array:
  """The run-time weight of a stored ``param`` [..., fan_in-many inputs, out]: θ · lr_mul/√fan_in."""
  return param * (lr_mul / math.sqrt(fan_in))


def lrelu(x: jax.Array) -> jax.Array:
  """Leaky ReLU(0.2) with the gain √2 that keeps unit second moments (the official ``bias_act``)."""
  return nn.leaky_relu(x, 0.2) * math.sqrt(2.0)


def _upsample_axis(x: jax.Array, axis: int) -> jax.Array:
  """×2 along ``axis`` with the [1, 3, 3, 1]/4 filter, edges clamped: out[2i] = ¾x[i] + ¼x[i-1],
  out[2i+1] = ¾x[i] + ¼x[i+1]."""
  n = x.shape[axis]
  edge = [(0, 0)] * x.ndim
  edge[axis] = (1, 1)
  padded = jnp.pad(x, edge, mode='edge')
  before = jax.lax.slice_in_dim(padded, 0, n, axis=axis)
  after = jax.lax.slice_in_dim(padded, 2, n + 2, axis=axis)
  pairs = jnp.stack([0.75 * x + 0.25 * before, 0.75 * x + 0.25 * after], axis=axis + 1)
  return pairs.reshape(*x.shape[:axis], 2 * n, *x.shape[axis + 1 :])


def upsample(x: jax.Array) -> jax.Array:
  """×2 bilinear [B, H, W, C] -> [B, 2H, 2W, C] (the papers' [1, 3, 3, 1] filter; edges clamped, as
  ``jax.image.resize(..., 'bilinear')`` and PyTorch's ``interpolate(align_corners=False)``)."""
  return _upsample_axis(_upsample_axis(x, 1), 2)


def downsample(x: jax.Array) -> jax.Array:
  """×½ by 2×2 mean pooling [B, H, W, C] -> [B, H/2, W/2, C]."""
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _conv(x: jax.Array, kernel: jax.Array, groups: int = 1) -> jax.Array:
  """'SAME' stride-1 convolution of x [B, H, W, C_in] with kernel [k, k, C_in / groups, C_out]."""
  pad = (kernel.shape[0] - 1) // 2
  return conv.convolution(x, kernel, (1, 1), ((pad, pad), (pad, pad)), feature_group_count=groups)


def check_resolution(resolution: int, field: str) -> int:
  """log2(resolution) for a power of two ≥ 4, else a ValueError naming ``field``."""
  if resolution < 4 or resolution & (resolution - 1):
    raise ValueError(
      f'{field}={resolution}: StyleGAN builds images from 4x4 by doubling, so the side must be a '
      'power of two >= 4; resize the data to one, e.g. --config.data.image_size=32.'
    )
  return int(math.log2(resolution))


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
  """Feature maps at a resolution: min(channel_base / resolution, channel_max), as the official nets."""
  return min(channel_base // resolution, channel_max)


class Dense(nn.Module):
  """Fully connected layer with the equalized learning rate: y = x (θ lr_mul/√fan_in) + b lr_mul.

  θ ~ N(0, 1/lr_mul²); the stored bias is ``bias_init``/lr_mul, so the effective bias starts at
  ``bias_init``.
  """

  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, fan_in] -> [B, features]."""
    fan_in = x.shape[-1]
    kernel = self.param(
      'kernel', nn.initializers.normal(1.0 / self.lr_mul), (fan_in, self.features)
    )
    bias = self.param(
      'bias', nn.initializers.constant(self.bias_init / self.lr_mul), (self.features,)
    )
    return x @ equalized(kernel, fan_in, self.lr_mul) + bias * self.lr_mul


class Conv(nn.Module):
  """k×k 'SAME' convolution with the equalized learning rate (θ ~ N(0, 1), used as θ/√(k² C_in))."""

  features: int
  kernel_size: int = 3
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """[B, H, W, C_in] -> [B, H, W, features]."""
    k, fan_in = self.kernel_size, self.kernel_size**2 * x.shape[-1]
    shape = (k, k, x.shape[-1], self.features)
    kernel = self.param('kernel', nn.initializers.normal(1.0), shape)
    y = _conv(x, equalized(kernel, fan_in))
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros_init(), (self.features,))
    return y


def modulated_conv(
  x: jax.Array,
  kernel: jax.Array,
  styles: jax.Array,
  demodulate: bool = True,
  form: str = 'activations',
  eps: float = 1e-8,
) -> jax.Array:
  """StyleGAN2's modulated convolution (module docstring) of x [B, H, W, C_in] with the effective
  kernel [k, k, C_in, C_out] (already scaled) and styles [B, C_in] -> [B, H, W, C_out].

  ``form='activations'``: conv(x ⊙ s, w) ⊙ d; ``'grouped'``: the per-sample kernels w ⊙ s ⊙ d as one
  grouped convolution of the batch folded into channels. d_{b,o} = (Σ_{k,i} (s_{b,i} w_{k,i,o})² + ε)^-½
  (1 without demodulation).
  """
  b, h, w, c_in = x.shape
  k, c_out = kernel.shape[0], kernel.shape[-1]
  if demodulate:
    energy = jnp.einsum('bi,io->bo', jnp.square(styles), jnp.sum(jnp.square(kernel), axis=(0, 1)))
    demod = jax.lax.rsqrt(energy + eps)  # [B, C_out]
  else:
    demod = jnp.ones((b, c_out), x.dtype)
  if form == 'activations':
    return _conv(x * styles[:, None, None, :], kernel) * demod[:, None, None, :]
  if form != 'grouped':
    raise ValueError(f'unknown modulation form {form!r}; use one of {MODULATION_FORMS}.')
  kernels = kernel[None] * styles[:, None, None, :, None] * demod[:, None, None, None, :]
  # [B, k, k, C_in, C_out] -> [k, k, C_in, B·C_out]: group b maps sample b's channels to its outputs.
  kernels = kernels.transpose(1, 2, 3, 0, 4).reshape(k, k, c_in, b * c_out)
  folded = x.transpose(1, 2, 0, 3).reshape(1, h, w, b * c_in)
  y = _conv(folded, kernels, groups=b)
  return y.reshape(h, w, b, c_out).transpose(2, 0, 1, 3)


def instance_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """(x - mean_{H,W}) / std_{H,W} per sample and channel of x [B, H, W, C]."""
  x = x - jnp.mean(x, axis=(1, 2), keepdims=True)
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=(1, 2), keepdims=True) + eps)


class StyleConv(nn.Module):
  """One style layer: (modulated conv | conv + AdaIN) of w, noise·strength, bias, leaky ReLU.

  ``__call__(x [B, H, W, C_in], w [B, w_dim], noise [B, H, W, 1]) -> [B, H, W, features]``; with
  ``up``, x is first upsampled ×2 (bilinear), and the noise has the output's size.
  """

  features: int
  style_block: str = 'modulated'
  form: str = 'activations'
  up: bool = False

  @nn.compact
  def __call__(self, x, w, noise):
    if self.up:
      x = upsample(x)
    c_in = x.shape[-1]
    shape = (3, 3, c_in, self.features)
    kernel = equalized(self.param('kernel', nn.initializers.normal(1.0), shape), 9 * c_in)
    if self.style_block == 'modulated':
      styles = Dense(c_in, bias_init=1.0, name='affine')(w)
      x = modulated_conv(x, kernel, styles, form=self.form)
    else:
      scale, shift = jnp.split(Dense(2 * self.features, name='affine')(w), 2, axis=-1)
      x = instance_norm(_conv(x, kernel)) * (1.0 + scale[:, None, None]) + shift[:, None, None]
    strength = self.param('noise_strength', nn.initializers.zeros_init(), (self.features,))
    bias = self.param('bias', nn.initializers.zeros_init(), (self.features,))
    return lrelu(x + noise * strength + bias)


class ToRGB(nn.Module):
  """1×1 output layer: modulated without demodulation (modulated nets), or a plain 1×1 conv (adain).

  ``__call__(x [B, H, W, C], w [B, w_dim]) -> [B, H, W, channels]``, linear.
  """

  channels: int
  style_block: str = 'modulated'
  form: str = 'activations'

  @nn.compact
  def __call__(self, x, w):
    if self.style_block != 'modulated':
      return Conv(self.channels, kernel_size=1, name='conv')(x)
    c_in = x.shape[-1]
    kernel = equalized(
      self.param('kernel', nn.initializers.normal(1.0), (1, 1, c_in, self.channels)), c_in
    )
    styles = Dense(c_in, bias_init=1.0, name='affine')(w)
    y = modulated_conv(x, kernel, styles, demodulate=False, form=self.form)
    return y + self.param('bias', nn.initializers.zeros_init(), (self.channels,))


class Mapping(nn.Module):
  """z [B, z_dim] -> w [B, w_dim]: pixel norm of z, ``layers`` equalized dense layers (lr_mul 0.01),
  each followed by leaky ReLU."""

  w_dim: int = 512
  layers: int = 8
  lr_mul: float = 0.01

  @nn.compact
  def __call__(self, z):
    x = z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + 1e-8)
    for i in range(self.layers):
      x = lrelu(Dense(self.w_dim, lr_mul=self.lr_mul, name=f'fc{i}')(x))
    return x


def noise_shapes(resolution: int, batch: int) -> list[tuple[int, ...]]:
  """The shapes of the synthesis network's noise inputs, one per style conv: [B, r, r, 1] for r = 4
  (one conv), then twice each of 8, 16, ..., ``resolution``."""
  sides = [4] + [
    2**k for k in range(3, check_resolution(resolution, 'resolution') + 1) for _ in '01'
  ]
  return [(batch, side, side, 1) for side in sides]


def num_styles(resolution: int) -> int:
  """The number of per-layer w inputs of the synthesis network: the style convs + the last toRGB,
  2 log2(resolution) - 2 (toRGB at r reads the w of the next style conv, as the official nets)."""
  return 2 * check_resolution(resolution, 'resolution') - 2


class Synthesis(nn.Module):
  """Per-layer styles ws [B, L, w_dim] and noises (``noise_shapes``) -> images [B, R, R, channels].

  A learned 4×4 constant; at 4×4 one style conv and a toRGB; at each r = 8 ... R two style convs (the
  first upsampling ×2) and a toRGB; the skip output is image_r = upsample(image_{r/2}) + toRGB_r(x).
  Style conv i reads ws[:, i], toRGB_r reads the w of the next conv, so L = ``num_styles(R)``.
  """

  resolution: int = 32
  channels: int = 3
  channel_base: int = 16384
  channel_max: int = 512
  style_block: str = 'modulated'
  form: str = 'activations'

  @nn.compact
  def __call__(self, ws, noise):
    log2 = check_resolution(self.resolution, 'resolution')
    width = lambda r: channels_at(r, self.channel_base, self.channel_max)  # noqa: E731
    layer = functools.partial(StyleConv, style_block=self.style_block, form=self.form)
    rgb = functools.partial(ToRGB, self.channels, style_block=self.style_block, form=self.form)
    const = self.param('const', nn.initializers.normal(1.0), (4, 4, width(4)))
    x = jnp.broadcast_to(const, (ws.shape[0], *const.shape))
    x = layer(width(4), name='b4_conv')(x, ws[:, 0], noise[0])
    image = rgb(name='b4_rgb')(x, ws[:, 1])
    for k in range(3, log2 + 1):
      r, i = 2**k, 2 * k - 5  # Style convs 2k-5 and 2k-4; toRGB reads w 2k-3.
      x = layer(width(r), up=True, name=f'b{r}_conv0')(x, ws[:, i], noise[i])
      x = layer(width(r), name=f'b{r}_conv1')(x, ws[:, i + 1], noise[i + 1])
      image = upsample(image) + rgb(name=f'b{r}_rgb')(x, ws[:, i + 2])
    return image


class Generator(nn.Module):
  """StyleGAN generator: ``mapping`` z -> w and ``synthesis`` ws, noises -> images.

  ``__call__(z [B, z_dim], noise, train)`` maps every layer the same w (no mixing, no truncation);
  the method calls ``map`` and ``synthesize`` separately (``module.apply(..., method='map')``) for
  style mixing, truncation and the path-length regulariser.
  """

  image_shape: Sequence[int] = (32, 32, 3)
  z_dim: int = 512
  w_dim: int = 512
  mapping_layers: int = 8
  mapping_lr_mul: float = 0.01
  channel_base: int = 16384
  channel_max: int = 512
  style_block: str = 'modulated'
  form: str = 'activations'
  dtype: str = 'float32'  # The nets compute in float32 (the method refuses other dtypes).

  def setup(self):
    if self.image_shape[0] != self.image_shape[1]:
      raise ValueError(f'StyleGAN makes square images; got {tuple(self.image_shape)}.')
    if self.style_block not in STYLE_BLOCKS:
      raise ValueError(
        f'config.model.style_block={self.style_block!r}; use one of {", ".join(STYLE_BLOCKS)}.'
      )
    self.num_styles = num_styles(self.image_shape[0])
    self.mapping = Mapping(self.w_dim, self.mapping_layers, self.mapping_lr_mul)
    self.synthesis = Synthesis(
      self.image_shape[0],
      self.image_shape[2],
      self.channel_base,
      self.channel_max,
      self.style_block,
      self.form,
    )

  def map(self, z):
    """z [B, z_dim] -> w [B, w_dim]."""
    return self.mapping(z)

  def synthesize(self, ws, noise):
    """ws [B, L, w_dim], noises (``noise_shapes``) -> images [B, H, W, C]."""
    return self.synthesis(ws, noise)

  def __call__(self, z, noise, train: bool = True):
    del train
    w = self.mapping(z)
    return self.synthesis(jnp.repeat(w[:, None], self.num_styles, axis=1), noise)


def minibatch_std(x: jax.Array, group_size: int) -> jax.Array:
  """Appends one feature map: the std over groups of ``group_size`` samples, averaged over C, H, W.

  x [B, H, W, C] -> [B, H, W, C + 1]; group g holds samples g, g + B/G', ... (G' = min(group_size, B),
  as the official layer); B must be a multiple of G'.
  """
  b, h, w, c = x.shape
  g = min(group_size, b)
  if b % g:
    raise ValueError(
      f'the minibatch-std group size {g} must divide the batch {b}: set '
      '--config.model.discriminator_kwargs.mbstd_group_size to a divisor of it.'
    )
  y = x.reshape(g, b // g, h, w, c)
  std = jnp.sqrt(jnp.var(y, axis=0) + 1e-8)  # [B/G', H, W, C]
  std = jnp.mean(std, axis=(1, 2, 3))  # [B/G']
  std = jnp.tile(std, g)[:, None, None, None]  # Sample i gets its group's value (i mod B/G').
  return jnp.concatenate([x, jnp.broadcast_to(std, (b, h, w, 1))], axis=-1)


class Discriminator(nn.Module):
  """StyleGAN2's residual D: fromRGB 1×1; per resolution R ... 8 a block
  (conv3, lrelu, ×½, conv3, lrelu) + (×½, 1×1 conv without bias), summed with weight 1/√2; at 4×4
  minibatch std, conv3, lrelu, dense, lrelu, dense -> logits [B]."""

  channel_base: int = 16384
  channel_max: int = 512
  mbstd_group_size: int = 4
  dtype: str = 'float32'  # As the generator's: float32 only.

  @nn.compact
  def __call__(self, images, train: bool = True):
    del train
    log2 = check_resolution(images.shape[1], 'image side')
    width = lambda r: channels_at(r, self.channel_base, self.channel_max)  # noqa: E731
    x = lrelu(Conv(width(2**log2), kernel_size=1, name='from_rgb')(images))
    for k in range(log2, 2, -1):
      r = 2**k
      skip = Conv(width(r // 2), kernel_size=1, use_bias=False, name=f'b{r}_skip')(downsample(x))
      x = lrelu(Conv(width(r), name=f'b{r}_conv0')(x))
      x = lrelu(Conv(width(r // 2), name=f'b{r}_conv1')(downsample(x)))
      x = (x + skip) / math.sqrt(2.0)
    x = minibatch_std(x, self.mbstd_group_size)
    x = lrelu(Conv(width(4), name='b4_conv')(x))
    x = lrelu(Dense(width(4), name='b4_fc')(x.reshape(x.shape[0], -1)))
    return Dense(1, name='out')(x)[:, 0]
