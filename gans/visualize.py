"""Images to files: grids of samples as PNG (and uint8 arrays for TensorBoard)."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image


def to_uint8(images, value_range) -> np.ndarray:
  """Maps float images in ``value_range`` (lo, hi) to uint8 [0, 255], clipping outliers."""
  lo, hi = value_range
  images = (np.asarray(images, np.float32) - lo) / (hi - lo)
  return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)


def image_grid(images: np.ndarray, *, cols: int | None = None, pad: int = 1) -> np.ndarray:
  """Tiles uint8 images into one picture.

  Args:
    images: [N, H, W, C] (laid out row by row, ``cols`` per row, default ~sqrt(N)) or
      [R, K, H, W, C] (R rows of K images).
    pad: pixels of black between tiles.
  Returns:
    uint8 [R·(H + pad) + pad, K·(W + pad) + pad, C].
  """
  images = np.asarray(images)
  if images.ndim == 4:
    n = images.shape[0]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    filler = np.zeros((rows * cols - n, *images.shape[1:]), images.dtype)
    images = np.concatenate([images, filler]).reshape((rows, cols, *images.shape[1:]))
  if images.ndim != 5:
    raise ValueError(f'expected images [N, H, W, C] or [R, K, H, W, C], got shape {images.shape}.')
  rows, cols, h, w, c = images.shape
  grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), images.dtype)
  for r in range(rows):
    for k in range(cols):
      y, x = pad + r * (h + pad), pad + k * (w + pad)
      grid[y : y + h, x : x + w] = images[r, k]
  return grid


def save_png(path: str, grid: np.ndarray) -> None:
  """Writes a uint8 [H, W, 1 or 3] picture, creating the directory; atomic (write then rename)."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  tmp = path + '.tmp'
  picture.save(tmp, format='PNG')
  os.replace(tmp, path)
