"""Vanilla GAN, the classic MNIST recipe on Fashion-MNIST 28×28.

G: z(10) -> [Dense -> BatchNorm -> ReLU] × (128, 256, 512, 1024) -> Dense(784) -> Sigmoid.
D: [Dense -> LeakyReLU(0.2)] × (512, 256, 128) -> Dense(1) (a logit).
Loss: BCE on logits, non-saturating G loss (``--config.loss.name=minimax`` for the saturating one).

    python -m gans.main --config=configs/gan.py
"""

from gans import config_lib
from gans.methods import adversarial, gan


def get_config():
  c = config_lib.base_config(gan.method_config())
  c.model = dict(
    dtype='float32',
    z_dim=10,
    generator='mlp.MLPGenerator',
    generator_kwargs=dict(hidden=(128, 256, 512, 1024)),
    discriminator='mlp.MLPDiscriminator',
    discriminator_kwargs=dict(hidden=(512, 256, 128), negative_slope=0.2),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.train.steps = 10_000
  return c
