"""VAE objectives: the analytic KL, likelihoods, and ELBO/IWAE bounds on probabilistic PCA."""

import functools
import math
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from gans import losses

_SETTINGS = settings(max_examples=25, deadline=None, database=None)


def _log_normal(z, mean, log_var):
  """log N(z; mean, diag exp(log_var)) per row, via the library: `[N, D]` -> `[N]`."""
  return losses.gaussian_log_likelihood(mean, z, 0.5 * log_var)


def test_analytic_kl_matches_monte_carlo():
  mean, log_var = np.array([0.5, -1.0, 2.0]), np.array([-0.5, 0.3, -2.0])
  num = 200_000
  z = mean + np.exp(0.5 * log_var) * np.random.default_rng(0).normal(size=(num, 3))
  z = z.astype(np.float32)
  log_ratio = np.asarray(
    _log_normal(z, np.broadcast_to(mean, z.shape), np.broadcast_to(log_var, z.shape))
    - _log_normal(z, np.zeros_like(z), np.zeros_like(z))
  )
  standard_error = np.std(log_ratio) / math.sqrt(num)
  np.testing.assert_allclose(
    np.mean(log_ratio), losses.gaussian_kl(mean, log_var), atol=4 * standard_error
  )


@_SETTINGS
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=4, max_size=4))
def test_kl_is_non_negative_and_zero_only_at_the_prior(params):
  mean, log_var = np.asarray(params).T
  kl = losses.gaussian_kl(mean, log_var)
  assert kl >= 0.0
  assert (kl < 1e-6) == bool(np.allclose(mean, 0, atol=1e-3) and np.allclose(log_var, 0, atol=1e-3))


def test_kl_keeps_leading_shape():
  assert losses.gaussian_kl(np.zeros((2, 3, 5)), np.zeros((2, 3, 5))).shape == (2, 3)


_bernoulli_gradient = jax.jit(jax.grad(lambda l, t: jnp.sum(losses.bernoulli_log_likelihood(l, t))))


@_SETTINGS
@given(st.lists(st.floats(0.0, 1.0), min_size=6, max_size=6), st.integers(0, 2**31 - 1))
def test_bernoulli_likelihood_is_maximised_at_the_targets(targets, seed):
  targets = np.asarray(targets).reshape(1, 2, 3)
  logits = np.random.default_rng(seed).normal(size=(1, 2, 3))
  probs = 1 / (1 + np.exp(-logits))
  expected = np.sum(targets * np.log(probs) + (1 - targets) * np.log(1 - probs))
  np.testing.assert_allclose(
    losses.bernoulli_log_likelihood(logits, targets), [expected], rtol=1e-5
  )
  interior = np.clip(targets, 0.01, 0.99)
  np.testing.assert_allclose(
    _bernoulli_gradient(np.log(interior / (1 - interior)), interior), 0.0, atol=1e-5
  )


def test_gaussian_likelihood_matches_scipy_with_learned_scale():
  rng = np.random.default_rng(0)
  mean, targets, log_scale = (rng.normal(size=(3, 2, 4)) for _ in range(3))
  expected = np.sum(scipy.stats.norm.logpdf(targets, mean, np.exp(log_scale)), axis=(1, 2))
  np.testing.assert_allclose(
    losses.gaussian_log_likelihood(mean, targets, log_scale), expected, rtol=1e-5
  )
  fixed = np.sum(scipy.stats.norm.logpdf(targets, mean, 0.5), axis=(1, 2))
  np.testing.assert_allclose(
    losses.gaussian_log_likelihood(mean, targets, math.log(0.5)), fixed, rtol=1e-5
  )


def test_negative_elbo_weights_the_kl_by_beta():
  log_likelihood, kl = np.array([-3.0, -5.0]), np.array([1.0, 2.0])
  np.testing.assert_allclose(losses.negative_elbo(log_likelihood, kl), 5.5)
  np.testing.assert_allclose(losses.negative_elbo(log_likelihood, kl, beta=4.0), 10.0)


class _PPCA(NamedTuple):
  """p(z) = N(0, I_k), p(x | z) = N(W z + mu, sigma^2 I_d) and a batch x, W with orthogonal
  columns so that the exact posterior (diagonal then) is in the VAE's Gaussian family."""

  w: jax.Array
  mu: jax.Array
  log_sigma: jax.Array
  x: jax.Array


def _ppca(seed, d=4, k=2, sigma=0.5, batch=5):
  rng = np.random.default_rng(seed)
  basis, _ = np.linalg.qr(rng.normal(size=(d, k)))
  return _PPCA(
    *(
      jnp.asarray(a, jnp.float32)
      for a in (
        basis * rng.uniform(0.5, 2.0, size=k),
        rng.normal(size=d),
        math.log(sigma),
        2.0 * rng.normal(size=(batch, d)),
      )
    )
  )


