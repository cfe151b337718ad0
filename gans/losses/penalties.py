"""Regularisers: gradient penalties and weight clipping of the critic, orthogonality of weights.

A penalty takes the critic as a function `critic_fn: [B, ...] -> [B, ...]` (parameters closed
over, so the caller differentiates the penalty with respect to them) and never a model.
Per-example input gradients are those of `sum(critic_fn(x))`, which is exact when examples do
not interact inside the critic (no BatchNorm, as WGAN-GP prescribes). Penalties return the
unscaled expectation; the method multiplies by its lambda (or gamma / 2 for R1/R2).
"""

from typing import Callable

import chex
import jax
import jax.numpy as jnp
import optax

from gans.losses._common import Array, Weights, as_float, per_example_sum, weighted_mean

CriticFn = Callable[[Array], Array]


def _input_gradients(critic_fn: CriticFn, inputs: Array) -> Array:
  """d sum(critic_fn(x)) / dx at x = inputs: `[B, ...]`."""
  return jax.grad(lambda x: jnp.sum(as_float(critic_fn(x))))(as_float(inputs))


def _gradient_norm_penalty(
  critic_fn: CriticFn, points: Array, *, target: float, one_sided: bool, weights: Weights
) -> Array:
  """E[(||grad critic(points)||_2 - target)^2], or of its positive part when one-sided."""
  gradients = _input_gradients(critic_fn, points)
  norms = optax.safe_norm(jnp.reshape(gradients, (gradients.shape[0], -1)), 0.0, axis=-1)
  excess = norms - target
  if one_sided:
    excess = jax.nn.relu(excess)
  return weighted_mean(jnp.square(excess), weights)


def random_interpolates(real: Array, fake: Array, rng: chex.PRNGKey) -> Array:
  """eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per example (not per pixel).

  Args:
    real, fake: `[B, ...]` of equal shape.
    rng: PRNG key.

  Returns:
    `[B, ...]` points on the segments between paired real and fake examples.
  """
  chex.assert_equal_shape([real, fake])
  real, fake = as_float(real), as_float(fake)
  eps = jax.random.uniform(rng, (real.shape[0],) + (1,) * (real.ndim - 1), dtype=real.dtype)
  return fake + eps * (real - fake)


def gradient_penalty(
  critic_fn: CriticFn,
  real: Array,
  fake: Array,
  rng: chex.PRNGKey,
  *,
  target: float = 1.0,
  one_sided: bool = False,
  weights: Weights = None,
) -> Array:
  """E_xhat[(||grad_xhat f(xhat)||_2 - target)^2], xhat from `random_interpolates`.

  Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017 (WGAN-GP; the paper
  scales it by lambda = 10). `one_sided=True` penalises only norms above `target`
  (max(0, ||grad|| - target)^2, also proposed there; WGAN-LP of Petzka et al. 2018).
  """
  return _gradient_norm_penalty(
    critic_fn,
    random_interpolates(real, fake, rng),
    target=target,
    one_sided=one_sided,
    weights=weights,
  )


def _squared_gradient_norm(critic_fn: CriticFn, inputs: Array, weights: Weights) -> Array:
  return weighted_mean(per_example_sum(jnp.square(_input_gradients(critic_fn, inputs))), weights)


def r1_penalty(critic_fn: CriticFn, real: Array, *, weights: Weights = None) -> Array:
  """E_x[||grad_x D(x)||^2] on data.

  Mescheder, Geiger & Nowozin, "Which Training Methods for GANs do actually Converge?",
  ICML 2018; the regulariser is gamma / 2 times this value.
  """
  return _squared_gradient_norm(critic_fn, real, weights)


def r2_penalty(critic_fn: CriticFn, fake: Array, *, weights: Weights = None) -> Array:
  """E_z[||grad D(G(z))||^2] on samples (Mescheder et al. 2018; gamma / 2 times this)."""
  return _squared_gradient_norm(critic_fn, fake, weights)


def dragan_penalty(
  critic_fn: CriticFn,
  real: Array,
  rng: chex.PRNGKey,
  *,
  noise_scale: float = 0.5,
  target: float = 1.0,
  weights: Weights = None,
) -> Array:
  """E_{x, delta}[(||grad D(x + delta)||_2 - target)^2], delta ~ N(0, (s * std(x))^2 I).

  Kodali et al., "On Convergence and Stability of GANs" (DRAGAN), 2017: the penalty acts in a
  neighbourhood of the data only; `s = noise_scale` and std(x) is over the whole batch.
  """
  real = as_float(real)
  noise = jax.random.normal(rng, real.shape, dtype=real.dtype)
  perturbed = real + noise_scale * jnp.std(real) * noise
  return _gradient_norm_penalty(
    critic_fn, perturbed, target=target, one_sided=False, weights=weights
  )


def clip_weights(params: chex.ArrayTree, c: float) -> chex.ArrayTree:
  """Clips every parameter to [-c, c] (Arjovsky et al. 2017 use c = 0.01 after each D step)."""
  return jax.tree.map(lambda p: jnp.clip(p, -c, c), params)


def orthogonal_regularization(params) -> Array:
  """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3) of a parameter tree:

      R(θ) = Σ_W ‖WᵀW ⊙ (1 - I)‖²_F

  over every leaf W with at least 2 dimensions, viewed as [fan_in, features] (a conv kernel
  [kh, kw, C_in, C_out] as [kh·kw·C_in, C_out]): it pushes the features' filters towards
  orthogonality without constraining their norms. 0 iff each W has orthogonal columns.
  """
  total = jnp.zeros((), jnp.float32)
  for leaf in jax.tree.leaves(params):
    if leaf.ndim < 2:
      continue
    w = as_float(leaf).reshape(-1, leaf.shape[-1])
    gram = w.T @ w
    total += jnp.sum((gram * (1.0 - jnp.eye(gram.shape[0]))) ** 2)
  return total
