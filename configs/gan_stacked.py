"""Vanilla GAN on Stacked Fashion-MNIST: three random Fashion-MNIST images as the channels of one 28×28×3
image, 1,000 modes (the Stacked MNIST benchmark of Metz et al. 2017 / PacGAN, on Fashion-MNIST offline).

The classic MLP nets of ``configs/gan.py`` with a 28·28·3 output. Scored by modes covered (out of 1,000)
and KL(mode histogram ‖ uniform) over 10,000 samples, each channel labelled by the Fashion-MNIST
evaluation classifier.

    python -m gans.main --config=configs/gan_stacked.py
"""

import os

from gans import config_lib


def get_config():
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'gan.py'))
  c.data.stacked_images = 3
  return c
