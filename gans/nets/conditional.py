"""Class-conditional wrappers (Mirza & Osindero 2014) around unconditional nets.

The label enters through a learned embedding e(y) ∈ R^E:

* ``ConditionalGenerator``: G(z, y) = G_0([z, e(y)]) for any generator G_0 of a latent vector.
* ``ConditionalDiscriminator``: a trunk φ (images -> features [B, F]) and a linear head. By
  concatenation, D(x, y) = w·φ([x, e(y)]) + b with e(y) broadcast as E extra image channels; with
  ``projection=True`` (Miyato & Koyama 2018), D(x, y) = w·φ(x) + b + <e'(y), φ(x)> with e'(y) ∈ R^F.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp


class ConditionalGenerator(nn.Module):
  """(z [B, z_dim], labels int [B]) -> generator([z, e(labels)]) [B, H, W, C]."""

  generator: nn.Module
  num_classes: int
  embed_dim: int = 10
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, labels, train: bool):
    embedding = nn.Embed(self.num_classes, self.embed_dim, name='embed')(labels)
    return self.generator(jnp.concatenate([z, embedding.astype(z.dtype)], axis=-1), train=train)


class ConditionalDiscriminator(nn.Module):
  """(images [B, H, W, C], labels int [B]) -> logits [B]; ``trunk`` maps images to features [B, F]."""

  trunk: nn.Module
  num_classes: int
  embed_dim: int = 10
  projection: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, images, labels, train: bool):
    if self.projection:
      features = self.trunk(images, train=train)
      embedding = nn.Embed(self.num_classes, features.shape[-1], name='embed')(labels)
      projected = jnp.sum(embedding.astype(features.dtype) * features, axis=-1)
    else:
      embedding = nn.Embed(self.num_classes, self.embed_dim, name='embed')(labels)
      maps = jnp.broadcast_to(
        embedding[:, None, None, :].astype(images.dtype), (*images.shape[:3], self.embed_dim)
      )
      features = self.trunk(jnp.concatenate([images, maps], axis=-1), train=train)
      projected = 0.0
    logits = nn.Dense(1, dtype=self.dtype, name='head')(features)[:, 0] + projected
    return logits.astype(jnp.float32)
