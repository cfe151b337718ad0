"""Sample-quality evaluation of a trained model, offline: what ``--mode=eval`` and training report.

Images: samples and held-out real images go through the configured feature extractor (by default a
classifier the project trains on the dataset's training split and caches beside the data), then

    FID, KID (mean ± std over subsets), precision/recall (k = eval.pr_k), density/coverage (k = eval.dc_k)
    on the features, and the classifier score (the Inception-score formula) on the logits.

The same metrics of ``eval.num_samples`` real *training* images against the test images are the floor:
what a perfect generator would score with this extractor and sample size.

``eval.image_size`` > 0 scores at that side: the samples get the resize that ``data.image_size`` gives real
images (``transforms.resize_like_data``) and are judged against the dataset loaded at that side, with its
classifier. Recipes trained at different sizes are then on one scale (DCGAN's 28×28 beside BigGAN's 32×32).

Stacked data (``data.stacked_images`` = 3): modes covered out of 1,000 and KL(mode histogram ‖
uniform), each channel labelled by the classifier of the unstacked dataset.

Toy 2-D mixtures: modes captured, fraction of high-quality samples and KL(mode histogram ‖ uniform) over
``eval.num_samples`` samples (the VEEGAN/PacGAN protocol, 2,500 samples).
"""

from __future__ import annotations

import time
from typing import Callable

from absl import logging
import numpy as np

from gans.data import datasets, toy, transforms
from gans.evaluation import classifier, metrics
from gans.evaluation.mode_coverage import mode_coverage, stacked_mode_coverage


def to_unit_range(images: np.ndarray, value_range) -> np.ndarray:
  """Float images in ``value_range`` -> float32 in [0, 1] (the feature extractors' input range)."""
  lo, hi = value_range
  return np.clip((np.asarray(images, np.float32) - lo) / (hi - lo), 0.0, 1.0)


def _classifier_data(train, test: datasets.Split) -> Callable[[], tuple]:
  """The ``data_loader_fn`` of ``classifier.load_or_train_classifier``: -> (train images
  [N, H, W, C], train labels [N], test images [M, H, W, C], test labels [M]). ``train``: a ``Split``, or a
  ``SplitSource`` (stream feed), loaded into memory only if the classifier has to be trained."""

  def load():
    split = train.load()
    return split['image'], split['label'], test['image'], test['label']

  return load


