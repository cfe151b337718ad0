"""DCGAN (Radford et al. 2015) on CIFAR-10 32×32×3, for machines with internet (TFDS catalogue).

Radford's nets at 32×32: 4×4 kernels, stride 2, base width 64 (G widths 256, 128, 64 -> 3; D 64, 128, 256).
Adam 2e-4, β1 0.5, batch 128; pixels in [-1, 1]. The evaluation classifier is trained on CIFAR-10's own
training split (or plug in Inception features with --config.eval.feature_extractor).

    python -m gans.main --config=configs/dcgan_cifar10.py
"""

import os

from gans import config_lib


def get_config():
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'dcgan.py'))
  c.data.update(source='tfds', name='cifar10')
  c.model.discriminator_kwargs.image_size = 32
  c.train.steps = 50_000
  return c
