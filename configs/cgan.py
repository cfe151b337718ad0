"""Conditional GAN (Mirza & Osindero 2014) on Fashion-MNIST 28×28: the label enters G and D.

G: [z(100), embed(y)(10)] -> [Dense -> BatchNorm -> ReLU] × (128, 256, 512, 1024) -> Dense(784) -> Sigmoid.
D: [x, embed(y) as 10 channels] -> [Dense -> LeakyReLU(0.2)] × (512, 256, 128) -> Dense(1)
   (``--config.model.projection=True``: a projection head <embed(y), φ(x)> instead of the concatenation).
Loss: BCE on logits, non-saturating G; Adam 2e-4, β1 0.5. Figures: one row per class.

    python -m gans.main --config=configs/cgan.py[:cifar10]
    python -m gans.main --config=configs/cgan.py --mode=sample --config.sample.kind=traverse
"""

from gans import config_lib
from gans.methods import adversarial


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(adversarial.method_config('cgan'))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10'))
  c.model = dict(
    dtype='float32',
    z_dim=100,
    embed_dim=10,
    projection=False,
    generator='mlp.MLPGenerator',
    generator_kwargs=dict(hidden=(128, 256, 512, 1024)),
    discriminator='mlp.MLPTrunk',
    discriminator_kwargs=dict(hidden=(512, 256, 128), negative_slope=0.2),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.train.steps = 6_000  # ~6 min on the 2-core CPU; longer runs sample better.
  return c
