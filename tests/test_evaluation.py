"""The evaluator wired into training: toy mode coverage, VAE likelihood bounds, the real-data floor."""

from __future__ import annotations

from conftest import REPO, tiny_config
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import config_lib, methods, train
from gans.data import datasets, toy, transforms
from gans.evaluation import classifier, evaluator
from gans.evaluation import metrics as metrics_lib


def test_toy_run_reports_mode_coverage(tmp_path):
  config = config_lib.load_recipe(f'{REPO}/configs/gan_ring.py')
  config.data.toy_train_size = 1000
  config.train.update(steps=4, log_every=2, checkpoint_every=2, sample_every=4, batch_size=20)
  config.model.generator_kwargs.hidden = (16, 16)
  config.eval.update(num_samples=500, batch_size=100, num_batches=2)
  config.sample.num = 500
  results = train.train_and_evaluate(config, str(tmp_path))
  assert {'modes', 'high_quality_fraction', 'kl', 'd_loss'} <= set(results)
  assert 0 <= results['modes'] <= 8 and 0 <= results['high_quality_fraction'] <= 1
  picture = (tmp_path / 'samples' / 'samples_0000004.png').read_bytes()
  assert picture[:4] == b'\x89PNG'


def test_toy_evaluator_scores_real_mixture_samples_as_perfect():
  config = config_lib.load_recipe(f'{REPO}/configs/gan_grid.py')
  points = toy.toy_dataset('grid', 2500, seed=5)
  scores = evaluator.ToyEvaluator(config).score(points)
  assert scores['modes'] == 25 and scores['high_quality_fraction'] > 0.98 and scores['kl'] < 0.02
  collapsed = evaluator.ToyEvaluator(config).score(
    points[np.argmin(np.abs(points).sum(1))][None] + 0 * points
  )
  assert collapsed['modes'] == 1 and collapsed['kl'] > 3.0  # log 25 = 3.2 for one mode.


def test_iwae_bound_tightens_with_samples():
  config = config_lib.load_recipe(f'{REPO}/configs/vae.py')
  method = methods.create(config, (28, 28, 1), 10)
  images = (jax.random.uniform(jax.random.PRNGKey(0), (64, 28, 28, 1)) > 0.7).astype(jnp.float32)
  batch = {'image': images, 'label': jnp.zeros(64, jnp.int32)}
  state = jax.jit(method.init)(jax.random.PRNGKey(0), batch)
  bounds = {}
  for k in (1, 100):
    config.eval.iwae_samples = k
    metrics = jax.jit(method.eval_step)(state, batch, jax.random.PRNGKey(3))
    bounds[k] = float(metrics['iwae'])
  np.testing.assert_allclose(bounds[1], -float(metrics['loss']), rtol=0.01)  # K = 1 is the ELBO.
  assert bounds[100] > bounds[1]


def test_unit_range_conversion():
  images = np.array([-1.0, 0.0, 1.0, 3.0])
  np.testing.assert_allclose(evaluator.to_unit_range(images, (-1.0, 1.0)), [0.0, 0.5, 1.0, 1.0])


def test_results_table_has_a_row_per_run_and_the_floor(tmp_path):
  import json

  from gans import results

  for name, source, metrics in [
    ('gan', 'idx', {'fid': 12.5, 'kid': 0.01, 'kid_std': 0.002, 'precision': 0.7, 'recall': 0.4}),
    ('gan_ring', 'toy', {'modes': 8, 'high_quality_fraction': 0.9, 'kl': 0.01}),
  ]:
    (tmp_path / name / 'eval').mkdir(parents=True)
    floor = {'fid': 0.5, 'kid': 0.0, 'kid_std': 0.0001} if source == 'idx' else {}
    (tmp_path / name / 'eval' / 'metrics.json').write_text(
      json.dumps({'step': 10, **metrics, 'floor': floor})
    )
    (tmp_path / name / 'config.json').write_text(
      json.dumps({'data': {'source': source, 'name': name}})
    )
  table = results.table([str(tmp_path / 'gan'), str(tmp_path / 'gan_ring')])
  assert '| `gan` | gan | 10 | 12.5 | 0.0100 ± 0.0020 | 0.7 | 0.4 |' in table
  assert '| real train vs test (floor) | gan | | 0.5 | 0.0000 ± 0.0001 |' in table
  assert '| `gan_ring` | gan_ring (?) | 10 | 8 | 0.9 | 0.01 |' in table


def test_results_of_a_run_without_an_evaluation_name_the_command(tmp_path):
  from gans import results

  (tmp_path / 'dcgan').mkdir()
  with pytest.raises(
    FileNotFoundError, match=r'--workdir=.*dcgan --mode=eval --config.eval.image_size=32'
  ):
    results.table([str(tmp_path / 'dcgan')], 'eval_32px')


