"""The stream feed (``input_pipeline.StreamBatches``): the training split read from its ``array_record`` files
by grain gives the in-memory feeds' batches bit for bit, each host reads only its rows, resumes at any step,
and a run fed by it trains and resumes bit-identically."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import PARAMS_ONLY, REPO, any_param_moved, load_params, same_params, tiny_config
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gans import config_guard, parallel, train
from gans.data import datasets, input_pipeline
from gans.evaluation import evaluator


def _source(idx_dir, tfds_dir) -> datasets.SplitSource:
  """The conftest's 256 training examples, left on disk (the project's idx builder, array_record)."""
  config = ml_collections.ConfigDict(
    dict(name='fashion_mnist', source='idx', source_dir=idx_dir, tfds_dir=tfds_dir)
  )
  return datasets.open_split(config, 'train')


def _schedule(start_step, batches_per_step, batch=16):
  return dict(
    global_batch_size=batch,
    seed=3,
    mesh=parallel.make_mesh(),
    start_step=start_step,
    batches_per_step=batches_per_step,
  )


def _steps(feed, steps: int, start_step: int) -> list[dict]:
  """The next ``steps`` batches of ``feed`` as numpy, through its ``select`` (jitted), then closes it."""
  select = jax.jit(feed.select)
  try:
    return [
      jax.tree.map(np.asarray, select(next(feed), jnp.int32(start_step + i))) for i in range(steps)
    ]
  finally:
    feed.close()


class _Spy:
  """A source that records the rows each ``read`` asks for."""

  def __init__(self, source):
    self.source, self.rows = source, []

  def __len__(self):
    return len(self.source)

  def read(self, rows, names=None):
    self.rows.append(np.asarray(rows).copy())
    return self.source.read(rows, names)


def test_source_reads_the_rows_of_the_loaded_split(idx_dir, tfds_dir):
  """``SplitSource.read`` of rows of any shape, ``head``, the size and the evaluation classifier's data
  (``evaluator._classifier_data``, which loads a streamed split only when the classifier is trained) agree
  with the split in memory."""
  source = _source(idx_dir, tfds_dir)
  split = datasets.load_split(source._data_config, 'train')
  rows = np.array([[5, 0, 255], [7, 7, 1]])
  read = source.read(rows, ('label', 'image'))
  assert tuple(read) == ('label', 'image') and read['image'].shape == (2, 3, 28, 28, 1)
  assert all(np.array_equal(read[name], split[name][rows]) for name in read)
  assert len(source) == len(split) and source.nbytes == split.nbytes
  assert source.names == split.names and source.num_classes == split.num_classes == 10
  assert all(np.array_equal(source.head(4)[name], split[name][:4]) for name in split.names)
  images, labels, _, _ = evaluator._classifier_data(source, split)()
  assert np.array_equal(images, split['image']) and np.array_equal(labels, split['label'])
  # The idx builder's records are parsed by the fast decoder, which reads what TFDS's decoder reads.
  assert source._columns is not None
  source._columns = None
  assert all(np.array_equal(source.read(rows)[name], read[name]) for name in read)


@pytest.mark.parametrize('batches_per_step', [1, 2])
def test_stream_feed_gives_the_in_memory_feeds_batches(idx_dir, tfds_dir, batches_per_step):
  """256 examples in batches of 16: 16 batches an epoch; 10 steps from step 12 // k cross into epoch 1
  (k = 1) or 2 (k = 2), with the same bytes, shapes [k, B, ...], dtypes and sharding as the host and
  device feeds."""
  source = _source(idx_dir, tfds_dir)
  arrays = source.load().arrays
  start, steps = 12 // batches_per_step, 10
  schedule = _schedule(start, batches_per_step)
  stream = _steps(
    input_pipeline.StreamBatches(source, names=('image', 'label'), **schedule), steps, start
  )
  host = _steps(input_pipeline.BatchIterator(arrays, **schedule), steps, start)
  device = _steps(input_pipeline.DeviceBatches(arrays, **schedule), steps, start)
  assert stream[0]['image'].shape == (batches_per_step, 16, 28, 28, 1)
  for s, h, d in zip(stream, host, device):
    for name in ('image', 'label'):
      assert s[name].dtype == h[name].dtype and s[name].tobytes() == h[name].tobytes()
      assert d[name].tobytes() == h[name].tobytes()
  labels = np.stack([s['label'] for s in stream])
  assert not np.array_equal(labels[0], labels[-1])


def test_each_host_reads_only_its_rows(idx_dir, tfds_dir, monkeypatch):
  """Of 2 simulated hosts, host p asks the source only for its half of each global batch, and the two
  halves make the single host's batch."""
  source = _source(idx_dir, tfds_dir)
  whole = _steps(
    input_pipeline.StreamBatches(source, names=('label',), **_schedule(0, 2)), 3, start_step=0
  )
  halves = []
  for p in range(2):
    spy = _Spy(source)
    feed = input_pipeline.StreamBatches(spy, names=('label',), **_schedule(0, 2))
    feed.close()  # Only its reads are used here: the rows of step s, not the device placement.
    monkeypatch.setattr(jax, 'process_index', lambda p=p: p)
    monkeypatch.setattr(jax, 'process_count', lambda: 2)
    halves.append([feed._host_batch(step)['label'] for step in range(3)])
    monkeypatch.undo()
    for step, rows in enumerate(spy.rows):
      assert rows.shape == (2, 8)
      for j in range(2):
        expected = input_pipeline.host_rows(feed.global_rows(2 * step + j), p, 2)
        assert np.array_equal(rows[j], expected)
  for step in range(3):
    assert np.array_equal(
      np.concatenate([halves[0][step], halves[1][step]], 1), whole[step]['label']
    )


