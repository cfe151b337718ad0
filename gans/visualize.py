"""Images to files: grids of samples as PNG (and uint8 arrays for TensorBoard)."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from gans import methods, plots
from gans.data import captions, datasets, folders, toy
from gans.methods import base


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


def to_picture(samples: np.ndarray, data) -> np.ndarray:
  """Images [N, H, W, C] or [R, K, H, W, C] in ``data.value_range`` -> a tiled grid; the 2-D points
  [N, 2] of a toy mixture (``data.name``) -> a scatter plot with its modes (``plots.mixture_scatter``)."""
  samples = np.asarray(samples)
  if samples.ndim == 2:
    mixture = toy.TOY_MIXTURES[data.name]
    return plots.mixture_scatter(samples, mixture.centers, mixture.std, data.value_range)
  return image_grid(to_uint8(samples, data.value_range))


def save_png(path: str, grid: np.ndarray) -> None:
  """Writes a uint8 [H, W, 1 or 3] picture, creating the directory; atomic (write then rename)."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  tmp = path + '.tmp'
  picture.save(tmp, format='PNG')
  os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------
# Visual tools of the GAN zoo (``--mode=sample --config.sample.kind=...``, see ``render_sample_kind``).
#
# They use two optional capabilities of a family (``gans.methods.base``): ``LatentSpace`` (latents(rng,
# num) -> {name: [num, ...]}, float entries continuous, integer ones discrete codes such as class labels;
# decode(state, latents) -> [num, H, W, C] in inference mode, EMA weights when kept) for walks and
# arithmetic, and ``Traversals`` (traversals(state, rng) -> {name: [R, K, H, W, C]}, InfoGAN's code sweeps
# and the conditional GAN's class rows).

SAMPLE_KINDS = (
  'grid',
  'interpolate',
  'arithmetic',
  'traverse',
  'curves',
  'translate',
  'text',
  'style_transfer',
)


def lerp(start, end, t):
  """(1 - t)·start + t·end for start, end [N, D] and t [T] -> [N, T, D]."""
  t = jnp.asarray(t)[None, :, None]
  return (1 - t) * start[:, None] + t * end[:, None]


def slerp(start, end, t):
  """Spherical interpolation [N, T, D] (Shoemake 1985; White 2016 for GAN latents):

      sin((1 - t)Ω)/sin Ω · start + sin(tΩ)/sin Ω · end,   cos Ω = <start, end> / (|start| |end|),

  which keeps Gaussian latents at a typical norm; falls back to ``lerp`` for (anti)parallel endpoints.
  """
  unit = lambda v: v / jnp.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
  omega = jnp.arccos(jnp.clip(jnp.sum(unit(start) * unit(end), axis=-1), -1.0, 1.0))[:, None, None]
  t = jnp.asarray(t)[None, :, None]
  sin = jnp.sin(omega)
  safe = jnp.where(sin > 1e-6, sin, 1.0)
  spherical = (jnp.sin((1 - t) * omega) * start[:, None] + jnp.sin(t * omega) * end[:, None]) / safe
  return jnp.where(sin > 1e-6, spherical, lerp(start, end, t[0, :, 0]))


def _decode_grid(method, state, latents, rows: int, cols: int):
  """Decodes ``rows·cols`` latents laid out row by row into [rows, cols, H, W, C]."""
  images = method.decode(state, latents)
  return images.reshape((rows, cols, *images.shape[1:]))


def interpolation(method, state, rng, *, rows: int = 8, steps: int = 10, spherical: bool = False):
  """[rows, steps, H, W, C]: each row walks z from one random latent to another (DCGAN, fig. 4).

  Only ``z`` moves; the other latent entries (labels, codes) keep the start's values along a row.
  """
  start_rng, end_rng = jax.random.split(rng)
  start, end = method.latents(start_rng, rows), method.latents(end_rng, rows)
  t = jnp.linspace(0.0, 1.0, steps)
  path = (slerp if spherical else lerp)(start['z'], end['z'], t)
  latents = {name: jnp.repeat(value, steps, axis=0) for name, value in start.items()}
  latents['z'] = path.reshape((rows * steps, -1))
  return _decode_grid(method, state, latents, rows, steps)


def parse_groups(text: str) -> list[list[int]]:
  """'0,1,2;3,4,5;6,7,8' -> [[0, 1, 2], [3, 4, 5], [6, 7, 8]]: three equal-sized groups A, B, C."""
  groups = [[int(i) for i in group.split(',')] for group in text.split(';') if group.strip()]
  if len(groups) != 3 or len({len(g) for g in groups}) != 1:
    raise ValueError(
      f'config.sample.groups={text!r}: give three equal-sized groups A;B;C of grid indices '
      "(e.g. '0,1,2;3,4,5;6,7,8') for A - B + C."
    )
  return groups


