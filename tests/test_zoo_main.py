"""The zoo's recipes end to end through ``gans.main``, and the visual tools on a trained state."""

from __future__ import annotations

import json
import os

from conftest import REPO, tiny_config, tiny_overrides
import jax
import numpy as np
from PIL import Image
import pytest

from gans import plots, train, visualize
from gans.data import captions, datasets

# Overrides that shrink each recipe's nets to test size.
TINY_NETS = {
  'cgan': [
    '--config.model.generator_kwargs.hidden=(16,32)',
    '--config.model.discriminator_kwargs.hidden=(32,16)',
  ],
  'dcgan': [
    '--config.model.generator_kwargs.base_features=4',
    '--config.model.discriminator_kwargs.base_features=4',
  ],
  'infogan': [
    '--config.model.generator_kwargs.hidden=32',
    '--config.model.discriminator_kwargs.hidden=32',
    '--config.model.discriminator_kwargs.q_hidden=8',
  ],
  'began': [
    '--config.model.generator_kwargs.base_features=4',
    '--config.model.discriminator_kwargs.filters=4',
  ],
}
TINY_NETS.update({recipe: TINY_NETS['dcgan'] for recipe in ('lsgan', 'wgan', 'wgan_gp')})
TILE = 28 + 1  # A 28-pixel image and one pixel of padding.


def _size(rows, cols):
  """PIL's (width, height) of an image_grid of rows × cols 28×28 tiles."""
  return (cols * TILE + 1, rows * TILE + 1)


@pytest.mark.parametrize('recipe', sorted(TINY_NETS))
def test_recipe_trains_through_main(recipe, run_main, idx_dir, tfds_dir, tmp_path):
  workdir = str(tmp_path / recipe)
  run_main(
    f'--config={REPO}/configs/{recipe}.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    *TINY_NETS[recipe],
  )
  samples = set(os.listdir(os.path.join(workdir, 'samples')))
  assert 'samples_0000004.png' in samples
  figures = {'cgan': {'classes': (10, 10)}, 'infogan': {'code_0': (10, 10), 'code_1': (10, 10)}}
  for name, (rows, cols) in figures.get(recipe, {}).items():
    picture = Image.open(os.path.join(workdir, 'samples', f'{name}_0000004.png'))
    assert picture.size == _size(rows, cols)
  extra_metric = {'cgan': 'class_accuracy', 'infogan': 'code_accuracy'}.get(recipe)
  if extra_metric:  # The evaluator's optional hooks reach --mode=eval.
    run_main(
      f'--config={REPO}/configs/{recipe}.py',
      f'--workdir={workdir}',
      '--mode=eval',
      *tiny_overrides(idx_dir, tfds_dir),
      *TINY_NETS[recipe],
    )
    metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
    assert 0.0 <= metrics[extra_metric] <= 1.0


@pytest.fixture(scope='module')
def infogan_run(tmp_path_factory, idx_dir, tfds_dir):
  """An InfoGAN trained 4 tiny steps (direct call of the trainer), as an Experiment at its last step."""
  workdir = str(tmp_path_factory.mktemp('infogan'))
  overrides = {
    'model.generator_kwargs.hidden': 32,
    'model.discriminator_kwargs.hidden': 32,
    'model.discriminator_kwargs.q_hidden': 8,
  }
  config = tiny_config('infogan', idx_dir, tfds_dir, **overrides)
  train.train_and_evaluate(config, workdir)
  experiment = train.Experiment(config, workdir)
  experiment.restore()
  return experiment


@pytest.mark.parametrize(
  'kind, sample_fields, expected',
  [
    ('grid', {'num': 16}, {'samples': _size(4, 4), 'samples_numbered': _size(4, 4)}),
    (
      'interpolate',
      {'rows': 3, 'steps': 5},
      {'interpolate_linear': _size(3, 5), 'interpolate_spherical': _size(3, 5)},
    ),
    ('arithmetic', {'num': 16, 'groups': '0,1;2,3;4,5'}, {'arithmetic': _size(4, 2 + 1 + 4)}),
  ],
)
def test_visual_tools_draw_the_expected_grids(infogan_run, kind, sample_fields, expected):
  config = infogan_run.config.copy_and_resolve_references()
  config.sample.update(sample_fields)
  pictures = visualize.render_sample_kind(
    kind, infogan_run.method, infogan_run.state, config, jax.random.PRNGKey(0)
  )
  assert {name: (p.shape[1], p.shape[0]) for name, p in pictures.items()} == expected
  for picture in pictures.values():
    assert picture.dtype == np.uint8 and picture.std() > 0


