"""Feature extractors' forward passes over many images in fixed-size batches (one compilation)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def features_and_logits(
  apply: Callable[[Any, np.ndarray], tuple], variables, images, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
  """``apply(variables, batch) -> (features [b, D], logits [b, K])`` over images [N, ...] in batches of
  ``batch_size``, the last one zero-padded so every call has the same shape: (features [N, D], logits
  [N, K]), independent of ``batch_size``."""
  images = np.asarray(images)
  if len(images) == 0:
    raise ValueError('no images to evaluate.')
  outputs = []
  for start in range(0, len(images), batch_size):
    batch = images[start : start + batch_size]
    padded = np.pad(batch, [(0, batch_size - len(batch))] + [(0, 0)] * (batch.ndim - 1))
    features, logits = apply(variables, padded)
    outputs.append((np.asarray(features[: len(batch)]), np.asarray(logits[: len(batch)])))
  features, logits = zip(*outputs)
  return np.concatenate(features), np.concatenate(logits)
