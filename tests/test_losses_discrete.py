"""The theorems behind the adversarial, f-GAN and InfoGAN losses, on discrete distributions.

Expectations over a finite support are computed exactly by the library losses themselves,
with the probabilities passed as `weights`; references come from numpy definitions.
"""

import functools
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import losses

_SETTINGS = settings(max_examples=25, deadline=None, database=None)
_LOG4 = math.log(4.0)
_SUPPORT = 5  # one size keeps eager op caches warm; hypothesis varies the masses


@st.composite
def distributions(draw):
  """A probability vector with every mass >= 0.05 / _SUPPORT."""
  masses = np.asarray(draw(st.lists(st.floats(0.05, 1.0), min_size=_SUPPORT, max_size=_SUPPORT)))
  return masses / masses.sum()


def distribution_pairs():
  return st.tuples(distributions(), distributions())


def _kl(p, q):
  return float(np.sum(p * np.log(p / q)))


def _jsd(p, q):
  m = 0.5 * (p + q)
  return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


@jax.jit
def _value_function(d_logits, p_data, p_g):
  """V(D, G) = E_pdata[log D] + E_pg[log(1 - D)], from the library's D loss."""
  return -losses.minimax_discriminator_loss(d_logits, d_logits, weights=(p_data, p_g))


_value_gradient = jax.jit(jax.grad(_value_function))


def _optimal_logits(p_data, p_g):
  """logit of D*(x) = p_data / (p_data + p_g)."""
  return np.log(p_data) - np.log(p_g)


# Goodfellow et al. 2014, Proposition 1 and Theorem 1.


@_SETTINGS
@given(distribution_pairs(), st.integers(0, 2**31 - 1))
def test_optimal_discriminator_maximises_value_function(pair, seed):
  p_data, p_g = pair
  best = _optimal_logits(p_data, p_g)
  np.testing.assert_allclose(_value_gradient(best, p_data, p_g), 0.0, atol=1e-6)
  other = best + np.random.default_rng(seed).normal(size=best.shape)
  assert _value_function(other, p_data, p_g) <= _value_function(best, p_data, p_g) + 1e-6


@_SETTINGS
@given(distribution_pairs())
def test_value_at_optimal_discriminator_is_jensen_shannon(pair):
  p_data, p_g = pair
  value = _value_function(_optimal_logits(p_data, p_g), p_data, p_g)
  np.testing.assert_allclose(value, -_LOG4 + 2.0 * _jsd(p_data, p_g), rtol=1e-5, atol=1e-6)
  assert value >= -_LOG4 - 1e-6


@_SETTINGS
@given(distributions())
def test_global_minimum_is_minus_log4_with_half_discriminator(p_data):
  half = np.zeros(p_data.shape)  # D = 1/2
  np.testing.assert_allclose(_value_function(half, p_data, p_data), -_LOG4, rtol=1e-6)
  np.testing.assert_allclose(_value_gradient(half, p_data, p_data), 0.0, atol=1e-7)


# Non-saturating vs minimax generator.


@functools.partial(jax.jit, static_argnums=0)
def _generator_gradient(generator_loss, theta, p_data):
  """d/dtheta of E_{p_g}[loss(D*)] with p_g = softmax(theta) and D* held fixed."""

  def objective(theta):
    p_g = jax.nn.softmax(theta)
    d_logits = jax.lax.stop_gradient(jnp.log(p_data) - jnp.log(p_g))
    return generator_loss(d_logits, weights=p_g)

  return jax.grad(objective)(theta)


@_SETTINGS
@given(distribution_pairs())
def test_generator_losses_share_the_stationary_point(pair):
  p_data, p_g = pair
  assume(np.abs(p_data - p_g).max() > 0.05)
  at_data, elsewhere = np.log(p_data), np.log(p_g)
  for loss in (losses.minimax_generator_loss, losses.nonsaturating_generator_loss):
    np.testing.assert_allclose(_generator_gradient(loss, at_data, p_data), 0.0, atol=1e-6)
    assert np.linalg.norm(_generator_gradient(loss, elsewhere, p_data)) > 1e-4


_logit_gradients = jax.jit(
  lambda logits: (
    jax.grad(losses.minimax_generator_loss)(logits),
    jax.grad(losses.nonsaturating_generator_loss)(logits),
  )
)


@_SETTINGS
@given(st.floats(-40.0, -5.0))
def test_saturating_gradient_vanishes_when_discriminator_rejects(logit):
  saturating, non_saturating = (g[0] for g in _logit_gradients(np.array([logit])))
  d_fake = 1 / (1 + math.exp(-logit))
  assert abs(saturating) < 1e-2 and abs(non_saturating) > 0.99
  np.testing.assert_allclose(saturating / non_saturating, d_fake / (1.0 - d_fake), rtol=1e-4)


# Mao et al. 2017 (LSGAN), Proposition 1 and Theorem 1; Lim & Ye 2017 (hinge).