def test_infogan_traversals_name_their_axes(infogan_run):
  """--mode=sample traverse: each code's grid (rows = categorical code k, columns = c_j's sweep) under
  a title and column values, each row named by k and the class best matched to code k."""
  config, method, state = infogan_run.config, infogan_run.method, infogan_run.state
  rng = jax.random.PRNGKey(0)
  pictures = visualize.render_sample_kind('traverse', method, state, config, rng)
  split = datasets.load_split(config.data, config.eval.split)
  images = train.normalize({'image': split['image']}, config.data.value_range)['image']
  classes = method.code_classes(state, images, split['label'])
  assert sorted(classes) == list(range(10))  # A bijection of codes to classes.
  names = [captions.CLASS_NAMES['fashion_mnist'][c] for c in classes]
  axes = method.traversal_axes(names)
  assert axes['code_1'][0][3] == f'k=3 {names[3]}' and axes['code_1'][1][0] == '-2.0'
  assert axes['code_1'][2] == 'rows: categorical code k (class); columns: c_2'
  assert set(pictures) == set(axes) == {'code_0', 'code_1'}
  for name, traversal in method.traversals(state, rng).items():
    grid = visualize.image_grid(visualize.to_uint8(traversal, config.data.value_range))
    left = 6 * max(len(label) for label in axes[name][0]) + 4
    picture = pictures[name]
    np.testing.assert_array_equal(
      picture[24 : 24 + grid.shape[0], left : left + grid.shape[1]], grid
    )
    assert picture[:24].max() > 128 and picture[24:, :left].max() > 128  # Text in the margins.


def test_grid_matches_generate_and_arithmetic_uses_its_latents(infogan_run):
  """The numbered grid's tile i is generate()'s sample i, and the arithmetic rows show those tiles."""
  method, state = infogan_run.method, infogan_run.state
  rng = jax.random.PRNGKey(5)
  samples = method.generate(state, rng, 9)
  rows = visualize.latent_arithmetic(method, state, rng, num=9, groups=[[4, 0], [1, 2], [8, 3]])
  np.testing.assert_allclose(rows[0, :2], samples[np.array([4, 0])], atol=1e-5)
  np.testing.assert_allclose(rows[2, :2], samples[np.array([8, 3])], atol=1e-5)


def test_interpolation_endpoints_and_slerp_norm():
  rng = jax.random.PRNGKey(0)
  start, end = jax.random.normal(rng, (2, 3, 50))
  path = visualize.slerp(start, end, np.linspace(0, 1, 7))
  np.testing.assert_allclose(path[:, 0], start, atol=1e-5)
  np.testing.assert_allclose(path[:, -1], end, atol=1e-5)
  # Midpoints keep a Gaussian-typical norm, unlike the straight line's.
  assert float(np.linalg.norm(path[:, 3], axis=-1).min()) > float(
    np.linalg.norm(visualize.lerp(start, end, np.linspace(0, 1, 7))[:, 3], axis=-1).max()
  )
  with pytest.raises(ValueError, match='three equal-sized groups'):
    visualize.parse_groups('1,2;3')


def test_curves_are_plotted_from_the_run_logs(infogan_run):
  series = plots.read_scalars(os.path.join(infogan_run.workdir, 'tensorboard'))
  assert {'train/d_loss', 'train/g_loss', 'train/info_categorical'} <= set(series)
  steps, values = series['train/g_loss']
  np.testing.assert_array_equal(steps, [2, 4])  # log_every=2 for 4 steps.
  assert {'eval/fid', 'eval/code_accuracy'} <= set(series) and len(series['eval/fid'][0]) == 1
  pictures = visualize.render_sample_kind(
    'curves', None, None, infogan_run.config, None, workdir=infogan_run.workdir
  )
  assert set(pictures) == {'curves_train', 'curves_eval'}
  train_panels = sum(tag.startswith('train/') for tag in series)
  rows = -(-train_panels // 3)
  assert pictures['curves_train'].shape == (
    rows * 260,
    3 * 360,
    3,
  )  # plots.PANEL_INCHES at 100 dpi.
  # The single evaluation point is drawn (a marker in the line colour C0), not an empty panel.
  assert np.all(pictures['curves_eval'] == (31, 119, 180), axis=-1).sum() > 10
