"""IDX files, splits, the project's TFDS builder, the TFDS catalogue path and the two feeds."""

from __future__ import annotations

import gzip
import os

from conftest import write_idx_dataset
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gans import parallel
from gans.data import datasets, idx, input_pipeline, transforms


def data_config(**fields):
  defaults = dict(
    name='fashion_mnist', source='idx', source_dir='', tfds_dir='', value_range=(0.0, 1.0)
  )
  return ml_collections.ConfigDict({**defaults, **fields})


# --- IDX format -------------------------------------------------------------------------------------


@pytest.mark.parametrize('suffix', ['', '.gz'])
@pytest.mark.parametrize('dtype', [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
  array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
  path = tmp_path / f'a.idx{suffix}'
  idx.write_idx(path, array)
  restored = idx.read_idx(path)
  assert restored.dtype == np.dtype(dtype) and np.array_equal(restored, array)


def _corrupt(path, data: bytes):
  with gzip.open(path, 'wb') as f:
    f.write(data)


@pytest.mark.parametrize(
  'make_bad, message',
  [
    (lambda p: _corrupt(p, b'\x08\x03\x00\x00'), 'not an IDX file'),
    (lambda p: _corrupt(p, b'\x00\x00\x07\x01\x00\x00\x00\x01\x00'), 'unknown IDX dtype'),
    (lambda p: _corrupt(p, b'\x00\x00\x08\x03\x00\x00'), 'truncated header'),
    (lambda p: _corrupt(p, b'\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02'), 'truncated or corrupted'),
    (lambda p: p.write_bytes(b'this is not gzip'), 'cannot be read'),
  ],
)
def test_idx_reader_rejects_corrupted_files(tmp_path, make_bad, message):
  path = tmp_path / 'bad-images-idx3-ubyte.gz'
  make_bad(path)
  with pytest.raises(idx.IdxFormatError, match=message) as error:
    idx.read_idx(path)
  assert str(path) in str(error.value)


# --- Datasets -----------------------------------------------------------------------------------------


def test_split_holds_named_arrays():
  image, label = np.zeros((3, 2, 2, 1), np.uint8), np.arange(3, dtype=np.int32)
  split = datasets.Split({'image': image, 'label': label}, num_classes=3)
  assert split.names == ('image', 'label') and len(split) == 3 and split.nbytes == 12 + 12
  assert split['image'] is image and split['label'] is label
  with pytest.raises(KeyError, match="no array 'caption', only image, label"):
    split['caption']


@pytest.mark.parametrize(
  'arrays, message',
  [
    (
      {'image': np.zeros((3, 2)), 'label': np.zeros(2, np.int32)},
      'same number of examples, got image: 3, label: 2',
    ),
    ({'image': np.zeros((0, 2)), 'label': np.zeros(0, np.int32)}, r'empty \(image: 0, label: 0\)'),
    ({}, r'empty \(no arrays\)'),
  ],
)
def test_split_checks_its_arrays(arrays, message):
  with pytest.raises(ValueError, match=message):
    datasets.Split(arrays, num_classes=1)


def test_idx_builder_reads_every_example(idx_dir, tfds_dir):
  for split, prefix in (('train', 'train'), ('test', 't10k')):
    loaded = datasets.load_split(data_config(source_dir=idx_dir, tfds_dir=tfds_dir), split)
    images = idx.read_idx(os.path.join(idx_dir, f'{prefix}-images-idx3-ubyte.gz'))
    labels = idx.read_idx(os.path.join(idx_dir, f'{prefix}-labels-idx1-ubyte.gz'))
    assert loaded.names == ('image', 'label') and loaded.num_classes == 10
    assert loaded['image'].shape == (*images.shape, 1) and loaded['image'].dtype == np.uint8
    assert loaded['label'].dtype == np.int32
    # TFDS stores examples in its own order: compare as sets of (image, label) pairs.
    key = lambda ims, lbs: sorted(im.tobytes() + bytes([lb]) for im, lb in zip(ims, lbs))
    assert key(loaded['image'][..., 0], loaded['label']) == key(images, labels)


def test_idx_source_from_environment(idx_dir, tfds_dir, monkeypatch):
  monkeypatch.setenv('GANS_DATA_DIR', idx_dir)
  assert len(datasets.load_split(data_config(tfds_dir=tfds_dir), 'test')) == 128


def test_missing_fashion_mnist_names_the_apt_command(tmp_path, monkeypatch):
  monkeypatch.delenv('GANS_DATA_DIR', raising=False)
  monkeypatch.setattr(datasets, 'DEBIAN_FASHION_MNIST', str(tmp_path / 'absent'))
  with pytest.raises(datasets.MissingDataError, match='apt-get install -y dataset-fashion-mnist'):
    datasets.load_split(data_config(tfds_dir=str(tmp_path)), 'train')


def test_missing_mnist_names_the_directory_option(tmp_path):
  with pytest.raises(
    datasets.MissingDataError, match='--config.data.source_dir=DIR or GANS_DATA_DIR'
  ) as e:
    datasets.load_split(
      data_config(name='mnist', source_dir=str(tmp_path), tfds_dir=str(tmp_path)), 'train'
    )
  assert 'train-images-idx3-ubyte' in str(e.value)


def test_truncated_idx_file_is_reported(tmp_path):
  directory = write_idx_dataset(str(tmp_path / 'idx'), num_train=32, num_test=16)
  path = os.path.join(directory, 'train-images-idx3-ubyte.gz')
  _corrupt(path, gzip.open(path).read()[:1000])
  with pytest.raises(idx.IdxFormatError, match='truncated or corrupted'):
    datasets.load_split(data_config(source_dir=directory, tfds_dir=str(tmp_path / 'tfds')), 'train')


@pytest.mark.parametrize('name, shape', [('mnist', (28, 28, 1)), ('cifar10', (32, 32, 3))])
def test_tfds_catalogue(tmp_path, name, shape):
  with tfds.testing.mock_data(num_examples=24):
    split = datasets.load_split(
      data_config(name=name, source='tfds', tfds_dir=str(tmp_path)), 'train'
    )
  assert split['image'].shape == (24, *shape) and split['image'].dtype == np.uint8
  assert split['label'].shape == (24,) and split.num_classes == 10


def test_unknown_idx_dataset_is_named():
  with pytest.raises(ValueError, match="config.data.name='cifar10' is not an IDX dataset"):
    datasets.load_split(data_config(name='cifar10'), 'train')


def test_unknown_source_is_named():
  with pytest.raises(ValueError, match="'idx', 'tfds' or 'toy'"):
    datasets.load_split(data_config(source='hub'), 'train')


# --- Feeds --------------------------------------------------------------------------------------------


def _arrays(num):
  """Example i: label i and a [2, 2, 1] uint8 image of bytes 4i .. 4i + 3 (one 32-bit word a row)."""
  return {
    'image': np.arange(4 * num, dtype=np.uint8).reshape(num, 2, 2, 1),
    'label': np.arange(num, dtype=np.int32),
  }


def _iterator(num=40, batch=8, seed=0, feed=input_pipeline.BatchIterator, arrays=None, **schedule):
  """A feed of ``arrays`` (default ``_arrays(num)``); ``schedule``: start_step, batches_per_step."""
  mesh = parallel.make_mesh()
  return feed(arrays or _arrays(num), global_batch_size=batch, seed=seed, mesh=mesh, **schedule)


def _take(iterator, n):
  """The host feed's next ``n`` batches as numpy, ``{name: [n, k, B, ...]}``."""
  try:
    batches = [jax.tree.map(np.asarray, next(iterator)) for _ in range(n)]
  finally:
    iterator.close()
  return {name: np.stack([batch[name] for batch in batches]) for name in batches[0]}


def test_batches_are_deterministic_and_cover_each_epoch():
  # Labels of 10 steps of one batch, [10, B = 8], for seeds 0, 0 and 1.
  first, again, other = (_take(_iterator(seed=s), 10)['label'][:, 0] for s in (0, 0, 1))
  assert np.array_equal(first, again) and not np.array_equal(first, other)
  # 40 examples, batch 8: each epoch of 5 batches is a permutation; epochs are shuffled differently.
  assert sorted(first[:5].ravel()) == list(range(40)) == sorted(first[5:].ravel())
  assert not np.array_equal(first[:5], first[5:])


def test_resumed_iterator_continues_with_the_same_batches():
  straight = _take(_iterator(), 8)['label']
  resumed = _take(_iterator(start_step=3), 5)['label']
  assert np.array_equal(straight[3:], resumed)


def test_a_step_of_k_batches_holds_k_consecutive_batches():
  plain = _take(_iterator(), 6)['label']
  stacked = _take(_iterator(batches_per_step=3), 2)['label']
  assert plain.shape == (6, 1, 8) and stacked.shape == (2, 3, 8)
  assert np.array_equal(stacked.reshape(6, 1, 8), plain)


@pytest.mark.parametrize('batches_per_step', [1, 3])
def test_device_feed_gathers_the_host_feeds_batches(batches_per_step):
  """The same bytes, shapes [k, B, ...] (also for k = 1) and sharding, across epoch boundaries (5
  batches per epoch) from a resumed start."""
  start_step, steps = 2, 7
  schedule = dict(start_step=start_step, batches_per_step=batches_per_step)
  host = _take(_iterator(**schedule), steps)
  assert host['image'].shape == (steps, batches_per_step, 8, 2, 2, 1)
  assert np.array_equal(host['image'], _arrays(40)['image'][host['label']])
  device = _iterator(feed=input_pipeline.DeviceBatches, **schedule)
  select = jax.jit(device.select)
  sharding = parallel.batch_sharding(parallel.make_mesh(), stacked=True)
  for i in range(steps):
    batch = select(next(device), jnp.int32(start_step + i))
    assert set(batch) == set(host)
    for name, array in batch.items():
      expected = host[name][i]
      assert array.shape == expected.shape and array.dtype == expected.dtype
      assert np.asarray(array).tobytes() == expected.tobytes()
      assert array.sharding.is_equivalent_to(sharding, array.ndim)


@pytest.mark.parametrize('feed', [input_pipeline.BatchIterator, input_pipeline.DeviceBatches])
def test_feeds_move_every_array_they_are_given(feed):
  """An extra named array (caption tokens, int32 [N, 5]) comes with the rows of the other arrays."""
  arrays = {**_arrays(40), 'caption': np.arange(40 * 5, dtype=np.int32).reshape(40, 5)}
  iterator = _iterator(feed=feed, arrays=arrays)
  try:
    batch = jax.jit(iterator.select)(next(iterator), jnp.int32(0))
  finally:
    iterator.close()
  assert batch['caption'].shape == (1, 8, 5) and batch['caption'].dtype == np.int32
  sharding = parallel.batch_sharding(parallel.make_mesh(), stacked=True)
  for name, array in arrays.items():
    assert batch[name].sharding.is_equivalent_to(sharding, array.ndim + 1)
    assert np.array_equal(batch[name], array[np.asarray(batch['label'])])


def test_device_feed_refuses_steps_longer_than_an_epoch():
  with pytest.raises(
    ValueError, match='a step uses 6 and an epoch has 5: use --config.train.feed=host'
  ):
    _iterator(batches_per_step=6, feed=input_pipeline.DeviceBatches)


def test_device_feed_copies_once_per_epoch():
  device = _iterator(feed=input_pipeline.DeviceBatches)
  inputs = [next(device) for _ in range(6)]  # Epoch 0 is steps 0-4.
  assert all(x is inputs[0] for x in inputs[:5]) and inputs[5] is not inputs[0]
  assert int(inputs[5]['first_epoch']) == 1
  assert inputs[5]['arrays']['image'] is inputs[0]['arrays']['image']


def test_hosts_read_disjoint_shares_of_the_global_batch():
  rows = input_pipeline.epoch_order(100, seed=0, epoch=0)[:16]
  shares = [input_pipeline.host_rows(rows, p, 4) for p in range(4)]
  assert all(len(share) == 4 for share in shares)
  assert np.array_equal(np.concatenate(shares), rows)


def test_batch_size_must_fit_the_data():
  with pytest.raises(ValueError, match='exceeds the dataset size'):
    _iterator(num=4, batch=8)


def test_batch_size_must_divide_over_devices(monkeypatch):
  monkeypatch.setattr(jax, 'device_count', lambda: 8)
  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  assert parallel.local_batch_size(64) == 32
  with pytest.raises(ValueError, match='not divisible by the 8 devices; use a multiple of 8'):
    parallel.local_batch_size(60)


def test_an_order_group_is_drawn_in_its_own_resumable_order_by_both_feeds():
  """Unpaired domains: ``image_b`` (group 1) follows a permutation of its own, so its rows are not those
  of ``image``/``label`` (group 0); both feeds agree bit for bit, also resumed across an epoch boundary."""
  arrays = {**_arrays(40), 'image_b': np.arange(40, dtype=np.int32)}
  groups = {'image_b': 1}
  host = _take(_iterator(arrays=arrays, order_groups=groups), 10)
  assert np.array_equal(_take(_iterator(), 10)['label'], host['label'])  # Group 0 as before.
  a, b = host['label'].reshape(2, 5, 8), host['image_b'].reshape(2, 5, 8)
  assert sorted(b[0].ravel()) == list(range(40)) == sorted(b[1].ravel())  # Epochs of group 1.
  assert not np.array_equal(a, b) and np.mean(a == b) < 0.2
  resumed = _take(_iterator(arrays=arrays, order_groups=groups, start_step=3), 7)
  assert all(np.array_equal(host[name][3:], resumed[name]) for name in host)
  device = _iterator(
    feed=input_pipeline.DeviceBatches, arrays=arrays, order_groups=groups, start_step=3
  )
  select = jax.jit(device.select)
  for i in range(7):
    batch = select(next(device), jnp.int32(3 + i))
    for name in host:
      assert np.asarray(batch[name]).tobytes() == resumed[name][i].tobytes(), (name, i)


def test_images_of_varying_sizes_are_cropped_to_their_short_side_and_resized(tmp_path):
  """ImageNet-style data (``data.center_crop=-1``): each image's centred square, resized on its own."""
  config = data_config(
    name='imagenet2012', source='tfds', tfds_dir=str(tmp_path), center_crop=-1, image_size=16
  )
  with tfds.testing.mock_data(num_examples=6):  # Random image sizes, as the feature allows.
    split = datasets.load_split(config, 'train')
  assert split['image'].shape == (6, 16, 16, 3) and split['image'].dtype == np.uint8
  wide = np.zeros((20, 40, 3), np.uint8)
  wide[:, 10:30] = 200  # The centred 20×20 square is all 200, the rest 0.
  assert (transforms.square_resize(wide, 10) == 200).all()
  assert transforms.square_resize(wide, 0).shape == (20, 20, 3)
