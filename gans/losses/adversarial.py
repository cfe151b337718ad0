"""Discriminator and generator objectives of the adversarial game.

Every function takes the raw outputs of D (logits or critic values) of any shape `[B, ...]`
and returns a scalar to be minimised by the player named in the function. `weights` is
described in `gans.losses._common`. Logit-based losses use `log D = log_sigmoid(l) =
-softplus(-l)` and `log(1 - D) = -softplus(l)`, which are finite for any finite logit.
"""

from typing import Callable

import jax
import jax.numpy as jnp

from gans.losses._common import (
  Array,
  PairWeights,
  Weights,
  as_float,
  split_weights,
  two_sample_mean,
  weighted_mean,
)


def minimax_discriminator_loss(
  real_logits: Array, fake_logits: Array, *, weights: PairWeights = None
) -> Array:
  """-E_x[log D(x)] - E_z[log(1 - D(G(z)))], with D = sigmoid(logits).

  The negated value function V(D, G) of Goodfellow et al., "Generative Adversarial Nets",
  NeurIPS 2014; minimised over D at D*(x) = p_data(x) / (p_data(x) + p_g(x)).

  Args:
    real_logits: `[B, ...]` logits of D on data.
    fake_logits: `[B', ...]` logits of D on samples, same trailing shape.
    weights: None, one `[B]` array, or a `(real_weights, fake_weights)` pair.
  """
  return two_sample_mean(
    lambda r: jax.nn.softplus(-r), jax.nn.softplus, real_logits, fake_logits, weights
  )


def minimax_generator_loss(fake_logits: Array, *, weights: Weights = None) -> Array:
  """E_z[log(1 - D(G(z)))]: the saturating generator loss of the minimax game.

  Goodfellow et al. 2014. Its gradient vanishes as D(G(z)) -> 0, early in training, which is
  why `nonsaturating_generator_loss` is used in practice.
  """
  return weighted_mean(-jax.nn.softplus(as_float(fake_logits)), weights)


def nonsaturating_generator_loss(fake_logits: Array, *, weights: Weights = None) -> Array:
  """-E_z[log D(G(z))]: the non-saturating generator loss (Goodfellow et al. 2014, sec. 3)."""
  return weighted_mean(jax.nn.softplus(-as_float(fake_logits)), weights)


def wasserstein_discriminator_loss(
  real_out: Array, fake_out: Array, *, weights: PairWeights = None
) -> Array:
  """E[f(G(z))] - E[f(x)], the negated Kantorovich-Rubinstein dual of W1.

  Arjovsky, Chintala & Bottou, "Wasserstein GAN", ICML 2017. Its minimum over 1-Lipschitz
  critics f is -W1(p_data, p_g); Lipschitzness comes from `clip_weights` or a penalty.
  """
  return two_sample_mean(jnp.negative, lambda f: f, real_out, fake_out, weights)


def wasserstein_generator_loss(fake_out: Array, *, weights: Weights = None) -> Array:
  """-E[f(G(z))] (Arjovsky et al. 2017)."""
  return weighted_mean(-as_float(fake_out), weights)


def hinge_discriminator_loss(
  real_out: Array, fake_out: Array, *, weights: PairWeights = None
) -> Array:
  """E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

  Lim & Ye, "Geometric GAN", 2017; used by SAGAN and BigGAN. On discrete distributions its
  minimum is 2 (1 - TV(p_data, p_g)), reached at D = sign(p_data - p_g).
  """
  return two_sample_mean(
    lambda r: jax.nn.relu(1.0 - r), lambda f: jax.nn.relu(1.0 + f), real_out, fake_out, weights
  )


def hinge_generator_loss(fake_out: Array, *, weights: Weights = None) -> Array:
  """-E[D(G(z))] (Lim & Ye 2017): the same form as `wasserstein_generator_loss`."""
  return wasserstein_generator_loss(fake_out, weights=weights)


def least_squares_discriminator_loss(
  real_out: Array, fake_out: Array, *, a: float = 0.0, b: float = 1.0, weights: PairWeights = None
) -> Array:
  """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2].

  Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017. The optimal D is
  (b p_data + a p_g) / (p_data + p_g); a = -1, b = 1 with c = 0 in the generator makes the
  game minimise the Pearson chi^2 divergence between p_data + p_g and 2 p_g.
  """
  return two_sample_mean(
    lambda r: 0.5 * jnp.square(r - b),
    lambda f: 0.5 * jnp.square(f - a),
    real_out,
    fake_out,
    weights,
  )


def least_squares_generator_loss(
  fake_out: Array, *, c: float = 1.0, weights: Weights = None
) -> Array:
  """1/2 E[(D(G(z)) - c)^2] (Mao et al. 2017)."""
  return weighted_mean(0.5 * jnp.square(as_float(fake_out) - c), weights)


_RELATIVISTIC_TERMS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
  'sigmoid': (lambda y: jax.nn.softplus(-y), jax.nn.softplus),
  'least_squares': (lambda y: jnp.square(y - 1.0), lambda y: jnp.square(y + 1.0)),
  'hinge': (lambda y: jax.nn.relu(1.0 - y), lambda y: jax.nn.relu(1.0 + y)),
}


def relativistic_average_discriminator_loss(
  real_out: Array, fake_out: Array, *, kind: str = 'sigmoid', weights: PairWeights = None
) -> Array:
  """E_x[f1(C(x) - E C(G(z)))] + E_z[f2(C(G(z)) - E C(x))].

  Jolicoeur-Martineau, "The relativistic discriminator: a key element missing from standard
  GAN", 2018 (ICLR 2019). `kind` picks (f1, f2):
    'sigmoid' (RaSGAN):        (-log sigmoid(y), -log(1 - sigmoid(y)))
    'least_squares' (RaLSGAN): ((y - 1)^2, (y + 1)^2)
    'hinge' (RaHingeGAN):      (relu(1 - y), relu(1 + y))
  The inner expectations E C(.) are over every element of the other batch (weighted).
  """
  if kind not in _RELATIVISTIC_TERMS:
    raise ValueError(f'kind must be one of {sorted(_RELATIVISTIC_TERMS)}, got {kind!r}')
  real_term, fake_term = _RELATIVISTIC_TERMS[kind]
  real_weights, fake_weights = split_weights(weights)
  real_mean = weighted_mean(real_out, real_weights)
  fake_mean = weighted_mean(fake_out, fake_weights)
  return two_sample_mean(
    lambda r: real_term(r - fake_mean),
    lambda f: fake_term(f - real_mean),
    real_out,
    fake_out,
    weights,
  )


def relativistic_average_generator_loss(
  real_out: Array, fake_out: Array, *, kind: str = 'sigmoid', weights: PairWeights = None
) -> Array:
  """E_z[f1(C(G(z)) - E C(x))] + E_x[f2(C(x) - E C(G(z)))]: the D loss with roles swapped.

  Jolicoeur-Martineau 2018; G needs the real outputs too. Same `kind` and `weights` as
  `relativistic_average_discriminator_loss` (weights stay `(real, fake)`).
  """
  real_weights, fake_weights = split_weights(weights)
  return relativistic_average_discriminator_loss(
    fake_out, real_out, kind=kind, weights=(fake_weights, real_weights)
  )
