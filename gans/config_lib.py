"""Building blocks of the recipe files in ``configs/``: the fixed top-level groups and their defaults.

Every recipe is ``get_config() -> ConfigDict`` with the groups ``method``, ``data``, ``model``, ``loss``,
``optim`` (one entry per player), ``train``, ``eval`` and ``sample``; every field can be overridden from
the command line (``--config.train.steps=200``) and an unknown field is an error. This module owns the
shared groups (``data``, ``train``, ``eval``, ``sample``, optimizers); each family owns its ``method`` and
``loss`` groups (``gans.methods.<family>.method_config`` / ``loss_config``) and the recipe picks its nets
in ``model``.
"""

from __future__ import annotations

import runpy

import ml_collections


def optimizer(
  name: str = 'adam',
  lr: float = 2e-4,
  b1: float = 0.5,
  b2: float = 0.999,
  eps: float = 1e-8,
  weight_decay: float = 0.0,
  rms_decay: float = 0.99,
  grad_clip: float = 0.0,
  decay_start: int = 0,
  decay_steps: int = 0,
) -> ml_collections.ConfigDict:
  """One player's optimizer (see ``gans.optim.make_optimizer``)."""
  return ml_collections.ConfigDict(
    dict(
      name=name,
      lr=lr,
      b1=b1,
      b2=b2,
      eps=eps,
      weight_decay=weight_decay,
      rms_decay=rms_decay,
      grad_clip=grad_clip,
      decay_start=decay_start,  # Linear decay of lr to 0 from this update on ...
      decay_steps=decay_steps,  # ... over this many updates (0 = constant lr).
    )
  )


