"""Images from a folder of PNG/JPEG files, as the user has them (``--mode=sample --config.sample.kind=
translate --config.sample.input_dir=DIR``).

``read_images(directory, shape)`` reads every ``*.png``, ``*.jpg``, ``*.jpeg`` (any case) in name order as
uint8 [N, H, W, C] for a model of images ``shape`` = (H, W, C): an image of another size is resized
(bilinear) to H × W; its channels must be the model's (1 = grey, 3 = RGB), or the error names the file
and the conversion to make. An alpha channel is dropped.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

EXTENSIONS = ('.png', '.jpg', '.jpeg')
_MODES = {1: 'L', 3: 'RGB'}


def image_files(directory: str) -> list[str]:
  """The image files of ``directory`` in name order; ValueError when there are none."""
  if not os.path.isdir(directory):
    raise ValueError(
      f'config.sample.input_dir={directory!r} is not a directory; pass a folder of PNG/JPEG images.'
    )
  files = sorted(f for f in os.listdir(directory) if f.lower().endswith(EXTENSIONS))
  if not files:
    raise ValueError(
      f'no PNG/JPEG images in config.sample.input_dir={directory!r}; put *.png or *.jpg files there.'
    )
  return [os.path.join(directory, f) for f in files]


def read_image(path: str, shape) -> np.ndarray:
  """The image file ``path`` as uint8 [H, W, C] for a model of images ``shape`` = (H, W, C): resized
  (bilinear) to H × W, alpha dropped; ValueError naming the file when its channels are not C's."""
  height, width, channels = shape
  if channels not in _MODES:
    raise ValueError(f'reading images for {channels}-channel models is not supported (1 or 3).')
  with Image.open(path) as image:
    mode = image.mode.rstrip('A') or 'L'  # 'LA' -> 'L', 'RGBA' -> 'RGB'; alpha dropped.
    mode = {'P': 'RGB', 'I;16': 'L', 'I': 'L', '1': 'L'}.get(mode, mode)
    if mode != _MODES[channels]:
      fix = 'grey (e.g. PIL: image.convert("L"))' if channels == 1 else 'RGB (image.convert("RGB"))'
      raise ValueError(
        f'{path} is a {mode} image but the model takes {channels}-channel images: convert it to {fix}.'
      )
    image = image.convert(mode)
    if image.size != (width, height):
      image = image.resize((width, height), Image.BILINEAR)
    return np.asarray(image, np.uint8).reshape(height, width, channels)


def read_images(directory: str, shape) -> tuple[list[str], np.ndarray]:
  """(file stems, uint8 [N, H, W, C]) of the images of ``directory`` for a model of ``shape`` (H, W, C)."""
  paths = image_files(directory)
  stems = [os.path.splitext(os.path.basename(path))[0] for path in paths]
  return stems, np.stack([read_image(path, shape) for path in paths])
