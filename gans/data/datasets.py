"""Loads a dataset split into memory through TFDS, as named arrays (a ``Split``): ``{'image': uint8
[N, H, W, C], 'label': int32 [N]}``.

Sources (``config.data.source``):
  * ``idx``: MNIST-format IDX files on local disk, prepared once by the project's own TFDS builder
    (``gans.data.idx_builder``). The directory is ``config.data.source_dir``, else ``$GANS_DATA_DIR``,
    else Debian's Fashion-MNIST (``apt-get install dataset-fashion-mnist``).
  * ``tfds``: the TFDS catalogue (``mnist``, ``fashion_mnist``, ``cifar10``, ...) in ``array_record``
    format; needs internet the first time.
  * ``toy``: 2-D Gaussian mixtures (``ring``, ``grid``; ``gans.data.toy``) as float32 [N, 2] "images",
    ``toy_train_size`` points for training and as many for test, from fixed seeds.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from gans.data import domains, idx_builder, toy, transforms

DEBIAN_FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
DEFAULT_TFDS_DIR = os.path.join(os.path.expanduser('~'), 'tensorflow_datasets')


class MissingDataError(FileNotFoundError):
  """The dataset's files are not on disk; the message says how to get them."""


@dataclasses.dataclass(frozen=True)
class Split:
  """One split held in memory: named arrays with the same leading length N (the examples), e.g.
  ``{'image': uint8 [N, H, W, C], 'label': int32 [N]}``, and the number of classes of the labels."""

  arrays: dict[str, np.ndarray]
  num_classes: int
  # Arrays drawn in an order of their own: name -> group (>= 1); every other array is in group 0. Two
  # domains of unpaired data (``gans.data.domains``) are groups 0 and 1.
  order_groups: dict[str, int] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    lengths = {name: len(array) for name, array in self.arrays.items()}
    named = ', '.join(f'{name}: {length}' for name, length in lengths.items()) or 'no arrays'
    if len(set(lengths.values())) > 1:
      raise ValueError(f'the arrays of a split need the same number of examples, got {named}.')
    if not any(lengths.values()):
      raise ValueError(f'the split is empty ({named}): check the dataset files and the split name.')

  def __getitem__(self, name: str) -> np.ndarray:
    """The array ``name``, [N, ...]."""
    if name not in self.arrays:
      raise KeyError(f'the split has no array {name!r}, only {", ".join(self.arrays)}.')
    return self.arrays[name]

  def __len__(self) -> int:
    """The number of examples N."""
    return len(next(iter(self.arrays.values())))

  @property
  def names(self) -> tuple[str, ...]:
    """The names of the arrays, e.g. ``('image', 'label')``."""
    return tuple(self.arrays)

  @property
  def nbytes(self) -> int:
    """The host memory of all arrays."""
    return sum(array.nbytes for array in self.arrays.values())


def idx_source_dir(data_config) -> str:
  return data_config.source_dir or os.environ.get('GANS_DATA_DIR') or DEBIAN_FASHION_MNIST


def _missing_idx_message(name: str, directory: str, missing: list[str]) -> str:
  if name == 'fashion_mnist' and directory == DEBIAN_FASHION_MNIST:
    how = 'Install them with: apt-get install -y dataset-fashion-mnist'
  else:
    how = (
      f'Put the {name} IDX files ({", ".join(missing)}, optionally .gz) in one directory and pass '
      'it with --config.data.source_dir=DIR or GANS_DATA_DIR=DIR'
    )
  return f'{name}: IDX files {missing} not found in {directory}. {how}.'


def _tfds_dir(data_config) -> str:
  return data_config.tfds_dir or os.environ.get('TFDS_DATA_DIR') or DEFAULT_TFDS_DIR


def _idx_data_source(data_config, split: str):
  known = [config.name for config in idx_builder.IdxImages.BUILDER_CONFIGS]
  if data_config.name not in known:
    raise ValueError(
      f'config.data.name={data_config.name!r} is not an IDX dataset ({", ".join(known)}); for the '
      'TFDS catalogue use --config.data.source=tfds.'
    )
  directory = idx_source_dir(data_config)
  missing = [
    stem
    for stems in idx_builder.SPLIT_FILES.values()
    for stem in stems
    if idx_builder.find_idx_file(directory, stem) is None
  ]
  if missing:
    raise MissingDataError(_missing_idx_message(data_config.name, directory, missing))
  prepared = os.path.join(
    _tfds_dir(data_config), 'gans_idx', idx_builder.source_fingerprint(directory)
  )
  builder = idx_builder.IdxImages(
    source_dir=directory, config=data_config.name, data_dir=prepared, file_format='array_record'
  )
  builder.download_and_prepare()
  return builder.as_data_source(split=split), 10


def _catalogue_data_source(data_config, split: str):
  builder = tfds.builder(
    data_config.name, data_dir=_tfds_dir(data_config), file_format='array_record'
  )
  builder.download_and_prepare()
  features = builder.info.features
  num_classes = features['label'].num_classes if 'label' in features else 0  # CelebA: none.
  return builder.as_data_source(split=split), num_classes


