"""LapGAN (Denton et al. 2015): a Laplacian pyramid of GANs, ``gans.methods.lapgan``, ``gans.nets.lapgan``.

Levels 7 -> 14 -> 28 on Fashion-MNIST (default; 8 -> 16 -> 32 on CIFAR-10), pyramid ops of
``gans.pyramid`` (5-tap binomial blur, ×2 reduce and expand). Pixels in [-1, 1].

* Level 7 (a GAN on the coarse images I_2): G: z(100) -> [Dense -> BN -> ReLU] × (1200, 1200) ->
  Dense(7·7·C) -> tanh; D: [Dense -> LeakyReLU(0.2)] × (600, 600) -> Dense(1).
* Levels 14 and 28 (conditional GANs on the bands h_k): G_k: [u(I_{k+1}), noise plane] -> [Conv 5×5 ->
  ReLU] × (32, 32) -> Conv 5×5 to C (linear); D_k: [h, u(I_{k+1})] -> Conv 5×5 (32) -> LReLU(0.2) ->
  Conv 5×5 stride 2 (64) -> LReLU(0.2) -> Dense(1).

Loss: BCE with the non-saturating G loss at every level; Adam 2e-4, β1 0.5 for every player; batch 128.
Choices that differ from the paper: Adam instead of its SGD with momentum and learning-rate decay, no
dropout in the coarse D, BatchNorm in the coarse G, ReLU/LeakyReLU widths sized for the 2-core CPU
(the paper's CIFAR-10 band nets use 128 feature maps), noise N(0, 1) (the paper's is uniform), and
D_k sees l_k as extra channels (the paper adds it to the band before D's first layer in one variant;
both give D the conditioning image).

CC-LAPGAN (every level conditioned on the class): ``--config.method.name=cc_lapgan``.

    python -m gans.main --config=configs/lapgan.py
    python -m gans.main --config=configs/lapgan.py --config.method.name=cc_lapgan
    python -m gans.main --config=configs/lapgan.py:cifar10
"""

from gans import config_lib
from gans.methods import adversarial


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(adversarial.method_config('lapgan'))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10'))
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    levels=3,
    z_dim=100,
    embed_dim=10,  # CC-LAPGAN: the label embedding of the coarse nets.
    coarse_generator='mlp.MLPGenerator',
    coarse_generator_kwargs=dict(hidden=(1200, 1200), output='tanh'),
    coarse_discriminator='mlp.MLPTrunk',
    coarse_discriminator_kwargs=dict(hidden=(600, 600), negative_slope=0.2),
    band_generator='lapgan.BandGenerator',
    band_generator_kwargs=dict(features=(32, 32)),
    band_discriminator='lapgan.BandDiscriminator',
    band_discriminator_kwargs=dict(features=(32, 64), strides=(1, 2)),
  )
  c.loss = adversarial.loss_config('nonsaturating')
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.train.steps = 2_500  # DCGAN's steps; its FLOPs per step too (43 vs 47 GFLOP).
  c.train.log_every = 100
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  return c
