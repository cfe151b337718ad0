"""Gaussian and Laplacian image pyramids (Burt & Adelson 1983), as LapGAN (Denton et al. 2015) uses them.

With the 5-tap binomial kernel w = [1, 4, 6, 4, 1] / 16 and mirrored borders (``x[-i] = x[i]``,
``x[n - 1 + i] = x[n - 1 - i]``):

    d(I)  = (blur(I))[::2, ::2]                                  [H, W]  -> [H/2, W/2]   (reduce)
    u(I)  = 4 · blur(I with zeros inserted between its pixels)    [H, W]  -> [2H, 2W]     (expand)

Both are separable linear maps, so each is one small matrix per axis applied to the rows and the columns
(``R`` [n/2, n] and ``E`` [2n, n]: ``d(I) = R I Rᵀ``, ``u(I) = E I Eᵀ`` per channel); ``E`` keeps
constant images constant. For levels k = 0 (finest) ... K (coarsest):

    I_0 = I,   I_{k+1} = d(I_k),   l_k = u(I_{k+1}),   h_k = I_k − l_k   (k < K)

and the pyramid (h_0, ..., h_{K−1}, I_K) gives back the image exactly: I_k = l_k + h_k = u(I_{k+1}) + h_k.
Every function maps arrays [..., H, W, C] (any leading axes: batch, batches per step) and is jit-friendly.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


@functools.lru_cache(maxsize=None)
def blur_matrix(n: int) -> np.ndarray:
  """[n, n]: row i holds w centred on i, with the taps past a border mirrored back inside."""
  if n < 3:
    raise ValueError(f'a side of {n} pixels is too small for the 5-tap blur; it needs >= 3.')
  matrix = np.zeros((n, n))
  for i in range(n):
    for tap, weight in zip(range(-2, 3), BINOMIAL_5):
      j = i + tap
      j = -j if j < 0 else 2 * (n - 1) - j if j >= n else j
      matrix[i, j] += weight
  return matrix


@functools.lru_cache(maxsize=None)
def reduce_matrix(n: int) -> np.ndarray:
  """R [n / 2, n]: blur, then keep the even pixels."""
  if n % 2:
    raise ValueError(f'a side of {n} pixels cannot be halved; use sides divisible by 2^levels.')
  return blur_matrix(n)[::2]


@functools.lru_cache(maxsize=None)
def expand_matrix(n: int) -> np.ndarray:
  """E [2n, n]: insert a zero after each pixel, blur and multiply by 2 (per axis; 4 for the image)."""
  return 2.0 * blur_matrix(2 * n)[:, ::2]


def _apply(rows: np.ndarray, cols: np.ndarray, images: jax.Array) -> jax.Array:
  """``rows`` [H', H] and ``cols`` [W', W] on images [..., H, W, C] -> [..., H', W', C] (float32)."""
  rows, cols = (jnp.asarray(m, jnp.float32) for m in (rows, cols))
  return jnp.einsum('ih,...hwc,jw->...ijc', rows, images.astype(jnp.float32), cols)


def reduce(images: jax.Array) -> jax.Array:
  """d(·): [..., H, W, C] -> [..., H/2, W/2, C]."""
  height, width = images.shape[-3:-1]
  return _apply(reduce_matrix(height), reduce_matrix(width), images)


def expand(images: jax.Array) -> jax.Array:
  """u(·): [..., H, W, C] -> [..., 2H, 2W, C]."""
  height, width = images.shape[-3:-1]
  return _apply(expand_matrix(height), expand_matrix(width), images)


def check_levels(side: int, levels: int) -> None:
  """Raises ValueError unless an image of ``side`` pixels has a pyramid of ``levels`` levels whose
  coarsest side is >= 3 (the blur's support)."""
  if levels < 2 or side % 2 ** (levels - 1) or side // 2 ** (levels - 1) < 3:
    raise ValueError(
      f'a pyramid of config.model.levels={levels} on {side}x{side} images needs levels >= 2, the side '
      f'divisible by 2^(levels - 1) and a coarsest side >= 3 (28: 2 or 3 levels; 32: 2 to 4).'
    )


def laplacian(
  images: jax.Array, levels: int
) -> tuple[list[tuple[jax.Array, jax.Array]], jax.Array]:
  """The Laplacian pyramid of ``images`` [..., H, W, C] with ``levels`` = K + 1 levels.

  Returns ``(bands, coarse)``: ``bands[k] = (h_k, l_k)``, the band and the low-pass conditioning image of
  level k (both [..., H / 2^k, W / 2^k, C], k = 0 finest ... K − 1), and ``coarse`` = I_K
  [..., H / 2^K, W / 2^K, C].
  """
  bands, image = [], images.astype(jnp.float32)
  for _ in range(levels - 1):
    smaller = reduce(image)
    low = expand(smaller)
    bands.append((image - low, low))
    image = smaller
  return bands, image


def reconstruct(bands: list[jax.Array], coarse: jax.Array) -> jax.Array:
  """I_0 from the bands (h_0, ..., h_{K−1}) and I_K: I_k = u(I_{k+1}) + h_k, coarse to fine."""
  image = coarse
  for band in reversed(bands):
    image = expand(image) + band
  return image
