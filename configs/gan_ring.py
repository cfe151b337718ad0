"""Vanilla GAN on the 2-D ring mixture (8 Gaussians on the unit circle, std 0.01): the VEEGAN/PacGAN
mode-collapse benchmark (configs/gan_grid.py reuses it for the 25-mode grid).

G: z(2) -> [Dense(400) -> BatchNorm -> ReLU] × 4 -> Dense(2) (linear); D: [Dense(200) -> LeakyReLU(0.2)] × 3
-> Dense(1). Adam 1e-4, β1 0.5, batch 100. Scored by modes captured, high-quality fraction and KL of the
mode histogram to uniform over 2,500 samples.

    python -m gans.main --config=configs/gan_ring.py
"""

from gans import config_lib
from gans.methods import adversarial, gan


def get_config():
  c = config_lib.base_config(gan.method_config())
  c.data.source = 'toy'
  c.data.name = 'ring'
  c.data.value_range = (-1.5, 1.5)  # Toy data: the extent of the scatter plots.
  c.model = dict(
    dtype='float32',
    z_dim=2,
    generator='mlp.MLPGenerator',
    generator_kwargs=dict(hidden=(400, 400, 400, 400), output='linear'),
    discriminator='mlp.MLPDiscriminator',
    discriminator_kwargs=dict(hidden=(200, 200, 200), negative_slope=0.2),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=1e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=1e-4, b1=0.5)
  c.train.steps = 20_000
  c.train.batch_size = 100
  c.train.log_every = 1000
  c.train.checkpoint_every = 5000
  c.train.sample_every = 5000
  c.eval.num_samples = 2500
  c.sample.num = 2500
  return c
