"""bf16 compute with float32 parameters, optimizer state and losses."""

from __future__ import annotations

from conftest import REPO
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import config_lib, methods


def _step_twice(recipe, dtype):
  config = config_lib.load_recipe(f'{REPO}/configs/{recipe}.py')
  config.model.dtype = dtype
  for kwargs in ('generator_kwargs', 'discriminator_kwargs', 'encoder_kwargs', 'decoder_kwargs'):
    if kwargs in config.model:
      config.model[kwargs].hidden = (64, 128)  # Test-size nets; the dtype path is the same.
  method = methods.create(config, (28, 28, 1), 10)
  batch = {
    'image': jax.random.uniform(jax.random.PRNGKey(0), (32, 28, 28, 1)),
    'label': jnp.zeros(32, jnp.int32),
  }
  state = jax.jit(method.init)(jax.random.PRNGKey(1), batch)
  step = jax.jit(method.train_step)
  stacked = jax.tree.map(lambda x: x[None], batch)  # A step's batch: [k = 1, B, ...].
  state, first = step(state, stacked)
  state, second = step(state, stacked)
  return state, first, second


@pytest.mark.parametrize('recipe', ['gan', 'vae'])
def test_bf16_step_is_finite_and_close_to_fp32(recipe):
  state16, first16, second16 = _step_twice(recipe, 'bfloat16')
  _, first32, second32 = _step_twice(recipe, 'float32')
  for name in first32:
    assert first16[name].dtype == jnp.float32
    assert np.isfinite(first16[name]) and np.isfinite(second16[name])
    np.testing.assert_allclose(first16[name], first32[name], rtol=0.05, atol=0.02)
    np.testing.assert_allclose(second16[name], second32[name], rtol=0.05, atol=0.02)
  # Parameters and optimizer state stay float32.
  dtypes = {
    leaf.dtype for player in state16.players.values() for leaf in jax.tree.leaves(player.params)
  }
  dtypes |= {
    leaf.dtype
    for player in state16.players.values()
    for leaf in jax.tree.leaves(player.opt_state)
    if jnp.issubdtype(leaf.dtype, jnp.floating)
  }
  assert dtypes == {jnp.dtype(jnp.float32)}


def test_bf16_changes_the_computation():
  """The dtype reaches the nets: bf16 and fp32 losses differ (by rounding), so the test above is not vacuous."""
  _, first16, _ = _step_twice('vae', 'bfloat16')
  _, first32, _ = _step_twice('vae', 'float32')
  assert float(first16['loss']) != float(first32['loss'])
