"""GAN and PacGAN on the 2-D grid mixture (25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05): the
VEEGAN/PacGAN mode-collapse benchmark with PacGAN's nets and optimiser (Lin et al. 2018;
github.com/fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN).

G: z(2) ~ N(0, I) -> [Dense(400) -> BatchNorm -> ReLU] × 4 -> Dense(2) (linear).
D: [Dense(200·5) -> maxout of 5 pieces] × 3 -> Dense(1) (a logit), on packs of m points [B/m, 2m].
Weights ~ N(0, 0.02²), biases 0. Loss: BCE on logits, non-saturating G loss. Adam 1e-4, β1 0.8, both
players. 100 packs per D batch: ``train.batch_size`` = 100·m points (PacGAN draws m·100 per step).
Scored by modes captured, high-quality fraction (within 3 std of a mode) and KL of the high-quality
samples' mode histogram to uniform, over 2,500 samples.

    python -m gans.main --config=configs/gan_grid.py          # the GAN row (m = 1)
    python -m gans.main --config=configs/gan_grid.py:pac2     # PacGAN2 (m = 2); pac4: PacGAN4

Differs from PacGAN: 20,000 steps, this CPU's budget (PacGAN trains 400 epochs of its 100,000 points,
400,000 steps); a pack is m consecutive points of one shuffled batch (PacGAN concatenates m
independently drawn batches: the same distribution of packs); G's hidden Dense layers keep their bias
(BatchNorm removes it, so only the parameter count differs); BatchNorm's running statistics use
momentum 0.9 (PacGAN: 0.95), which only the inference-mode samples read.
"""

from gans import config_lib
from gans.methods import adversarial, gan

PACKS = {'gan': 1, 'pac2': 2, 'pac4': 4}


def get_config(variant='gan'):
  if variant not in PACKS:
    raise ValueError(
      f'unknown configs/gan_grid.py variant {variant!r}; use one of {", ".join(PACKS)}.'
    )
  pack = PACKS[variant]
  c = config_lib.base_config(gan.method_config(pack=pack))
  c.data.source = 'toy'
  c.data.name = 'grid'
  c.data.value_range = (-6.0, 6.0)  # Toy data: the extent of the scatter plots.
  c.model = dict(
    dtype='float32',
    z_dim=2,
    generator='mlp.MLPGenerator',
    generator_kwargs=dict(hidden=(400,) * 4, output='linear', kernel_init_std=0.02),
    discriminator='mlp.MLPDiscriminator',
    discriminator_kwargs=dict(hidden=(200,) * 3, maxout_pieces=5, kernel_init_std=0.02),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=1e-4, b1=0.8)
  c.optim.d = config_lib.optimizer('adam', lr=1e-4, b1=0.8)
  c.train.steps = 20_000
  c.train.batch_size = 100 * pack
  c.train.log_every = 1000
  c.train.checkpoint_every = 5000
  c.train.sample_every = 5000
  c.eval.num_samples = 2500
  c.sample.num = 2500
  return c
