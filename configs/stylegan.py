"""StyleGAN2 (Karras et al. 2020), with StyleGAN's AdaIN block as an option: ``gans.methods.stylegan``,
``gans.nets.stylegan``.

G: z -> pixel norm -> mapping (equalized dense layers, lr_mul 0.01, leaky ReLU 0.2) -> w; a learned 4×4
constant; per resolution two 3×3 style convs (the first after a ×2 upsampling) with noise inputs
(per-channel strength, initialised to 0) and a toRGB, summed over resolutions (skip generator). Style
block ``model.style_block``: ``modulated`` (StyleGAN2's modulated/demodulated conv, the default) or
``adain`` (the 2019 paper's conv -> instance norm -> per-channel scale and bias from w; its toRGB is an
unmodulated 1×1 conv). The modulated conv is computed by **activation scaling** around one
shared-weight convolution (x ⊙ s, conv, ⊙ demodulation; ``model.generator_kwargs.form=activations``, the
official code's training path); ``form=grouped`` computes the same function as one grouped convolution
of per-sample weights (tests/test_stylegan.py checks they agree to 1e-5). D: residual blocks, a
minibatch-std layer (group ``mbstd_group_size``), conv, two dense layers. Equalized LR in every layer.
Channels at resolution r: min(channel_base / r, channel_max).

Loss: non-saturating logistic, lazy R1 on real images every 16 D steps (weight γ/2 · 16), path length
every 4 G steps (weight 2 · 4, decay 0.01, on half the batch), Adam with β = (0, 0.99) at lr 0.0025 (the
config holds these uncorrected values; the method uses lr·c, β^c with c = k/(k+1) for each lazily
regularised player). Style mixing with probability 0.9; w̄ tracked with β = 0.995 and truncation ψ
``--config.sample.truncation`` (None = 1); samples re-draw the noise inputs
(``--config.sample.noise=random``) or use one fixed draw (``const``). G's EMA: a half-life of ``method.ema_kimg`` thousand images
with a ramp-up over the first 5 % of the images.

Differences from the papers: upsampling is bilinear ×2 (the [1, 3, 3, 1] filter) before a 3×3 conv,
not a transposed conv with a blur; D downsamples by 2×2 mean pooling before its conv (the papers blur,
then stride 2); no activation clamping or mixed precision; the fixed noise of ``decode`` is one draw
shared by every sample.

``fashion_mnist`` (default): Fashion-MNIST resized to 32×32 (antialiased, at load time), values in
[-1, 1]; z = w = 64, 2 mapping layers (the official CIFAR setting's depth), channels min(512/r, 64)
(64 at 4 and 8, 32 at 16, 16 at 32), γ = 0.05 (a small γ as the official 32×32 setting's 0.01), batch
32, mbstd group 4, EMA half-life 1k images, 5,000 steps (160k images): ~12 minutes on this 2-core CPU
with its evaluation (5–8 steps/s, 2026-12-01), not the paper's budget; FID 107.8 at 1,500 steps, 24.1 at
5,000 (README).

``cifar10`` (TFDS, internet the first time): the official CIFAR-10 setting of StyleGAN2-ADA
(``--cfg=cifar``): z = w = 512, 2 mapping layers, channel_base 16384, channel_max 512 (512 at every
resolution), batch 64, γ = 0.01, EMA 500k images with ramp-up 0.05, mbstd group 32, no path-length
penalty (pl_weight = 0 in that setting), style mixing 0; 100k steps (6.4M images) is a budget to set.

``celebahq256`` (a pod; TFDS ``celeb_a_hq/256``, whose source files the user prepares into
``<tfds_dir>/downloads/manual`` as TFDS describes; no labels, so FID needs Inception features,
``--config.eval.feature_weights=PATH``): the paper's config F at 256 (its CelebA-HQ/FFHQ nets): z = w = 512, 8 mapping layers, channel_base 16384 (32768 in
the official 1024 config), channel_max 512, batch 64 over the pod, γ = 1 (the ADA paper's value at 256),
EMA 20k images, style mixing 0.9, path length 2; 400k steps (25.6M images) is a budget to set.

    python -m gans.main --config=configs/stylegan.py
    python -m gans.main --config=configs/stylegan.py --config.model.style_block=adain
    python -m gans.main --config=configs/stylegan.py --mode=sample --config.sample.kind=traverse
    python -m gans.main --config=configs/stylegan.py:cifar10
    sbatch --nodes=2 launch/slurm.sbatch --config=configs/stylegan.py:celebahq256 --workdir=/shared/runs/sg256
    launch/tpu_pod.sh TPU ZONE --config=configs/stylegan.py:celebahq256 --workdir=gs://BUCKET/runs/sg256
"""

