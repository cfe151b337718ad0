"""Whole-array image transforms applied once when a split is loaded (never per step).

``crop_and_resize`` maps uint8 [N, H, W, C] to uint8 [N, S, S, C]: an optional centred square crop of side
``crop`` (CelebA's faces: 108 of 178 x 218), then an antialiased bilinear resize to side ``size``
(``jax.image.resize``: a triangle filter widened by the scale when down-sampling, i.e. area-like averaging),
rounded back to uint8. Chunks of ``chunk`` images bound the float32 working memory.

Images of varying sizes (ImageNet) cannot be stacked before cropping: ``config.data.center_crop = -1``
takes each image's centred square of its shorter side and resizes it to ``image_size`` on its own
(``square_resize``: PIL's bilinear filter, antialiased when down-sampling), before the examples are stacked.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

SHORT_SIDE = -1  # config.data.center_crop: each image's centred square of its shorter side.


def center_crop(images: np.ndarray, crop: int) -> np.ndarray:
  """[N, H, W, C] -> [N, crop, crop, C], the centred square (the top-left one when H - crop is odd)."""
  height, width = images.shape[1:3]
  if crop > min(height, width):
    raise ValueError(
      f'config.data.center_crop={crop} exceeds the images ({height}x{width}); use 0 (no crop) or '
      f'at most {min(height, width)}.'
    )
  top, left = (height - crop) // 2, (width - crop) // 2
  return images[:, top : top + crop, left : left + crop]


@functools.partial(jax.jit, static_argnums=1)
def _resize(images: jax.Array, size: int) -> jax.Array:
  resized = jax.image.resize(
    images.astype(jnp.float32),
    (images.shape[0], size, size, images.shape[-1]),
    method='linear',
    antialias=True,
  )
  return jnp.clip(jnp.round(resized), 0, 255).astype(jnp.uint8)


def crop_and_resize(
  images: np.ndarray, crop: int = 0, size: int = 0, chunk: int = 1024
) -> np.ndarray:
  """uint8 [N, H, W, C] -> uint8 [N, S, S, C] (crop 0 = no crop, size 0 = no resize; see the module)."""
  if crop:
    images = center_crop(images, crop)
  if not size or images.shape[1:3] == (size, size):
    return images
  if images.shape[1] != images.shape[2]:
    raise ValueError(
      f'resizing {images.shape[1]}x{images.shape[2]} images to {size}x{size} would distort them; '
      'set config.data.center_crop to a square crop first.'
    )
  return np.concatenate(
    [np.asarray(_resize(images[i : i + chunk], size)) for i in range(0, len(images), chunk)]
  )


def resize_like_data(images: np.ndarray, size: int) -> np.ndarray:
  """Float images [N, H, W, C] in [0, 1] -> [N, size, size, C] in [0, 1] through what the data's
  ``image_size`` does to real images: quantised to uint8, the antialiased bilinear resize, rounded."""
  quantised = np.clip(np.round(np.asarray(images, np.float32) * 255), 0, 255).astype(np.uint8)
  return crop_and_resize(quantised, size=size).astype(np.float32) / 255


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
  """One uint8 image [H, W, C] of any size -> its centred square of side min(H, W), resized to
  [size, size, C] (bilinear; ``size`` 0 keeps the square's side)."""
  height, width = image.shape[:2]
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  square = image[top : top + side, left : left + side]
  if not size or side == size:
    return np.ascontiguousarray(square)
  channels = square.shape[-1]
  picture = Image.fromarray(square[..., 0] if channels == 1 else square)
  resized = np.asarray(picture.resize((size, size), Image.BILINEAR), np.uint8)
  return resized.reshape(size, size, channels)