def base_config(method: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Defaults shared by every recipe, with the family's ``method`` group
  (``gans.methods.<family>.method_config(...)``); the recipe fills in ``model``, ``loss`` and ``optim``."""
  c = ml_collections.ConfigDict()
  c.method = method
  c.data = dict(
    name='fashion_mnist',  # IDX builder config (fashion_mnist | mnist) or TFDS catalogue name.
    source='idx',  # idx (local IDX files) | tfds (catalogue, needs internet once).
    source_dir='',  # IDX directory; '' = $GANS_DATA_DIR or Debian's Fashion-MNIST.
    tfds_dir='',  # Where TFDS keeps prepared data; '' = $TFDS_DATA_DIR or ~/tensorflow_datasets.
    value_range=(0.0, 1.0),  # Pixels are scaled to this range; generators output it.
    toy_train_size=100_000,  # Points per split of the toy mixtures (source=toy).
    stacked_images=0,  # > 0: that many random images per example as its channels (3: 1,000 modes).
    domain_b='',  # A second domain as image_b: '' (none) | edges | splits (gans.data.domains; CycleGAN).
    num_labelled=0,  # > 0: a class-balanced labelled subset, the rest unlabelled (gans.data.semi_supervised).
    labelled_seed=0,  # The seed that draws that subset.
    center_crop=0,  # > 0: centred square of this side at load time (CelebA: 108); -1: each image's short side.
    image_size=0,  # > 0: resize (antialiased) to this side at load time, after the crop.
    label_attribute='',  # The class is this boolean attribute (CelebA, no labels), e.g. 'Male'.
    in_memory_limit_mb=4096.0,  # train.feed=auto streams a training split larger than this from disk.
  )
  c.model = dict(dtype='float32')
  c.loss = dict()
  c.optim = dict()
  c.train = dict(
    steps=10_000,
    batch_size=128,  # Global batch, split over all devices and hosts.
    seed=0,
    log_every=200,
    checkpoint_every=2_000,
    keep_checkpoints=3,
    sample_every=2_000,  # And at the last step; 0 = no figures while training.
    eval_every=0,  # 0 = only at the end of training.
    # device (split on every device, gathered in the step) | host (split in host memory, thread + copies)
    # | stream (split on disk, grain reads each step's rows) | auto (stream above data.in_memory_limit_mb,
    # else device up to 1 GiB, else host).
    feed='auto',
    prefetch=2,  # Host and stream feeds: steps placed on the devices ahead of the step (stream: threads).
    nonfinite='stop',  # Divergence guard: stop (halt, keep the last good checkpoint) | skip (drop bad updates).
    max_steps_in_flight=8,  # Steps dispatched ahead of the last one known done (1-12; gans.train).
    step_timeout_s=600.0,  # No step done in this long: exit 3 naming the step (0 = off; gans.watchdog).
    stop_timeout_s=60.0,  # After SIGTERM/SIGINT no step done in this long: exit 3 (0 = off).
  )
  c.eval = dict(
    split='test',
    batch_size=500,  # Also the number of samples generated per call.
    num_batches=4,  # Test batches for the method's own eval_step metrics (0 = none).
    seed=1,
    sample_metrics=True,  # FID, KID, precision/recall, density/coverage, classifier score.
    num_samples=10_000,
    image_size=0,  # > 0: score samples and real images at this side (one scale across recipes).
    feature_extractor='classifier',  # Or a registered extractor, e.g. 'inception' with feature_weights.
    feature_weights='',
    classifier_steps=3000,  # Training steps of the cached evaluation classifier.
    classifier_min_accuracy=0.0,  # Refuse a classifier below this test accuracy (0 = accept any).
    kid_subsets=100,
    kid_subset_size=1000,
    pr_k=3,
    dc_k=5,
  )
  c.sample = dict(
    num=64,
    seed=0,
    kind='grid',  # --mode=sample: grid | interpolate | arithmetic | traverse | curves | translate.
    rows=8,  # interpolate: number of walks.
    steps=10,  # interpolate: images per walk, endpoints included.
    groups='',  # arithmetic: 'i,j,k;l,m,n;o,p,q' = indices into the grid of seed `seed`: A - B + C.
    input_dir='',  # translate: a folder of PNG/JPEG images to translate.
    direction='a2b',  # translate: a2b (G) | b2a (F).
  )
  c.export = dict(  # --mode=export (gans.export): samples for external FID/IS tools.
    num=10_000,
    seed=0,
    png=False,  # Also a folder of PNGs beside the .npz.
  )
  return c


def load_recipe(path: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """``get_config([arg])`` of the recipe file at ``path``, as ``--config=path[:arg]`` would load it."""
  get_config = runpy.run_path(path)['get_config']
  return get_config() if arg is None else get_config(arg)


# The datasets a recipe can name after its path, ``--config=configs/<recipe>.py:<dataset>``: the fields of
# ``config.data`` each sets, and the side of its square images.
DATASETS = {
  # Offline: Debian's dataset-fashion-mnist (the default of every recipe).
  'fashion_mnist': (dict(source='idx', name='fashion_mnist'), 28),
  # IDX files of MNIST in --config.data.source_dir.
  'mnist': (dict(source='idx', name='mnist'), 28),
  # TFDS catalogue (internet the first time).
  'cifar10': (dict(source='tfds', name='cifar10'), 32),
  # TFDS catalogue: 178x218 faces, centre crop 108, resized to 64; no labels, so the evaluation
  # classifier learns the 'Male' attribute (use Inception features for FID where their weights are).
  'celeba64': (
    dict(source='tfds', name='celeb_a', center_crop=108, image_size=64, label_attribute='Male'),
    64,
  ),
  # TFDS catalogue, manual download (the ILSVRC2012 tars in <tfds_dir>/downloads/manual): each image's
  # centred square of its shorter side resized to 128 (center_crop=-1); streamed (1.28M images, ~60 GB).
  'imagenet128': (dict(source='tfds', name='imagenet2012', center_crop=-1, image_size=128), 128),
}


def set_dataset(c: ml_collections.ConfigDict, dataset: str, supported=tuple(DATASETS)) -> int:
  """Points ``c.data`` at ``dataset`` (one of ``supported``, keys of ``DATASETS``); returns the image side."""
  if dataset not in supported:
    raise ValueError(
      f'unknown dataset {dataset!r} after the recipe path; this recipe supports: {", ".join(supported)}.'
    )
  fields, side = DATASETS[dataset]
  c.data.update(fields)
  return side
