"""BigGAN (Brock et al. 2019), class-conditional, at 32×32: ``gans.methods.biggan``, ``gans.nets.biggan``.

G: z(120) split in 4 chunks of 30; chunk 0 -> SN-Linear(4·4·4ch); 3 up-blocks (conditional BN from
[chunk_i, shared embed(y)(128)], ReLU, nearest ×2, SN-Conv3, conditional BN, ReLU, SN-Conv3, 1×1 skip),
each of 4ch channels -> BN -> ReLU -> SN-Conv3 -> tanh. D: 4 residual down-blocks of 4ch channels (the
first two pool), ReLU, sum pooling, SN-Linear + projection ⟨SN-embed(y), h⟩. Orthogonal init. Hinge loss;
Adam(2e-4, β = (0, 0.999)) for both players; EMA of G (params and batch_stats). No self-attention at 32
(``model.generator_kwargs.attention_resolution=16`` and ``discriminator_kwargs`` to add it).

``fashion_mnist`` (default): Fashion-MNIST resized to 32×32 (antialiased bilinear, at load time), ch = 16
(64 channels per block), batch 64, 2 D steps per G step (the paper's ImageNet value; the CIFAR references
use 4), EMA decay 0.999 from step 500, 2,000 steps: widths and a step budget that train in about 25
minutes on the project's 2-core CPU (1.4 steps/s), chosen for that budget, not the paper's.

``cifar10`` (TFDS, internet the first time): the published CIFAR-10 setting of BigGAN-PyTorch's
``launch_cifar_ema.sh``: G/D ch 64 (256 channels per block), batch 50, 4 D steps, lr 2e-4 for both,
EMA 0.9999 from step 1,000, no attention; it keeps the shared embedding and hierarchical z that the
paper's ImageNet nets use. Published references on CIFAR-10 (PyTorch-StudioGAN's benchmark, Kang et
al.; TF-Inception features, 50k samples against the 50k training images as reference): BigGAN FID 4.16,
IS 9.96; DCGAN FID 48.3; WGAN-GP FID 54.0. This project's FID uses its own classifier's features
offline (README), so those numbers are comparable only with Inception features
(``--config.eval.feature_extractor=inception`` where its weights are available).

``imagenet128`` (a pod; TFDS ``imagenet2012``, whose ILSVRC2012 tars the user downloads into
``<tfds_dir>/downloads/manual``): the paper's 128×128 architecture: G ch 96 with up-block widths (16, 8, 4, 2, 1)
(5 up-blocks from 4×4), z 120 in 6 chunks of 20, shared embedding 128, self-attention at 64×64 in G and
D; D ch 96, widths (1, 2, 4, 8, 16, 16) (5 pooling blocks, then one without); global batch 2048, Adam G 1e-4
and D 4e-4 with β = (0, 0.999), 2 D steps per G step, orthogonal regularisation β = 1e-4, EMA 0.9999 from
step 20,000. Each image's centred square of its shorter side is resized to 128 (``data.center_crop=-1``);
the split (1.28M images) is streamed from disk (``train.feed=auto`` picks ``stream``). 150,000 steps is a
budget to set, not the paper's count. FID needs Inception features: ``--config.eval.feature_weights=PATH``
(the pytorch-fid weights, docs/evaluation.md). On TPU ``--config.model.dtype=bfloat16`` halves the memory.

    python -m gans.main --config=configs/biggan.py
    python -m gans.main --config=configs/biggan.py:cifar10
    sbatch --nodes=32 launch/slurm.sbatch --config=configs/biggan.py:imagenet128 --workdir=/shared/runs/biggan128
    python -m gans.main --config=configs/biggan.py --mode=eval --config.sample.truncation=0.5
"""

from ml_collections import config_dict

from gans import config_lib
from gans.methods import biggan


def get_config(dataset='fashion_mnist'):
  if dataset == 'imagenet128':
    return _imagenet128()
  cifar = dataset == 'cifar10'
  c = config_lib.base_config(
    biggan.method_config(
      n_critic=4 if cifar else 2,
      ema_decay=0.9999 if cifar else 0.999,
      ema_start=1_000 if cifar else 500,
    )
  )
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10', 'imagenet128'))
  c.data.image_size = 32
  c.data.value_range = (-1.0, 1.0)
  ch = 64 if cifar else 16
  c.model = dict(
    dtype='float32',
    generator='biggan.Generator',
    generator_kwargs=dict(
      ch=ch, widths=(4, 4, 4), z_dim=120, shared_dim=128, attention_resolution=0
    ),
    discriminator='biggan.Discriminator',
    discriminator_kwargs=dict(ch=ch, widths=(4, 4, 4, 4), attention_resolution=0),
  )
  c.loss = biggan.loss_config(orthogonal_weight=0.0)
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.0, b2=0.999)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.0, b2=0.999)
  c.train.batch_size = 50 if cifar else 64
  c.train.steps = 500_000 if cifar else 2_000
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  c.train.log_every = 100
  c.sample.truncation = config_dict.placeholder(float)  # τ > 0, or None: no truncation.
  return c


def _imagenet128():
  """The paper's 128×128 ImageNet setting (module docstring), for a pod."""
  c = config_lib.base_config(biggan.method_config(n_critic=2, ema_decay=0.9999, ema_start=20_000))
  config_lib.set_dataset(c, 'imagenet128')
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    generator='biggan.Generator',
    generator_kwargs=dict(
      ch=96, widths=(16, 8, 4, 2, 1), z_dim=120, shared_dim=128, attention_resolution=64
    ),
    discriminator='biggan.Discriminator',
    discriminator_kwargs=dict(
      ch=96,
      widths=(1, 2, 4, 8, 16, 16),
      pool=(True, True, True, True, True, False),
      attention_resolution=64,
    ),
  )
  c.loss = biggan.loss_config(orthogonal_weight=1e-4)
  c.optim.g = config_lib.optimizer('adam', lr=1e-4, b1=0.0, b2=0.999)
  c.optim.d = config_lib.optimizer('adam', lr=4e-4, b1=0.0, b2=0.999)
  c.train.batch_size = 2048
  c.train.steps = 150_000
  c.train.sample_every = c.train.checkpoint_every = 2_000
  c.train.log_every = 100
  c.eval.feature_extractor = 'inception'  # With --config.eval.feature_weights=PATH.
  c.eval.batch_size = 256
  c.sample.truncation = config_dict.placeholder(float)
  return c