from ml_collections import config_dict

from gans import config_lib
from gans.methods import stylegan


def _nets(c, *, z_dim, mapping_layers, channel_base, channel_max, mbstd_group_size):
  c.model = dict(
    dtype='float32',
    style_block='modulated',  # modulated (StyleGAN2) | adain (StyleGAN 2019).
    generator='stylegan.Generator',
    generator_kwargs=dict(
      z_dim=z_dim,
      w_dim=z_dim,
      mapping_layers=mapping_layers,
      mapping_lr_mul=0.01,
      channel_base=channel_base,
      channel_max=channel_max,
      form='activations',  # activations | grouped: the same modulated conv (docstring).
    ),
    discriminator='stylegan.Discriminator',
    discriminator_kwargs=dict(
      channel_base=channel_base, channel_max=channel_max, mbstd_group_size=mbstd_group_size
    ),
  )


def get_config(dataset='fashion_mnist'):
  if dataset == 'celebahq256':
    return _celebahq256()
  cifar = dataset == 'cifar10'
  c = config_lib.base_config(
    stylegan.method_config(
      style_mixing_prob=0.0 if cifar else 0.9,
      ema_kimg=500.0 if cifar else 1.0,
      ema_rampup=0.05,
    )
  )
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10'))
  c.data.image_size = 32
  c.data.value_range = (-1.0, 1.0)
  _nets(
    c,
    z_dim=512 if cifar else 64,
    mapping_layers=2,
    channel_base=16384 if cifar else 512,
    channel_max=512 if cifar else 64,
    mbstd_group_size=32 if cifar else 4,
  )
  c.loss = stylegan.loss_config(r1_gamma=0.01 if cifar else 0.05, pl_weight=0.0 if cifar else 2.0)
  c.optim.g = config_lib.optimizer('adam', lr=0.0025, b1=0.0, b2=0.99)
  c.optim.d = config_lib.optimizer('adam', lr=0.0025, b1=0.0, b2=0.99)
  c.train.batch_size = 64 if cifar else 32
  c.train.steps = 100_000 if cifar else 5_000
  c.train.sample_every = c.train.checkpoint_every = 5_000 if cifar else 500
  c.train.log_every = 100
  c.sample.truncation = config_dict.placeholder(float)  # ψ >= 0, or None: no truncation.
  c.sample.noise = 'random'  # Noise inputs of samples: random (re-drawn) | const (one fixed draw).
  return c


def _celebahq256():
  """The paper's config F at 256×256 (module docstring), for a pod."""
  c = config_lib.base_config(stylegan.method_config(ema_kimg=20.0))
  c.data.update(source='tfds', name='celeb_a_hq/256', image_size=256)
  c.data.value_range = (-1.0, 1.0)
  _nets(c, z_dim=512, mapping_layers=8, channel_base=16384, channel_max=512, mbstd_group_size=4)
  c.loss = stylegan.loss_config(r1_gamma=1.0)
  c.optim.g = config_lib.optimizer('adam', lr=0.0025, b1=0.0, b2=0.99)
  c.optim.d = config_lib.optimizer('adam', lr=0.0025, b1=0.0, b2=0.99)
  c.train.batch_size = 64
  c.train.steps = 400_000
  c.train.sample_every = c.train.checkpoint_every = 5_000
  c.train.log_every = 100
  c.eval.feature_extractor = 'inception'  # With --config.eval.feature_weights=PATH.
  c.eval.batch_size = 64
  c.sample.truncation = config_dict.placeholder(float)
  c.sample.noise = 'random'
  return c
