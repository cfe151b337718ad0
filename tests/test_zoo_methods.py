"""Step functions and nets of the GAN zoo (DCGAN-style losses, CGAN, InfoGAN, LSGAN, WGAN, WGAN-GP,
BEGAN), called directly on small random arrays."""

from __future__ import annotations

import itertools

from conftest import REPO
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import config_lib, losses, methods, nets, optim
from gans.methods import adversarial, infogan

TINY_MODELS = {
  'cgan': dict(generator_kwargs=dict(hidden=(16, 32)), discriminator_kwargs=dict(hidden=(32, 16))),
  'infogan': dict(
    generator_kwargs=dict(hidden=32), discriminator_kwargs=dict(hidden=32, q_hidden=8)
  ),
  'began': dict(
    generator_kwargs=dict(base_features=4),
    discriminator_kwargs=dict(hidden=8, filters=4, blocks=2),
  ),
  **{
    recipe: dict(generator_kwargs=dict(base_features=4), discriminator_kwargs=dict(base_features=4))
    for recipe in ('dcgan', 'lsgan', 'wgan', 'wgan_gp')
  },
}


def _method(recipe, image_shape=(28, 28, 1), dataset=None, **fields):
  config = config_lib.load_recipe(f'{REPO}/configs/{recipe}.py', dataset)
  for group, kwargs in TINY_MODELS[recipe].items():
    config.model[group].update(kwargs)
  for key, value in fields.items():
    group, name = key.split('.')
    config[group][name] = value
  return methods.create(config, image_shape, 10)


def _batch(method, batch=8, seed=0, image_shape=(28, 28, 1), stacked=False):
  """Random images in [-1, 1] and labels: name -> [B, ...], or a step's [k, B, ...] when ``stacked``."""
  stack = (method.batches_per_step,) if stacked else ()
  rng_image, rng_label = jax.random.split(jax.random.PRNGKey(seed))
  return {
    'image': jax.random.uniform(rng_image, (*stack, batch, *image_shape), minval=-1.0, maxval=1.0),
    'label': jax.random.randint(rng_label, (*stack, batch), 0, 10),
  }


def _train(method, steps=2, **kwargs):
  """Trains ``steps`` steps on one batch; returns (state, metrics per step, state.carry per step)."""
  batch = _batch(method, stacked=True, **kwargs)
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  step = jax.jit(method.train_step)
  history, carry = [], [state.carry]
  for _ in range(steps):
    state, metrics = step(state, batch)
    history.append(metrics)
    carry.append(state.carry)
  return state, history, carry


# BEGAN with a large λ_k, so that k_t would leave [0, 1] without the clipping.
RECIPE_FIELDS = {'began': {'loss.lambda_k': 5.0, 'loss.gamma': 0.5}}


@pytest.fixture(scope='module')
def trained():
  """recipe -> (method, state, metrics, aux) after 3 steps of its tiny version, trained once."""
  cache = {}

  def get(recipe):
    if recipe not in cache:
      method = _method(recipe, **RECIPE_FIELDS.get(recipe, {}))
      cache[recipe] = (method, *_train(method, steps=3))
    return cache[recipe]

  return get


@pytest.mark.parametrize(
  'recipe, n_critic, expected_metrics',
  [
    ('cgan', 1, {'d_loss', 'g_loss', 'd_real', 'd_fake'}),
    ('lsgan', 1, {'d_loss', 'g_loss', 'd_real', 'd_fake'}),
    ('wgan', 5, {'d_loss', 'g_loss', 'd_real', 'd_fake'}),
    ('wgan_gp', 5, {'d_loss', 'g_loss', 'd_real', 'd_fake', 'gradient_penalty'}),
    (
      'infogan',
      1,
      {'d_loss', 'g_loss', 'd_real', 'd_fake', 'info_categorical', 'info_continuous'}
      | {'code_accuracy_fake'},
    ),
    ('began', 1, {'d_loss', 'g_loss', 'real_ae_loss', 'fake_ae_loss', 'm_global', 'k'}),
  ],
)
def test_step_updates_and_metrics(trained, recipe, n_critic, expected_metrics):
  method, state, history, _ = trained(recipe)
  assert method.batches_per_step == n_critic
  assert int(state.players['g'].step) == 3 and int(state.players['d'].step) == 3 * n_critic
  assert set(history[-1]) == expected_metrics  # The GP term only where the recipe asks for it.
  assert all(np.isfinite(float(v)) for v in history[-1].values())


