"""The family layer: the train-step blocks of ``gans.methods.steps``, the capability protocols, and the
trainer's check that the data holds the arrays a method reads."""

from __future__ import annotations

from conftest import REPO
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from gans import config_lib, methods, train
from gans.data import datasets
from gans.methods import base, steps
from gans.state import GameState, Player


def _scalar_player(value=0.0, lr=1.0):
  """A player whose one parameter ``w`` is a scalar, trained by SGD."""
  return Player.create(apply_fn=None, params={'w': jnp.float32(value)}, tx=optax.sgd(lr))


def test_update_player_takes_one_optimizer_step_and_keeps_the_pass_statistics():
  player = _scalar_player(3.0, lr=0.5)

  def loss_fn(params, target):
    loss = (params['w'] - target) ** 2
    return loss, ({'seen': target}, {'loss': loss})

  player, metrics = steps.update_player(player, loss_fn, 1.0)
  np.testing.assert_allclose(player.params['w'], 3.0 - 0.5 * 2 * (3.0 - 1.0))
  assert int(player.step) == 1 and float(player.batch_stats['seen']) == 1.0
  assert float(metrics['loss']) == 4.0


def test_update_players_differentiates_one_joint_loss():
  players = {'a': _scalar_player(1.0), 'b': _scalar_player(2.0)}

  def loss_fn(params):
    loss = params['a']['w'] * params['b']['w']
    return loss, ({'a': {}, 'b': {}}, {'loss': loss})

  players, _ = steps.update_players(players, loss_fn)
  assert float(players['a'].params['w']) == 1.0 - 2.0  # ∂(ab)/∂a = b.
  assert float(players['b'].params['w']) == 2.0 - 1.0


def test_critic_loop_runs_one_update_per_batch_with_its_folded_key():
  rng = jax.random.PRNGKey(4)
  batches = {'x': jnp.arange(3.0)[:, None] * jnp.ones((3, 2))}  # [k=3, B=2].

  def update_fn(player, batch, key):
    noise = jax.random.uniform(key)
    player = player.replace(params={'w': player.params['w'] + jnp.sum(batch['x']) + noise})
    return player, {'noise': noise}

  player, metrics = jax.jit(lambda p: steps.critic_loop(update_fn, p, batches, rng))(
    _scalar_player()
  )
  noises = [float(jax.random.uniform(jax.random.fold_in(rng, i))) for i in range(3)]
  np.testing.assert_allclose(player.params['w'], 2 * (0 + 1 + 2) + sum(noises), rtol=1e-6)
  np.testing.assert_allclose(metrics['noise'], np.mean(noises), rtol=1e-6)


@pytest.mark.parametrize('interval', [1, 4])
def test_lazy_regulariser_runs_on_steps_k_2k_and_only_there(interval):
  """``every(k, ...)`` inside a jitted step: counted over 10 steps (s = state.step + 1)."""

  def regularise(player):
    return player.replace(params={'w': player.params['w'] + 1}), {'penalty': jnp.float32(7.0)}

  @jax.jit
  def step(player, completed):
    return steps.every(interval, completed, regularise, player)

  player, ran_on, penalties = _scalar_player(), [], []
  for completed in range(10):
    before = float(player.params['w'])
    player, metrics = step(player, jnp.int32(completed))
    if float(player.params['w']) > before:
      ran_on.append(completed + 1)
    penalties.append(float(metrics['penalty']))
  assert ran_on == list(range(interval, 11, interval))
  assert penalties == [7.0 if s in ran_on else 0.0 for s in range(1, 11)]


def test_lazy_optimizer_scales_the_rate_and_betas_by_k_over_k_plus_1():
  optim = config_lib.optimizer('adam', lr=0.0025, b1=0.0, b2=0.99)
  lazy = steps.lazy_optimizer(optim, 16)
  c = 16 / 17
  np.testing.assert_allclose([lazy.lr, lazy.b1, lazy.b2], [0.0025 * c, 0.0, 0.99**c])
  assert lazy.name == 'adam' and optim.lr == 0.0025  # The player's own config is unchanged.


class _TinyBN(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool):
    return nn.BatchNorm(use_running_average=not train, momentum=0.5)(nn.Dense(3)(x))


