"""CycleGAN (Zhu et al. 2017): unpaired translation, ``gans.methods.cyclegan``, ``gans.nets.cyclegan``.

``fashion_mnist`` (default, offline): domain A = Fashion-MNIST images, domain B = thresholded Sobel edge
maps of a different shuffle of them (``config.data.domain_b=edges``, ``gans.data.domains``), drawn in
independent orders, so no image is ever fed with its own edges. Every A image's true translation is its
edge map, so the evaluation reports ``edge_l1`` / ``edge_iou`` of G(a) against edges(a), F(edges(a))'s FID
against the real images and its class accuracy by the dataset's classifier (``class_accuracy``), and both
cycle errors (``cycle_a``, ``cycle_b``).

G, F: ResNet generators (reflection padding, instance norm without affine scale and offset, ε 1e-5):
Conv 7×7 (32) -> 2 stride-2 convs (64, 128) -> 3 residual blocks -> 2 stride-2 transposed convs -> Conv 7×7
-> tanh. D_A, D_B: PatchGANs with 1 stride-2 layer (a 16×16 receptive field on the 28×28 images; the
paper's 70×70 is ``discriminator_kwargs.layers=3`` at 256×256). N(0, 0.02) init. Least-squares GAN loss
(D's halved), cycle L1 with λ = 10, identity 0.5·λ, image pools of 50 fakes per D, Adam 2e-4 β1 0.5, the
learning rate constant for the first half of the steps and then linearly decayed to 0.

Choices that differ from the paper, for the 28×28 images and the 2-core CPU: 32 base filters (paper 64),
3 residual blocks (paper 6 at 128, 9 at 256), the 16-pixel PatchGAN, batch 4 (paper 1; config).

``horse2zebra``, ``monet2photo``, ... (any TFDS ``cycle_gan/<pair>``, internet the first time): domain A =
split ``trainA``, B = ``trainB`` (``config.data.domain_b=splits``; B resampled to A's length, its own order),
256×256 RGB, the paper's nets and schedule: 64 filters, 9 residual blocks, the 70×70 PatchGAN (3 layers),
batch 1, 200,000 steps (the paper's 200 epochs of horse2zebra's 1,067 images: 100 at constant lr, 100
decaying). No sample metrics by default: the dataset classifier needs classes, so score with Inception
(``--config.eval.sample_metrics=True --config.eval.feature_extractor=inception
--config.eval.feature_weights=PATH``, docs/evaluation.md).

    python -m gans.main --config=configs/cyclegan.py
    python -m gans.main --config=configs/cyclegan.py:horse2zebra
    python -m gans.main --config=configs/cyclegan.py --mode=sample --config.sample.kind=translate \\
      --config.sample.input_dir=DIR --config.sample.direction=b2a
"""

import ml_collections
import tensorflow_datasets as tfds

from gans import config_lib
from gans.methods import cyclegan

# TFDS cycle_gan configs (horse2zebra, monet2photo, ...): two domains as the splits <split>A and <split>B.
TFDS_PAIRS = tuple(sorted(config.name for config in tfds.builder_cls('cycle_gan').BUILDER_CONFIGS))


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(cyclegan.method_config(pool_size=50))
  paper = dataset in TFDS_PAIRS
  if not paper and dataset not in ('fashion_mnist', 'mnist'):
    raise ValueError(
      f'unknown dataset {dataset!r} after the recipe path; this recipe supports: fashion_mnist, mnist '
      f'(edge maps as domain B) and the TFDS cycle_gan pairs {", ".join(TFDS_PAIRS)}.'
    )
  if paper:
    c.data.update(source='tfds', name=f'cycle_gan/{dataset}', domain_b='splits')
  elif dataset in ('fashion_mnist', 'mnist'):
    config_lib.set_dataset(c, dataset)
    c.data.domain_b = 'edges'
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    generator='cyclegan.ResnetGenerator',
    generator_kwargs=dict(features=64 if paper else 32, blocks=9 if paper else 3, downsamplings=2),
    discriminator='cyclegan.PatchDiscriminator',
    discriminator_kwargs=dict(features=64 if paper else 32, layers=3 if paper else 1),
  )
  c.loss = cyclegan.loss_config(cycle_weight=10.0, identity_weight=0.5)
  # The schedule follows --config.train.steps: constant for its first half, then linear to 0.
  steps = ml_collections.FieldReference(200_000 if paper else 2_500)
  for player in ('g', 'd'):
    c.optim[player] = config_lib.optimizer(
      'adam', lr=2e-4, b1=0.5, decay_start=steps // 2, decay_steps=steps - steps // 2
    )
  c.train.steps = steps
  c.train.batch_size = 1 if paper else 4
  c.train.log_every = 100
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  c.eval.batch_size = 250
  if paper:
    c.eval.sample_metrics = False
    c.train.sample_every = c.train.checkpoint_every = 10_000
  return c
