"""Step functions of the foundation families, called directly on small arrays."""

from __future__ import annotations

from conftest import REPO
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import config_lib, guard, methods


def _gan(**fields):
  config = config_lib.load_recipe(f'{REPO}/configs/gan.py')
  config.model.generator_kwargs.hidden = (16, 32)
  config.model.discriminator_kwargs.hidden = (32, 16)
  for key, value in fields.items():
    group, name = key.split('.')
    config[group][name] = value
  return methods.create(config, (28, 28, 1), 10)


def _batch(shape, seed=0):
  """A batch of random images ``shape`` ([B, H, W, C], or [k, B, H, W, C] for a train step)."""
  return {
    'image': jax.random.uniform(jax.random.PRNGKey(seed), shape),
    'label': jnp.zeros(shape[:-3], jnp.int32),
  }


@pytest.mark.parametrize('n_critic', [1, 3])
def test_gan_step_makes_n_critic_d_updates_per_g_update(n_critic):
  method = _gan(**{'method.n_critic': n_critic})
  assert method.batches_per_step == n_critic
  shape = (n_critic, 8, 28, 28, 1)  # A step's batch is [k, B, ...], also for k = 1.
  state = jax.jit(method.init)(jax.random.PRNGKey(0), _batch((8, 28, 28, 1)))
  step = jax.jit(method.train_step)
  for _ in range(2):
    state, metrics = step(state, _batch(shape))
  assert int(state.step) == 2
  assert int(state.players['g'].step) == 2 and int(state.players['d'].step) == 2 * n_critic
  assert set(metrics) == {'d_loss', 'g_loss', 'd_real', 'd_fake'}
  # The generator's BatchNorm running statistics were updated by its forward passes.
  assert float(jnp.abs(state.players['g'].batch_stats['BatchNorm_0']['mean']).max()) > 0


@pytest.mark.parametrize(
  'loss, expected',
  [('nonsaturating', lambda p: -jnp.log(p)), ('minimax', lambda p: jnp.log(1 - p))],
)
def test_gan_generator_loss_is_selectable(loss, expected):
  method = _gan(**{'loss.name': loss})
  logits = jnp.array([-2.0, 0.5, 3.0])
  np.testing.assert_allclose(
    method.loss.g_loss(logits), jnp.mean(expected(jax.nn.sigmoid(logits))), rtol=1e-5
  )


def test_gan_ema_tracks_the_generator_params_and_batch_statistics():
  method = _gan(**{'method.ema_decay': 0.5})
  state = jax.jit(method.init)(jax.random.PRNGKey(0), _batch((8, 28, 28, 1)))
  before = state.players['g']
  state, _ = jax.jit(method.train_step)(state, _batch((1, 8, 28, 28, 1)))
  after = state.players['g']
  for got, old, new in (
    (state.ema['g'].params, before.params, after.params),
    (state.ema['g'].batch_stats, before.batch_stats, after.batch_stats),
  ):
    expected = jax.tree.map(lambda o, n: 0.5 * o + 0.5 * n, old, new)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, expected)
  # Samples decode with the EMA copy's statistics, not the live generator's.
  z = method.latents(jax.random.PRNGKey(1), 4)
  with_ema = method.decode(state, z)
  live = method.decode(state.replace(ema={}), z)
  ema_variables = {'params': state.ema['g'].params, 'batch_stats': state.ema['g'].batch_stats}
  np.testing.assert_allclose(
    with_ema, after.apply_fn(ema_variables, z['z'], train=False), rtol=1e-6
  )
  assert float(jnp.abs(with_ema - live).max()) > 1e-4


def test_ema_follows_the_player_until_its_start_step():
  method = _gan(**{'method.ema_decay': 0.9, 'method.ema_start': 2})
  state = jax.jit(method.init)(jax.random.PRNGKey(0), _batch((8, 28, 28, 1)))
  step = jax.jit(method.train_step)
  for s in range(3):
    state, _ = step(state, _batch((1, 8, 28, 28, 1), seed=s))
    same = jax.tree.map(np.array_equal, state.ema['g'].params, state.players['g'].params)
    assert all(jax.tree.leaves(same)) == (s < 2), s


