"""IDX files, the project's TFDS builder, the TFDS catalogue path and the batch iterator."""

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
from gans.data import datasets, idx, input_pipeline


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


def test_idx_builder_reads_every_example(idx_dir, tfds_dir):
  for split, prefix in (('train', 'train'), ('test', 't10k')):
    loaded = datasets.load_split(data_config(source_dir=idx_dir, tfds_dir=tfds_dir), split)
    images = idx.read_idx(os.path.join(idx_dir, f'{prefix}-images-idx3-ubyte.gz'))
    labels = idx.read_idx(os.path.join(idx_dir, f'{prefix}-labels-idx1-ubyte.gz'))
    assert loaded.images.shape == (*images.shape, 1) and loaded.images.dtype == np.uint8
    assert loaded.labels.dtype == np.int32 and loaded.num_classes == 10
    # TFDS stores examples in its own order: compare as sets of (image, label) pairs.
    key = lambda ims, lbs: sorted(im.tobytes() + bytes([lb]) for im, lb in zip(ims, lbs))
    assert key(loaded.images[..., 0], loaded.labels) == key(images, labels)


def test_idx_source_from_environment(idx_dir, tfds_dir, monkeypatch):
  monkeypatch.setenv('GANS_DATA_DIR', idx_dir)
  assert len(datasets.load_split(data_config(tfds_dir=tfds_dir), 'test').images) == 128


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
  assert (
    split.images.shape == (24, *shape)
    and split.images.dtype == np.uint8
    and split.num_classes == 10
  )


def test_unknown_idx_dataset_is_named():
  with pytest.raises(ValueError, match="config.data.name='cifar10' is not an IDX dataset"):
    datasets.load_split(data_config(name='cifar10'), 'train')


def test_unknown_source_is_named():
  with pytest.raises(ValueError, match="'idx', 'tfds' or 'toy'"):
    datasets.load_split(data_config(source='hub'), 'train')


# --- Batch iterator -----------------------------------------------------------------------------------


def _arrays(num):
  """Example i: label i and a [2, 2, 1] uint8 image of bytes 4i .. 4i + 3 (one 32-bit word a row)."""
  return {
    'image': np.arange(4 * num, dtype=np.uint8).reshape(num, 2, 2, 1),
    'label': np.arange(num, dtype=np.int32),
  }


def _iterator(num=40, batch=8, seed=0, start_step=0, stack=1, feed=input_pipeline.BatchIterator):
  return feed(
    _arrays(num),
    global_batch_size=batch,
    seed=seed,
    mesh=parallel.make_mesh(),
    start_step=start_step,
    stack=stack,
  )


def _take(iterator, n):
  try:
    return [np.asarray(next(iterator)['label']) for _ in range(n)]
  finally:
    iterator.close()


def test_batches_are_deterministic_and_cover_each_epoch():
  first, again, other = _take(_iterator(), 10), _take(_iterator(), 10), _take(_iterator(seed=1), 10)
  assert all(np.array_equal(a, b) for a, b in zip(first, again))
  assert not all(np.array_equal(a, b) for a, b in zip(first, other))
  # 40 examples, batch 8: each epoch of 5 batches is a permutation; epochs are shuffled differently.
  assert sorted(np.concatenate(first[:5])) == list(range(40)) == sorted(np.concatenate(first[5:]))
  assert not np.array_equal(np.concatenate(first[:5]), np.concatenate(first[5:]))


def test_resumed_iterator_continues_with_the_same_batches():
  straight = _take(_iterator(), 8)
  resumed = _take(_iterator(start_step=3), 5)
  assert all(np.array_equal(a, b) for a, b in zip(straight[3:], resumed))


def test_stacked_batches_are_consecutive_batches():
  plain = _take(_iterator(), 6)
  stacked = _take(_iterator(stack=3), 2)
  assert stacked[0].shape == (3, 8)
  assert np.array_equal(np.concatenate(stacked), np.stack(plain))


@pytest.mark.parametrize('stack', [1, 3])
def test_device_feed_gathers_the_host_feeds_batches(stack):
  """Across epoch boundaries (5 batches per epoch), for a resumed start and for stacked steps."""
  start_step, steps = 2, 7
  host = _take(_iterator(start_step=start_step, stack=stack), steps)
  device = _iterator(start_step=start_step, stack=stack, feed=input_pipeline.DeviceBatches)
  select = jax.jit(device.select)
  for step, expected in enumerate(host, start=start_step):
    batch = select(next(device), jnp.int32(step))
    assert np.array_equal(np.asarray(batch['label']), expected)
    assert np.array_equal(np.asarray(batch['image']), _arrays(40)['image'][expected])
    sharding = parallel.batch_sharding(parallel.make_mesh(), stacked=stack > 1)
    assert batch['image'].sharding.is_equivalent_to(sharding, batch['image'].ndim)


def test_device_feed_refuses_steps_longer_than_an_epoch():
  with pytest.raises(
    ValueError, match='a step uses 6 and an epoch has 5: use --config.train.feed=host'
  ):
    _iterator(stack=6, feed=input_pipeline.DeviceBatches)


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
