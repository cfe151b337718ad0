"""Semi-supervised GAN (``gans.losses.semi_supervised``, ``gans.data.semi_supervised``,
``gans.methods.ssgan``): the K+1 loss is the (K+1)-way softmax with the fake logit 0, feature matching
vanishes on identical batches, the labelled subset is balanced and fixed by its seed, the baseline trains
D alone, bad fields are named; one run through ``gans.main``."""

from __future__ import annotations

import json
import os

from conftest import REPO, any_param_moved, load_params, same_params, tiny_config, tiny_overrides
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans import losses, methods, nets
from gans.data import datasets, semi_supervised
from gans.evaluation import classifier, evaluator
from gans.methods import base, ssgan

TINY = {
  'model.generator_kwargs.hidden': (8,),
  'model.discriminator_kwargs.hidden': (16, 8),
  'data.num_labelled': 20,
}
# The authors' MNIST layers (configs/ssgan.py's docstring): fixed hidden scales after the data init.
AUTHORS = {'method.data_init': True, 'model.discriminator_kwargs.authors_layers': True}


def test_k_plus_one_losses_are_the_softmax_with_a_zero_fake_logit():
  rng = np.random.default_rng(0)
  real, fake = rng.normal(0, 2, (6, 4)), rng.normal(0, 2, (5, 4))
  labels = rng.integers(0, 4, 6)

  def log_softmax_k_plus_1(logits):  # The explicit (K+1)-way softmax, fake class K+1 at logit 0.
    full = np.concatenate([logits, np.zeros((len(logits), 1))], axis=1)
    return full - np.log(np.sum(np.exp(full), axis=1, keepdims=True))

  log_p_real, log_p_fake = log_softmax_k_plus_1(real), log_softmax_k_plus_1(fake)
  # -E log p(y <= K | x) on data - E log p(y = K+1 | G(z)) on samples.
  unsupervised = -np.mean(np.log(np.sum(np.exp(log_p_real[:, :4]), axis=1))) - np.mean(
    log_p_fake[:, 4]
  )
  np.testing.assert_allclose(
    losses.semi_supervised_discriminator_loss(real, fake), unsupervised, rtol=1e-5
  )
  # -E log p(y | x, y <= K): the K+1 probabilities renormalised over the K real classes.
  conditional = log_p_real[np.arange(6), labels] - np.log(np.sum(np.exp(log_p_real[:, :4]), axis=1))
  np.testing.assert_allclose(
    losses.supervised_class_loss(real, labels), -np.mean(conditional), rtol=1e-5
  )


def test_feature_matching_is_zero_for_identical_batches_and_the_mean_gap_otherwise():
  features = jax.random.normal(jax.random.PRNGKey(0), (8, 5))
  assert float(losses.feature_matching_loss(features, features)) == 0.0
  # Only the batch means count: a permutation of the batch matches too.
  assert float(losses.feature_matching_loss(features, features[::-1])) < 1e-12
  shifted = features + jnp.arange(5.0)
  np.testing.assert_allclose(
    losses.feature_matching_loss(features, shifted), np.mean(np.arange(5.0) ** 2), rtol=1e-5
  )


def test_the_labelled_subset_is_balanced_disjoint_and_fixed_by_its_seed():
  labels = np.random.default_rng(0).integers(0, 10, 500).astype(np.int32)
  ids = np.arange(500)
  images = ids[:, None, None, None]  # Each "image" is its row id.
  rows = semi_supervised.balanced_subset(labels, 30, 10, seed=3)
  assert np.bincount(labels[rows], minlength=10).tolist() == [3] * 10
  np.testing.assert_array_equal(rows, semi_supervised.balanced_subset(labels, 30, 10, seed=3))
  assert not np.array_equal(rows, semi_supervised.balanced_subset(labels, 30, 10, seed=4))

  arrays, groups = semi_supervised.semi_supervised_arrays(images, labels, 30, 10, seed=3)
  assert groups == {'unlabelled': 1} and set(arrays) == {'image', 'label', 'unlabelled'}
  assert len(arrays['image']) == len(arrays['unlabelled']) == 470
  labelled, unlabelled = arrays['image'][:, 0, 0, 0], arrays['unlabelled'][:, 0, 0, 0]
  # Every labelled row is used, each about equally often, and keeps its own label.
  used, counts = np.unique(labelled, return_counts=True)
  np.testing.assert_array_equal(used, rows)
  assert counts.max() - counts.min() <= 1
  np.testing.assert_array_equal(labels[labelled], arrays['label'])
  # The unlabelled images are exactly the other rows.
  np.testing.assert_array_equal(unlabelled, np.setdiff1d(ids, rows))

  with pytest.raises(ValueError, match='num_labelled=25 is not a multiple of the 10 classes'):
    semi_supervised.balanced_subset(labels, 25, 10, seed=0)
  with pytest.raises(ValueError, match='lower config.data.num_labelled'):
    semi_supervised.balanced_subset(labels, 1000, 10, seed=0)


