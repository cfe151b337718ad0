"""LapGAN (``gans.pyramid``, ``gans.nets.lapgan``, ``gans.methods.lapgan``): the pyramid is exact, the
chain is coarse-to-fine, each level's nets see the conditioning image, one step trains every level, and
CC-LAPGAN's label reaches every level; one run through ``gans.main``."""

from __future__ import annotations

import json
import os

from conftest import REPO, tiny_overrides
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from gans import config_lib, methods, pyramid
from gans.methods import base, lapgan

TINY_FLAGS = [
  '--config.model.coarse_generator_kwargs.hidden=(16,)',
  '--config.model.coarse_discriminator_kwargs.hidden=(16,)',
  '--config.model.band_generator_kwargs.features=(4,)',
  '--config.model.band_discriminator_kwargs.features=(4,4)',
]


def _method(name='lapgan', side=28, channels=1, **model):
  config = config_lib.load_recipe(f'{REPO}/configs/lapgan.py')
  config.method.name = name
  config.model.coarse_generator_kwargs.hidden = (16,)
  config.model.coarse_discriminator_kwargs.hidden = (16,)
  config.model.band_generator_kwargs.features = (4,)
  config.model.band_discriminator_kwargs.features = (4, 4)
  config.model.update(model)
  return methods.create(config, (side, side, channels), 10)


def _batch(k=1, batch=4, side=28, seed=0):
  image_rng, label_rng = jax.random.split(jax.random.PRNGKey(seed))
  return {
    'image': jax.random.uniform(image_rng, (k, batch, side, side, 1), minval=-1.0, maxval=1.0),
    'label': jax.random.randint(label_rng, (k, batch), 0, 10),
  }


@pytest.mark.parametrize('side, levels, channels', [(28, 3, 1), (32, 4, 3), (28, 2, 1)])
def test_the_laplacian_pyramid_reconstructs_the_image_exactly(side, levels, channels):
  images = jax.random.uniform(jax.random.PRNGKey(0), (2, 3, side, side, channels))
  bands, coarse = pyramid.laplacian(images, levels)
  assert [band.shape[2] for band, _ in bands] == [side // 2**k for k in range(levels - 1)]
  assert coarse.shape == (2, 3, side // 2 ** (levels - 1), side // 2 ** (levels - 1), channels)
  for band, low in bands:
    assert band.shape == low.shape
  reconstructed = pyramid.reconstruct([band for band, _ in bands], coarse)
  np.testing.assert_allclose(reconstructed, images, atol=1e-6, rtol=0)


def test_reduce_and_expand_keep_constant_images_and_follow_burt_adelson():
  constant = jnp.full((1, 14, 14, 2), 0.3)
  np.testing.assert_allclose(pyramid.reduce(constant), 0.3, atol=1e-6)
  np.testing.assert_allclose(pyramid.expand(constant), 0.3, atol=1e-6)
  # An interior impulse: reduce samples the 2-D binomial kernel, expand spreads it over a 5×5 window.
  impulse = jnp.zeros((14, 14, 1)).at[6, 6, 0].set(1.0)
  kernel = np.outer(pyramid.BINOMIAL_5, pyramid.BINOMIAL_5)
  np.testing.assert_allclose(pyramid.reduce(impulse)[2:5, 2:5, 0], kernel[::2, ::2], atol=1e-7)
  small = jnp.zeros((7, 7, 1)).at[3, 3, 0].set(1.0)
  np.testing.assert_allclose(pyramid.expand(small)[4:9, 4:9, 0], 4 * kernel, atol=1e-6)
  with pytest.raises(ValueError, match='config.model.levels=4 on 28x28'):
    pyramid.check_levels(28, 4)


def test_sampling_with_zero_bands_is_the_expanded_coarse_image():
  method = _method()
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], _batch()))
  zeroed = {
    name: player.replace(
      params={
        **player.params,
        'band': jax.tree.map(jnp.zeros_like, player.params['band']),
      }
    )
    for name, player in state.players.items()
    if name in ('g_14', 'g_28')
  }
  state = state.replace(players={**state.players, **zeroed})
  latents = method.latents(jax.random.PRNGKey(1), 5)
  chain = jax.jit(method.chain)(state, latents)
  coarse = chain[0]['image']
  assert coarse.shape == (5, 7, 7, 1) and [entry['image'].shape[1] for entry in chain] == [
    7,
    14,
    28,
  ]
  expected = pyramid.expand(pyramid.expand(coarse))
  np.testing.assert_allclose(chain[-1]['image'], expected, atol=1e-6)
  np.testing.assert_allclose(method.decode(state, latents), jnp.clip(expected, -1, 1), atol=1e-6)


