"""Model families, built by ``config.method.name``; each follows the Method protocol in ``base``."""

from __future__ import annotations

import functools

from gans.methods import base, began, cgan, gan, infogan, vae

METHODS = {
  'gan': gan.GAN,
  'cgan': cgan.ConditionalGAN,
  'infogan': infogan.InfoGAN,
  'began': began.BEGAN,
  'vae': functools.partial(vae.VAE, variational=True),
  'ae': functools.partial(vae.VAE, variational=False),
}


def create(config, image_shape, num_classes) -> base.Method:
  """The method named by ``config.method.name`` for images of ``image_shape`` (H, W, C)."""
  if config.method.name not in METHODS:
    raise ValueError(
      f'unknown config.method.name={config.method.name!r}; known methods: '
      f'{", ".join(sorted(METHODS))}.'
    )
  return METHODS[config.method.name](config, image_shape, num_classes)
