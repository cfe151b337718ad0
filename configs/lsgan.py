"""LSGAN (Mao et al. 2017) on Fashion-MNIST 28×28, on the DCGAN nets of ``configs/dcgan.py``.

Loss: L_D = ½E[(D(x) - b)²] + ½E[(D(G(z)) - a)²], L_G = ½E[(D(G(z)) - c)²] on D's raw outputs, with the
0-1 coding a = 0, b = c = 1 (``--config.loss.a=-1 --config.loss.c=0`` for the (-1, 1, 0) coding that
minimises the Pearson χ² divergence). Adam 2e-4, β1 0.5.

    python -m gans.main --config=configs/lsgan.py[:cifar10|:celeba64]
"""

import os

from gans import config_lib
from gans.methods import adversarial


def get_config(dataset='fashion_mnist'):
  c = config_lib.load_recipe(os.path.join(os.path.dirname(__file__), 'dcgan.py'), dataset)
  c.loss = adversarial.loss_config('least_squares', a=0.0, b=1.0, c=1.0)
  if dataset in ('fashion_mnist', 'mnist'):
    c.train.steps = 2_000  # ~10 min on the 2-core CPU; longer runs sample better.
  return c