@pytest.mark.parametrize('loss', ['nonsaturating', 'relativistic'])
def test_reused_fakes_give_the_updates_of_a_fresh_forward_on_the_same_z(monkeypatch, loss):
  """With z fixed, ``method.reuse_fakes`` (one G forward, its pullback kept) equals the default step
  (G run again in its own update): same parameters and BatchNorm statistics of both players."""
  fixed_z = jax.random.normal(jax.random.PRNGKey(3), (8, 10))
  results = []
  for reuse in (False, True):
    method = _gan(**{'method.reuse_fakes': reuse, 'loss.name': loss})
    monkeypatch.setattr(method, 'latents', lambda rng, num: {'z': fixed_z[:num]})
    state = jax.jit(method.init)(jax.random.PRNGKey(0), _batch((8, 28, 28, 1)))
    step = jax.jit(method.train_step)
    for seed in range(2):
      state, metrics = step(state, _batch((1, 8, 28, 28, 1), seed))
    players = {name: (p.params, p.batch_stats, p.opt_state) for name, p in state.players.items()}
    results.append((players, metrics))
  (want, want_metrics), (got, got_metrics) = results
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), got, want)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), got_metrics, want_metrics)


def test_reused_fakes_need_one_critic_update():
  with pytest.raises(ValueError, match='reuse_fakes=True needs config.method.n_critic=1'):
    _gan(**{'method.reuse_fakes': True, 'method.n_critic': 2})


def test_unknown_names_are_errors():
  with pytest.raises(ValueError, match="unknown config.loss.name='hinge2'"):
    _gan(**{'loss.name': 'hinge2'})
  config = config_lib.load_recipe(f'{REPO}/configs/gan.py')
  config.method.name = 'gann'
  with pytest.raises(
    ValueError,
    match="unknown config.method.name='gann'; known methods: ae, began, biggan, cc_lapgan, cgan, cyclegan, gan, gancls, infogan, lapgan, ssgan, ssgan_supervised, stylegan, vae",
  ):
    methods.create(config, (28, 28, 1), 10)
  config = config_lib.load_recipe(f'{REPO}/configs/gan.py')
  for name in ('mlp_gen', 'mlp.MLPGen', 'mpl.MLPGenerator'):
    config.model.generator = name
    with pytest.raises(ValueError, match=f"unknown net '{name}': name a net as 'MODULE.NAME'"):
      methods.create(config, (28, 28, 1), 10)


@pytest.mark.parametrize('recipe', ['vae', 'ae'])
def test_autoencoder_step_and_figures(recipe):
  config = config_lib.load_recipe(f'{REPO}/configs/{recipe}.py')
  method = methods.create(config, (28, 28, 1), 10)
  batch = _batch((16, 28, 28, 1))
  state = jax.jit(method.init)(jax.random.PRNGKey(0), batch)
  step = jax.jit(method.train_step)
  losses = []
  for _ in range(5):
    state, metrics = step(state, jax.tree.map(lambda x: x[None], batch))
    losses.append(float(metrics['loss']))
  assert losses[-1] < losses[0]
  if recipe == 'ae':
    assert float(metrics['kl']) == 0.0
  else:
    np.testing.assert_allclose(
      metrics['loss'], metrics['reconstruction'] + metrics['kl'], rtol=1e-5
    )
  figures = method.figures(state, batch, jax.random.PRNGKey(1))
  assert figures['reconstructions'].shape == (2, 16, 28, 28, 1)
  assert figures['interpolation'].shape == (8, 10, 28, 28, 1)
  np.testing.assert_array_equal(figures['reconstructions'][0], batch['image'])
  samples = method.generate(state, jax.random.PRNGKey(2), 5)
  assert samples.shape == (5, 28, 28, 1) and 0 <= float(samples.min()) and float(samples.max()) <= 1


def test_divergence_message_names_step_quantity_and_checkpoint():
  health = {'first_bad_step': 40, 'bad_quantity': 0, 'skipped': 0}
  with pytest.raises(
    guard.DivergenceError,
    match='non-finite d_loss at step 40; the last good checkpoint is step 20 \\(kept\\)',
  ):
    guard.raise_if_diverged(health, ['g_loss', 'd_loss'], 20)
  with pytest.raises(guard.DivergenceError, match='non-finite parameters at step 3; no checkpoint'):
    guard.raise_if_diverged(
      {**health, 'first_bad_step': 3, 'bad_quantity': 2}, ['g_loss', 'd_loss'], None
    )
  guard.raise_if_diverged({**health, 'first_bad_step': -1}, ['d_loss'], 20)
