"""Model families, built by ``config.method.name``; each follows the Method protocol in ``base``.

A family is a module of this package with its method class (the protocol), ``check_config(config)``
(every rule on its ``config.method`` and ``config.loss``, raising ValueError naming the field) and its
config builders (``method_config``, ``loss_config``); adding one is its module plus one line in
``FAMILIES``.
"""

from __future__ import annotations

from gans.methods import (
  base,
  began,
  biggan,
  cgan,
  cyclegan,
  gan,
  gancls,
  infogan,
  lapgan,
  ssgan,
  stylegan,
  vae,
)

# config.method.name -> (method class, the family module that holds its check_config).
FAMILIES = {
  'gan': (gan.GAN, gan),
  'cgan': (cgan.ConditionalGAN, cgan),
  'infogan': (infogan.InfoGAN, infogan),
  'began': (began.BEGAN, began),
  'biggan': (biggan.BigGAN, biggan),
  'lapgan': (lapgan.LapGAN, lapgan),
  'cc_lapgan': (lapgan.ClassConditionalLapGAN, lapgan),
  'cyclegan': (cyclegan.CycleGAN, cyclegan),
  'gancls': (gancls.GANCLS, gancls),
  'ssgan': (ssgan.SemiSupervisedGAN, ssgan),
  'ssgan_supervised': (ssgan.SupervisedBaseline, ssgan),
  'stylegan': (stylegan.StyleGAN, stylegan),
  'vae': (vae.VAE, vae),
  'ae': (vae.AE, vae),
}


def _family(config):
  name = config.method.name
  if name not in FAMILIES:
    raise ValueError(
      f'unknown config.method.name={name!r}; known methods: {", ".join(sorted(FAMILIES))}.'
    )
  return FAMILIES[name]


def check_config(config) -> None:
  """The family's checks of ``config.method`` and ``config.loss`` (ValueError naming the field)."""
  _family(config)[1].check_config(config)


def create(config, image_shape, num_classes) -> base.Method:
  """The method named by ``config.method.name`` for images of ``image_shape`` (H, W, C), after its
  ``check_config``."""
  check_config(config)
  return _family(config)[0](config, image_shape, num_classes)


def require(method, capability: type, method_name: str) -> None:
  """Raises ValueError when ``method`` lacks ``capability`` (a protocol of ``base.CAPABILITIES``),
  naming the families that have it."""
  if base.supports(method, capability):
    return
  what = next(name for name, cls in base.CAPABILITIES.items() if cls is capability)
  having = sorted(name for name, (cls, _) in FAMILIES.items() if issubclass(cls, capability))
  raise ValueError(f'method {method_name} has no {what}; these have: {", ".join(having)}.')
