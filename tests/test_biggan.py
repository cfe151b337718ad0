"""BigGAN's method (``gans.methods.biggan``): truncation, orthogonal regularisation, the step (one
spectral-norm power iteration per D update), EMA sampling, bad input; and one run through ``gans.main``.
The nets are tested in tests/test_biggan_nets.py."""

from __future__ import annotations

import json
import os

from conftest import REPO, tiny_overrides
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import scipy.stats

from gans import config_lib, export, losses, methods
from gans.methods import biggan

TINY = dict(ch=4, widths=(2, 2, 2), z_dim=32, shared_dim=8)
TINY_FLAGS = [
  '--config.model.generator_kwargs.ch=4',
  '--config.model.generator_kwargs.widths=(2,2,2)',
  '--config.model.generator_kwargs.z_dim=32',
  '--config.model.generator_kwargs.shared_dim=8',
  '--config.model.discriminator_kwargs.ch=4',
  '--config.model.discriminator_kwargs.widths=(2,2,2,2)',
]


def _config(**fields):
  config = config_lib.load_recipe(f'{REPO}/configs/biggan.py')
  config.model.generator_kwargs.update(TINY)
  config.model.discriminator_kwargs.update(ch=4, widths=(2, 2, 2, 2))
  for key, value in fields.items():
    group, name = key.split('.')
    config[group][name] = value
  return config


def _method(**fields):
  return methods.create(_config(**fields), (32, 32, 1), 10)


def _batch(k=1, batch=8, seed=0):
  image_rng, label_rng = jax.random.split(jax.random.PRNGKey(seed))
  return {
    'image': jax.random.uniform(image_rng, (k, batch, 32, 32, 1), minval=-1.0, maxval=1.0),
    'label': jax.random.randint(label_rng, (k, batch), 0, 10),
  }


def test_truncation_redraws_only_the_components_outside_and_keeps_their_law():
  rng = jax.random.PRNGKey(0)
  z = jax.random.normal(rng, (4000, 16))
  for threshold in (0.25, 1.0, 2.0):
    truncated = biggan.truncate(jax.random.PRNGKey(1), z, threshold)
    assert float(jnp.abs(truncated).max()) <= threshold
    inside = jnp.abs(z) <= threshold
    np.testing.assert_array_equal(truncated[inside], z[inside])  # Untouched, not clipped.
    redrawn = np.asarray(truncated[~inside])
    assert np.all(redrawn != np.asarray(z[~inside]))
    # The redrawn components follow N(0, 1) conditioned on |z| <= τ (KS test at a fixed seed).
    law = scipy.stats.truncnorm(-threshold, threshold)
    assert scipy.stats.kstest(redrawn, law.cdf).pvalue > 0.01
    # Clipping would put mass at ±τ: the KS test sees it.
    clipped = np.clip(np.asarray(z[~inside]), -threshold, threshold)
    assert scipy.stats.kstest(clipped, law.cdf).pvalue < 1e-6


def test_orthogonal_regularization_is_zero_exactly_for_orthogonal_columns():
  q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((12, 5)))
  assert float(losses.orthogonal_regularization({'w': q * 3.0, 'b': np.ones(5)})) < 1e-8
  kernel = q.reshape(2, 2, 3, 5)  # A conv kernel, viewed as [fan_in, features].
  assert float(losses.orthogonal_regularization({'kernel': kernel})) < 1e-10
  skewed = q + 0.1
  gram = skewed.T @ skewed
  np.testing.assert_allclose(
    losses.orthogonal_regularization({'w': skewed}),
    np.sum((gram * (1 - np.eye(5))) ** 2),
    rtol=1e-5,
  )


def test_orthogonal_regularization_enters_g_updates_except_the_shared_embedding():
  params = {'shared': {'embedding': jnp.ones((3, 2))}, 'block': {'kernel': jnp.ones((2, 2))}}
  tx = biggan.orthogonal_regularization(0.5)
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zeros, tx.init(params), params)
  np.testing.assert_array_equal(updates['shared']['embedding'], 0.0)
  grad = jax.grad(lambda w: losses.orthogonal_regularization({'w': w}))(params['block']['kernel'])
  np.testing.assert_allclose(updates['block']['kernel'], 0.5 * grad)
  assert float(jnp.abs(grad).max()) > 0


