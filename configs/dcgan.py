"""DCGAN (Radford et al. 2015) on Fashion-MNIST 28×28 (default), CIFAR-10 32×32 or CelebA 64×64.

G: z(100) -> Dense(7·7·256, no bias) -> BN -> ReLU -> ConvT(128, 5×5, s1) -> BN -> ReLU -> ConvT(64, 5×5, s2)
-> BN -> ReLU -> ConvT(1, 5×5, s2) -> Tanh; D: Conv(64, 5×5, s2) -> LReLU(0.2) -> Conv(128, 5×5, s2) -> BN
-> LReLU(0.2) -> Dense(1). All up-sampling goes through ``gans.nets.layers.ConvTranspose``. BCE with the
non-saturating G loss; Adam 2e-4, β1 0.5; pixels in [-1, 1]. As in PyTorch's DCGAN example, the G update
reuses the D update's samples (``method.reuse_fakes``: one G forward per step).
At 32×32 and 64×64 the nets are Radford's (4×4 kernels, widths 64·2^i, ``gans.nets.dcgan``); those datasets
come from the TFDS catalogue (internet the first time, ``config_lib.DATASETS``).

    python -m gans.main --config=configs/dcgan.py
    python -m gans.main --config=configs/dcgan.py:cifar10
    python -m gans.main --config=configs/dcgan.py:celeba64
"""

from gans import config_lib
from gans.methods import adversarial, gan


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(gan.method_config(reuse_fakes=True))
  image_size = config_lib.set_dataset(c, dataset)
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    z_dim=100,
    generator='dcgan.image_generator',
    generator_kwargs=dict(base_features=64),
    discriminator='dcgan.discriminator',
    discriminator_kwargs=dict(image_size=image_size, base_features=64),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  # 28×28: ~12 min on the 2-core CPU (longer runs sample better); 32/64: a budget for an accelerator.
  c.train.steps = 2_500 if image_size == 28 else 50_000
  c.train.log_every = 100
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  return c