class ImageEvaluator:
  """Scores [N, H, W, C] samples in [0, 1] against the test split with a feature extractor."""

  def __init__(self, config, train_split, test_split: datasets.Split, data_config=None):
    """``train_split``: a ``datasets.Split`` or, when the training split is streamed, its
    ``datasets.SplitSource`` (only its first ``eval.num_samples`` examples are read, and the whole split
    only to train the dataset classifier when it is not cached yet). ``data_config`` (default
    ``config.data``) names the data ``train_split`` holds: it keys the cached classifier."""
    self.cfg = config.eval
    self._dataset_classifier = lambda: classifier.load_or_train_classifier(
      datasets.cache_dir(data_config or config.data, 'classifier'),
      _classifier_data(train_split, test_split),
      num_classes=train_split.num_classes,
      steps=self.cfg.classifier_steps,
      min_accuracy=self.cfg.classifier_min_accuracy or None,
    )
    if self.cfg.feature_extractor == 'classifier':
      self.extractor = self.label_classifier = self._dataset_classifier()
    else:
      self.extractor = classifier.get_feature_extractor(
        self.cfg.feature_extractor, weights_path=self.cfg.feature_weights or None
      )
      self.label_classifier = None  # Built at the first class accuracy.
    num = min(self.cfg.num_samples, len(test_split))
    self.real_features, self.real_logits = self.extractor.features_and_logits(
      test_split['image'][:num]
    )
    head = train_split.head(num)
    self._train_images, self._train_labels = head['image'], head['label']

  def score_features(self, features: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    cfg = self.cfg
    kid_mean, kid_std = metrics.kid(
      self.real_features, features, num_subsets=cfg.kid_subsets, subset_size=cfg.kid_subset_size
    )
    precision, recall = metrics.precision_recall(self.real_features, features, k=cfg.pr_k)
    density, coverage = metrics.density_coverage(self.real_features, features, k=cfg.dc_k)
    return {
      'fid': metrics.fid(self.real_features, features),
      'kid': kid_mean,
      'kid_std': kid_std,
      'precision': precision,
      'recall': recall,
      'density': density,
      'coverage': coverage,
      'classifier_score': metrics.classifier_score(logits),
    }

  def score(self, images: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """Metrics of samples [N, H, W, C] in [0, 1]; with ``labels`` (the classes the samples were
    generated for) also the class-conditional accuracy of the dataset's classifier on them (the
    project's own classifier, also when the features are another extractor's, e.g. Inception's)."""
    features, logits = self.extractor.features_and_logits(images)
    results = self.score_features(features, logits)
    if labels is not None:
      if self.label_classifier is None:
        self.label_classifier = self._dataset_classifier()
      if self.label_classifier is not self.extractor:
        logits = self.label_classifier.logits(images)
      results['class_accuracy'] = metrics.class_conditional_accuracy(logits, labels)
    return results

  def floor(self) -> dict[str, float]:
    """The metrics of real training images against the test images (the best attainable)."""
    return self.score(self._train_images, self._train_labels)


class ResizedEvaluator:
  """An ``ImageEvaluator`` of the data at side ``size``, given samples at the training side."""

  def __init__(self, inner: ImageEvaluator, size: int):
    self.inner, self.size = inner, size

  def floor(self) -> dict[str, float]:
    return self.inner.floor()

  def score(self, images: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """``images`` [N, H, W, C] in [0, 1] are resized to [N, size, size, C] first."""
    return self.inner.score(transforms.resize_like_data(images, self.size), labels)


class StackedEvaluator:
  """Modes covered by samples of stacked data ([N, H, W, C], C single-channel images per sample), each
  channel classified by the classifier of the unstacked dataset (PacGAN's Stacked MNIST protocol)."""

  def __init__(self, config):
    base = datasets.base_config(config.data)
    train, test = datasets.load_split(base, 'train'), datasets.load_split(base, 'test')
    self.num_classes = train.num_classes
    self.extractor = classifier.load_or_train_classifier(
      datasets.cache_dir(base, 'classifier'),
      _classifier_data(train, test),
      num_classes=train.num_classes,
      steps=config.eval.classifier_steps,
      min_accuracy=config.eval.classifier_min_accuracy or None,
    )

  def floor(self) -> dict[str, float]:
    """No floor row: mode coverage of real data is the whole mixture by construction."""
    return {}

  def score(self, images: np.ndarray, labels=None) -> dict[str, float]:
    del labels
    return stacked_mode_coverage(self.extractor.logits, images, num_classes=self.num_classes)


class ToyEvaluator:
  """Mode coverage of 2-D samples for the ``toy`` data source."""

  def __init__(self, config):
    self.mixture = toy.TOY_MIXTURES[config.data.name]

  def floor(self) -> dict[str, float]:
    """No floor row: mode coverage of real data is the whole mixture by construction."""
    return {}

  def score(self, points: np.ndarray, labels=None) -> dict[str, float]:
    del labels
    return mode_coverage(points, self.mixture.centers, self.mixture.std)


def create(config, train_split, test_split):
  """The evaluator for the run's data: mode coverage for toy mixtures and stacked data, feature metrics
  for images (with a labelled subset, ``data.num_labelled`` > 0, judged against the full training split)."""
  size = config.eval.get('image_size', 0)
  if size and (config.data.source == 'toy' or config.data.get('stacked_images', 0)):
    raise ValueError(
      f'config.eval.image_size={size} applies to image datasets scored by features; use 0 for '
      'toy mixtures and stacked data (they are scored by mode coverage).'
    )
  if config.data.source == 'toy':
    return ToyEvaluator(config)
  if config.data.get('stacked_images', 0):
    return StackedEvaluator(config)
  if size and size != test_split['image'].shape[1]:
    data = datasets.base_config(config.data) if config.data.get('num_labelled', 0) else config.data
    data = data.copy_and_resolve_references()
    data.image_size = size
    inner = ImageEvaluator(
      config,
      datasets.load_split(data, 'train'),
      datasets.load_split(data, 'test'),
      data_config=data,
    )
    return ResizedEvaluator(inner, size)
  if config.data.get('num_labelled', 0):
    # An external judge: the classifier and the floor use the whole training split with all its labels
    # (the cache of a plain run of the dataset), not the model's labelled subset.
    full = datasets.base_config(config.data)
    return ImageEvaluator(config, datasets.load_split(full, 'train'), test_split, data_config=full)
  return ImageEvaluator(config, train_split, test_split)


def draw_samples(
  sample_fn: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]],
  num: int,
  batch: int,
  seed: int,
) -> tuple[np.ndarray, np.ndarray | None]:
  """``num`` samples (and labels or None) in calls ``sample_fn(batch, seed + i)``, i = 0, 1, ...:
  the draw of the evaluation and of ``--mode=export``."""
  chunks = [sample_fn(batch, seed + i) for i in range(-(-num // batch))]
  samples = np.concatenate([c[0] for c in chunks])[:num]
  labels = None if chunks[0][1] is None else np.concatenate([c[1] for c in chunks])[:num]
  return samples, labels


def evaluate_samples(
  evaluator, sample_fn: Callable[[int, int], tuple[np.ndarray, np.ndarray | None]], config
) -> dict[str, float]:
  """Draws ``config.eval.num_samples`` samples in batches with ``sample_fn(num, seed) -> (samples in
  value_range, labels or None)`` and scores them; adds ``eval_seconds``."""
  start = time.perf_counter()
  num = config.eval.num_samples
  samples, labels = draw_samples(sample_fn, num, config.eval.batch_size, config.eval.seed)
  if config.data.source != 'toy':
    samples = to_unit_range(samples, config.data.value_range)
  results = evaluator.score(samples, labels)
  results['eval_seconds'] = time.perf_counter() - start
  logging.info('Scored %d samples in %.1f s', num, results['eval_seconds'])
  return results
