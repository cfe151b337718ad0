"""Toy 2-D Gaussian mixtures for mode-collapse experiments (the VEEGAN / PacGAN benchmarks).

2D-ring: 8 modes evenly spaced on the circle of radius 1, std 0.01.
2D-grid: 25 modes at {-4, -2, 0, 2, 4}², std 0.05.
Every mode has weight 1/K and is the isotropic Gaussian N(center, std² I).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np


def ring_centers(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
  """Centers [num_modes, 2] at angles 2πk / num_modes on the circle of ``radius``."""
  angles = 2 * np.pi * np.arange(num_modes) / num_modes
  return (radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)


def grid_centers(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
  """Centers [len(values)², 2] of the grid values × values, row-major."""
  xs, ys = np.meshgrid(values, values, indexing='ij')
  return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class ToyMixture:
  """An equal-weight isotropic Gaussian mixture: ``centers`` [K, 2] and one ``std``."""

  centers: np.ndarray
  std: float


TOY_MIXTURES = {
  'ring': ToyMixture(ring_centers(), 0.01),
  'grid': ToyMixture(grid_centers(), 0.05),
}


def sample_mixture(rng: jax.Array, centers, std: float, n: int) -> jax.Array:
  """Draws ``n`` samples [n, 2] (float32) from the equal-weight mixture of N(centers[k], std² I).

  Traceable under ``jit`` with ``n`` static, so a training step can draw its own batch.
  """
  centers = jnp.asarray(centers, jnp.float32)
  mode_rng, noise_rng = jax.random.split(rng)
  modes = jax.random.randint(mode_rng, (n,), 0, centers.shape[0])
  return centers[modes] + std * jax.random.normal(noise_rng, (n, centers.shape[1]), jnp.float32)


def toy_dataset(name: str, num_samples: int, seed: int = 0) -> np.ndarray:
  """A fixed training set: float32 numpy array [num_samples, 2] from ``TOY_MIXTURES[name]``."""
  if name not in TOY_MIXTURES:
    raise ValueError(f'unknown toy mixture {name!r}: use one of {sorted(TOY_MIXTURES)}.')
  mixture = TOY_MIXTURES[name]
  return np.asarray(sample_mixture(jax.random.key(seed), mixture.centers, mixture.std, num_samples))
