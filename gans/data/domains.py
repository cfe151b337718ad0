"""Two-domain data for unpaired translation (CycleGAN): offline with a known answer (``edges``), or two
splits of a dataset (``splits``: TFDS's ``cycle_gan/<pair>``, ``trainA``/``trainB``, ``testA``/``testB``).

``edges_split`` turns a split of images into domain A = the images and domain B = the edge maps of a
different shuffle of the same images, so no (image, its own edges) pair is ever fed:

    image    uint8 [N, H, W, C]   domain A (as loaded)
    image_b  uint8 [N, H, W, C]   edges(image[π]), π a fixed permutation of the split (``seed``)
    label    int32 [N]            the class of ``image``
    edges    uint8 [N, H, W, C]   edges(image): the true translation of each A image, for evaluation only
                                  (no method reads it in training)

and ``order_groups = {'image_b': 1}``: the feeds draw domain B's rows in an order of its own, independent
of domain A's (``gans.data.input_pipeline``), so pairs are not even fixed from epoch to epoch.

The edge map is the thresholded Sobel gradient magnitude of the grey image in [0, 1]:

    g = mean_c(image) / 255,   m = sqrt((S_x ∗ g)² + (S_y ∗ g)²),   edges = 255 · [m > threshold]

with S_x = [[−1, 0, 1], [−2, 0, 2], [−1, 0, 1]], S_y = S_xᵀ and the border pixels repeated outwards (a unit
step gives m = 4), repeated over the C channels so that both domains have one shape. The same function
scores translations: ``gans.evaluation.translation``.
"""

from __future__ import annotations

import numpy as np

EDGE_THRESHOLD = 1.0
_CHUNK = 8192


def sobel_magnitude(grey: np.ndarray) -> np.ndarray:
  """Sobel gradient magnitude m of float images [N, H, W] (border repeated): float32 [N, H, W]."""
  padded = np.pad(grey.astype(np.float32), ((0, 0), (1, 1), (1, 1)), mode='edge')
  rows = padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]  # Smoothing along y, [N, H, W + 2].
  cols = padded[:, :, :-2] + 2 * padded[:, :, 1:-1] + padded[:, :, 2:]  # Along x, [N, H + 2, W].
  gx = rows[:, :, 2:] - rows[:, :, :-2]
  gy = cols[:, 2:, :] - cols[:, :-2, :]
  return np.sqrt(gx * gx + gy * gy)


def sobel_edges(images: np.ndarray, threshold: float = EDGE_THRESHOLD) -> np.ndarray:
  """uint8 [N, H, W, C] -> uint8 edge maps [N, H, W, C] in {0, 255} (module docstring)."""
  out = np.empty(images.shape, np.uint8)
  for start in range(0, len(images), _CHUNK):
    grey = images[start : start + _CHUNK].astype(np.float32).mean(axis=-1) / 255.0
    edges = np.where(sobel_magnitude(grey) > threshold, 255, 0).astype(np.uint8)
    out[start : start + _CHUNK] = edges[..., None]
  return out


def edges_domains(
  images: np.ndarray, labels: np.ndarray, seed: int, threshold: float = EDGE_THRESHOLD
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
  """Domain A = ``images`` [N, H, W, C], domain B = edge maps of them shuffled by ``seed``: the arrays
  and the order groups of the split (module docstring)."""
  edges = sobel_edges(images, threshold)
  shuffle = np.random.default_rng(seed).permutation(len(images))
  arrays = {'image': images, 'image_b': edges[shuffle], 'label': labels, 'edges': edges}
  return arrays, {'image_b': 1}


def resampled_rows(num_b: int, num_a: int, seed: int) -> np.ndarray:
  """Rows of a domain of ``num_b`` examples for a split of ``num_a`` rows: permutations of ``num_b``
  (seeded) laid end to end and cut to ``num_a``, so every B example is used as evenly as possible."""
  rng = np.random.default_rng(seed)
  return np.concatenate([rng.permutation(num_b) for _ in range(-(-num_a // num_b))])[:num_a]


def split_domains(
  images_a: np.ndarray, labels_a: np.ndarray, images_b: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
  """Domain A = ``images_a`` [N_A, H, W, C], domain B = ``images_b`` [N_B, H, W, C] (another split, e.g.
  ``trainB``), as the arrays of one split of N_A rows: B's examples by ``resampled_rows`` (N_A ≠ N_B in
  general), drawn in an order of their own (group 1) as in ``edges_domains``."""
  if images_a.shape[1:] != images_b.shape[1:]:
    raise ValueError(
      f'the two domains differ in shape: A {images_a.shape[1:]}, B {images_b.shape[1:]}; resize both '
      'to one side with --config.data.image_size=S (and config.data.center_crop for non-square ones).'
    )
  rows = resampled_rows(len(images_b), len(images_a), seed)
  return {'image': images_a, 'image_b': images_b[rows], 'label': labels_a}, {'image_b': 1}
