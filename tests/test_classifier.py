"""The evaluation classifier: learns a small patterned dataset in seconds, caches, restores."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

from gans import evaluation
from gans.evaluation import classifier

# Small enough to train in seconds; the real Fashion-MNIST settings are the defaults.
_SETTINGS = dict(
  num_classes=4, seed=0, steps=40, batch_size=32, lr=1e-3, conv_features=(8, 16), hidden_features=32
)


def _pattern_dataset(num_examples, seed):
  """uint8 images [N, 28, 28, 1] of four stripe orientations (one per class) under uniform noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 4, num_examples).astype(np.int32)
  rows, cols = np.mgrid[:28, :28]
  patterns = np.stack(
    [(rows // 4) % 2, (cols // 4) % 2, ((rows + cols) // 4) % 2, ((rows - cols) // 4) % 2]
  )
  images = 0.6 * patterns[labels] + rng.uniform(0, 0.4, (num_examples, 28, 28))
  return (255 * images).astype(np.uint8)[..., None], labels


def _load_patterns():
  return (*_pattern_dataset(512, seed=0), *_pattern_dataset(256, seed=1))


@pytest.fixture(scope='module')
def cached(tmp_path_factory):
  """A classifier trained once into a cache directory; counts the calls of the data loader."""
  cache_dir = str(tmp_path_factory.mktemp('classifier_cache'))
  calls = []

  def loader():
    calls.append(1)
    return _load_patterns()

  extractor = evaluation.load_or_train_classifier(cache_dir, loader, **_SETTINGS)
  return cache_dir, extractor, calls


def test_classifier_outputs():
  model = evaluation.Classifier(num_classes=5, conv_features=(4, 8), hidden_features=16)
  images = np.random.default_rng(0).uniform(size=(3, 28, 28, 2)).astype(np.float32)
  variables = jax.jit(model.init)(jax.random.key(0), images)
  apply = jax.jit(model.apply, static_argnames='method')
  features, logits = apply(variables, images, method=evaluation.Classifier.features_and_logits)
  assert features.shape == (3, 16) and logits.shape == (3, 5)
  assert (features >= 0).all()  # post-ReLU activations
  np.testing.assert_allclose(apply(variables, images), logits, rtol=1e-6)


def test_training_learns_the_patterns(cached):
  _, extractor, _ = cached
  assert extractor.test_accuracy >= 0.95
  test_images, test_labels = _pattern_dataset(256, seed=1)
  predicted = np.argmax(extractor.logits(test_images), axis=-1)
  assert np.mean(predicted == test_labels) == pytest.approx(extractor.test_accuracy)


def test_cache_is_restored_without_data_and_records_accuracy(cached):
  cache_dir, extractor, calls = cached

  def no_loader():
    raise AssertionError('a cached classifier must not load data')

  restored = evaluation.load_or_train_classifier(cache_dir, no_loader, **_SETTINGS)
  assert calls == [1]
  assert restored.test_accuracy == extractor.test_accuracy
  images, _ = _pattern_dataset(20, seed=2)
  np.testing.assert_array_equal(restored.features(images), extractor.features(images))
  (entry,) = os.listdir(cache_dir)
  assert sorted(os.listdir(os.path.join(cache_dir, entry))) == ['metadata.json', 'params']


def test_missing_cache_is_rebuilt_identically(cached, tmp_path):
  _, extractor, _ = cached
  rebuilt = evaluation.load_or_train_classifier(str(tmp_path), _load_patterns, **_SETTINGS)
  assert rebuilt.test_accuracy == extractor.test_accuracy
  jax.tree.map(np.testing.assert_array_equal, rebuilt.variables, extractor.variables)


def test_below_min_accuracy_raises_and_caches_nothing(tmp_path):
  with pytest.raises(RuntimeError, match='min_accuracy'):
    evaluation.load_or_train_classifier(
      str(tmp_path), _load_patterns, **{**_SETTINGS, 'steps': 1}, min_accuracy=1.01
    )
  assert not any(name.endswith('.json') for _, _, names in os.walk(tmp_path) for name in names)


def test_extractor_is_independent_of_batch_size_and_input_dtype(cached):
  _, extractor, _ = cached
  images, _ = _pattern_dataset(23, seed=3)
  small_batches = evaluation.ClassifierFeatureExtractor(
    extractor.model, extractor.variables, batch_size=4
  )
  features, logits = extractor.features_and_logits(images)
  assert features.shape == (23, 32) and logits.shape == (23, 4)
  np.testing.assert_allclose(small_batches.features(images), features, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(
    extractor.logits(images.astype(np.float32) / 255), logits, rtol=1e-5, atol=1e-5
  )


def test_feature_extractor_registry(cached):
  cache_dir, extractor, _ = cached
  by_name = evaluation.get_feature_extractor(
    'classifier', cache_dir=cache_dir, data_loader_fn=None, **_SETTINGS
  )
  assert by_name.test_accuracy == extractor.test_accuracy
  with pytest.raises(ValueError, match='feature_weights'):
    evaluation.get_feature_extractor('inception')
  with pytest.raises(ValueError, match='unknown feature extractor'):
    evaluation.get_feature_extractor('vgg')
  evaluation.register_feature_extractor('fixed', lambda: extractor)
  try:
    assert evaluation.get_feature_extractor('fixed') is extractor
  finally:
    classifier._FEATURE_EXTRACTORS.pop('fixed')
