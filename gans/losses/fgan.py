"""f-GAN: variational divergence minimisation (Nowozin, Cseke & Tomioka, NeurIPS 2016).

For a convex f with f(1) = 0, D_f(P || Q) = E_Q[f(p/q)] >= sup_T E_P[T(x)] - E_Q[f*(T(x))],
with equality at T* = f'(p/q). The discriminator's raw output v is mapped into dom f* by the
output activation T = g_f(v). The divergences, conjugates and activations of the paper:

  name               f(u)                                g_f(v)               f*(t)
  kl                 u log u                             v                    exp(t - 1)
  reverse_kl         -log u                              -exp(-v)             -1 - log(-t)
  pearson            (u - 1)^2                           v                    t^2 / 4 + t
  neyman             (1 - u)^2 / u                       1 - exp(-v)          2 - 2 sqrt(1 - t)
  squared_hellinger  (sqrt(u) - 1)^2                     1 - exp(-v)          t / (1 - t)
  jensen_shannon     u log u - (u + 1) log((u + 1) / 2)  log 2 - log(1+e^-v)  -log(2 - exp(t))
  gan                u log u - (u + 1) log(u + 1)        -log(1 + exp(-v))    -log(1 - exp(t))

With this generator, D_f is 2 JSD for 'jensen_shannon' and 2 JSD - log 4 for 'gan'.
`conjugate_of_activation(v)` is f*(g_f(v)) simplified so that it does not cancel
catastrophically (e.g. softplus(v) for 'gan'). Losses with polynomial or softplus growth
(pearson, jensen_shannon, gan) are finite for any finite v; the others grow like exp(|v|)
on one side, as their f* does, and overflow float32 beyond |v| ~ 88.
"""

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gans.losses._common import (
  Array,
  PairWeights,
  Weights,
  as_float,
  two_sample_mean,
  weighted_mean,
)

_Fn = Callable[[Array], Array]


class FDivergence(NamedTuple):
  """One row of the f-GAN table, each entry an elementwise function."""

  generator: _Fn  # f(u), u = p / q > 0
  activation: _Fn  # g_f(v): R -> dom f*
  conjugate: _Fn  # f*(t), t in dom f*
  conjugate_of_activation: _Fn  # f*(g_f(v)), numerically stable


def _xlogx(u: Array) -> Array:
  return jax.scipy.special.xlogy(u, u)


F_DIVERGENCES: dict[str, FDivergence] = {
  'kl': FDivergence(
    generator=_xlogx,
    activation=lambda v: v,
    conjugate=lambda t: jnp.exp(t - 1.0),
    conjugate_of_activation=lambda v: jnp.exp(v - 1.0),
  ),
  'reverse_kl': FDivergence(
    generator=lambda u: -jnp.log(u),
    activation=lambda v: -jnp.exp(-v),
    conjugate=lambda t: -1.0 - jnp.log(-t),
    conjugate_of_activation=lambda v: v - 1.0,
  ),
  'pearson': FDivergence(
    generator=lambda u: jnp.square(u - 1.0),
    activation=lambda v: v,
    conjugate=lambda t: 0.25 * jnp.square(t) + t,
    conjugate_of_activation=lambda v: 0.25 * jnp.square(v) + v,
  ),
  'neyman': FDivergence(
    generator=lambda u: jnp.square(1.0 - u) / u,
    activation=lambda v: -jnp.expm1(-v),
    conjugate=lambda t: 2.0 - 2.0 * jnp.sqrt(1.0 - t),
    conjugate_of_activation=lambda v: 2.0 - 2.0 * jnp.exp(-0.5 * v),
  ),
  'squared_hellinger': FDivergence(
    generator=lambda u: jnp.square(jnp.sqrt(u) - 1.0),
    activation=lambda v: -jnp.expm1(-v),
    conjugate=lambda t: t / (1.0 - t),
    conjugate_of_activation=jnp.expm1,
  ),
  'jensen_shannon': FDivergence(
    generator=lambda u: _xlogx(u) - (u + 1.0) * jnp.log((u + 1.0) / 2.0),
    activation=lambda v: math.log(2.0) - jax.nn.softplus(-v),
    conjugate=lambda t: -jnp.log(2.0 - jnp.exp(t)),
    conjugate_of_activation=lambda v: jax.nn.softplus(v) - math.log(2.0),
  ),
  'gan': FDivergence(
    generator=lambda u: _xlogx(u) - _xlogx(u + 1.0),
    activation=lambda v: -jax.nn.softplus(-v),
    conjugate=lambda t: -jnp.log(-jnp.expm1(t)),
    conjugate_of_activation=jax.nn.softplus,
  ),
}


def _lookup(divergence: str) -> FDivergence:
  if divergence not in F_DIVERGENCES:
    raise ValueError(f'divergence must be one of {sorted(F_DIVERGENCES)}, got {divergence!r}')
  return F_DIVERGENCES[divergence]


def f_divergence(p: Array, q: Array, *, divergence: str) -> Array:
  """D_f(P || Q) = sum_x q(x) f(p(x) / q(x)) for discrete distributions with q, p > 0.

  Args:
    p, q: `[..., K]` probabilities over the last axis.
    divergence: a key of `F_DIVERGENCES`.

  Returns:
    `[...]`.
  """
  p, q = as_float(p), as_float(q)
  return jnp.sum(q * _lookup(divergence).generator(p / q), axis=-1)


def f_gan_discriminator_loss(
  real_out: Array, fake_out: Array, *, divergence: str, weights: PairWeights = None
) -> Array:
  """-(E_P[g_f(v(x))] - E_Q[f*(g_f(v(G(z))))]): the negated variational bound on D_f(P || Q).

  Nowozin et al. 2016, eq. 6. `real_out`/`fake_out` are the raw outputs v; the minimum over v
  is -D_f(p_data || p_g). For 'gan' this is `minimax_discriminator_loss`.
  """
  row = _lookup(divergence)
  return two_sample_mean(
    lambda r: -row.activation(r), row.conjugate_of_activation, real_out, fake_out, weights
  )


def f_gan_generator_loss(
  fake_out: Array, *, divergence: str, saturating: bool = False, weights: Weights = None
) -> Array:
  """-E_Q[g_f(v(G(z)))] by default; -E_Q[f*(g_f(v(G(z))))] if `saturating`.

  Nowozin et al. 2016: G minimises the bound (the saturating form, whose real-data term does
  not depend on G) or, as in their experiments, maximises E_Q[g_f(v)] (sec. 3.2), which for
  'gan' is `nonsaturating_generator_loss`.
  """
  row = _lookup(divergence)
  fake_out = as_float(fake_out)
  if saturating:
    return weighted_mean(-row.conjugate_of_activation(fake_out), weights)
  return weighted_mean(-row.activation(fake_out), weights)