def test_wgan_clipping_keeps_weights_in_range_and_wgan_gp_does_not_clip(trained):
  state = trained('wgan')[1]
  largest = max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.players['d'].params))
  assert largest <= 0.01 + 1e-7
  state = trained('wgan_gp')[1]
  assert max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.players['d'].params)) > 0.01


def test_wgan_critic_starts_clipped():
  """The reference clips before every critic update, the first included: the initial weights are
  clipped, so no update is computed with an unclipped critic."""
  method = _method('wgan')
  state = jax.jit(method.init)(jax.random.PRNGKey(0), _batch(method))
  largest = max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.players['d'].params))
  assert largest == pytest.approx(0.01)  # The DCGAN init N(0, 0.02) has weights beyond c.


def test_wgan_rmsprop_is_pytorchs():
  """Two RMSProp updates of the WGAN recipe, by hand in PyTorch's form (the reference code's):
  v <- 0.99 v + 0.01 g², Δ = -lr · g / (√v + ε), v₀ = 0."""
  config = config_lib.load_recipe(f'{REPO}/configs/wgan.py')
  tx = optim.make_optimizer(config.optim.d)
  params = jnp.zeros(3)
  opt_state = tx.init(params)
  grads = [jnp.array([1e-3, -2.0, 30.0]), jnp.array([2e-3, 1.0, -10.0])]
  v = np.zeros(3)
  for g in grads:
    updates, opt_state = tx.update(g, opt_state, params)
    v = 0.99 * v + 0.01 * np.asarray(g, np.float64) ** 2
    expected = -5e-5 * np.asarray(g, np.float64) / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(updates, expected, rtol=1e-5)


def test_wasserstein_metrics_are_raw_critic_means():
  method = _method('wgan_gp')
  scores = jnp.array([-3.0, 5.0])
  metrics = adversarial.score_metrics(method.loss, scores, 2 * scores)
  assert float(metrics['d_real']) == 1.0 and float(metrics['d_fake']) == 2.0
  method = _method('cgan')  # Logit loss: probabilities.
  np.testing.assert_allclose(
    adversarial.score_metrics(method.loss, scores, scores)['d_real'],
    0.5 * (0.0474 + 0.9933),
    atol=1e-3,
  )


@pytest.mark.parametrize('penalty', ['two_sided', 'one_sided', 'r1', 'dragan'])
def test_penalty_kind_selects_the_library_penalty(penalty):
  """``loss.penalty_kind`` picks the gans.losses penalty of D's scores, on the same points and noise,
  and the D loss adds it times ``loss.penalty_weight`` = λ, or for R1 times γ/2 with the field = γ."""
  method = _method('wgan_gp', **{'loss.penalty_kind': penalty, 'method.n_critic': 1})
  batch = _batch(method)
  state = jax.jit(method.init)(jax.random.PRNGKey(0), batch)
  d = state.players['d']
  rng = jax.random.PRNGKey(3)
  real, fake = batch['image'], -batch['image']
  loss, (_, metrics) = adversarial.critic_loss(
    method.loss, method.config.loss, d, d.params, (real,), (fake,), rng
  )
  penalty_value = metrics['gradient_penalty']
  coefficient = 10.0 / 2 if penalty == 'r1' else 10.0  # Mescheder et al.'s γ/2 · R1 with γ = 10.
  np.testing.assert_allclose(loss, metrics['d_loss'] + coefficient * penalty_value, rtol=1e-5)

  def critic_fn(x):
    return d.apply_fn({'params': d.params}, x, train=True)

  if penalty in ('two_sided', 'one_sided'):
    expected = losses.gradient_penalty(
      critic_fn, batch['image'], -batch['image'], rng, one_sided=penalty == 'one_sided'
    )
  elif penalty == 'r1':
    expected = losses.r1_penalty(critic_fn, batch['image'])
  else:
    expected = losses.dragan_penalty(critic_fn, batch['image'], rng)
  np.testing.assert_allclose(penalty_value, expected, rtol=1e-5)
  # Norms at initialisation are below 1, so only the one-sided penalty is 0 here.
  assert (float(expected) > 0) == (penalty != 'one_sided')


