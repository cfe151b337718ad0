"""Scores of a translation against a known answer: CycleGAN's A -> B on the edge-map domain
(``gans.data.domains``), where the true B image of every A image is its edge map.

With the translation t = G(a) and the true edge map e = edges(a), both [N, H, W, C] in [0, 1]:

    edge_l1  = E|t − e|                                  (0 = exact)
    edge_iou = |{t > ½} ∩ {e > ½}| / |{t > ½} ∪ {e > ½}|  over all pixels of the split (1 = exact)

The B -> A direction is scored by the evaluator as samples: F(edges(a)) against the real A images (FID,
...) and classified by the dataset's classifier against a's label (``class_accuracy``).
"""

from __future__ import annotations

import numpy as np


def edge_metrics(translated: np.ndarray, edges: np.ndarray) -> dict[str, float]:
  """``edge_l1`` and ``edge_iou`` of translations [N, H, W, C] against true edge maps, both in [0, 1]."""
  if translated.shape != edges.shape:
    raise ValueError(
      f'translations {translated.shape} and edge maps {edges.shape} differ in shape.'
    )
  predicted, true = translated > 0.5, edges > 0.5
  union = np.logical_or(predicted, true).sum()
  return {
    'edge_l1': float(np.abs(translated - edges).mean()),
    'edge_iou': float(np.logical_and(predicted, true).sum() / union) if union else 1.0,
  }