def _gaussian_kernels(params, seed):
  rng = np.random.default_rng(
    seed
  )  # numpy: one eager jax.random call per shape compiles a program.
  return jax.tree.map(
    lambda leaf: (
      (0.3 * rng.standard_normal(leaf.shape)).astype(np.float32) if leaf.ndim >= 2 else leaf
    ),
    params,
  )


@pytest.fixture(scope='module')
def one_step():
  """(method, state before, state after) one tiny BigGAN step with an EMA copy of G (decay 0.5)."""
  method = _method(**{'method.n_critic': 1, 'method.ema_decay': 0.5, 'method.ema_start': 0})
  batch = _batch()
  before = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  # Gaussian kernels instead of orthogonal ones (whose equal singular values make every u a fixed
  # point of the power iteration), so that each iteration moves u.
  players = {
    name: player.replace(params=_gaussian_kernels(player.params, seed))
    for seed, (name, player) in enumerate(before.players.items())
  }
  before = before.replace(players=players)
  after, metrics = jax.jit(method.train_step)(before, batch)
  assert set(metrics) == {'d_loss', 'g_loss', 'd_real', 'd_fake'}
  assert all(np.isfinite(float(v)) for v in metrics.values())
  return method, before, after


def _power_iterations(player):
  """stats path -> (stored u [1, F], the kernel [.., F] it normalises) of every spectral norm."""
  found = {}
  for path, u in jax.tree_util.tree_flatten_with_path(player.batch_stats)[0]:
    *module, key = (entry.key for entry in path)
    if key.endswith('/u'):
      kernel = player.params
      for name in (*module, *key.split('/')[:-1]):
        kernel = kernel[name]
      found['/'.join((*module, key))] = (np.asarray(u), np.asarray(kernel))
  return found


def test_each_spectral_norm_takes_exactly_one_power_iteration_per_update(one_step):
  """After one step (1 D update, 1 G update), every u of D and G is one power iteration from its old
  u with the kernel before the update: u' = n(n(u Wᵀ) W), n(x) = x / sqrt(|x|² + ε). Two D calls per
  update (real and fake apart) would make it two."""
  _, before, after = one_step
  distinguishable = 0
  for name in ('d', 'g'):
    old, new = _power_iterations(before.players[name]), _power_iterations(after.players[name])
    assert old and set(old) == set(new)
    for key, (u, kernel) in old.items():
      w = kernel.reshape(-1, kernel.shape[-1]).astype(np.float64)
      normalize = lambda x: x / np.sqrt(np.sum(x**2) + 1e-6)  # noqa: E731
      expected = normalize(normalize(u @ w.T) @ w)
      np.testing.assert_allclose(new[key][0], expected, atol=2e-5, err_msg=f'{name} {key}')
      twice = normalize(normalize(expected @ w.T) @ w)
      distinguishable += not np.allclose(new[key][0], twice, atol=1e-4)
  assert distinguishable > 10  # Where a second iteration would move u, the test would see it.


def test_samples_use_the_ema_generator_and_the_configured_truncation(one_step):
  method, _, state = one_step
  rng = jax.random.PRNGKey(3)
  samples = method.generate(state, rng, 10)
  live = method.generate(state.replace(ema={}), rng, 10)
  assert samples.shape == (10, 32, 32, 1) and float(jnp.abs(samples - live).max()) > 1e-5
  truncated = method.generate(state, rng, 10, truncation=0.5)
  assert not np.allclose(truncated, samples)
  images, labels = method.class_samples(state, rng, 12)
  np.testing.assert_array_equal(labels, np.arange(12) % 10)
  figures = method.figures(state, None, rng)
  assert {name: grid.shape[:2] for name, grid in figures.items()} == {
    'classes': (10, 10),
    'truncation': (10, 10),
    'interpolation_within': (10, 10),
    'interpolation_across': (10, 10),
  }
  # Row a of the walk across classes goes from G(z_a, a) to G(z_a, a + 1) (z_a: the row's noise).
  start = jax.random.normal(jax.random.split(rng)[1], (2, 10, method.z_dim))[0]
  ends = [
    method.decode(state, {'z': start, 'label': (jnp.arange(10) + shift) % 10}) for shift in (0, 1)
  ]
  across = figures['interpolation_across']
  np.testing.assert_allclose(across[:, 0], ends[0], atol=1e-5)
  np.testing.assert_allclose(across[:, -1], ends[1], atol=1e-5)
  assert not np.allclose(across[:, 0], across[:, -1])


