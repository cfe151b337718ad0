"""Vanilla GAN on the 2-D grid mixture (25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05): the VEEGAN/PacGAN
mode-collapse benchmark, with the nets and schedule of ``configs/gan_ring.py``.

    python -m gans.main --config=configs/gan_grid.py
"""

import os

from gans import config_lib


def get_config():
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'gan_ring.py'))
  c.data.name = 'grid'
  c.data.value_range = (-6.0, 6.0)  # Toy data: the extent of the scatter plots.
  return c