def test_a_gradient_penalty_on_a_batchnorm_critic_is_refused():
  method = _method('dcgan', **{'loss.penalty_weight': 10.0})  # DCGAN's D has BatchNorm.
  with pytest.raises(ValueError, match='discriminator_kwargs.batch_norm=False'):
    method.init(jax.random.PRNGKey(0), _batch(method))
  method = _method('wgan_gp')  # The same nets without BatchNorm in D, penalty 10: accepted.
  method.init(jax.random.PRNGKey(0), _batch(method))


@pytest.mark.parametrize('coding, abc', [('0-1', (0.0, 1.0, 1.0)), ('-1,1,0', (-1.0, 1.0, 0.0))])
def test_lsgan_targets_are_configurable(coding, abc):
  a, b, c = abc
  method = _method('lsgan', **{'loss.a': a, 'loss.b': b, 'loss.c': c})
  real, fake = jnp.array([0.3, 0.9]), jnp.array([-0.5, 0.2])
  np.testing.assert_allclose(
    method.loss.d_loss(real, fake),
    0.5 * jnp.mean((real - b) ** 2) + 0.5 * jnp.mean((fake - a) ** 2),
    rtol=1e-6,
  )
  np.testing.assert_allclose(method.loss.g_loss(fake), 0.5 * jnp.mean((fake - c) ** 2), rtol=1e-6)


@pytest.mark.parametrize('name', ['hinge', 'relativistic'])
def test_other_adversarial_losses_train(name):
  method = _method('lsgan', **{'loss.name': name})
  assert method.loss.uses_real_in_g == (name == 'relativistic')
  _, history, _ = _train(method)
  assert np.isfinite(float(history[-1]['g_loss']))


def test_began_k_follows_the_controller_and_stays_in_unit_interval(trained):
  _, _, history, carry = trained('began')
  for before, metrics, after in zip(carry, history, carry[1:]):
    expected = np.clip(
      before['k'] + 5.0 * (0.5 * metrics['real_ae_loss'] - metrics['fake_ae_loss']), 0.0, 1.0
    )
    np.testing.assert_allclose(after['k'], expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(metrics['k'], after['k'])
  ks = [float(a['k']) for a in carry[1:]]
  assert all(0.0 <= k <= 1.0 for k in ks) and max(ks) > 0


def test_infogan_information_term_enters_both_players_losses():
  """L_G and L_D,Q each add λ·(CE(Q_cat, c) + λ_cont·NLL(Q_cont, c_cont)) on the fakes."""
  method = _method('infogan', **{'loss.info_weight': 2.0, 'loss.continuous_weight': 0.5})
  latents = method.latents(jax.random.PRNGKey(0), 4)
  rng = jax.random.PRNGKey(1)
  fake_out = (
    jax.random.normal(rng, (4,)),
    jax.random.normal(jax.random.fold_in(rng, 1), (4, 10)),
    jax.random.normal(jax.random.fold_in(rng, 2), (4, 2)),
  )
  info = losses.infogan_categorical_loss(
    fake_out[1], latents['category']
  ) + 0.5 * losses.infogan_continuous_loss(fake_out[2], latents['continuous'])
  weighted, _ = method.info_loss(fake_out, latents)
  np.testing.assert_allclose(weighted, 2.0 * info, rtol=1e-6)
  d_loss, d_metrics = method._critic_terms(fake_out, fake_out, latents)
  np.testing.assert_allclose(d_loss, d_metrics['d_loss'] + 2.0 * info, rtol=1e-6)
  # In the step, both players' updates move with λ (same init, data and noise).
  updates = {}
  for weight in (0.0, 2.0):
    method = _method('infogan', **{'loss.info_weight': weight})
    state, _, _ = _train(method, steps=1)
    updates[weight] = {name: player.params for name, player in state.players.items()}
  for name in ('g', 'd'):
    moved = jax.tree.map(
      lambda a, b: float(jnp.abs(a - b).max()), updates[0.0][name], updates[2.0][name]
    )
    assert max(jax.tree.leaves(moved)) > 0, name


def test_cgan_discriminator_and_generator_see_the_label():
  method = _method('cgan')
  batch = _batch(method)
  state = jax.jit(method.init)(jax.random.PRNGKey(0), batch)
  images = batch['image']
  d = state.players['d']
  zeros, ones = jnp.zeros(8, jnp.int32), jnp.ones(8, jnp.int32)
  assert not np.allclose(
    d.apply_fn(d.variables, images, zeros, train=False),
    d.apply_fn(d.variables, images, ones, train=False),
  )
  rng = jax.random.PRNGKey(1)
  assert not np.allclose(
    method.generate(state, rng, 4, label=zeros[:4]), method.generate(state, rng, 4, label=ones[:4])
  )
  images, labels = method.class_samples(state, rng, 12)
  assert images.shape == (12, 28, 28, 1)
  np.testing.assert_array_equal(labels, np.arange(12) % 10)
  assert method.traversals(state, rng, cols=3)['classes'].shape == (10, 3, 28, 28, 1)


def test_cgan_projection_discriminator_trains():
  method = _method('cgan', **{'model.projection': True})
  state, _, _ = _train(method)
  assert 'embed' in state.players['d'].params
  assert state.players['d'].params['embed']['embedding'].shape == (10, 16)  # F = trunk width.


def test_best_matching_accuracy_is_the_best_permutation():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 4, 200)
  permutation = np.array([2, 0, 3, 1])
  assert infogan.best_matching_accuracy(permutation[labels], labels, 4) == 1.0
  predictions = rng.integers(0, 4, 200)
  brute = max(
    np.mean(np.asarray(p)[predictions] == labels) for p in itertools.permutations(range(4))
  )
  assert infogan.best_matching_accuracy(predictions, labels, 4) == pytest.approx(brute)
  # The bijection itself is read back: codes 0..3 of permutation[labels] are the classes argsort gives.
  np.testing.assert_array_equal(
    infogan.best_matching(permutation[labels], labels, 4), np.argsort(permutation)
  )