@jax.jit
def _least_squares_loss_and_gradient(d, p_data, p_g, a, b):
  loss = lambda d: losses.least_squares_discriminator_loss(d, d, a=a, b=b, weights=(p_data, p_g))
  return jax.value_and_grad(loss)(d)


@_SETTINGS
@given(distribution_pairs(), st.floats(-2.0, 0.5), st.floats(0.6, 2.0))
def test_least_squares_optimal_discriminator(pair, a, b):
  p_data, p_g = pair
  loss = lambda d: _least_squares_loss_and_gradient(d, p_data, p_g, a, b)
  best = (b * p_data + a * p_g) / (p_data + p_g)
  best_loss, gradient = loss(best)
  np.testing.assert_allclose(gradient, 0.0, atol=1e-6)
  np.testing.assert_allclose(
    best_loss, 0.5 * (b - a) ** 2 * np.sum(p_data * p_g / (p_data + p_g)), rtol=1e-5
  )
  assert best_loss <= loss(best + 0.1)[0] and best_loss <= loss(best - 0.1)[0]


@_SETTINGS
@given(distribution_pairs())
def test_least_squares_generator_criterion_is_pearson_chi2(pair):
  p_data, p_g = pair
  best = (p_data - p_g) / (p_data + p_g)  # a = -1, b = 1
  criterion = losses.least_squares_generator_loss(
    best, c=0.0, weights=p_data
  ) + losses.least_squares_generator_loss(best, c=0.0, weights=p_g)
  chi2 = np.sum((p_data - p_g) ** 2 / (p_data + p_g))
  np.testing.assert_allclose(2.0 * criterion, chi2, rtol=1e-5, atol=1e-7)


@_SETTINGS
@given(distribution_pairs(), st.integers(0, 2**31 - 1))
def test_hinge_minimum_is_total_variation(pair, seed):
  p_data, p_g = pair
  loss = lambda d: losses.hinge_discriminator_loss(d, d, weights=(p_data, p_g))
  best = np.sign(p_data - p_g)
  total_variation = 0.5 * np.abs(p_data - p_g).sum()
  np.testing.assert_allclose(loss(best), 2.0 * (1.0 - total_variation), rtol=1e-5)
  assert loss(best) <= loss(2.0 * np.random.default_rng(seed).normal(size=best.shape)) + 1e-6


# f-GAN (Nowozin et al. 2016).

_INVERSE_ACTIVATIONS = {
  'kl': lambda t: t,
  'reverse_kl': lambda t: -np.log(-t),
  'pearson': lambda t: t,
  'neyman': lambda t: -np.log1p(-t),
  'squared_hellinger': lambda t: -np.log1p(-t),
  'jensen_shannon': lambda t: -np.log(2.0 * np.exp(-t) - 1.0),
  'gan': lambda t: -np.log(np.expm1(-t)),
}
_DIVERGENCES = sorted(losses.F_DIVERGENCES)


@functools.partial(jax.jit, static_argnums=0)
def _generator_derivative(divergence, u):
  """f'(u) elementwise, by autodiff of the library's generator f."""
  return jax.vmap(jax.grad(losses.F_DIVERGENCES[divergence].generator))(u)


@functools.partial(jax.jit, static_argnums=0)
def _fenchel_young_sides(divergence, u):
  """(f*(f'(u)), u f'(u) - f(u)) for a scalar u."""
  row = losses.F_DIVERGENCES[divergence]
  slope = jax.grad(row.generator)(u)
  return row.conjugate(slope), u * slope - row.generator(u)


def test_every_divergence_has_an_inverse_activation_here():
  assert sorted(_INVERSE_ACTIVATIONS) == _DIVERGENCES


@functools.partial(jax.jit, static_argnums=3)
def _variational_bound(v, p, q, divergence):
  return -losses.f_gan_discriminator_loss(v, v, divergence=divergence, weights=(p, q))


@pytest.mark.parametrize('divergence', _DIVERGENCES)
@_SETTINGS
@given(pair=distribution_pairs(), seed=st.integers(0, 2**31 - 1))
def test_variational_bound_is_below_divergence(divergence, pair, seed):
  p, q = pair
  v = np.random.default_rng(seed).uniform(-3.0, 3.0, size=p.shape)
  bound = _variational_bound(v, p, q, divergence)
  assert bound <= losses.f_divergence(p, q, divergence=divergence) + 1e-5


@pytest.mark.parametrize('divergence', _DIVERGENCES)
@_SETTINGS
@given(pair=distribution_pairs())
def test_variational_bound_is_tight_at_optimal_critic(divergence, pair):
  p, q = pair
  t_star = np.asarray(_generator_derivative(divergence, p / q), np.float64)
  v_star = _INVERSE_ACTIVATIONS[divergence](t_star)
  np.testing.assert_allclose(
    _variational_bound(v_star, p, q, divergence),
    losses.f_divergence(p, q, divergence=divergence),
    rtol=1e-4,
    atol=1e-5,
  )


