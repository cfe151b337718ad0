"""The image pool of CycleGAN (Zhu et al. 2017, Sec. 4, after Shrivastava et al. 2017): D is updated on a
history of generated images rather than only the latest ones.

The pool is part of the train state (``GameState.carry``), so the step stays pure and a resume is
bit-identical: ``{'images': [P, H, W, C], 'count': int32}`` (how many slots are filled). For each fake of a
batch in turn (the reference code's order):

    count < P:   store it in slot ``count`` and return it                        (filling)
    else:        with probability 1/2 return a uniformly chosen stored image and store the fake in its
                 slot; otherwise return the fake and leave the pool unchanged

so every returned image is either the current fake or one stored earlier. P = 0 turns the pool off.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def empty(size: int, image_shape) -> dict[str, jax.Array]:
  """A pool of ``size`` slots of images ``image_shape`` (H, W, C), none filled."""
  return {
    'images': jnp.zeros((size, *image_shape), jnp.float32),
    'count': jnp.zeros((), jnp.int32),
  }


def query(pool: dict[str, jax.Array], fakes: jax.Array, rng) -> tuple[dict, jax.Array]:
  """-> (the pool after ``fakes`` [B, H, W, C] went through it, the images [B, H, W, C] for D)."""
  size = pool['images'].shape[0]
  if size == 0:
    return pool, fakes

  def one(pool, inputs):
    fake, key = inputs
    swap_key, slot_key = jax.random.split(key)
    full = pool['count'] >= size
    swap = full & jax.random.bernoulli(swap_key, 0.5)
    slot = jnp.where(full, jax.random.randint(slot_key, (), 0, size), pool['count'])
    stored = pool['images'][slot]
    keep = full & ~swap  # Nothing is written.
    images = pool['images'].at[slot].set(jnp.where(keep, stored, fake))
    returned = jnp.where(swap, stored, fake)
    count = jnp.minimum(pool['count'] + 1, size)
    return {'images': images, 'count': count}, returned

  keys = jax.random.split(rng, fakes.shape[0])
  pool, returned = jax.lax.scan(one, pool, (fakes.astype(jnp.float32), keys))
  return pool, returned