def test_resumed_stream_continues_with_the_same_batches(idx_dir, tfds_dir):
  """Started at step 5, as a run resumed from a checkpoint of step 5 starts it: the straight feed's batches
  from step 5 on. Grain's iterator state counts the steps taken since then, nothing else."""
  source = _source(idx_dir, tfds_dir)
  names = ('image', 'label')
  straight = _steps(input_pipeline.StreamBatches(source, names=names, **_schedule(0, 1)), 8, 0)
  feed = input_pipeline.StreamBatches(source, names=names, **_schedule(5, 1))
  next(feed)
  assert feed._iterator.get_state() == {'next_index': 1}
  feed.close()
  resumed = _steps(input_pipeline.StreamBatches(source, names=names, **_schedule(5, 1)), 3, 5)
  for a, b in zip(straight[5:], resumed):
    assert all(a[name].tobytes() == b[name].tobytes() for name in names)


def test_auto_streams_a_split_over_the_limit_without_loading_it(idx_dir, tfds_dir, monkeypatch):
  config = tiny_config('gan', idx_dir, tfds_dir)
  monkeypatch.setattr(datasets, 'load_split', lambda *a: pytest.fail('the split was loaded'))
  monkeypatch.setattr(
    datasets.SplitSource, 'load', lambda self: pytest.fail('the split was loaded')
  )
  config.data.in_memory_limit_mb = 0.1  # 256 examples of 785 bytes: 0.19 MiB.
  assert isinstance(train.open_train_data(config), datasets.SplitSource)
  monkeypatch.undo()
  config.data.in_memory_limit_mb = 1.0
  assert isinstance(train.open_train_data(config), datasets.Split)


@pytest.mark.parametrize(
  'fields, message',
  [
    ({'train.feed': 'disk'}, "config.train.feed='disk': use one of auto, device, host, stream"),
    ({'data.in_memory_limit_mb': 0.0}, 'config.data.in_memory_limit_mb=0.0 must be positive'),
    (
      {'train.feed': 'stream', 'data.source': 'toy', 'data.name': 'ring'},
      "config.train.feed=stream reads the training split from disk, but data.source='toy'",
    ),
    (
      {'train.feed': 'stream', 'data.stacked_images': 3},
      'data.stacked_images=3 is made in memory',
    ),
  ],
)
def test_stream_config_errors(idx_dir, tfds_dir, fields, message):
  config = tiny_config('gan', idx_dir, tfds_dir, **fields)
  with pytest.raises(ValueError, match=message):
    config_guard.validate(config)


def test_a_streamed_run_trains_and_resumes_bit_identically(idx_dir, tfds_dir, tmp_path):
  """``auto`` streams (limit 0.1 MiB) a run of n_critic = 2 over an epoch boundary (16 batches an epoch,
  2 a step); stopped at step 5 and resumed, it ends where a straight run of the host feed ends."""
  stream = {
    'method.n_critic': 2,
    'train.checkpoint_every': 5,
    'data.in_memory_limit_mb': 0.1,
    **PARAMS_ONLY,  # Neither figures nor evaluation are under test.
  }
  host = {**stream, 'train.feed': 'host'}
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=10, **host), str(tmp_path / 'host')
  )
  for steps in (5, 10):
    train.train_and_evaluate(
      tiny_config('gan', idx_dir, tfds_dir, steps=steps, **stream), str(tmp_path / 'stream')
    )
  streamed = load_params(tmp_path / 'stream', 10)
  assert same_params(load_params(tmp_path / 'host', 10), streamed)
  assert not (tmp_path / 'host' / 'samples').exists()  # train.sample_every = 0: no figures.
  assert any_param_moved(load_params(tmp_path / 'stream', 5), streamed)


_ON_8_DEVICES = """
import sys
sys.path.insert(0, {tests!r})
import jax, numpy as np
assert jax.device_count() == 8, jax.devices()
import test_stream
from gans.data import input_pipeline
source = test_stream._source({idx_dir!r}, {tfds_dir!r})
schedule = test_stream._schedule(14, 1, batch=32)
stream = input_pipeline.StreamBatches(source, names=('image', 'label'), **schedule)
batches = [next(stream) for _ in range(4)]
stream.close()
assert len(batches[0]['image'].sharding.device_set) == 8
host = test_stream._steps(input_pipeline.BatchIterator(source.load().arrays, **schedule), 4, 14)
for s, h in zip(batches, host):
  assert all(np.asarray(s[n]).tobytes() == h[n].tobytes() for n in h)
"""


def test_stream_feed_on_eight_devices(idx_dir, tfds_dir):
  """The same batches as the host feed, split over a mesh of 8 (simulated) devices, across epochs."""
  env = {
    **os.environ,
    'XLA_FLAGS': f'{os.environ["XLA_FLAGS"]} --xla_force_host_platform_device_count=8',
  }
  script = _ON_8_DEVICES.format(
    tests=os.path.join(REPO, 'tests'), idx_dir=idx_dir, tfds_dir=tfds_dir
  )
  subprocess.run([sys.executable, '-c', script], env=env, check=True, cwd=REPO)
