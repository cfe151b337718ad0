"""Flax linen nets, built by name from ``config.model``.

``build(name, **kwargs)`` looks ``name`` up in ``NETS``; a family's config says which nets it uses, e.g.
``model.generator = 'mlp_generator'`` with ``model.generator_kwargs``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gans.nets import began, conditional, dcgan, infogan, mlp  # noqa: F401 (conditional: used as nets.conditional)


def dcgan_generator(image_shape: Sequence[int], base_features: int = 64, dtype=jnp.float32):
  """DCGAN G for images [H, H, C] (H = 28, or 4·2^m): ``dcgan.generator``."""
  return dcgan.generator(image_shape[0], image_shape[-1], base_features, dtype)


def dcgan_discriminator(
  image_size: int = 28, base_features: int = 64, batch_norm: bool = True, dtype=jnp.float32
):
  """DCGAN D for images of side ``image_size``: ``dcgan.discriminator``."""
  return dcgan.discriminator(image_size, base_features, batch_norm, dtype)


NETS: dict[str, Callable[..., nn.Module]] = {
  'dcgan_generator': dcgan_generator,
  'dcgan_discriminator': dcgan_discriminator,
  'mlp_generator': mlp.MLPGenerator,
  'mlp_discriminator': mlp.MLPDiscriminator,
  'mlp_encoder': mlp.MLPEncoder,
  'mlp_decoder': mlp.MLPDecoder,
  'mlp_trunk': mlp.MLPTrunk,
  'infogan_generator': infogan.InfoGANGenerator,
  'infogan_discriminator': infogan.InfoGANDiscriminator,
  'began_generator': began.BEGANDecoder,
  'began_discriminator': began.BEGANAutoencoder,
}


def build(name: str, **kwargs) -> nn.Module:
  if name not in NETS:
    raise ValueError(f'unknown net {name!r}; known nets: {", ".join(sorted(NETS))}.')
  return NETS[name](**kwargs)