def test_each_band_level_sees_its_conditioning_image():
  method = _method()
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], _batch()))
  for side in (14, 28):
    low = jax.random.normal(jax.random.PRNGKey(side), (3, side, side, 1))
    band = jax.random.normal(jax.random.PRNGKey(side + 1), (3, side, side, 1))
    noise = jnp.zeros((3, side, side, 1))
    d, g = state.players[f'd_{side}'], state.players[f'g_{side}']
    d_grad = jax.grad(lambda low: base.apply_eval(d, band, low).sum())(low)
    g_grad = jax.grad(lambda low: base.apply_eval(g, noise, low).sum())(low)
    assert float(jnp.abs(d_grad).sum(axis=(1, 2, 3)).min()) > 0, side
    assert float(jnp.abs(g_grad).sum(axis=(1, 2, 3)).min()) > 0, side


def test_one_step_trains_every_level_on_the_real_pyramid_independently():
  """Every player moves (2 D updates per G update), and a band level's update does not depend on the
  other levels' generators: changing G_7 leaves the updated G_28, D_28, G_14 and D_14 as they were."""
  method = _method()
  method.config.method.n_critic = 2
  method = methods.create(method.config, (28, 28, 1), 10)
  batch = _batch(k=2)
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  step = jax.jit(method.train_step)
  new_state, metrics = step(state, batch)
  assert sorted(state.players) == ['d_14', 'd_28', 'd_7', 'g_14', 'g_28', 'g_7']
  for name, player in state.players.items():
    changes = jax.tree.map(
      lambda a, b: float(jnp.abs(a - b).max()), player.params, new_state.players[name].params
    )
    assert max(jax.tree.leaves(changes)) > 0, name
  for side in (7, 14, 28):
    for metric in ('d_loss', 'g_loss', 'd_real', 'd_fake'):
      assert np.isfinite(float(metrics[f'{metric}_{side}']))
  assert int(new_state.step) == 1
  g_7 = state.players['g_7']
  other = state.replace(
    players={
      **state.players,
      'g_7': g_7.replace(params=jax.tree.map(lambda p: p + 1.0, g_7.params)),
    }
  )
  other_state = step(other, batch)[0]
  for name in ('g_28', 'd_28', 'g_14', 'd_14'):
    jax.tree.map(
      np.testing.assert_array_equal,
      new_state.players[name].params,
      other_state.players[name].params,
    )
  assert not np.allclose(
    new_state.players['g_7'].params['Dense_0']['kernel'],
    other_state.players['g_7'].params['Dense_0']['kernel'],
  )


def test_cc_lapgan_conditions_every_level_on_the_label():
  method = _method('cc_lapgan')
  assert isinstance(method, lapgan.ClassConditionalLapGAN) and method.inputs == ('image', 'label')
  assert base.supports(method, base.ClassConditional)
  assert not base.supports(_method(), base.ClassConditional)
  batch = _batch()
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  latents = method.latents(jax.random.PRNGKey(1), 4, label=jnp.zeros(4, jnp.int32))
  relabelled = {**latents, 'label': jnp.full(4, 3, jnp.int32)}
  chain = jax.jit(method.chain)
  first, second = chain(state, latents), chain(state, relabelled)
  for level in range(3):
    assert not np.allclose(first[level]['image'], second[level]['image']), level
  for level in (1, 2):  # Each band G reads the label, also given the same low-pass image.
    side = first[level]['low'].shape[1]
    g = state.players[f'g_{side}']
    inputs = (latents[f'noise_{side}'], first[level]['low'])
    zeros = base.apply_eval(g, *inputs, jnp.zeros(4, jnp.int32))
    threes = base.apply_eval(g, *inputs, jnp.full(4, 3, jnp.int32))
    assert not np.allclose(zeros, threes), side
  samples, labels = jax.jit(method.class_samples, static_argnums=2)(
    state, jax.random.PRNGKey(2), 20
  )
  assert samples.shape == (20, 28, 28, 1) and list(labels[:11]) == [*range(10), 0]


def test_cc_lapgan_trains_and_evaluates_through_main(run_main, idx_dir, tfds_dir, tmp_path):
  workdir = str(tmp_path / 'cc_lapgan')
  flags = [
    f'--config={REPO}/configs/lapgan.py',
    f'--workdir={workdir}',
    '--config.method.name=cc_lapgan',
    *tiny_overrides(idx_dir, tfds_dir),
    *TINY_FLAGS,
  ]
  run_main(*flags)
  tile = 28 + 1
  expected = {'pyramid_chain': (8, 5), 'shared_coarse': (8, 8), 'samples': None}
  for name, grid in expected.items():
    picture = Image.open(os.path.join(workdir, 'samples', f'{name}_0000004.png'))
    if grid:
      rows, cols = grid
      assert picture.size == (cols * tile + 1, rows * tile + 1), name
  run_main(*flags, '--mode=eval')
  metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  assert 0.0 <= metrics['class_accuracy'] <= 1.0 and np.isfinite(metrics['d_loss_28'])