@pytest.mark.parametrize(
  'field, value, message',
  [
    ('sample.truncation', 0.0, r'config.sample.truncation=0.0 must be > 0'),
    ('loss.orthogonal_weight', -1.0, r'config.loss.orthogonal_weight=-1.0 must be >= 0'),
    ('method.n_critic', 0, r'config.method.n_critic=0 must be >= 1'),
  ],
)
def test_bad_config_is_named(field, value, message):
  with pytest.raises(ValueError, match=message):
    _method(**{field: value})


def test_one_step_trains_through_main_and_evaluates(run_main, idx_dir, tfds_dir, tmp_path):
  workdir = str(tmp_path / 'biggan')
  common = [
    f'--config={REPO}/configs/biggan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir, steps=2),
    *TINY_FLAGS,
  ]
  run_main(*common, '--config.eval.sample_metrics=False')  # Scored once, below, at τ = 0.5.
  assert {'samples_0000002.png', 'classes_0000002.png', 'truncation_0000002.png'} <= set(
    os.listdir(os.path.join(workdir, 'samples'))
  )
  run_main(*common, '--mode=eval', '--config.sample.truncation=0.5')
  metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  assert 0.0 <= metrics['class_accuracy'] <= 1.0 and np.isfinite(metrics['fid'])

  # --mode=export: the evaluation's draw, as uint8 with its classes, in an .npz and a PNG folder.
  run_main(
    *common,
    '--mode=export',
    '--config.sample.truncation=0.5',
    '--config.export.num=45',
    '--config.export.png=True',
  )
  stem = os.path.join(workdir, 'export', 'samples_step0000002_seed0')
  images, labels = export.load(stem + '.npz')
  assert images.dtype == np.uint8 and images.shape == (45, 32, 32, 1)
  np.testing.assert_array_equal(labels, np.arange(45) % 32 % 10)  # eval.batch_size 32 per call.
  pngs = sorted(f for f in os.listdir(stem) if f.endswith('.png'))
  assert pngs[0] == '000000.png' and len(pngs) == 45
  png = np.asarray(Image.open(os.path.join(stem, pngs[7])))
  np.testing.assert_array_equal(png, images[7, ..., 0])
  assert open(os.path.join(stem, 'labels.txt')).read().split() == [str(y) for y in labels]
  record = json.load(open(stem + '.json'))
  assert record['ema'] and record['truncation'] == 0.5 and record['labels']
  assert record['config']['sample']['truncation'] == 0.5 and record['image_shape'] == [32, 32, 1]


def test_imagenet128_recipe_has_the_papers_nets():
  """The pod recipe's G and D at 128×128 have the parameter counts of the paper's 128×128 BigGAN
  (Brock et al. 2019: 70.4 M and 88.0 M), built abstractly (``jax.eval_shape``, no weights)."""
  config = config_lib.load_recipe(f'{REPO}/configs/biggan.py', 'imagenet128')
  assert config.train.batch_size == 2048 and config.data.image_size == 128
  method = methods.create(config, (128, 128, 3), 1000)
  batch = {
    'image': jax.ShapeDtypeStruct((2, 128, 128, 3), jnp.float32),
    'label': jax.ShapeDtypeStruct((2,), jnp.int32),
  }
  state = jax.eval_shape(method.init, jax.random.PRNGKey(0), batch)
  counts = {
    name: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(state.players[name].params))
    for name in ('g', 'd')
  }
  assert round(counts['g'] / 1e6, 1) == 70.4 and round(counts['d'] / 1e6, 1) == 88.0, counts
