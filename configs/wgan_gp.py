"""WGAN-GP (Gulrajani et al. 2017) on Fashion-MNIST 28×28: the critic's Lipschitz constraint as a
gradient penalty, on the DCGAN nets of ``configs/dcgan.py`` with no BatchNorm in the critic (the penalty
is per example).

Loss: L_D = E[f(G(z))] - E[f(x)] + λ E[(‖∇f(x̂)‖₂ - 1)²], x̂ = εx + (1 - ε)G(z), ε ~ U[0, 1], λ = 10;
L_G = -E[f(G(z))]; 5 critic updates per G update; Adam(1e-4, β = (0, 0.9)).

    python -m gans.main --config=configs/wgan_gp.py[:cifar10|:celeba64]
"""

import os

from gans import config_lib
from gans.methods import adversarial, gan


def get_config(dataset='fashion_mnist'):
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'dcgan.py'), dataset)
  c.method = gan.method_config(n_critic=5)
  c.model.discriminator_kwargs.batch_norm = False
  c.loss = adversarial.loss_config('wasserstein', penalty_weight=10.0, penalty_kind='two_sided')
  c.optim.g = config_lib.optimizer('adam', lr=1e-4, b1=0.0, b2=0.9)
  c.optim.d = config_lib.optimizer('adam', lr=1e-4, b1=0.0, b2=0.9)
  if dataset in ('fashion_mnist', 'mnist'):
    c.train.steps = 1_000  # ~17 min on the 2-core CPU; longer runs sample better.
  return c
