"""Flax linen nets, built by name from ``config.model``.

``build(name, **kwargs)`` looks ``name`` up in ``NETS``; a family's config says which nets it uses, e.g.
``model.generator = 'mlp_generator'`` with ``model.generator_kwargs``.
"""

from __future__ import annotations

import flax.linen as nn

from gans.nets import began, conditional, infogan, mlp

NETS: dict[str, type[nn.Module]] = {
  'mlp_generator': mlp.MLPGenerator,
  'mlp_discriminator': mlp.MLPDiscriminator,
  'mlp_encoder': mlp.MLPEncoder,
  'mlp_decoder': mlp.MLPDecoder,
  'mlp_trunk': conditional.MLPTrunk,
  'infogan_generator': infogan.InfoGANGenerator,
  'infogan_discriminator': infogan.InfoGANDiscriminator,
  'began_generator': began.BEGANDecoder,
  'began_discriminator': began.BEGANAutoencoder,
}


def build(name: str, **kwargs) -> nn.Module:
  if name not in NETS:
    raise ValueError(f'unknown net {name!r}; known nets: {", ".join(sorted(NETS))}.')
  return NETS[name](**kwargs)
