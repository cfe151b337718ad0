"""StyleGAN2's path-length regulariser (Karras et al. 2020, Sec. 3.2, eq. 4):

    E_{w, y}[(‖J_wᵀ y‖₂ - a)²],   y ~ N(0, I) / √(H·W),   J_w = ∂g(w)/∂w,

with a the running mean of the lengths ‖J_wᵀ y‖₂ (decay 0.01 in the paper), so that a fixed-size step
in w changes the image by a fixed amount whatever the direction.
"""

from typing import Callable

import chex
import jax
import jax.numpy as jnp

from gans.losses._common import Array, as_float


def path_lengths(synthesis_fn: Callable[[Array], Array], ws: Array, rng: chex.PRNGKey) -> Array:
  """‖J_wᵀ y‖₂ per example: `[B]`.

  Args:
    synthesis_fn: ws `[B, L, w_dim]` -> images `[B, H, W, C]`; examples independent.
    ws: the per-layer latents, `[B, L, w_dim]`.
    rng: key of y ~ N(0, I) / √(H·W), of the images' shape.

  Returns:
    √(mean_L Σ_{w_dim} (∂⟨g(ws), y⟩ / ∂ws)²) per example, the official layer-averaged length.
  """
  chex.assert_rank(ws, 3)
  images, pullback = jax.vjp(lambda w: as_float(synthesis_fn(w)), as_float(ws))
  height, width = images.shape[1:3]
  y = jax.random.normal(rng, images.shape, images.dtype) / jnp.sqrt(float(height * width))
  (grads,) = pullback(y)
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))


def path_length_penalty(lengths: Array, mean: Array, decay: float = 0.01) -> tuple[Array, Array]:
  """(E[(ℓ - a')²], a'): the penalty of the lengths ℓ `[B]` around the updated running mean
  a' = a + decay (E[ℓ] - a) (the mean carries no gradient), and a'."""
  chex.assert_rank(lengths, 1)
  lengths = as_float(lengths)
  updated = mean + decay * (jnp.mean(jax.lax.stop_gradient(lengths)) - mean)
  return jnp.mean(jnp.square(lengths - updated)), updated
