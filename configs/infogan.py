"""InfoGAN (Chen et al. 2016) on Fashion-MNIST 28×28, with the paper's MNIST nets and codes.

Latents: z(62) ~ U(-1, 1) (``model.z_prior``; the authors' MNIST code draws z uniform), c1 ~ Cat(10)
(one-hot), c2, c3 ~ U(-1, 1); λ = 2 on the categorical code's term and 1 on the continuous codes' (the
paper: λ = 1 on both; 2 lets the categorical code take the class on Fashion-MNIST, see
docs/infogan_notes.md).
G: 74 -> Dense(1024) -> BN -> ReLU -> Dense(7·7·128) -> BN -> ReLU -> ConvT(64, 4, s2) -> BN -> ReLU
   -> ConvT(1, 4, s2) -> Tanh.
D/Q: Conv(64, 4, s2) -> LReLU(0.1) -> Conv(128, 4, s2) -> BN -> LReLU -> Dense(1024) -> BN -> LReLU,
   then D: Dense(1); Q: Dense(128) -> BN -> LReLU -> Dense(10 + 2).
Adam: D/Q 2e-4, G 1e-3, β1 0.5 (the paper's rates); batch 64 (the authors' MNIST code: 128), 3,000 steps.
Q's code accuracy is scored with the scored batch's BatchNorm statistics, as Q trains on fakes.

    python -m gans.main --config=configs/infogan.py[:cifar10]
    python -m gans.main --config=configs/infogan.py --mode=sample --config.sample.kind=traverse
"""

from gans import config_lib
from gans.methods import adversarial, infogan


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(adversarial.method_config('infogan'))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10'))
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    z_dim=62,
    z_prior='uniform',  # U(-1, 1), the authors' MNIST code (run_mnist_exp.py); 'normal': N(0, I).
    num_categories=10,
    num_continuous=2,
    generator='infogan.InfoGANGenerator',
    generator_kwargs=dict(hidden=1024),
    discriminator='infogan.InfoGANDiscriminator',
    discriminator_kwargs=dict(hidden=1024, q_hidden=128),
  )
  # λ = 2 on the categorical code, 2 · 0.5 = 1 on the continuous ones (the paper: 1 on both): at 1,000
  # steps 0.59 code accuracy against 0.29 with λ = 1 (docs/infogan_notes.md).
  c.loss = infogan.loss_config('nonsaturating', info_weight=2.0, continuous_weight=0.5)
  c.optim.g = config_lib.optimizer('adam', lr=1e-3, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.train.batch_size = 64
  c.train.steps = 3_000  # ~7 min on the 2-core CPU; longer runs sample better.
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  return c