@pytest.mark.parametrize('divergence', _DIVERGENCES)
@_SETTINGS
@given(u=st.floats(0.05, 20.0))
def test_fenchel_young_equality(divergence, u):
  np.testing.assert_allclose(*_fenchel_young_sides(divergence, np.float32(u)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('divergence', _DIVERGENCES)
def test_stable_conjugate_matches_composition(divergence):
  row = losses.F_DIVERGENCES[divergence]
  v = jnp.linspace(-4.0, 4.0, 33)
  composed = row.conjugate(row.activation(v))
  assert np.all(np.isfinite(composed)), 'g_f must map into the domain of f*'
  np.testing.assert_allclose(row.conjugate_of_activation(v), composed, rtol=1e-4, atol=1e-5)


@_SETTINGS
@given(distribution_pairs())
def test_f_divergences_match_their_closed_forms(pair):
  p, q = pair
  expected = {
    'kl': _kl(p, q),
    'reverse_kl': _kl(q, p),
    'pearson': np.sum((p - q) ** 2 / q),
    'neyman': np.sum((q - p) ** 2 / p),
    'squared_hellinger': np.sum((np.sqrt(p) - np.sqrt(q)) ** 2),
    'jensen_shannon': 2.0 * _jsd(p, q),
    'gan': 2.0 * _jsd(p, q) - _LOG4,
  }
  for divergence in _DIVERGENCES:
    np.testing.assert_allclose(
      losses.f_divergence(p, q, divergence=divergence),
      expected[divergence],
      rtol=1e-4,
      atol=1e-6,
      err_msg=divergence,
    )
    np.testing.assert_allclose(
      losses.f_divergence(p, p, divergence=divergence),
      0.0 if divergence != 'gan' else -_LOG4,
      atol=1e-5,
    )


def test_gan_divergence_reproduces_the_minimax_game():
  real, fake = jnp.array([[-2.0, 0.5], [3.0, 1.0]]), jnp.array([[1.5, -0.5], [0.0, -4.0]])
  np.testing.assert_allclose(
    losses.f_gan_discriminator_loss(real, fake, divergence='gan'),
    losses.minimax_discriminator_loss(real, fake),
    rtol=1e-6,
  )
  np.testing.assert_allclose(
    losses.f_gan_generator_loss(fake, divergence='gan'),
    losses.nonsaturating_generator_loss(fake),
    rtol=1e-6,
  )
  np.testing.assert_allclose(
    losses.f_gan_generator_loss(fake, divergence='gan', saturating=True),
    losses.minimax_generator_loss(fake),
    rtol=1e-6,
  )


# InfoGAN (Chen et al. 2016): L_I <= I(c; x) <= H(c).


def _code_batch(prior, likelihood):
  """Every (code, observation) pair of a discrete joint, with its probability."""
  num_codes, num_obs = likelihood.shape
  codes, obs = np.meshgrid(np.arange(num_codes), np.arange(num_obs), indexing='ij')
  joint = prior[:, None] * likelihood
  return codes.ravel(), obs.ravel(), joint.ravel()


@jax.jit
def _mutual_information_bound(code_logits, codes, prior, weights):
  return losses.categorical_mutual_information_bound(
    code_logits, codes, prior_probs=prior, weights=weights
  )


@_SETTINGS
@given(prior=distributions(), seed=st.integers(0, 2**31 - 1))
def test_mutual_information_bound_is_below_entropy(prior, seed):
  rng = np.random.default_rng(seed)
  likelihood = rng.dirichlet(np.ones(3), size=prior.size)  # p(x | c), 3 observations
  codes, obs, joint = _code_batch(prior, likelihood)
  marginal = prior @ likelihood
  posterior = (prior[:, None] * likelihood / marginal).T  # [x, c]
  entropy = -np.sum(prior * np.log(prior))
  mutual_information = np.sum(joint * np.log(likelihood.ravel() / marginal[obs]))

  def bound(q_logits):
    return _mutual_information_bound(q_logits[obs], codes, prior, joint)

  random_q = rng.normal(size=posterior.shape)
  assert bound(random_q) <= mutual_information + 1e-5
  np.testing.assert_allclose(bound(np.log(posterior)), mutual_information, rtol=1e-4, atol=1e-5)
  assert mutual_information <= entropy + 1e-9


@pytest.mark.parametrize('num_codes', [2, 10])
def test_perfect_q_on_uniform_code_attains_log_k(num_codes):
  codes = np.arange(num_codes)
  perfect = 1e4 * np.eye(num_codes)
  np.testing.assert_allclose(
    losses.categorical_mutual_information_bound(perfect, codes), math.log(num_codes), rtol=1e-6
  )
  uninformed = np.zeros((num_codes, num_codes))
  np.testing.assert_allclose(
    losses.categorical_mutual_information_bound(uninformed, codes), 0.0, atol=1e-6
  )
