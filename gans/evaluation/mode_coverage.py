"""Mode coverage: how many modes of a known mixture a generator reaches, and how evenly.

Two protocols:
  * toy 2-D mixtures (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018): samples are
    assigned to the nearest mode center; ``mode_coverage`` reports modes captured, the fraction of
    high-quality samples and KL(histogram of the high-quality samples' modes ‖ uniform), usually over
    2,500 samples;
  * Stacked (Fashion-)MNIST (Metz et al. 2017): three images stacked as channels give 10³ modes,
    each channel labelled by a classifier; ``stacked_mode_coverage`` reports modes covered and KL
    to uniform.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def kl_to_uniform(counts) -> float:
  """KL(p ‖ u) = Σ_k p_k log(K p_k) of the histogram p = counts / Σ counts (0 log 0 = 0).

  ``counts`` [K]. Equals 0 when every bin holds the same mass and log K when one bin holds it all.
  """
  counts = np.asarray(counts, np.float64)
  p = counts / counts.sum()
  nonzero = p > 0
  return float(np.sum(p[nonzero] * np.log(len(p) * p[nonzero])))


@jax.jit
def nearest_modes(samples: jax.Array, centers: jax.Array) -> tuple[jax.Array, jax.Array]:
  """For samples [N, D] and centers [K, D]: the nearest center's index [N] and distance [N]."""
  distances = jnp.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)
  return jnp.argmin(distances, axis=1), jnp.min(distances, axis=1)


def mode_coverage(
  samples, centers, std: float, *, num_std: float = 3.0, min_high_quality: int = 1
) -> dict:
  """Scores samples [N, D] against a mixture with ``centers`` [K, D] and per-mode ``std``.

  A sample is *high quality* when its distance to the nearest center is at most ``num_std · std``.
  Returns a dict of
    modes: number of centers that are nearest to at least ``min_high_quality`` high-quality samples;
    high_quality_fraction: the fraction of the N samples that are high quality;
    kl: KL(h ‖ uniform over K) where h is the histogram of the high-quality samples' nearest centers
      (PacGAN's and VEEGAN's protocol: off-mode samples are not spread over the modes' bins); NaN when
      no sample is high quality.
  """
  num_modes = len(centers)
  index, distance = nearest_modes(
    jnp.asarray(samples, jnp.float32), jnp.asarray(centers, jnp.float32)
  )
  index, high_quality = np.asarray(index), np.asarray(distance <= num_std * std)
  high_quality_counts = np.bincount(index[high_quality], minlength=num_modes)
  return {
    'modes': int(np.sum(high_quality_counts >= min_high_quality)),
    'high_quality_fraction': float(high_quality.mean()),
    'kl': kl_to_uniform(high_quality_counts) if high_quality.any() else float('nan'),
  }


def stacked_mode_coverage(
  predict_fn: Callable[[np.ndarray], np.ndarray],
  samples,
  *,
  num_classes: int = 10,
  batch_size: int = 1000,
) -> dict:
  """Modes covered by samples [N, H, W, C] whose C channels are independent single-channel images.

  ``predict_fn`` maps images [B, H, W, 1] in the classifier's input range to logits [B, num_classes]
  (e.g. ``FeatureExtractor.logits``). Channel c gets label y_c = argmax logits; the sample's mode is
  Σ_c y_c · num_classes^(C-1-c), one of num_classes^C (1,000 for three channels and ten classes).
  Returns a dict of
    modes: the number of distinct modes among the N samples;
    kl: KL(mode histogram ‖ uniform over num_classes^C).
  Samples are scored ``batch_size`` at a time (B = batch_size · C channel images per call).
  """
  samples = np.asarray(samples)
  num_channels = samples.shape[-1]
  labels = []
  for start in range(0, len(samples), batch_size):
    batch = samples[start : start + batch_size]
    channels = np.moveaxis(batch, -1, 1)[..., None].reshape(-1, *batch.shape[1:3], 1)
    logits = np.asarray(predict_fn(channels))
    labels.append(np.argmax(logits, axis=-1).reshape(len(batch), num_channels))
  digits = num_classes ** np.arange(num_channels - 1, -1, -1)
  modes = np.concatenate(labels) @ digits
  counts = np.bincount(modes, minlength=num_classes**num_channels)
  return {'modes': int(np.sum(counts > 0)), 'kl': kl_to_uniform(counts)}
