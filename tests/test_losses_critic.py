"""Wasserstein critics and the gradient penalties: duality, exact values, positivity."""

from hypothesis import example, given, settings
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np

from gans import losses

_SETTINGS = settings(max_examples=25, deadline=None, database=None)
_IMAGE_SHAPE = (4, 4, 3)


def _optimal_critic_1d(real, fake):
  """The 1-Lipschitz f maximising E_real f - E_fake f: f' = sign(F_fake - F_real)."""
  grid = np.sort(np.concatenate([real, fake]))
  cdf_real = np.searchsorted(np.sort(real), grid[:-1], side='right') / real.size
  cdf_fake = np.searchsorted(np.sort(fake), grid[:-1], side='right') / fake.size
  values = np.concatenate([[0.0], np.cumsum(np.sign(cdf_fake - cdf_real) * np.diff(grid))])
  return lambda t: np.interp(t, grid, values)


@_SETTINGS
@given(
  st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=8, max_size=8),
  st.floats(-10, 10),
)
def test_wasserstein_dual_at_optimal_critic_is_w1(samples, shift):
  real, fake = (np.asarray(column) for column in zip(*samples))
  w1 = np.mean(np.abs(np.sort(real) - np.sort(fake)))
  critic = _optimal_critic_1d(real, fake)
  dual = -losses.wasserstein_discriminator_loss(critic(real), critic(fake))
  np.testing.assert_allclose(dual, w1, rtol=1e-5, atol=1e-5)
  for lipschitz_1 in (np.sin, lambda t: np.abs(t - shift), lambda t: -t):
    assert -losses.wasserstein_discriminator_loss(lipschitz_1(real), lipschitz_1(fake)) <= w1 + 1e-5


def _linear_critic(weight):
  return lambda x: jnp.sum(x * weight, axis=(1, 2, 3)) + 0.3


def _batch(seed, batch=6):
  return np.random.default_rng(seed).normal(size=(batch,) + _IMAGE_SHAPE).astype(np.float32)


@jax.jit
def _all_penalties(critic_params, real, fake, rng):
  """Every penalty of the critic built by `_critic` (traced once for all examples)."""
  critic = _critic(critic_params)
  return {
    'gp': losses.gradient_penalty(critic, real, fake, rng),
    'gp_one_sided': losses.gradient_penalty(critic, real, fake, rng, one_sided=True),
    'dragan': losses.dragan_penalty(critic, real, rng),
    'r1': losses.r1_penalty(critic, real),
    'r2': losses.r2_penalty(critic, fake),
  }


def _critic(params):
  """tanh MLP plus a linear skip path; zero MLP weights leave the linear critic."""
  hidden, out, linear = params
  return lambda x: jnp.tanh(x.reshape(x.shape[0], -1) @ hidden) @ out + _linear_critic(linear)(x)


@_SETTINGS
@given(st.integers(0, 2**31 - 1), st.floats(0.1, 3.0))
@example(0, 1.0)  # a unit-norm linear critic has zero two-sided penalty
def test_linear_critic_penalties_are_exact(seed, norm):
  direction = _batch(seed + 2, batch=1)[0]
  linear_only = (
    np.zeros((np.prod(_IMAGE_SHAPE), 8)),
    np.zeros(8),
    norm * direction / np.linalg.norm(direction),
  )
  penalties = _all_penalties(linear_only, _batch(seed), _batch(seed + 1), jax.random.key(seed))
  expected = {
    'gp': (norm - 1) ** 2,
    'gp_one_sided': max(norm - 1, 0) ** 2,
    'dragan': (norm - 1) ** 2,
    'r1': norm**2,
    'r2': norm**2,
  }
  for name, value in expected.items():
    np.testing.assert_allclose(penalties[name], value, rtol=1e-4, atol=1e-6, err_msg=name)


def test_r1_sums_the_outputs_of_a_patch_critic():
  patch_critic = lambda x: 2.0 * x[..., :1]  # [B, 4, 4, 1], one output per pixel
  np.testing.assert_allclose(
    losses.r1_penalty(patch_critic, _batch(0)), 4.0 * _IMAGE_SHAPE[0] * _IMAGE_SHAPE[1], rtol=1e-6
  )


def test_gradient_penalty_of_quadratic_critic():
  real, fake, rng = _batch(0), _batch(1), jax.random.key(2)
  critic = lambda x: 0.5 * jnp.sum(jnp.square(x), axis=(1, 2, 3))  # gradient = x
  points = np.asarray(losses.random_interpolates(real, fake, rng))
  norms = np.sqrt(np.sum(np.square(points), axis=(1, 2, 3)))
  np.testing.assert_allclose(
    losses.gradient_penalty(critic, real, fake, rng, target=2.0),
    np.mean(np.square(norms - 2.0)),
    rtol=1e-5,
  )


def test_interpolation_coefficient_is_per_example():
  real, fake = _batch(0), _batch(1)
  points = np.asarray(losses.random_interpolates(real, fake, jax.random.key(2)))
  ratios = (points - fake) / (real - fake)
  per_example = ratios[:, :1, :1, :1]
  np.testing.assert_allclose(ratios, np.broadcast_to(per_example, ratios.shape), atol=1e-3)
  assert np.all((per_example >= 0) & (per_example <= 1))
  assert np.std(per_example) > 0.1


@_SETTINGS
@given(st.integers(0, 2**31 - 1))
def test_every_penalty_is_non_negative(seed):
  rng = np.random.default_rng(seed)
  params = (
    rng.normal(size=(np.prod(_IMAGE_SHAPE), 8)),
    rng.normal(size=8),
    0.1 * rng.normal(size=_IMAGE_SHAPE),
  )
  penalties = _all_penalties(params, _batch(seed), _batch(seed + 1), jax.random.key(seed))
  assert 0.0 <= penalties['gp_one_sided'] <= penalties['gp']
  for name in ('r1', 'r2', 'dragan'):
    assert penalties[name] >= 0.0, name


def test_penalty_gradient_is_finite_where_the_input_gradient_vanishes():
  @jax.jit
  def penalty(scale):
    critic = lambda x: scale * jnp.sum(jnp.square(x), axis=(1, 2, 3))
    zeros = jnp.zeros((2,) + _IMAGE_SHAPE)
    return losses.gradient_penalty(critic, zeros, zeros, jax.random.key(0))

  value, gradient = jax.value_and_grad(penalty)(1.0)
  np.testing.assert_allclose(value, 1.0)  # ||grad|| = 0 everywhere
  assert np.isfinite(gradient)


def test_clip_weights_bounds_every_leaf():
  params = {
    'dense': {'kernel': jnp.array([[-0.5, 0.003], [0.02, -0.001]])},
    'bias': jnp.array([0.009, -0.2]),
  }
  clipped = losses.clip_weights(params, 0.01)
  np.testing.assert_allclose(clipped['dense']['kernel'], [[-0.01, 0.003], [0.01, -0.001]])
  np.testing.assert_allclose(clipped['bias'], [0.009, -0.01])