def test_infogan_scores_q_with_the_scored_batch_statistics(trained):
  """Q trains on fakes normalised by their own BatchNorm statistics, so its codes are read with the
  statistics of the scored batch, never with D's running averages (a mix of real and fake passes)."""
  method, state, _, _ = trained('infogan')
  images = _batch(method, batch=16, seed=3)['image']
  d = state.players['d']
  variables = {'params': d.params, 'batch_stats': d.batch_stats}
  (_, code_logits, _), _ = d.apply_fn(variables, images, train=True, mutable=['batch_stats'])
  expected = np.argmax(code_logits, axis=-1)
  np.testing.assert_array_equal(method.predict_codes(state, images), expected)
  shifted = d.replace(batch_stats=jax.tree.map(lambda s: s + 3.0, d.batch_stats))
  moved = state.replace(players={**state.players, 'd': shifted})
  np.testing.assert_array_equal(method.predict_codes(moved, images), expected)


@pytest.mark.parametrize('prior', ['uniform', 'normal'])
def test_infogan_noise_prior_is_a_config_field(prior):
  """z ~ U(-1, 1) (the recipe's default, the authors' MNIST code) or N(0, I); the codes' priors stay."""
  config = config_lib.load_recipe(f'{REPO}/configs/infogan.py')
  assert config.model.z_prior == 'uniform'
  method = _method('infogan', **{'model.z_prior': prior})
  latents = method.latents(jax.random.PRNGKey(0), 4000)
  z = np.asarray(latents['z'])
  assert z.shape == (4000, 62)
  expected_var = {'uniform': 1 / 3, 'normal': 1.0}[prior]
  assert abs(z.mean()) < 0.01 and abs(z.var() - expected_var) < 0.01
  assert (np.abs(z).max() <= 1.0) == (prior == 'uniform')
  assert np.abs(np.asarray(latents['continuous'])).max() <= 1.0
  config.model.z_prior = 'laplace'
  with pytest.raises(ValueError, match="config.model.z_prior='laplace'.*uniform, normal"):
    methods.check_config(config)