def dataset_id(data_config) -> str:
  """A name for the data a run trains on, unique per source files: keys caches such as the evaluator's."""
  stacked = data_config.get('stacked_images', 0)
  suffix = f'-stack{stacked}' if stacked else ''
  for field in ('center_crop', 'image_size', 'label_attribute'):
    if data_config.get(field):
      suffix += f'-{field}{data_config[field]}'
  if data_config.source == 'idx':
    fingerprint = idx_builder.source_fingerprint(idx_source_dir(data_config))
    return f'idx-{data_config.name}-{fingerprint}{suffix}'
  return f'{data_config.source}-{data_config.name}{suffix}'


def cache_dir(data_config, *parts: str) -> str:
  """A directory for derived artefacts of this dataset (e.g. the evaluation classifier)."""
  return os.path.join(_tfds_dir(data_config), 'gans_cache', dataset_id(data_config), *parts)


def _toy_split(data_config, split: str) -> Split:
  points = toy.toy_dataset(
    data_config.name, data_config.toy_train_size, seed={'train': 0, 'test': 1}[split]
  )
  return Split({'image': points, 'label': np.zeros(len(points), np.int32)}, num_classes=1)


def stack_split(base: Split, channels: int, seed: int) -> Split:
  """Stacked data (Metz et al. 2017; PacGAN's Stacked MNIST): example i puts ``channels`` random
  images of ``base['image']`` [N, H, W, 1] in the channels of one [H, W, channels] image; its label
  is the mode Σ_c y_c · K^(channels-1-c), one of K^channels (1,000 for K = 10, 3 channels). Same
  size as ``base``."""
  images, labels = base['image'], base['label']
  if images.shape[-1] != 1:
    raise ValueError(f'stacking needs single-channel images, got shape {images.shape[1:]}.')
  rows = np.random.default_rng(seed).integers(0, len(base), (len(base), channels))
  digits = base.num_classes ** np.arange(channels - 1, -1, -1)
  return Split(
    {
      'image': np.concatenate([images[rows[:, c]] for c in range(channels)], axis=-1),
      'label': (labels[rows] @ digits).astype(np.int32),
    },
    base.num_classes**channels,
  )


def base_config(data_config):
  """The config of the data before stacking and a second domain (``stacked_images`` = 0,
  ``domain_b`` = '')."""
  base = data_config.copy_and_resolve_references()
  base.stacked_images = 0
  base.domain_b = ''
  return base


DOMAINS_B = ('', 'edges')


def load_split(data_config, split: str) -> Split:
  """Reads the whole ``split`` of ``data_config.name`` into memory (a one-off cost at start-up), stacked
  over ``data_config.stacked_images`` channels when that is > 0, with a second domain ``image_b`` when
  ``data_config.domain_b`` names one (``edges``: ``gans.data.domains``)."""
  seed = {'train': 0, 'test': 1}.get(split, 2)
  stacked = data_config.get('stacked_images', 0)
  if stacked:
    return stack_split(load_split(base_config(data_config), split), stacked, seed)
  domain_b = data_config.get('domain_b', '')
  if domain_b not in DOMAINS_B:
    raise ValueError(f"config.data.domain_b={domain_b!r}: use one of {DOMAINS_B[1:]} or '' (none).")
  if domain_b:
    base = load_split(base_config(data_config), split)
    arrays, groups = domains.edges_domains(base['image'], base['label'], seed)
    return Split(arrays, base.num_classes, order_groups=groups)
  if data_config.source == 'toy':
    return _toy_split(data_config, split)
  if data_config.source == 'idx':
    source, num_classes = _idx_data_source(data_config, split)
  elif data_config.source == 'tfds':
    source, num_classes = _catalogue_data_source(data_config, split)
  else:
    raise ValueError(f"config.data.source={data_config.source!r}: use 'idx', 'tfds' or 'toy'.")
  if not len(source):
    raise ValueError(f'{data_config.name}: split {split!r} is empty.')
  attribute = data_config.get('label_attribute', '')
  images, labels = [], []
  for start in range(0, len(source), _READ_CHUNK):
    examples = [source[i] for i in range(start, min(start + _READ_CHUNK, len(source)))]
    images.append(
      transforms.crop_and_resize(
        np.stack([example['image'] for example in examples]).astype(np.uint8),
        data_config.get('center_crop', 0),
        data_config.get('image_size', 0),
      )
    )
    labels.append([_label(example, attribute, data_config.name) for example in examples])
  return Split(
    {'image': np.concatenate(images), 'label': np.concatenate(labels).astype(np.int32)},
    2 if attribute else num_classes,
  )


_READ_CHUNK = 4096  # Examples decoded before they are cropped and resized (bounds the memory).


def _label(example: dict, attribute: str, name: str) -> int:
  """The class of an example: its ``label``, or its boolean ``attributes[attribute]`` (CelebA) as 0/1."""
  if not attribute:
    if 'label' not in example:
      raise ValueError(
        f'{name} has no label feature (features: {", ".join(example)}); pass a boolean attribute as '
        'the class, e.g. --config.data.label_attribute=Male for CelebA.'
      )
    return example['label']
  attributes = example.get('attributes', {})
  if attribute not in attributes:
    raise ValueError(
      f'config.data.label_attribute={attribute!r} is not an attribute of {name}; known: '
      f'{", ".join(attributes) or "none"}.'
    )
  return int(attributes[attribute])
