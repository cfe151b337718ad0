"""InfoGAN's variational mutual-information terms.

Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", NeurIPS 2016. For codes c ~ p(c) and x = G(z, c),
L_I = E[log Q(c | x)] + H(c) <= I(c; x) <= H(c) (Barber & Agakov 2003), with equality in the
first step when Q(c | x) is the true posterior. G and Q minimise -L_I + H(c), i.e. the
negative log-likelihood of the code under Q, which is what the two losses below return.
"""

import chex
import jax
import jax.numpy as jnp

from gans.losses._common import Array, Weights, as_float, weighted_mean
from gans.losses.vae import gaussian_log_likelihood


def infogan_categorical_loss(code_logits: Array, codes: Array, *, weights: Weights = None) -> Array:
  """-E[log Q(c | x)] for a categorical code: the cross-entropy of Q's logits.

  Args:
    code_logits: `[B, ..., K]` logits of Q.
    codes: `[B, ...]` integer codes in [0, K).
    weights: optional `[B]` example weights.
  """
  chex.assert_rank(codes, jnp.ndim(code_logits) - 1)
  chex.assert_equal_shape_prefix([code_logits, codes], jnp.ndim(codes))
  log_q = jax.nn.log_softmax(as_float(code_logits), axis=-1)
  return weighted_mean(-jnp.take_along_axis(log_q, codes[..., None], axis=-1)[..., 0], weights)


def infogan_continuous_loss(
  code_mean: Array, codes: Array, *, log_std=0.0, weights: Weights = None
) -> Array:
  """-E[sum_d log N(c_d; mu_d, sigma_d^2)] for a continuous (factored Gaussian) code.

  Args:
    code_mean: `[B, D]` mean predicted by Q.
    codes: `[B, D]` codes fed to G.
    log_std: log sigma, a scalar (fixed std; 0 gives the usual std 1) or `[B, D]` predicted by
      Q (learned std).
    weights: optional `[B]` example weights.
  """
  return weighted_mean(-gaussian_log_likelihood(code_mean, codes, log_std), weights)


def categorical_mutual_information_bound(
  code_logits: Array, codes: Array, *, prior_probs: Array | None = None, weights: Weights = None
) -> Array:
  """L_I = H(c) + E[log Q(c | x)], the lower bound on I(c; G(z, c)) in nats.

  Args:
    code_logits: `[B, ..., K]` logits of Q.
    codes: `[B, ...]` integer codes.
    prior_probs: `[K]` p(c); None for the uniform prior (H(c) = log K).
    weights: optional `[B]` example weights.
  """
  num_categories = jnp.shape(code_logits)[-1]
  if prior_probs is None:
    entropy = jnp.log(float(num_categories))
  else:
    chex.assert_shape(prior_probs, (num_categories,))
    prior_probs = as_float(prior_probs)
    entropy = -jnp.sum(jax.scipy.special.xlogy(prior_probs, prior_probs))
  return entropy - infogan_categorical_loss(code_logits, codes, weights=weights)
