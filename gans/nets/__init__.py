"""Flax linen nets, found by convention from ``config.model``.

A config names a net by its module in this package and its constructor there, ``'MODULE.NAME'``, e.g.
``model.generator = 'mlp.MLPGenerator'`` with ``model.generator_kwargs``: ``build`` imports
``gans.nets.MODULE`` and calls ``NAME(**kwargs)``. A new net is a new module (or a class in one); nothing
to register.
"""

from __future__ import annotations

import importlib

import flax.linen as nn

from gans.nets import conditional  # noqa: F401 (used as nets.conditional by the conditional GAN)


def build(name: str, **kwargs) -> nn.Module:
  """The net ``'MODULE.NAME'`` of ``gans/nets/MODULE.py`` built with ``kwargs``."""
  module_name, _, constructor = name.rpartition('.')
  try:
    module = importlib.import_module(f'gans.nets.{module_name}') if module_name else None
  except ModuleNotFoundError:
    module = None
  if module is None or not callable(getattr(module, constructor, None)):
    raise ValueError(
      f"unknown net {name!r}: name a net as 'MODULE.NAME', a constructor NAME in gans/nets/MODULE.py "
      "(e.g. 'mlp.MLPGenerator', 'dcgan.image_generator')."
    )
  return getattr(module, constructor)(**kwargs)