@jax.jit
def _posterior(model):
  """q*(z | x) = N(M^-1 W^T (x - mu), sigma^2 M^-1), M = W^T W + sigma^2 I (diagonal)."""
  variance = jnp.exp(2 * model.log_sigma)
  precision = jnp.sum(jnp.square(model.w), axis=0) + variance  # diag(M)
  mean = (model.x - model.mu) @ model.w / precision
  return mean, jnp.broadcast_to(jnp.log(variance / precision), mean.shape)


@jax.jit
def _log_evidence(model):
  """Mean over the batch of the exact log p(x) = log N(x; mu, W W^T + sigma^2 I)."""
  covariance = model.w @ model.w.T + jnp.exp(2 * model.log_sigma) * jnp.eye(model.w.shape[0])
  return jnp.mean(jax.scipy.stats.multivariate_normal.logpdf(model.x, model.mu, covariance))


@jax.jit
def _elbo(model, q_mean, q_log_var):
  """Exact ELBO: E_q log p(x | z) = log p(x | z = q_mean) - tr(W^T W diag(q_var)) / 2 sigma^2."""
  decoded = q_mean @ model.w.T + model.mu
  trace = jnp.sum(jnp.exp(q_log_var) * jnp.sum(jnp.square(model.w), axis=0), axis=-1)
  expected_log_likelihood = losses.gaussian_log_likelihood(
    decoded, model.x, model.log_sigma
  ) - 0.5 * trace * jnp.exp(-2 * model.log_sigma)
  return -losses.negative_elbo(expected_log_likelihood, losses.gaussian_kl(q_mean, q_log_var))


@functools.partial(jax.jit, static_argnums=(3, 5))
def _importance_terms(model, q_mean, q_log_var, num_samples, rng, replicas=1):
  """(log p(x | z), log p(z), log q(z | x)) for z ~ q, each `[num_samples, replicas * batch]`."""
  tile = lambda a: jnp.tile(a, (replicas, 1))
  x, q_mean, q_log_var = tile(model.x), tile(q_mean), tile(q_log_var)
  z = q_mean + jnp.exp(0.5 * q_log_var) * jax.random.normal(rng, (num_samples,) + q_mean.shape)
  flat = lambda a: jnp.broadcast_to(a, z.shape[:2] + a.shape[-1:]).reshape(-1, a.shape[-1])
  z_flat = flat(z)
  terms = (
    losses.gaussian_log_likelihood(z_flat @ model.w.T + model.mu, flat(x), model.log_sigma),
    _log_normal(z_flat, jnp.zeros_like(z_flat), jnp.zeros_like(z_flat)),
    _log_normal(z_flat, flat(q_mean), flat(q_log_var)),
  )
  return tuple(term.reshape(z.shape[:2]) for term in terms)


@_SETTINGS
@given(st.integers(0, 2**31 - 1), st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_elbo_is_below_log_evidence_with_equality_at_the_posterior(seed, mean_shift, log_var_shift):
  model = _ppca(seed)
  posterior_mean, posterior_log_var = _posterior(model)
  log_evidence = _log_evidence(model)
  np.testing.assert_allclose(
    _elbo(model, posterior_mean, posterior_log_var), log_evidence, rtol=1e-5
  )
  approximate = _elbo(model, posterior_mean + mean_shift, posterior_log_var + log_var_shift)
  assert approximate <= log_evidence + 1e-4


@functools.partial(jax.jit, static_argnums=1)
def _iwae_bounds(terms, ks):
  """The library's IWAE bound from the first k samples, for each k in `ks`."""
  return jnp.stack([losses.iwae_bound(*(t[:k] for t in terms)) for k in ks])


def test_iwae_is_exact_for_every_k_at_the_posterior():
  model = _ppca(0)
  terms = _importance_terms(model, *_posterior(model), 7, jax.random.key(0))
  np.testing.assert_allclose(_iwae_bounds(terms, (1, 7)), [_log_evidence(model)] * 2, rtol=1e-5)


def test_iwae_increases_with_k():
  model = _ppca(1)
  prior = np.zeros((model.x.shape[0], model.w.shape[1]), np.float32)  # q = p(z): a poor proposal
  terms = _importance_terms(model, prior, prior, 64, jax.random.key(0), replicas=100)
  bounds = _iwae_bounds(terms, (1, 8, 64))
  assert bounds[0] < bounds[1] < bounds[2] < _log_evidence(model)
  np.testing.assert_allclose(bounds[0], _elbo(model, prior, prior), rtol=0.05)