def test_load_split_feeds_the_subset_and_keeps_the_test_split_labelled(idx_dir, tfds_dir):
  config = tiny_config('ssgan', idx_dir, tfds_dir, **TINY)
  train = datasets.load_split(config.data, 'train')
  assert train.order_groups == {'unlabelled': 1} and len(train) == 256 - 20
  assert np.bincount(train['label'], minlength=10).min() > 0
  test = datasets.load_split(config.data, 'test')
  plain = datasets.load_split(datasets.base_config(config.data), 'test')
  np.testing.assert_array_equal(test['image'], plain['image'])
  np.testing.assert_array_equal(test['label'], plain['label'])
  np.testing.assert_array_equal(test['unlabelled'], plain['image'])
  assert not datasets.streamable(config.data)


def stub_judge(monkeypatch) -> dict:
  """Replaces the evaluator's classifier by random features (no training); returns what it was asked for:
  ``cache_dir`` and ``data`` (the loader's train images, train labels, test images, test labels)."""
  asked = {}

  class Judge:
    def features_and_logits(self, images):
      rng = np.random.default_rng(len(images))
      return rng.normal(size=(len(images), 4)), rng.normal(size=(len(images), 10))

  def load_or_train(cache_dir, data_loader_fn, **kwargs):
    asked['cache_dir'], asked['data'] = cache_dir, data_loader_fn()
    return Judge()

  monkeypatch.setattr(classifier, 'load_or_train_classifier', load_or_train)
  return asked


def test_the_evaluator_judges_with_the_full_training_split(idx_dir, tfds_dir, monkeypatch):
  """The model sees the labelled subset; the evaluator's classifier and floor see every training image with
  its label, and share the cached classifier of a plain run of the dataset."""
  config = tiny_config('ssgan', idx_dir, tfds_dir, **TINY, **{'data.labelled_seed': 1})
  plain = tiny_config('ssgan', idx_dir, tfds_dir, **{'data.num_labelled': 0})
  full = datasets.load_split(plain.data, 'train')
  asked = stub_judge(monkeypatch)
  train, test = (datasets.load_split(config.data, s) for s in ('train', 'test'))
  judge = evaluator.create(config, train, test)
  assert asked['cache_dir'] == datasets.cache_dir(plain.data, 'classifier')
  images, labels = asked['data'][:2]
  np.testing.assert_array_equal(images, full['image'])
  np.testing.assert_array_equal(labels, full['label'])
  # The floor's real images (scored against the test images) are the split's first, not the subset's.
  num = len(judge._train_images)
  np.testing.assert_array_equal(judge._train_images, full['image'][:num])
  np.testing.assert_array_equal(judge._train_labels, full['label'][:num])


def test_data_dependent_init_whitens_every_layer_on_its_batch():
  """After the init on a batch, every unit's pre-activation has zero mean and unit variance on it (noise
  off here, so the logits show it layer after layer); the directions v are untouched."""
  d_net = nets.build(
    'ssgan.NoisyMLPClassifier',
    num_classes=5,
    hidden=(16, 8),
    input_noise=0.0,
    hidden_noise=0.0,
    authors_layers=True,
  )
  player = base.init_player(d_net, optax.sgd(0.1), jax.random.PRNGKey(0), jnp.zeros((2, 4, 4, 1)))
  images = jax.random.uniform(jax.random.PRNGKey(1), (64, 4, 4, 1))
  logits, _ = base.apply_eval(player, images)
  assert np.max(np.abs(np.std(logits, axis=0) - 1.0)) > 0.1  # Not whitened before the init.
  initialised = ssgan.data_dependent_init(player, images, jax.random.PRNGKey(2))
  logits, _ = base.apply_eval(initialised, images)
  np.testing.assert_allclose(np.mean(logits, axis=0), 0.0, atol=1e-4)
  np.testing.assert_allclose(np.std(logits, axis=0), 1.0, rtol=1e-3)
  for layer in ('hidden_0', 'hidden_1', 'logits'):
    np.testing.assert_array_equal(
      initialised.params[layer]['direction'], player.params[layer]['direction']
    )


