"""PacGAN on the 25-Gaussian grid (issue 18): the maxout D of ``gans.nets.mlp``, packing in the plain
``gan`` method (``config.method.pack``), its checks, and ``configs/gan_grid.py``'s variants; one run
through ``gans.main`` (PacGAN2, 2 steps)."""

from __future__ import annotations

import json
import os

from conftest import PARAMS_ONLY_FLAGS, REPO, load_params, tiny_overrides
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import config_lib, methods
from gans.methods import gan
from gans.nets import mlp


def _grid_config(variant='gan', **method):
  config = config_lib.load_recipe(f'{REPO}/configs/gan_grid.py', variant)
  config.model.generator_kwargs.hidden = (8,)
  config.model.discriminator_kwargs.hidden = (4,)
  config.method.update(method)
  return config


def test_maxout_is_the_max_over_each_units_pieces():
  # One block of 2 units × 3 pieces on inputs of 2 features: a = x W + b, a viewed as [B, 2, 3].
  trunk = mlp.MLPTrunk(hidden=(2,), maxout_pieces=3)
  x = jnp.array([[1.0, 2.0], [-1.0, 0.5]])
  kernel = jnp.array([[1.0, -1.0, 0.0, 2.0, 0.0, -3.0], [0.0, 1.0, -2.0, 0.0, 1.0, 1.0]])
  bias = jnp.array([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
  params = {'params': {'Dense_0': {'kernel': kernel, 'bias': bias}}}
  assert jax.tree.map(jnp.shape, trunk.init(jax.random.key(0), x, train=False)) == jax.tree.map(
    jnp.shape, params
  )
  # Row 1: a = [1, 1, -3 | 2, 2, -1] -> [max(1, 1, -3), max(2, 2, -1)] = [1, 2].
  # Row 2: a = [-1, 1.5, 0 | -2, 0.5, 3.5] -> [1.5, 3.5].
  np.testing.assert_allclose(trunk.apply(params, x, train=False), [[1.0, 2.0], [1.5, 3.5]])
  # Without maxout_pieces the block is Dense(width) -> LeakyReLU, as before.
  plain = mlp.MLPTrunk(hidden=(2,), negative_slope=0.5)
  half = {'params': {'Dense_0': {'kernel': kernel[:, :2], 'bias': bias[:2]}}}
  np.testing.assert_allclose(plain.apply(half, x, train=False), [[1.0, 1.0], [-0.5, 1.5]])


def test_pack_samples_concatenates_consecutive_samples_along_the_last_axis():
  points = jnp.arange(12.0).reshape(6, 2)  # sample i = (2i, 2i + 1)
  np.testing.assert_array_equal(
    gan.pack_samples(points, 3), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
  )
  images = jax.random.normal(jax.random.key(0), (4, 3, 2, 5))  # [B, H, W, C]
  packs = gan.pack_samples(images, 2)
  assert packs.shape == (2, 3, 2, 10)
  for j, i, c in [(0, 0, 0), (0, 1, 4), (1, 0, 3), (1, 1, 2)]:
    np.testing.assert_array_equal(packs[j, :, :, i * 5 + c], images[j * 2 + i, :, :, c])
  assert gan.pack_samples(images, 1) is images


_SEEN = []  # The inputs of _Recorder, in call order.


class _Recorder(nn.Module):
  """An identity-like D: its score is its input's first feature; it keeps every input in ``_SEEN``."""

  @nn.compact
  def __call__(self, x, train):
    _SEEN.append(np.asarray(x))
    return x[:, 0] + self.param('bias', nn.initializers.zeros, ())


@pytest.mark.parametrize('variant, pack', [('gan', 1), ('pac2', 2)])
def test_d_sees_packs_of_m_samples_of_the_same_kind_in_order(variant, pack):
  """With m = 2, D's inputs are [B/2, 4]: data packed with data, samples with samples, consecutive
  samples in order; with m = 1 (the config field's default) D sees the batch itself, as before packing
  (the step's bit-identity for every ``gan`` recipe is tests/test_recipe_checksums.py's rows)."""
  method = methods.create(_grid_config(variant), (2,), 1)
  method.discriminator = _Recorder()
  batch = {'image': jnp.arange(16.0).reshape(8, 2)}
  _SEEN.clear()
  state = method.init(jax.random.key(0), batch)
  assert _SEEN[-1].shape == (2, 2 * pack)  # init: two inputs of D
  _SEEN.clear()
  metrics = method.eval_step(state, batch, jax.random.key(1))
  real, fake = _SEEN
  np.testing.assert_array_equal(real, np.arange(16.0).reshape(8 // pack, 2 * pack))
  if pack == 2:
    np.testing.assert_array_equal(real[1], [4, 5, 6, 7])  # points 2 and 3
  fakes = method.generate(state, jax.random.key(1), 8)  # the eval step's samples, same key
  np.testing.assert_array_equal(fake, np.asarray(fakes).reshape(8 // pack, 2 * pack))
  # D's loss is over the B/m inputs' scores (their first features), not over B samples.
  expected = method.loss.d_loss(jnp.asarray(real[:, 0]), jnp.asarray(fake[:, 0]))
  np.testing.assert_allclose(metrics['d_loss'], expected, rtol=1e-6)


@pytest.mark.parametrize(
  'overrides, message',
  [
    ({'method.pack': 3}, r'config.train.batch_size=100 is not a multiple of config.method.pack=3'),
    ({'train.batch_size': 6, 'method.pack': 3}, r'config.eval.batch_size=500 .*pack=3'),
    ({'method.pack': 0}, r'config.method.pack=0 must be >= 1'),
  ],
)
def test_check_config_refuses_a_batch_that_packs_do_not_divide(overrides, message):
  config = _grid_config()
  for key, value in overrides.items():
    group, field = key.split('.')
    config[group][field] = value
  with pytest.raises(ValueError, match=message):
    methods.check_config(config)


def test_grid_recipe_is_pacgans_and_its_variants_pack():
  for variant, pack in [('gan', 1), ('pac2', 2), ('pac4', 4)]:
    config = config_lib.load_recipe(f'{REPO}/configs/gan_grid.py', variant)
    assert (config.method.pack, config.train.batch_size) == (pack, 100 * pack)
    methods.check_config(config)
  assert config.model.discriminator_kwargs.to_dict() == dict(
    hidden=(200, 200, 200), maxout_pieces=5, kernel_init_std=0.02
  )
  assert (config.optim.d.lr, config.optim.d.b1, config.optim.g.b1) == (1e-4, 0.8, 0.8)
  with pytest.raises(ValueError, match='unknown configs/gan_grid.py variant'):
    config_lib.load_recipe(f'{REPO}/configs/gan_grid.py', 'pac9')


def test_pacgan2_trains_through_main(run_main, tmp_path):
  workdir = str(tmp_path / 'pac2')
  flags = [
    f'--config={REPO}/configs/gan_grid.py:pac2',
    f'--workdir={workdir}',
    *tiny_overrides(str(tmp_path), str(tmp_path), steps=2),  # toy data: no files to read
    '--config.data.toy_train_size=256',
    '--config.model.generator_kwargs.hidden=(8,)',
    '--config.model.discriminator_kwargs.hidden=(4,)',
    *PARAMS_ONLY_FLAGS,
  ]
  run_main(*flags)
  params = load_params(workdir, 2)
  kernel = params['d']['trunk']['Dense_0']['kernel']
  assert kernel.shape == (4, 4 * 5)  # D's inputs: packs of 2 points; 4 units of 5 pieces
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['method']['pack'] == 2
