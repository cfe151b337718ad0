"""WGAN (Arjovsky et al. 2017) on Fashion-MNIST 28×28, on the DCGAN nets of ``configs/dcgan.py``.

Loss: L_D = E[f(G(z))] - E[f(x)], L_G = -E[f(G(z))] with the critic f's raw output (no sigmoid); the
critic's weights are clipped to [-0.01, 0.01] at initialisation and after each of its 5 updates per G update
(the reference code clips before each update: the same sequence); RMSProp 5e-5 for both players (the paper's
Algorithm 1) in PyTorch's form, as the reference code runs it: decay ρ = 0.99 (``optim.*.rms_decay``; optax's
default is 0.9) and ε outside the square root.

    python -m gans.main --config=configs/wgan.py[:cifar10|:celeba64]
"""

import os

from gans import config_lib
from gans.methods import adversarial, gan


def get_config(dataset='fashion_mnist'):
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'dcgan.py'), dataset)
  c.method = gan.method_config(n_critic=5)
  c.loss = adversarial.loss_config('wasserstein', clip=0.01)
  c.optim.g = config_lib.optimizer('rmsprop', lr=5e-5)
  c.optim.d = config_lib.optimizer('rmsprop', lr=5e-5)
  if dataset in ('fashion_mnist', 'mnist'):
    c.train.steps = 1_000  # ~13 min on the 2-core CPU; longer runs sample better.
  return c