def latent_arithmetic(method, state, rng, *, num: int, groups, variations: int = 4, scale=0.25):
  """Vector arithmetic on averaged latents (DCGAN, fig. 7): mean(A) - mean(B) + mean(C).

  Args:
    num: size of the indexed grid the groups refer to: the samples of ``latents(rng, num)``, which
      ``GAN.generate(state, rng, num)`` draws (the ``grid`` kind with the same seed).
    groups: three equal-sized lists A, B, C of indices into that grid.
    variations: extra decodings of the result with z + ``scale``·N(0, I).

  Returns:
    [4, m + 1 + variations, H, W, C] with m the group size: rows A, B, C show the members, then the
    decoding of the group's mean latent; the last row shows mean(A) - mean(B) + mean(C), then its
    noisy variations. Empty tiles hold the smallest pixel value shown. Continuous (float) latents
    are averaged; discrete ones are taken from the first member of the group (of C for the result).
  """
  latents = method.latents(rng, num)
  is_float = {name: jnp.issubdtype(value.dtype, jnp.floating) for name, value in latents.items()}
  members = [{name: value[jnp.asarray(g)] for name, value in latents.items()} for g in groups]
  means = [
    {name: jnp.mean(v, 0, keepdims=True) if is_float[name] else v[:1] for name, v in m.items()}
    for m in members
  ]
  result = {
    name: means[0][name] - means[1][name] + means[2][name] if is_float[name] else means[2][name]
    for name in latents
  }
  noisy = {name: jnp.repeat(value, variations + 1, axis=0) for name, value in result.items()}
  noise = scale * jax.random.normal(jax.random.fold_in(rng, 1), noisy['z'][1:].shape)
  noisy['z'] = noisy['z'].at[1:].add(noise)
  rows = [
    jnp.concatenate([method.decode(state, m), method.decode(state, mean)])
    for m, mean in zip(members, means)
  ]
  rows.append(method.decode(state, noisy))
  cols = len(groups[0]) + 1 + variations
  fill = min(float(jnp.min(row)) for row in rows)
  return jnp.stack(
    [jnp.concatenate([row, jnp.full((cols - len(row), *row.shape[1:]), fill)]) for row in rows]
  )


def numbered_grid(grid: np.ndarray, num: int, tile: tuple[int, int], *, pad: int = 1) -> np.ndarray:
  """``image_grid``'s picture of ``num`` tiles of ``tile`` (H, W), laid out as it lays them out, with
  each tile's index written in its top-left corner (to pick ``sample.groups`` for arithmetic)."""
  picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  draw = ImageDraw.Draw(picture)
  cols = int(np.ceil(np.sqrt(num)))
  for i in range(num):
    y, x = pad + (i // cols) * (tile[0] + pad), pad + (i % cols) * (tile[1] + pad)
    draw.text((x + 1, y), str(i), fill=255 if grid.shape[-1] == 1 else (255, 0, 0))
  out = np.asarray(picture)
  return out[..., None] if out.ndim == 2 else out


def labelled_grid(
  grid: np.ndarray,
  tile: tuple[int, int],
  rows: list[str],
  cols: list[str],
  title: str,
  *,
  pad: int = 1,
) -> np.ndarray:
  """``image_grid``'s picture of a [len(rows), len(cols)] grid of ``tile`` (H, W) tiles with its axes
  written: ``title`` on top, ``cols`` above the columns and ``rows`` left of the rows (black margins,
  white text): uint8 [H + 24, W + left margin, C]."""
  char_w, line_h = 6, 12  # PIL's default bitmap font.
  left = char_w * max(len(label) for label in rows) + 4
  height, width = grid.shape[:2]
  mode = 'L' if grid.shape[-1] == 1 else 'RGB'
  picture = Image.new(mode, (left + max(width, char_w * len(title)), height + 2 * line_h), 0)
  picture.paste(Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid), (left, 2 * line_h))
  draw = ImageDraw.Draw(picture)
  white = 255 if mode == 'L' else (255, 255, 255)
  draw.text((0, 0), title, fill=white)
  for j, label in enumerate(cols):
    draw.text((left + pad + j * (tile[1] + pad), line_h), label, fill=white)
  for i, label in enumerate(rows):
    y = 2 * line_h + pad + i * (tile[0] + pad) + (tile[0] - line_h) // 2
    draw.text((0, y), label, fill=white)
  out = np.asarray(picture)
  return out[..., None] if out.ndim == 2 else out


def code_traversal_pictures(method, state, config, rng, pixels) -> dict:
  """InfoGAN's traversals with their axes written (``labelled_grid``): row k is the categorical code k
  and the class ``code_classes`` matches to it on the evaluation split (names from
  ``captions.CLASS_NAMES`` where the dataset has them), columns the swept continuous code's values."""
  split = datasets.load_split(config.data, config.eval.split)
  classes = method.code_classes(state, pixels(split['image']), split['label'])
  names = captions.CLASS_NAMES.get(config.data.name)
  matched = [names[c] if names and c < len(names) else f'class {c}' for c in classes]
  axes = method.traversal_axes(matched)
  pictures = {}
  for name, images in method.traversals(state, rng).items():
    picture = image_grid(to_uint8(images, config.data.value_range))
    pictures[name] = labelled_grid(picture, images.shape[2:4], *axes[name])
  return pictures