def test_ema_averages_params_and_statistics_and_decodes_with_its_own():
  module = _TinyBN()
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2)) + 3.0
  player = base.init_player(module, optax.sgd(0.1), jax.random.PRNGKey(1), x)
  state = GameState.create(jax.random.PRNGKey(2), {'net': player}, ema_players=('net',))
  _, stats = base.apply_train(player, player.params, x)
  moved = player.replace(params=jax.tree.map(lambda p: p + 1.0, player.params), batch_stats=stats)
  state = steps.update_ema(state.replace(step=1, players={'net': moved}), decay=0.75)
  for got, old, new in (
    (state.ema['net'].params, player.params, moved.params),
    (state.ema['net'].batch_stats, player.batch_stats, moved.batch_stats),
  ):
    want = jax.tree.map(lambda o, n: 0.75 * o + 0.25 * n, old, new)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), got, want)
  ema_out = base.apply_eval(moved, x, variables=state.variables('net'))
  want = module.apply(
    {'params': state.ema['net'].params, 'batch_stats': state.ema['net'].batch_stats}, x, train=False
  )
  np.testing.assert_allclose(ema_out, want, rtol=1e-6)


CAPABLE = {
  'gan': {base.LatentSpace},
  'cgan': {base.LatentSpace, base.ClassConditional, base.Traversals},
  'infogan': {base.LatentSpace, base.UnsupervisedCodes, base.Traversals},
  'began': {base.LatentSpace},
  'biggan': {base.LatentSpace, base.ClassConditional, base.Traversals},
  'vae': {base.LatentSpace},
  'ae': {base.LatentSpace},
}


def _recipe_method(recipe):
  config = config_lib.load_recipe(f'{REPO}/configs/{recipe}.py')
  side = config.data.image_size or 28  # BigGAN's recipe resizes Fashion-MNIST to 32.
  return methods.create(config, (side, side, 1), 10)


@pytest.mark.parametrize('recipe', sorted(CAPABLE))
def test_each_family_has_exactly_its_capabilities(recipe):
  method = _recipe_method(recipe)
  got = {cap for cap in base.CAPABILITIES.values() if base.supports(method, cap)}
  assert got == CAPABLE[recipe]


def test_a_missing_capability_names_the_families_that_have_it():
  with pytest.raises(
    ValueError, match='method gan has no code traversals; these have: biggan, cgan, infogan'
  ):
    methods.require(_recipe_method('gan'), base.Traversals, 'gan')
  methods.require(_recipe_method('cgan'), base.Traversals, 'cgan')


def test_family_checks_run_in_config_validation():
  config = config_lib.load_recipe(f'{REPO}/configs/wgan_gp.py')
  config.loss.penalty_kind = 'three_sided'
  with pytest.raises(ValueError, match="unknown config.loss.penalty_kind='three_sided'"):
    train.config_guard.validate(config)
  config = config_lib.load_recipe(f'{REPO}/configs/infogan.py')
  config.loss.penalty_weight = 1.0
  with pytest.raises(ValueError, match='method infogan takes no gradient penalty'):
    methods.create(config, (28, 28, 1), 10)


def test_a_method_reading_an_array_the_data_lacks_is_stopped_naming_it():
  split = datasets.Split({'image': np.zeros((4, 28, 28, 1), np.uint8)}, num_classes=0)
  for recipe in ('cgan', 'biggan'):  # The class-conditional families.
    with pytest.raises(
      ValueError, match=r"reads the arrays image, label but data 'celeb_a'.*missing: label"
    ):
      train.method_arrays(split, _recipe_method(recipe), 'celeb_a')
  arrays = train.method_arrays(split, _recipe_method('gan'), 'celeb_a')
  assert set(arrays) == {'image'}


def test_only_uint8_arrays_are_scaled_as_pixels():
  batch = {
    'image': np.full((2, 1), 255, np.uint8),
    'label': np.array([3, 4], np.int32),
    'points': np.array([[0.5]], np.float32),
  }
  out = train.normalize(batch, (-1.0, 1.0))
  np.testing.assert_allclose(out['image'], 1.0)
  np.testing.assert_array_equal(out['label'], [3, 4])
  np.testing.assert_array_equal(out['points'], [[0.5]])


def test_family_config_groups_hold_every_field_the_family_reads():
  config = config_lib.load_recipe(f'{REPO}/configs/wgan_gp.py')
  assert set(config.method) == {'name', 'n_critic', 'reuse_fakes', 'ema_decay', 'ema_start', 'pack'}
  assert {'penalty_weight', 'penalty_kind', 'clip'} <= set(config.loss)
  assert isinstance(config.loss, ml_collections.ConfigDict)
  assert 'method' in config and not {'n_critic', 'stack'} & set(config.data)
