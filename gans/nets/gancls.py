"""GAN-CLS's nets (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis", Sec. 4 and 5.4).

* ``TextEncoder`` φ: tokens int [B, L] (0 = padding) -> Embed(E) -> GRU(hidden) over the words (its state
  after the last word) -> Dense(D) -> unit norm: [B, D].
* ``ImageToVector``: images -> DCGAN trunk (stride-2 convolutions, LeakyReLU 0.2) -> Dense(D): [B, D]; the
  image side ψ of the matching loss that pre-trains φ (``normalize=True``) and the inverse net S(x) -> z
  of style transfer (D = z_dim).
* ``TextConditionalGenerator``: G(z, h) = G_0([z, LReLU_0.2(W h + b)]) for any generator G_0 of a latent
  vector (the paper compresses φ(t) to 128 dimensions).
* ``MatchingDiscriminator``: D(x, h): DCGAN trunk to a map [B, h, w, F]; LReLU(W h + b) tiled over the map
  and concatenated as channels; Conv 1×1 (F) -> BN -> LReLU; Dense(1): logits [B].
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import dcgan, layers


class TextEncoder(nn.Module):
  """tokens int32 [B, L] -> embeddings [B, out_dim] of unit norm."""

  vocab_size: int
  embed_dim: int = 32
  hidden: int = 64
  out_dim: int = 64
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, tokens, train: bool):
    del train  # No BatchNorm or dropout.
    lengths = jnp.maximum(jnp.sum(tokens != 0, axis=-1), 1)
    x = nn.Embed(self.vocab_size, self.embed_dim, name='embed')(tokens)
    state = nn.RNN(nn.GRUCell(self.hidden, dtype=self.dtype), return_carry=True, name='gru')(
      x, seq_lengths=lengths
    )[0]
    out = nn.Dense(self.out_dim, dtype=self.dtype, name='out')(state).astype(jnp.float32)
    return out / jnp.maximum(jnp.linalg.norm(out, axis=-1, keepdims=True), 1e-6)


class ImageToVector(nn.Module):
  """images [B, H, W, C] -> [B, out_dim]: a DCGAN trunk of ``widths`` and a linear head (unit norm when
  ``normalize``)."""

  widths: Sequence[int] = (32, 64)
  out_dim: int = 64
  kernel_size: int = 5
  batch_norm: bool = False
  normalize: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    trunk = dcgan.DiscriminatorTrunk(
      self.widths, self.kernel_size, self.batch_norm, self.dtype, name='trunk'
    )
    out = nn.Dense(self.out_dim, dtype=self.dtype, name='head')(trunk(images, train))
    out = out.astype(jnp.float32)
    if self.normalize:
      out = out / jnp.maximum(jnp.linalg.norm(out, axis=-1, keepdims=True), 1e-6)
    return out


def _compress(h, dim: int, dtype, name: str):
  """LReLU_0.2(W h + b): the text embedding compressed to ``dim`` (Reed et al.: 128)."""
  return nn.leaky_relu(nn.Dense(dim, dtype=dtype, name=name)(h.astype(dtype)), 0.2)


class TextConditionalGenerator(nn.Module):
  """(z [B, z_dim], h [B, D]) -> generator([z, compress(h)]) [B, H, W, C]."""

  generator: nn.Module
  compress_dim: int = 32
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, h, train: bool):
    text = _compress(h, self.compress_dim, self.dtype, 'compress')
    return self.generator(jnp.concatenate([z, text.astype(z.dtype)], axis=-1), train=train)


class MatchingDiscriminator(nn.Module):
  """(images [B, H, W, C], h [B, D]) -> logits [B]: does the image look real and match the text?"""

  widths: Sequence[int] = (64, 128)
  kernel_size: int = 5
  compress_dim: int = 32
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, h, train: bool):
    trunk = dcgan.DiscriminatorTrunk(self.widths, self.kernel_size, True, self.dtype, name='trunk')
    side = [math.ceil(s / 2 ** len(self.widths)) for s in images.shape[1:3]]  # 'SAME' stride 2.
    maps = trunk(images, train).reshape(images.shape[0], *side, self.widths[-1])
    text = _compress(h, self.compress_dim, self.dtype, 'compress')
    tiled = jnp.broadcast_to(text[:, None, None, :], (*maps.shape[:3], self.compress_dim))
    x = layers.Conv(self.widths[-1], (1, 1), dtype=self.dtype, name='joint')(
      jnp.concatenate([maps, tiled.astype(maps.dtype)], axis=-1)
    )
    x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, dtype=self.dtype)(x)
    x = nn.leaky_relu(x, 0.2)
    logits = nn.Dense(1, dtype=self.dtype, name='head')(x.reshape(x.shape[0], -1))
    return logits[:, 0].astype(jnp.float32)
