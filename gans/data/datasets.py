"""Dataset splits through TFDS, as named arrays: ``{'image': uint8 [N, H, W, C], 'label': int32 [N]}``,
held in memory (``load_split`` -> ``Split``) or left on disk and read by rows (``open_split`` ->
``SplitSource``, the stream feed's source; idx and tfds sources). Both decode the same records the same
way: row i of a ``Split`` is ``SplitSource.read([i])``.

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
from tensorflow_datasets.proto import tf_example_pb2

from gans.data import captions, domains, idx_builder, semi_supervised, toy, transforms

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

  def head(self, num: int) -> Split:
    """The first ``num`` examples."""
    head = {name: array[:num] for name, array in self.arrays.items()}
    return Split(head, self.num_classes, self.order_groups)

  def load(self) -> Split:
    """The split in memory: itself."""
    return self


class SplitSource:
  """One split left on disk: random access to its examples through a TFDS ``array_record`` data source
  (``builder.as_data_source``), read by rows as the named arrays a ``Split`` holds. N, the names, shapes
  and dtypes come from the source's length and its first example, not from reading the split."""

  def __init__(self, source, num_classes: int, data_config):
    self._source, self.num_classes, self._data_config = source, num_classes, data_config
    # Example 0 as TFDS decodes it; the fast decoder (``_column_decoder``) is kept only if it agrees.
    first = np.zeros(1, np.int64)
    self._columns = None
    self._first = self.read(first)
    self._columns = _column_decoder(source, data_config)
    if self._columns is not None:
      fast = self.read(first)
      if any(_bytes(fast[name]) != _bytes(self._first[name]) for name in self._first):
        self._columns = None

  def __len__(self) -> int:
    """The number of examples N."""
    return len(self._source)

  @property
  def names(self) -> tuple[str, ...]:
    """The names of the arrays, e.g. ``('image', 'label')``."""
    return tuple(self._first)

  @property
  def nbytes(self) -> int:
    """The host memory the split would take as a ``Split``."""
    return len(self) * sum(array.nbytes for array in self._first.values())

  def read(self, rows: np.ndarray, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The examples ``rows`` (an int array of any shape), ``{name: [*rows.shape, ...]}`` (``names``, default
    all). One batched read of the records (``__getitems__``: array_record reads them in its C++ threads),
    then each record (a ``tf.train.Example``) is parsed: by protobuf alone, the features joined into one
    array each, when every feature is a fixed-shape tensor stored as bytes or a scalar integer (the idx
    builder's; ``_column_decoder``: 0.4 instead of 2.2 ms for 128 Fashion-MNIST examples here), else by
    TFDS's decoder of each example."""
    rows = np.asarray(rows)
    keys = rows.reshape(-1).tolist()
    if self._columns is not None:
      records = self._source.data_source.__getitems__(keys)
      if len(records) != len(keys):
        raise IndexError(f'asked for {len(keys)} records, got {len(records)}.')
      columns = self._columns(records)
    else:
      try:
        examples = self._source.__getitems__(keys)
      except TypeError:  # tfds.testing.mock_data's sources read one example at a time only.
        examples = [self._source[key] for key in keys]
      columns = _columns(examples, self._data_config)
    arrays = _decode(columns, self._data_config)
    return {
      name: arrays[name].reshape(*rows.shape, *arrays[name].shape[1:]) for name in (names or arrays)
    }

  def head(self, num: int) -> Split:
    """The first ``num`` examples, in memory."""
    return Split(self.read(np.arange(min(num, len(self)))), self.num_classes)

  def load(self) -> Split:
    """The whole split in memory (a one-off cost), read in chunks of ``_READ_CHUNK`` examples."""
    chunks = [
      self.read(np.arange(start, min(start + _READ_CHUNK, len(self))))
      for start in range(0, len(self), _READ_CHUNK)
    ]
    return Split(
      {name: np.concatenate([chunk[name] for chunk in chunks]) for name in self.names},
      self.num_classes,
    )


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
  for field in ('center_crop', 'image_size', 'label_attribute', 'num_labelled', 'labelled_seed'):
    if data_config.get(field):
      suffix += f'-{field}{data_config[field]}'
  if data_config.get('captions', '') == 'files':
    return f'caption_files-{captions.folder_fingerprint(data_config.source_dir)}{suffix}'
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
  """The config of the data before stacking, a second domain, captions and a labelled subset
  (``stacked_images`` = 0, ``domain_b`` = '', ``captions`` = '', ``num_labelled`` = ``labelled_seed`` = 0:
  its ``dataset_id`` is the plain dataset's)."""
  base = data_config.copy_and_resolve_references()
  base.stacked_images = 0
  base.domain_b = ''
  if 'captions' in base:
    base.captions = ''
  if 'num_labelled' in base:
    base.num_labelled = 0
    base.labelled_seed = 0
  return base


DOMAINS_B = ('', 'edges', 'splits')


def streamable(data_config) -> bool:
  """Whether ``open_split`` can leave the data on disk: idx and tfds sources, not stacked, no second
  domain, no captions, no labelled subset."""
  derived = (
    data_config.get('stacked_images', 0)
    or data_config.get('domain_b', '')
    or data_config.get('captions', '')
    or data_config.get('num_labelled', 0)
  )
  return data_config.source in ('idx', 'tfds') and not derived


def open_split(data_config, split: str) -> SplitSource:
  """``split`` of ``data_config.name`` left on disk (prepared first if needed), read by rows: the stream
  feed's source. Only idx and tfds sources: toy mixtures and stacked data are made in memory."""
  if data_config.source == 'idx':
    source, num_classes = _idx_data_source(data_config, split)
  elif data_config.source == 'tfds':
    source, num_classes = _catalogue_data_source(data_config, split)
  elif data_config.source == 'toy':
    raise ValueError('config.data.source=toy: toy mixtures are made in memory, not read from disk.')
  else:
    raise ValueError(f"config.data.source={data_config.source!r}: use 'idx', 'tfds' or 'toy'.")
  if data_config.get('stacked_images', 0):
    raise ValueError('config.data.stacked_images > 0: stacked data are made in memory.')
  if data_config.get('domain_b', ''):
    raise ValueError(
      f'config.data.domain_b={data_config.domain_b!r}: the second domain is made in memory.'
    )
  if data_config.get('num_labelled', 0):
    raise ValueError('config.data.num_labelled > 0: the labelled subset is made in memory.')
  if not len(source):
    raise ValueError(f'{data_config.name}: split {split!r} is empty.')
  attribute = data_config.get('label_attribute', '')
  return SplitSource(source, 2 if attribute else num_classes, data_config)


def load_split(data_config, split: str) -> Split:
  """Reads the whole ``split`` of ``data_config.name`` into memory (a one-off cost at start-up), stacked
  over ``data_config.stacked_images`` channels when that is > 0, with a second domain ``image_b`` when
  ``data_config.domain_b`` names one (``edges`` or ``splits``: ``gans.data.domains``), with captions
  ``caption`` when ``data_config.captions`` names a source (``captioned_split``), split into a labelled
  subset and unlabelled images when ``data_config.num_labelled`` > 0 (``gans.data.semi_supervised``)."""
  if data_config.get('captions', ''):
    return captioned_split(data_config, split)
  seed = {'train': 0, 'test': 1}.get(split, 2)
  num_labelled = data_config.get('num_labelled', 0)
  if num_labelled:
    if data_config.get('stacked_images', 0) or data_config.get('domain_b', ''):
      raise ValueError(
        'config.data.num_labelled > 0 with config.data.stacked_images or config.data.domain_b: a '
        "labelled subset is made of plain images; set those to 0 and ''."
      )
    base = load_split(base_config(data_config), split)
    if split != 'train':
      return Split(semi_supervised.held_out_arrays(base['image'], base['label']), base.num_classes)
    arrays, groups = semi_supervised.semi_supervised_arrays(
      base['image'], base['label'], num_labelled, base.num_classes, data_config.labelled_seed
    )
    return Split(arrays, base.num_classes, order_groups=groups)
  stacked = data_config.get('stacked_images', 0)
  if stacked:
    return stack_split(load_split(base_config(data_config), split), stacked, seed)
  domain_b = data_config.get('domain_b', '')
  if domain_b not in DOMAINS_B:
    raise ValueError(f"config.data.domain_b={domain_b!r}: use one of {DOMAINS_B[1:]} or '' (none).")
  if domain_b == 'edges':
    base = load_split(base_config(data_config), split)
    arrays, groups = domains.edges_domains(base['image'], base['label'], seed)
    return Split(arrays, base.num_classes, order_groups=groups)
  if domain_b == 'splits':  # TFDS cycle_gan: trainA / trainB, testA / testB.
    a, b = (load_split(base_config(data_config), split + side) for side in 'AB')
    arrays, groups = domains.split_domains(a['image'], a['label'], b['image'], seed)
    return Split(arrays, a.num_classes, order_groups=groups)
  if data_config.source == 'toy':
    return _toy_split(data_config, split)
  return open_split(data_config, split).load()


def prepared_captions(data_config) -> captions.Prepared:
  """The vocabulary, class names and attribute medians of the captions of ``data_config``, read from
  ``cache_dir(data_config, 'captions')``, made from the training split and written there the first
  time."""
  directory = cache_dir(data_config, 'captions')
  prepared = captions.Prepared.load(directory)
  if prepared is not None:
    return prepared
  if data_config.captions == 'files':
    found = captions.read_caption_folder(
      data_config.source_dir, 'train', data_config.image_size, data_config.max_caption_length
    )
    prepared = captions.prepare_files(found[2], found[4])
  else:
    train = load_split(base_config(data_config), 'train')
    prepared = captions.prepare_attributes(train['image'], train['label'], data_config.name)
  prepared.save(directory)
  return prepared


def captioned_split(data_config, split: str) -> Split:
  """``split`` with the array ``caption`` int32 [N, C, L] (``gans.data.captions``): captions measured
  from the images of the dataset (``data.captions=attributes``) or read from a caption folder
  (``files``, ``data.source_dir``)."""
  kind, length = data_config.captions, data_config.max_caption_length
  if kind not in captions.KINDS:
    raise ValueError(f"config.data.captions={kind!r}: use one of {captions.KINDS} or '' (none).")
  if length < 1:
    raise ValueError(f'config.data.max_caption_length={length} must be >= 1.')
  prepared = prepared_captions(data_config)
  if kind == 'files':
    images, labels, texts, where, _ = captions.read_caption_folder(
      data_config.source_dir, split, data_config.image_size, length
    )
    tokens = captions.file_captions(texts, where, prepared, length)
    return Split({'image': images, 'label': labels, 'caption': tokens}, len(prepared.class_names))
  base = load_split(base_config(data_config), split)
  tokens = captions.attribute_captions(base['image'], base['label'], prepared, length)
  return Split({**base.arrays, 'caption': tokens}, base.num_classes, base.order_groups)


def _bytes(array: np.ndarray) -> tuple:
  return array.shape, array.dtype, array.tobytes()


def _columns(examples: list[dict], data_config) -> dict[str, np.ndarray]:
  """Examples decoded by TFDS -> ``{'image': [n, H, W, C], 'label': [n]}`` (the label: ``_label``)."""
  attribute = data_config.get('label_attribute', '')
  if data_config.get('center_crop', 0) == transforms.SHORT_SIDE:  # Sizes vary: one image at a time.
    size = data_config.get('image_size', 0)
    images = [transforms.square_resize(example['image'], size) for example in examples]
  else:
    images = [example['image'] for example in examples]
  return {
    'image': np.stack(images),
    'label': np.asarray([_label(example, attribute, data_config.name) for example in examples]),
  }


def _column_decoder(source, data_config):
  """A decoder of raw records -> ``{name: [n, ...]}`` that parses each ``tf.train.Example`` with protobuf
  and joins each feature's values into one array (no TFDS decoding per example), for sources whose features
  are an ``image`` and a ``label`` stored as ``tfds.features.Tensor``s of fixed shape, as raw bytes
  (``Encoding.BYTES``) or as a scalar integer (the idx builder's); None for any other source, and when a
  class comes from ``data.label_attribute``."""
  features = source.dataset_info.features
  if data_config.get('label_attribute', '') or set(features.keys()) != {'image', 'label'}:
    return None
  kinds = {}
  for name, feature in features.items():
    if type(feature) is not tfds.features.Tensor or None in feature.shape:
      return None
    encoding = feature._encoding  # pylint: disable=protected-access  (no public accessor)
    if encoding == tfds.features.Encoding.BYTES:
      kinds[name] = 'bytes'
    elif encoding == tfds.features.Encoding.NONE and feature.shape == ():
      kinds[name] = 'int' if np.issubdtype(feature.np_dtype, np.integer) else None
    if kinds.get(name) is None:
      return None

  def decode(records: list[bytes]) -> dict[str, np.ndarray]:
    parsed = [tf_example_pb2.Example.FromString(record).features.feature for record in records]
    columns = {}
    for name, kind in kinds.items():
      feature = features[name]
      if kind == 'bytes':
        joined = b''.join(example[name].bytes_list.value[0] for example in parsed)
        values = np.frombuffer(joined, feature.np_dtype).reshape(len(parsed), *feature.shape)
      else:
        values = np.asarray([example[name].int64_list.value[0] for example in parsed])
      columns[name] = values.astype(feature.np_dtype)
    return columns

  return decode


def _decode(columns: dict[str, np.ndarray], data_config) -> dict[str, np.ndarray]:
  """``{'image', 'label'}`` columns -> ``{'image': uint8 [n, H, W, C] cropped and resized, 'label': int32
  [n]}``."""
  if (
    data_config.get('center_crop', 0) == transforms.SHORT_SIDE
  ):  # Done per example in ``_columns``.
    return {'image': columns['image'].astype(np.uint8), 'label': columns['label'].astype(np.int32)}
  images = transforms.crop_and_resize(
    columns['image'].astype(np.uint8),
    data_config.get('center_crop', 0),
    data_config.get('image_size', 0),
  )
  return {'image': images, 'label': columns['label'].astype(np.int32)}


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
