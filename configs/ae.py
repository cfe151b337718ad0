"""Deterministic autoencoder: the VAE recipe's nets and likelihood with z = μ and no KL term.

python -m gans.main --config=configs/ae.py
"""

import os

from gans import config_lib
from gans.methods import vae


def get_config():
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'vae.py'))
  c.method = vae.method_config(variational=False)
  return c
