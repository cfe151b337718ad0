"""Variational autoencoder objectives: likelihoods, the analytic KL, the ELBO and IWAE.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014; Higgins et al., "beta-VAE",
ICLR 2017; Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
Likelihoods and the KL are per example; `negative_elbo` and `iwae_bound` reduce over the batch.
"""

import math

import chex
import jax
import jax.numpy as jnp

from gans.losses._common import Array, Weights, as_float, per_example_sum, weighted_mean

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mean: Array, log_var: Array) -> Array:
  """KL(N(mean, diag exp(log_var)) || N(0, I)) = 1/2 sum_d (exp(lv) + mean^2 - 1 - lv).

  Kingma & Welling 2014, appendix B.

  Args:
    mean, log_var: `[..., D]`.

  Returns:
    `[...]`, summed over the last axis.
  """
  chex.assert_equal_shape([mean, log_var])
  mean, log_var = as_float(mean), as_float(log_var)
  return 0.5 * jnp.sum(jnp.exp(log_var) + jnp.square(mean) - 1.0 - log_var, axis=-1)


def bernoulli_log_likelihood(logits: Array, targets: Array) -> Array:
  """sum_i t_i log sigmoid(l_i) + (1 - t_i) log(1 - sigmoid(l_i)).

  Args:
    logits: `[B, ...]` decoder logits.
    targets: `[B, ...]` in [0, 1] (grey levels are allowed: the continuous relaxation used for
      MNIST-like data, not a normalised density then).

  Returns:
    `[B]`, summed over all non-leading axes.
  """
  chex.assert_equal_shape([logits, targets])
  logits, targets = as_float(logits), as_float(targets)
  return per_example_sum(
    targets * jax.nn.log_sigmoid(logits) + (1.0 - targets) * jax.nn.log_sigmoid(-logits)
  )


def gaussian_log_likelihood(mean: Array, targets: Array, log_scale=0.0) -> Array:
  """sum_i log N(t_i; mean_i, sigma_i^2) = sum_i -(t_i - mean_i)^2 / (2 sigma_i^2)
  - log sigma_i - 1/2 log 2 pi, with sigma = exp(log_scale).

  Args:
    mean: `[B, ...]`.
    targets: `[B, ...]`.
    log_scale: log standard deviation, broadcastable to `mean` (a scalar for a fixed
      variance, `[B, ...]` for a learned one).

  Returns:
    `[B]`, summed over all non-leading axes.
  """
  chex.assert_equal_shape([mean, targets])
  mean, targets, log_scale = as_float(mean), as_float(targets), as_float(log_scale)
  z = (targets - mean) * jnp.exp(-log_scale)
  log_density = -0.5 * jnp.square(z) - log_scale - 0.5 * _LOG_2PI
  return per_example_sum(jnp.broadcast_to(log_density, mean.shape))


def negative_elbo(
  log_likelihood: Array, kl: Array, *, beta: float = 1.0, weights: Weights = None
) -> Array:
  """E_x[-E_q[log p(x | z)] + beta KL(q(z | x) || p(z))], the loss of a (beta-)VAE.

  Kingma & Welling 2014 (beta = 1); Higgins et al. 2017 (beta > 1).

  Args:
    log_likelihood: `[B]` reconstruction log-likelihoods (one z sample each, or averaged).
    kl: `[B]`, e.g. from `gaussian_kl`.
    beta: weight of the KL term.
    weights: optional `[B]` example weights.

  Returns:
    A scalar.
  """
  chex.assert_equal_shape([log_likelihood, kl])
  return weighted_mean(-as_float(log_likelihood) + beta * as_float(kl), weights)


def iwae_bound(
  log_likelihood: Array, log_prior: Array, log_posterior: Array, *, weights: Weights = None
) -> Array:
  """E_x[log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)], z_1..z_K ~ q(z | x) i.i.d.

  Burda et al. 2016: a lower bound on log p(x) that is non-decreasing in K, equal to the
  ELBO estimate for K = 1 and to log p(x) for every K when q is the exact posterior.
  For evaluation (higher is better); negate it to train.

  Args:
    log_likelihood: `[K, B]` log p(x | z_k).
    log_prior: `[K, B]` log p(z_k).
    log_posterior: `[K, B]` log q(z_k | x).
    weights: optional `[B]` example weights.

  Returns:
    A scalar.
  """
  chex.assert_rank(log_likelihood, 2)
  chex.assert_equal_shape([log_likelihood, log_prior, log_posterior])
  log_w = as_float(log_likelihood) + as_float(log_prior) - as_float(log_posterior)
  bounds = jax.nn.logsumexp(log_w, axis=0) - jnp.log(log_w.shape[0])
  return weighted_mean(bounds, weights)