def test_the_baseline_trains_d_alone_from_the_data_dependent_init(idx_dir, tfds_dir):
  """Only D trains, on the labelled batch; step 0 starts it from the data-dependent init on that batch
  (``initial_d``, shared with the game), after which the hidden layers' scales g stay and the logits' g
  trains."""
  overrides = {**TINY, **AUTHORS, 'method.name': 'ssgan_supervised'}
  config = tiny_config('ssgan', idx_dir, tfds_dir, **overrides)
  method = methods.create(config, (8, 8, 1), 10)
  assert method.inputs == ('image', 'label')
  keys = jax.random.split(jax.random.PRNGKey(1), 2)
  batch = {
    'image': jax.random.uniform(keys[0], (1, 6, 8, 8, 1)),
    'label': jax.random.randint(keys[1], (1, 6), 0, 10),
  }
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  step = jax.jit(method.train_step)
  new, metrics = step(state, batch)
  assert same_params(state.players['g'].params, new.players['g'].params)
  assert any_param_moved(state.players['d'].params, new.players['d'].params)
  assert set(metrics) == {'supervised_loss', 'train_accuracy'}

  init_rng = jax.random.fold_in(state.step_rng(), 1)
  expected = ssgan.data_dependent_init(state.players['d'], batch['image'][0], init_rng).params
  newer, _ = step(new, batch)
  scales = [s.players['d'].params['hidden_0']['scale'] for s in (state, new, newer)]
  assert not np.allclose(scales[0], scales[1])
  np.testing.assert_allclose(scales[1], expected['hidden_0']['scale'], rtol=1e-6)
  np.testing.assert_array_equal(scales[1], scales[2])
  assert not np.array_equal(
    new.players['d'].params['logits']['scale'], newer.players['d'].params['logits']['scale']
  )


@pytest.mark.parametrize(
  'field, value, message',
  [
    ('data.num_labelled', 0, 'config.data.num_labelled=0: the semi-supervised GAN needs'),
    ('loss.unsupervised_weight', -1.0, 'config.loss.unsupervised_weight=-1.0 must be >= 0'),
    ('method.reuse_fakes', False, 'config.method.reuse_fakes=False'),
    ('method.data_init', True, 'config.method.data_init=True initialises the scales'),
  ],
)
def test_bad_fields_are_named(idx_dir, tfds_dir, field, value, message):
  config = tiny_config('ssgan', idx_dir, tfds_dir, **{field: value})
  with pytest.raises(ValueError, match=message):
    methods.check_config(config)


def test_ssgan_trains_and_reports_test_accuracy_through_main(
  run_main, idx_dir, tfds_dir, tmp_path, monkeypatch
):
  """Training (the authors' layers) and ``--mode=eval`` (its evaluator's classifier stubbed: trained by the
  evaluation tests)."""
  asked = stub_judge(monkeypatch)
  workdir = str(tmp_path / 'ssgan')
  flags = [
    f'--config={REPO}/configs/ssgan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    '--config.model.generator_kwargs.hidden=(8,)',
    '--config.model.discriminator_kwargs.hidden=(16,8)',
    '--config.data.num_labelled=20',
    *(f'--config.{key}={value}' for key, value in AUTHORS.items()),
  ]
  run_main(*flags)
  for player, params in load_params(workdir, 4).items():  # Both players train.
    assert any_param_moved(load_params(workdir, 2)[player], params), player
  # D's hidden weight-norm scales keep their data-dependent init; the logits' scale trains.
  d_2, d_4 = load_params(workdir, 2)['d'], load_params(workdir, 4)['d']
  np.testing.assert_array_equal(d_2['hidden_0']['scale'], d_4['hidden_0']['scale'])
  assert not np.array_equal(d_2['logits']['scale'], d_4['logits']['scale'])
  run_main(*flags, '--mode=eval')
  metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  assert 0.0 <= metrics['accuracy'] <= 1.0 and np.isfinite(metrics['cross_entropy'])
  assert 0.0 < metrics['d_real'] < 1.0
  assert len(asked['data'][0]) == 256 and np.isfinite(
    metrics['floor']['fid']
  )  # The full split judges.
