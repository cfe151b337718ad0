"""BigGAN's nets (Brock, Donahue & Simonyan 2019, arXiv:1809.11096; code: ajbrock/BigGAN-PyTorch).

Generator, with a shared class embedding e(y) = E[y] ∈ R^shared_dim and z split hierarchically into
len(widths) + 1 = n + 1 equal chunks z_0, ..., z_n (skip-z, Section 3; Appendix B, Figure 15):
    z_0 -> SN linear -> [B, bottom, bottom, ch·widths[0]]
    -> up-blocks i = 0..n-1, block i conditioned on c_i = [e(y), z_{i+1}] (the reference's order)
       (a self-attention block after the up-block whose output side is `attention_resolution`)
    -> BN -> ReLU -> SN conv 3x3 to C -> tanh                         [B, bottom·2^n, bottom·2^n, C]
  up-block (Figure 15(b)), x -> h + skip:
    h = conv3x3(ReLU(CBN(conv3x3(up(ReLU(CBN(x, c)))), c))),  skip = up(conv1x1(x)),
  CBN(x, c) = BN(x)·(1 + W_γ c) + W_β c: batch norm without its own scale and offset, gain and
  bias linear (SN, no bias) in the block's c, so that c = 0 is plain BN.
Discriminator, a projection discriminator (Miyato & Koyama 2018):
    x -> down-block 0 (no leading ReLU: the reference's preactivation=False) -> down-blocks 1..
       (a self-attention block after the first block whose output side is `attention_resolution`)
    -> ReLU -> sum over H, W -> h [B, C_last];   D(x, y) = w·h + b + <E'[y], h>
  down-block (Figure 15(c)), x -> h + skip:  h = pool(conv3x3(ReLU(conv3x3(ReLU(x))))),
    skip = conv1x1(pool(x)), pool a 2x2 average pool in the blocks that pool (`pool`); as in the
    reference the skip is x itself in a block that neither pools nor changes the width.
Self-attention (SAGAN, Zhang et al. 2019), x [B, H, W, C] -> x + γ·o, γ a scalar initialised to 0:
    θ = conv1x1(x) to C/8, φ = maxpool(conv1x1(x)) to C/8, g = maxpool(conv1x1(x)) to C/2
    (2x2 max pools), o = conv1x1(softmax(θ φᵀ) g) to C; the four convolutions SN, without bias.

Choices, where the paper leaves it to the reference code, or the reference to flags:
- Spectral normalisation (Miyato et al. 2018) on every convolution and linear layer of both nets
  and on D's class embedding E', not on G's shared embedding E: `flax.linen.SpectralNorm` with one
  power-iteration step per call and ε = 1e-6, which Flax adds to |x|² in x / sqrt(|x|² + ε) (the
  reference's SN_eps is a flag: 1e-12 in its classes, 1e-8 in its parser). A kernel
  [kh, kw, C_in, C_out] is normalised as the matrix [kh·kw·C_in, C_out]. The layer block0/conv1,
  say, keeps its kernel at params['block0']['conv1']['layer_instance']['kernel'] and its u
  [1, C_out] and σ at batch_stats['block0']['conv1']['layer_instance/kernel/u'] and
  [...]['layer_instance/kernel/sigma'] ('layer_instance/embedding/...' for E'). A training call
  (train=True) takes one step from the stored u and stores the new u and σ; an eval call takes the
  same step and stores nothing (the reference's behaviour).
- Orthogonal initialisation (gain 1) of every kernel and embedding, E included, as the reference's
  G_init = D_init = 'ortho'; biases start at 0 (the reference keeps PyTorch's uniform default).
- BatchNorm momentum 0.9, epsilon 1e-5 (PyTorch's 0.1 / 1e-5); G's final BN has scale and offset.
- The 1x1 skip convolution commutes with the nearest up-sampling (per pixel) and with the average
  pool (both linear), so G convolves before up-sampling and D pools before convolving in every
  block: the reference's function (its D convolves first in the pre-activation blocks) at a
  quarter of the skip's cost.
- Attention: one block, after the first block of that side (the reference adds one after every D
  block of that side, which differs only where non-pooling blocks repeat a side; its CIFAR recipe
  has none). The logits θ φᵀ are not scaled (as the reference); the softmax runs in float32.
- Widths: block i has ch·widths[i] outputs; the defaults (ch 64, G widths (4, 4, 4), D widths
  (4, 4, 4, 4) pooling in the first two blocks) are the reference's 32x32 nets, 256 channels wide.

`dtype` is the compute dtype (parameters, u and σ stay float32); images and scores are float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gans.nets import layers
from gans.nets.began import upsample_nearest

_ORTHOGONAL = nn.initializers.orthogonal()
SN_EPSILON = 1e-6


def spectral_norm(layer: nn.Module, name: str) -> nn.SpectralNorm:
  """``layer`` (made with parent=None) with every kernel W divided by σ(W), its largest singular
  value by one power-iteration step per call; call it as ``sn(x, update_stats=train)``."""
  return nn.SpectralNorm(layer, n_steps=1, epsilon=SN_EPSILON, name=name)


def sn_conv(
  features: int, kernel_size: int, dtype, name: str, use_bias: bool = True
) -> nn.SpectralNorm:
  """SN `layers.Conv`, kernel_size x kernel_size, stride 1, 'SAME', orthogonal kernel."""
  conv = layers.Conv(
    features,
    (kernel_size, kernel_size),
    use_bias=use_bias,
    dtype=dtype,
    kernel_init=_ORTHOGONAL,
    parent=None,
  )
  return spectral_norm(conv, name)


def sn_dense(features: int, dtype, name: str, use_bias: bool = True) -> nn.SpectralNorm:
  """SN `nn.Dense` with an orthogonal kernel."""
  dense = nn.Dense(features, use_bias=use_bias, dtype=dtype, kernel_init=_ORTHOGONAL, parent=None)
  return spectral_norm(dense, name)


def sn_embed(num_embeddings: int, features: int, dtype, name: str) -> nn.SpectralNorm:
  """SN `nn.Embed` with an orthogonal table [num_embeddings, features]."""
  embed = nn.Embed(num_embeddings, features, dtype=dtype, embedding_init=_ORTHOGONAL, parent=None)
  return spectral_norm(embed, name)


def _batch_norm(train: bool, dtype, name: str, affine: bool = True) -> nn.BatchNorm:
  return nn.BatchNorm(
    use_running_average=not train,
    use_scale=affine,
    use_bias=affine,
    momentum=0.9,
    epsilon=1e-5,
    dtype=dtype,
    name=name,
  )


def _attention_block(sides: Sequence[int], resolution: int, field: str) -> int | None:
  """The index of the first block whose output side is ``resolution``; None for 0 (no attention)."""
  if resolution == 0:
    return None
  if resolution not in sides:
    raise ValueError(
      f'{field}={resolution} must be 0 (no attention) or the side of a block output, one of '
      f'{sorted(set(sides))}'
    )
  return list(sides).index(resolution)


class ConditionalBatchNorm(nn.Module):
  """(x [B, H, W, C], c [B, D]) -> BN(x)·(1 + W_γ c) + W_β c [B, H, W, C].

  BN normalises by the batch's statistics in training and the running ones in eval, with no scale or
  offset of its own; W_γ, W_β [D, C] are SN linear maps without bias.
  """

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, c: jax.Array, train: bool) -> jax.Array:
    features = x.shape[-1]
    x = _batch_norm(train, self.dtype, 'bn', affine=False)(x)
    gain = sn_dense(features, self.dtype, 'gain', use_bias=False)(c, update_stats=train)
    bias = sn_dense(features, self.dtype, 'bias', use_bias=False)(c, update_stats=train)
    return x * (1 + gain[:, None, None, :]) + bias[:, None, None, :]


class SelfAttention(nn.Module):
  """x [B, H, W, C] -> x + γ·o [B, H, W, C] (the module docstring has o); C >= 8 (θ and φ have
  C // 8 channels, g C // 2, as the reference), H and W even."""

  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    batch, height, width, channels = x.shape
    if channels < 8:
      raise ValueError(
        f'self-attention needs at least 8 channels (θ and φ have C // 8), got {channels}'
      )

    def conv(features, name, inputs):
      return sn_conv(features, 1, self.dtype, name, use_bias=False)(inputs, update_stats=train)

    def pooled(v):  # [B, H, W, F] -> [B, H·W / 4, F]
      return nn.max_pool(v, (2, 2), (2, 2)).reshape(batch, -1, v.shape[-1])

    theta = conv(channels // 8, 'theta', x).reshape(batch, -1, channels // 8)
    phi = pooled(conv(channels // 8, 'phi', x))
    g = pooled(conv(channels // 2, 'g', x))
    logits = jnp.einsum('bqd,bkd->bqk', theta, phi).astype(jnp.float32)
    beta = jax.nn.softmax(logits, axis=-1).astype(self.dtype)  # [B, H·W, H·W / 4]
    attended = jnp.einsum('bqk,bkd->bqd', beta, g).reshape(batch, height, width, channels // 2)
    o = conv(channels, 'o', attended)
    gamma = self.param('gamma', nn.initializers.zeros_init(), (), jnp.float32)
    return x + gamma.astype(self.dtype) * o


class GeneratorBlock(nn.Module):
  """(x [B, H, W, C_in], c [B, D]) -> [B, 2H, 2W, features], the module docstring's up-block."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, c: jax.Array, train: bool) -> jax.Array:
    h = nn.relu(ConditionalBatchNorm(self.dtype, name='cbn1')(x, c, train))
    h = sn_conv(self.features, 3, self.dtype, 'conv1')(upsample_nearest(h), update_stats=train)
    h = nn.relu(ConditionalBatchNorm(self.dtype, name='cbn2')(h, c, train))
    h = sn_conv(self.features, 3, self.dtype, 'conv2')(h, update_stats=train)
    skip = sn_conv(self.features, 1, self.dtype, 'skip')(x, update_stats=train)
    return h + upsample_nearest(skip)


class DiscriminatorBlock(nn.Module):
  """x [B, H, W, C_in] -> [B, H / 2, W / 2, features] (pool) or [B, H, W, features]: the down-block
  of the module docstring, without the leading ReLU when not ``preactivation`` (D's first block)."""

  features: int
  pool: bool
  preactivation: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    h = nn.relu(x) if self.preactivation else x
    h = sn_conv(self.features, 3, self.dtype, 'conv1')(h, update_stats=train)
    h = sn_conv(self.features, 3, self.dtype, 'conv2')(nn.relu(h), update_stats=train)
    if self.pool:
      h, x = nn.avg_pool(h, (2, 2), (2, 2)), nn.avg_pool(x, (2, 2), (2, 2))
    if self.pool or x.shape[-1] != self.features:
      x = sn_conv(self.features, 1, self.dtype, 'skip')(x, update_stats=train)
    return h + x


class Generator(nn.Module):
  """(z [B, z_dim], labels) -> images [B, H, W, C] in [-1, 1] (float32).

  ``labels``: int [B] classes, or float [B, num_classes] class weights w, whose shared embedding is
  the mixture Σ_k w_k E[k] (the embedding is linear in the one-hot label): (1 - t) e_a + t e_b walks
  between two classes.

  Attributes:
    image_shape: (H, W, C), H = W = bottom·2^len(widths).
    num_classes: classes of the shared embedding.
    ch: base width; up-block i has ch·widths[i] output channels, the first linear ch·widths[0].
    widths: one per up-block.
    z_dim: z's size, split into `num_chunks` = len(widths) + 1 equal chunks.
    shared_dim: the shared class embedding's size.
    attention_resolution: self-attention after the up-block whose output has this side; 0: none.
    bottom: side of the first feature map.
    dtype: compute dtype.
  Parameters are named 'shared' (the embedding, no SN), 'linear', 'block{i}' ('cbn1' and 'cbn2' with
  'bn', 'gain', 'bias'; 'conv1', 'conv2', 'skip'), 'attention' ('theta', 'phi', 'g', 'o', 'gamma'),
  'bn', 'image_conv'; BatchNorm statistics sit beside the SN ones in 'batch_stats'.
  """

  image_shape: Sequence[int]
  num_classes: int
  ch: int = 64
  widths: Sequence[int] = (4, 4, 4)
  z_dim: int = 128
  shared_dim: int = 128
  attention_resolution: int = 0
  bottom: int = 4
  dtype: Any = jnp.float32

  def __post_init__(self):
    """The checks of the fields, at construction (`gans.nets.build`)."""
    side = self.bottom * 2 ** len(self.widths)
    if tuple(self.image_shape[:2]) != (side, side):
      raise ValueError(
        f'image_shape {tuple(self.image_shape)} must be {side}x{side}: '
        f'model.generator_kwargs.bottom={self.bottom} doubled by {len(self.widths)} up-blocks '
        f'(model.generator_kwargs.widths)'
      )
    if self.z_dim % self.num_chunks:
      raise ValueError(
        f'model.generator_kwargs.z_dim={self.z_dim} must split into {self.num_chunks} equal chunks '
        f'(one for the first linear layer, one per up-block)'
      )
    self.attention_block  # Raises for a side no up-block outputs.
    super().__post_init__()

  @property
  def num_chunks(self) -> int:
    """How many equal chunks z is split into: one for the first linear layer, one per up-block."""
    return len(self.widths) + 1

  @property
  def sides(self) -> list[int]:
    """The output side of each up-block."""
    return [self.bottom * 2 ** (i + 1) for i in range(len(self.widths))]

  @property
  def attention_block(self) -> int | None:
    """The up-block that self-attention follows; None for none."""
    field = 'model.generator_kwargs.attention_resolution'
    return _attention_block(self.sides, self.attention_resolution, field)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array, train: bool) -> jax.Array:
    embed = nn.Embed(
      self.num_classes, self.shared_dim, dtype=self.dtype, embedding_init=_ORTHOGONAL, name='shared'
    )
    if jnp.issubdtype(labels.dtype, jnp.integer):
      shared = embed(labels)
    else:  # Class weights [B, K]: Σ_k w_k E[k].
      shared = labels.astype(self.dtype) @ embed.embedding.astype(self.dtype)
    first, *chunks = jnp.split(z.astype(self.dtype), self.num_chunks, axis=-1)
    width = self.ch * self.widths[0]
    x = sn_dense(self.bottom**2 * width, self.dtype, 'linear')(first, update_stats=train)
    x = x.reshape(-1, self.bottom, self.bottom, width)
    for i, (block_width, chunk) in enumerate(zip(self.widths, chunks, strict=True)):
      c = jnp.concatenate([shared, chunk], axis=-1)
      x = GeneratorBlock(self.ch * block_width, self.dtype, name=f'block{i}')(x, c, train)
      if i == self.attention_block:
        x = SelfAttention(self.dtype, name='attention')(x, train)
    x = nn.relu(_batch_norm(train, self.dtype, 'bn')(x))
    x = sn_conv(self.image_shape[-1], 3, self.dtype, 'image_conv')(x, update_stats=train)
    return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
  """(images [B, H, W, C], labels int [B]) -> scores [B] (float32), and h [B, C_last] if asked.

  Attributes:
    num_classes: classes of the projection embedding E'.
    ch: base width; down-block i has ch·widths[i] output channels.
    widths: one per down-block.
    pool: per down-block, whether it halves the side (2x2 average pool); len(widths) of them.
    attention_resolution: self-attention after the first block whose output has this side; 0: none.
    dtype: compute dtype.
  Parameters are named 'block{i}' ('conv1', 'conv2', 'skip' where the block pools or changes the
  width), 'attention', 'linear', 'embed'.
  """

  num_classes: int
  ch: int = 64
  widths: Sequence[int] = (4, 4, 4, 4)
  pool: Sequence[bool] = (True, True, False, False)
  attention_resolution: int = 0
  dtype: Any = jnp.float32

  def __post_init__(self):
    """The check of the fields; the attention side is checked against the images' size in a call."""
    if len(self.pool) != len(self.widths):
      raise ValueError(
        f'model.discriminator_kwargs.pool={tuple(self.pool)} must have one entry per block of '
        f'model.discriminator_kwargs.widths={tuple(self.widths)}'
      )
    super().__post_init__()

  @nn.compact
  def __call__(
    self, images: jax.Array, labels: jax.Array, train: bool, return_features: bool = False
  ):
    sides, side = [], images.shape[1]
    for pool in self.pool:
      side = side // 2 if pool else side
      sides.append(side)
    attention_at = _attention_block(
      sides, self.attention_resolution, 'model.discriminator_kwargs.attention_resolution'
    )
    h = images.astype(self.dtype)
    for i, (width, pool) in enumerate(zip(self.widths, self.pool, strict=True)):
      block = DiscriminatorBlock(self.ch * width, pool, i > 0, self.dtype, name=f'block{i}')
      h = block(h, train)
      if i == attention_at:
        h = SelfAttention(self.dtype, name='attention')(h, train)
    h = jnp.sum(nn.relu(h), axis=(1, 2))
    score = sn_dense(1, self.dtype, 'linear')(h, update_stats=train)[:, 0]
    embedding = sn_embed(self.num_classes, h.shape[-1], self.dtype, 'embed')(
      labels, update_stats=train
    )
    projection = jnp.sum(embedding * h, axis=-1)
    scores = (score + projection).astype(jnp.float32)
    return (scores, h) if return_features else scores