def test_stacked_data_and_its_mode_coverage(idx_dir, tfds_dir, tmp_path):
  config = tiny_config('gan_stacked', idx_dir, tfds_dir, steps=2, **{'train.checkpoint_every': 2})
  base = datasets.load_split(datasets.base_config(config.data), 'test')
  stacked = datasets.load_split(config.data, 'test')
  images = stacked['image']
  assert images.shape == (128, 28, 28, 3) and stacked.num_classes == 1000
  # Each channel is some base image, and the label encodes the three base labels in base 10.
  base_images = {im.tobytes(): label for im, label in zip(base['image'][..., 0], base['label'])}
  for image, label in zip(images[:5], stacked['label'][:5]):
    digits = [base_images[image[..., c].tobytes()] for c in range(3)]
    assert label == 100 * digits[0] + 10 * digits[1] + digits[2]

  scorer = evaluator.StackedEvaluator(config)
  varied = scorer.score(images.astype(np.float32) / 255)
  collapsed = scorer.score(np.repeat(images[:1], 128, axis=0).astype(np.float32) / 255)
  assert collapsed['modes'] == 1 and varied['modes'] > 1 and varied['kl'] < collapsed['kl']

  results = train.train_and_evaluate(config, str(tmp_path))
  assert results['modes'] >= 1 and results['modes'] <= 1000 and np.isfinite(results['kl'])


def test_class_accuracy_uses_the_dataset_classifier_when_features_come_from_elsewhere(
  idx_dir, tfds_dir, monkeypatch
):
  """With Inception's features (1008 ImageNet logits), class accuracy still needs the dataset's classes."""
  config = tiny_config('cgan', idx_dir, tfds_dir, **{'eval.feature_extractor': 'elsewhere'})
  rng = np.random.default_rng(0)

  class Elsewhere:
    def features_and_logits(self, images):
      return rng.normal(size=(len(images), 8)), rng.normal(size=(len(images), 1008))

  monkeypatch.setitem(classifier._FEATURE_EXTRACTORS, 'elsewhere', lambda weights_path: Elsewhere())
  train_split = datasets.load_split(config.data, 'train')
  test_split = datasets.load_split(config.data, 'test')
  scorer = evaluator.ImageEvaluator(config, train_split, test_split)
  images, labels = test_split['image'][:64] / 255.0, test_split['label'][:64]
  dataset_classifier = scorer._dataset_classifier()
  expected = metrics_lib.class_conditional_accuracy(dataset_classifier.logits(images), labels)
  assert scorer.score(images, labels)['class_accuracy'] == expected
  assert scorer.label_classifier is not scorer.extractor


def test_eval_image_size_scores_samples_resized_against_the_data_at_that_side(idx_dir, tfds_dir):
  """``eval.image_size=32`` for a 28×28 run: the floor and the scores are those of the dataset loaded at
  32×32 (its own classifier), and 28×28 samples get the resize that real images get."""
  config = tiny_config('dcgan', idx_dir, tfds_dir, **{'eval.image_size': 32})
  train_split = datasets.load_split(config.data, 'train')
  test_split = datasets.load_split(config.data, 'test')
  scorer = evaluator.create(config, train_split, test_split)
  assert isinstance(scorer, evaluator.ResizedEvaluator)
  at_32 = config.data.copy_and_resolve_references()
  at_32.image_size = 32
  train_32, test_32 = datasets.load_split(at_32, 'train'), datasets.load_split(at_32, 'test')
  assert test_32['image'].shape[1:] == (32, 32, 1)
  direct = evaluator.ImageEvaluator(config, train_32, test_32, data_config=at_32)
  assert scorer.floor() == direct.floor()

  samples, labels = test_split['image'][:64] / 255.0, test_split['label'][:64]
  resized = transforms.crop_and_resize(test_split['image'][:64], size=32) / 255.0
  assert scorer.score(samples, labels) == direct.score(resized, labels)
  unresized = evaluator.create(tiny_config('dcgan', idx_dir, tfds_dir), train_split, test_split)
  assert unresized.score(samples)['fid'] != scorer.score(samples)['fid']


def test_eval_image_size_is_refused_for_mode_coverage(idx_dir, tfds_dir):
  config = config_lib.load_recipe(f'{REPO}/configs/gan_ring.py')
  config.eval.image_size = 32
  with pytest.raises(ValueError, match='eval.image_size=32 applies to image datasets'):
    evaluator.create(config, None, None)
