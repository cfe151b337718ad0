"""Input handling and the one reduction shared by every loss.

Conventions used throughout `gans.losses`:

* Inputs have any leading shape `[B, ...]` (a patch discriminator gives `[B, H, W, 1]`); a
  loss averages over every element unless its docstring says otherwise.
* `weights`, when given, has shape `[B]` (or any prefix of the input's shape) and the mean
  becomes `sum(w * v) / sum(w)`, `w` broadcast over the trailing axes. With `weights` equal
  to a probability vector over a discrete support, a loss is the exact expectation, which is
  how the property tests evaluate V(D, G) on discrete distributions.
* Two-sample losses (real and fake) take `weights` as one array for both terms or as a
  `(real_weights, fake_weights)` pair, either of which may be None.
* Math is done in at least float32: bf16/f16 inputs are promoted, f64 stays f64.
"""

from typing import Callable, Optional, Sequence, Union

import chex
import jax.numpy as jnp

Array = chex.Array
Weights = Optional[Array]
PairWeights = Union[Weights, Sequence[Weights]]


def as_float(x) -> Array:
  """Promotes `x` to at least float32."""
  x = jnp.asarray(x)
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def weighted_mean(values: Array, weights: Weights = None) -> Array:
  """Mean of `values` over all elements, or `sum(w * v) / sum(w)` with `w` broadcast.

  Args:
    values: `[B, ...]`.
    weights: None, or non-negative weights of shape `values.shape[:k]` for some k.

  Returns:
    A scalar.
  """
  values = as_float(values)
  if weights is None:
    return jnp.mean(values)
  weights = as_float(weights)
  chex.assert_equal_shape_prefix([values, weights], weights.ndim)
  weights = jnp.broadcast_to(
    jnp.reshape(weights, weights.shape + (1,) * (values.ndim - weights.ndim)), values.shape
  )
  return jnp.sum(weights * values) / jnp.sum(weights)


def split_weights(weights: PairWeights) -> tuple[Weights, Weights]:
  """Returns `(real_weights, fake_weights)` from one array or a pair."""
  if isinstance(weights, (tuple, list)):
    if len(weights) != 2:
      raise ValueError(f'weights must be an array or a (real, fake) pair, got {len(weights)} items')
    return tuple(weights)
  return weights, weights


def assert_batched(x: Array) -> None:
  """Raises ValueError unless `x` has a leading batch axis."""
  if jnp.ndim(x) < 1:
    raise ValueError(f'expected a batch [B, ...], got an array of shape {jnp.shape(x)}')


def two_sample_mean(
  real_term: Callable[[Array], Array],
  fake_term: Callable[[Array], Array],
  real: Array,
  fake: Array,
  weights: PairWeights,
) -> Array:
  """E_real[real_term(real)] + E_fake[fake_term(fake)], the shape of every D objective.

  `real` and `fake` may differ in batch size but must agree in rank and trailing shape, so a
  `[B]` vs `[B, 1]` mix-up fails loudly instead of silently broadcasting somewhere else.
  """
  assert_batched(real)
  chex.assert_shape(fake, (None,) + jnp.shape(real)[1:])
  real_weights, fake_weights = split_weights(weights)
  return weighted_mean(real_term(as_float(real)), real_weights) + weighted_mean(
    fake_term(as_float(fake)), fake_weights
  )


def per_example_sum(values: Array) -> Array:
  """Sums `[B, ...]` over all non-leading axes: `[B]`."""
  assert_batched(values)
  return jnp.sum(jnp.reshape(values, (values.shape[0], -1)), axis=-1)


def mean_absolute_error(predictions: Array, targets: Array, weights: Weights = None) -> Array:
  """E|predictions - targets| over all elements (weighted over the leading axes)."""
  chex.assert_equal_shape([predictions, targets])
  return weighted_mean(jnp.abs(as_float(predictions) - as_float(targets)), weights)