def test_infogan_code_accuracy_and_traversals(trained):
  method, state, _, _ = trained('infogan')
  images = _batch(method, batch=20)['image']
  accuracy = method.code_accuracy(state, images, np.arange(20) % 10, batch_size=8)
  assert 0.1 <= accuracy <= 1.0  # At least the best matching of one class.
  figures = method.traversals(state, jax.random.PRNGKey(0), cols=5)
  assert set(figures) == {'code_0', 'code_1'}
  assert figures['code_0'].shape == (10, 5, 28, 28, 1)
  # Rows differ by category: the categorical code reaches G.
  assert not np.allclose(figures['code_0'][0], figures['code_0'][1])


@pytest.mark.parametrize(
  'name, kwargs, inputs, expected',
  [
    (
      'infogan.InfoGANGenerator',
      dict(image_shape=(28, 28, 1), hidden=16),
      [(2, 74)],
      (2, 28, 28, 1),
    ),
    (
      'infogan.InfoGANGenerator',
      dict(image_shape=(32, 32, 3), hidden=16),
      [(2, 74)],
      (2, 32, 32, 3),
    ),
    ('began.BEGANDecoder', dict(image_shape=(28, 28, 1), filters=4), [(2, 8)], (2, 28, 28, 1)),
    ('began.BEGANDecoder', dict(image_shape=(32, 32, 3), filters=4), [(2, 8)], (2, 32, 32, 3)),
    (
      'began.BEGANDecoder',
      dict(image_shape=(64, 64, 3), filters=4, blocks=3),
      [(2, 8)],
      (2, 64, 64, 3),
    ),
    ('began.BEGANAutoencoder', dict(hidden=8, filters=4), [(2, 28, 28, 1)], (2, 28, 28, 1)),
    (
      'began.BEGANAutoencoder',
      dict(hidden=8, filters=4, blocks=3),
      [(2, 64, 64, 3)],
      (2, 64, 64, 3),
    ),
    ('mlp.MLPTrunk', dict(hidden=(8, 6)), [(2, 32, 32, 3)], (2, 6)),
  ],
)
def test_net_shapes(name, kwargs, inputs, expected):
  net = nets.build(name, **kwargs)
  arrays = [jnp.zeros(shape) for shape in inputs]
  variables = net.init(jax.random.PRNGKey(0), *arrays, train=False)
  assert net.apply(variables, *arrays, train=False).shape == expected


@pytest.mark.parametrize('image_shape', [(28, 28, 1), (32, 32, 3)])
def test_infogan_discriminator_heads(image_shape):
  net = nets.build(
    'infogan.InfoGANDiscriminator', hidden=16, q_hidden=8, num_categories=10, num_continuous=2
  )
  images = jnp.zeros((3, *image_shape))
  logits, code_logits, code_means = net.apply(
    net.init(jax.random.PRNGKey(0), images, train=False), images, train=False
  )
  assert (logits.shape, code_logits.shape, code_means.shape) == ((3,), (3, 10), (3, 2))


@pytest.mark.parametrize(
  'recipe, dataset, image_shape',
  [
    ('began', 'cifar10', (32, 32, 3)),
    ('cgan', 'cifar10', (32, 32, 3)),
    ('infogan', 'cifar10', (32, 32, 3)),
    ('wgan_gp', 'cifar10', (32, 32, 3)),
    ('dcgan', 'celeba64', (64, 64, 3)),
  ],
)
def test_recipe_on_another_dataset_trains_a_step_at_its_size(recipe, dataset, image_shape):
  """``configs/<recipe>.py:<dataset>`` (no data offline): nets of the dataset's size train one step on
  random arrays and sample in [-1, 1]."""
  method = _method(recipe, image_shape=image_shape, dataset=dataset)
  assert method.config.data.name == {'cifar10': 'cifar10', 'celeba64': 'celeb_a'}[dataset]
  state, history, _ = _train(method, steps=1, image_shape=image_shape)
  assert all(np.isfinite(float(v)) for v in history[-1].values())
  samples = jax.jit(method.generate, static_argnums=2)(state, jax.random.PRNGKey(2), 3)
  assert samples.shape == (3, *image_shape)


def test_unsupported_dataset_is_named():
  with pytest.raises(ValueError, match='this recipe supports: fashion_mnist, mnist, cifar10'):
    config_lib.load_recipe(f'{REPO}/configs/infogan.py', 'celeba64')