def render_sample_kind(kind: str, method, state, config, rng, *, workdir: str = '') -> dict:
  """The pictures of ``--mode=sample --config.sample.kind=KIND``: name -> uint8 [H, W, C] grid.

  grid: ``samples`` of ``generate(state, rng, sample.num)`` (EMA weights when present) and
    ``samples_numbered`` with each tile's index;
  interpolate: ``interpolate_linear`` and ``interpolate_spherical`` [sample.rows × sample.steps];
  arithmetic: ``arithmetic`` from ``sample.groups`` (indices into the grid drawn with the same seed);
  traverse: the method's ``traversals`` (InfoGAN code sweeps, conditional GAN class rows);
  curves: ``curves_train``, ``curves_eval``, ...: the scalars logged under ``workdir/tensorboard``, one
    figure per group (``plots.training_curves``);
  translate: ``translate_<file>`` per image of ``sample.input_dir`` (``gans.data.folders``) translated in
    ``sample.direction``, and ``translate_sheet`` (rows: each input beside its translation);
  text: ``text`` (a row of samples per caption of ``sample.captions``, ';' between them) and
    ``text_interpolation`` (rows walking from each caption's embedding to the next's);
  style_transfer: ``style_transfer``: ``sample.rows`` real images (the evaluation split's first, or the
    images of ``sample.input_dir``), each beside its redrawings for every caption of ``sample.captions``.
  """
  cfg = config.sample
  value_range = config.data.value_range

  def grid(images):
    return image_grid(to_uint8(images, value_range))

  def pixels(images):  # uint8 -> float32 in the value range.
    return (
      jnp.asarray(images, jnp.float32) / 255.0 * (value_range[1] - value_range[0]) + value_range[0]
    )

  if kind == 'grid' and base.supports(method, base.Translation):
    raise ValueError(
      f'{config.method.name} translates images rather than sampling them: use --config.sample.kind='
      'translate --config.sample.input_dir=DIR (training writes translations of test images).'
    )
  if kind == 'grid':
    samples = np.asarray(method.generate(state, rng, cfg.num))
    pictures = {'samples': to_picture(samples, config.data)}
    if samples.ndim == 4:  # Images, not toy points: also the grid with each tile's index.
      pictures['samples_numbered'] = numbered_grid(pictures['samples'], cfg.num, samples.shape[1:3])
    return pictures
  if kind in ('interpolate', 'arithmetic'):
    methods.require(method, base.LatentSpace, config.method.name)
  if kind == 'interpolate':
    walks = {
      f'interpolate_{name}': interpolation(
        method, state, rng, rows=cfg.rows, steps=cfg.steps, spherical=spherical
      )
      for name, spherical in (('linear', False), ('spherical', True))
    }
    return {name: grid(images) for name, images in walks.items()}
  if kind == 'arithmetic':
    groups = parse_groups(cfg.groups)
    return {'arithmetic': grid(latent_arithmetic(method, state, rng, num=cfg.num, groups=groups))}
  if kind == 'traverse':
    methods.require(method, base.Traversals, config.method.name)
    # InfoGAN: the axes named, each code matched to a class.
    if base.supports(method, base.UnsupervisedCodes):
      return code_traversal_pictures(method, state, config, rng, pixels)
    return {name: grid(images) for name, images in method.traversals(state, rng).items()}
  if kind == 'curves':
    scalars = plots.read_scalars(os.path.join(workdir, 'tensorboard'))
    return {f'curves_{group}': picture for group, picture in plots.training_curves(scalars).items()}
  if kind == 'translate':
    methods.require(method, base.Translation, config.method.name)
    stems, images = folders.read_images(cfg.input_dir, method.image_shape)
    inputs = pixels(images)
    translated = np.asarray(
      jax.jit(method.translate, static_argnums=2)(state, inputs, cfg.direction)
    )
    pictures = {f'translate_{stem}': grid(translated[i : i + 1]) for i, stem in enumerate(stems)}
    pairs = np.stack([np.asarray(inputs), translated], axis=1)  # [N, 2, H, W, C]
    pictures['translate_sheet'] = image_grid(
      to_uint8(pairs.reshape(-1, *pairs.shape[2:]), value_range), cols=2
    )
    return pictures
  if kind in ('text', 'style_transfer'):
    methods.require(method, base.TextConditional, config.method.name)
  if kind == 'text':
    return {
      name: grid(images)
      for name, images in method.text_figures(state, rng, cfg.captions, steps=cfg.steps).items()
    }
  if kind == 'style_transfer':
    if cfg.input_dir:
      images = folders.read_images(cfg.input_dir, method.image_shape)[1][: cfg.rows]
    else:
      images = datasets.load_split(config.data, config.eval.split)['image'][: cfg.rows]
    figures = method.style_transfer_figures(state, pixels(images), cfg.captions)
    return {name: grid(images) for name, images in figures.items()}
  raise ValueError(f'unknown config.sample.kind={kind!r}; use one of {", ".join(SAMPLE_KINDS)}.')
