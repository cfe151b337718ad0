"""WGAN (Arjovsky et al. 2017) on Fashion-MNIST 28×28: a critic without sigmoid, kept Lipschitz by
weight clipping.

Loss: L_D = E[f(G(z))] - E[f(x)], L_G = -E[f(G(z))]; after each critic update every critic weight is
clipped to [-0.01, 0.01]; 5 critic updates per G update; RMSProp 5e-5 for both players.
Nets: the vanilla GAN's MLPs (``configs/gan.py``) until the DCGAN nets are registered.

    python -m gans.main --config=configs/wgan.py
"""

import os

from gans import config_lib
from gans.methods import gan


def get_config():
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'gan.py'))
  c.method.n_critic = 5
  c.loss = gan.loss_config('wasserstein', clip=0.01)
  c.optim.g = config_lib.optimizer('rmsprop', lr=5e-5)
  c.optim.d = config_lib.optimizer('rmsprop', lr=5e-5)
  c.train.steps = 4_000
  return c
