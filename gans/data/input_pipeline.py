"""Deterministic, resumable, data-parallel batches from a split, fed three ways.

A feed moves the named arrays it is given, ``{name: [N, ...]}`` with the same N (the trainer passes
the arrays its method names: ``image``, ``label``, ...); every array's rows follow one schedule.

Batch number ``b`` (counting from the start of training) is a pure function of ``(seed, b)``:

    epoch    = b // batches_per_epoch          (the last incomplete batch of an epoch is dropped)
    order    = permutation_{seed, epoch}(N)
    global   = order[(b % batches_per_epoch)·B : ... + B]
    host p of P reads global[p·B/P : (p + 1)·B/P]
    device d of the mesh gets global[d·B/D : (d + 1)·B/D]

so a run resumed at step ``s`` sees exactly the batches an uninterrupted run would have seen. Arrays in
another *order group* g >= 1 (``order_groups``, e.g. the second domain of unpaired data) follow the same
formula with their own permutation_{seed, epoch, g}: independent orders, equally resumable. Step
``s`` consumes batches ``s·k ... s·k + k - 1`` (``k = batches_per_step`` >= 1, the batches a method
uses per step): its batch is ``{name: [k, B, ...]}``, split over the mesh along axis 1, also for
k = 1. ``_Schedule`` is this arithmetic, shared by the three feeds (``step_rows``: this host's rows of
a step, [k, B/P]).

* ``BatchIterator`` (host feed): a background thread gathers each host's rows (one vectorised take per
  array, no per-example Python) and copies them to the devices ``prefetch`` steps ahead of the loop; each
  host reads only its share, global[p·B/P : (p + 1)·B/P].
* ``DeviceBatches`` (device feed): the split is copied to every device once; the jitted step gathers its
  own rows there from the epoch's order, so a step costs no host work and no host-to-device copy (the
  orders of the current and next epochs, [2, N] int32, are copied once per epoch). Same batches as the host
  feed, bit for bit.
* ``StreamBatches`` (stream feed, splits larger than host memory): the split stays on disk, a random-access
  source (``gans.data.datasets.SplitSource`` over TFDS's ``array_record`` files); a grain pipeline,
  ``MapDataset.range(start_step, ...)`` -> ``.map`` (read step s's host rows, ``step_rows(s)``, in one batched
  read, and place them on the devices) -> ``to_iter_dataset`` with ``prefetch`` threads and as many steps
  buffered, reads steps ahead of the loop. Same batches as the other two feeds, bit for bit.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import grain
import jax
import jax.numpy as jnp
import numpy as np

from gans import parallel


def epoch_order(num_examples: int, seed: int, epoch: int, group: int = 0) -> np.ndarray:
  """The order of the examples in ``epoch``: a permutation determined by ``(seed, epoch)``, and by
  ``group`` for the arrays of order group ``group`` >= 1."""
  key = [seed, epoch] if not group else [seed, epoch, group]
  return np.random.default_rng(key).permutation(num_examples)


def host_rows(global_rows: np.ndarray, process_index: int, process_count: int) -> np.ndarray:
  """The contiguous share of a global batch's rows that process ``process_index`` reads."""
  local = len(global_rows) // process_count
  return global_rows[process_index * local : (process_index + 1) * local]


class _Schedule:
  """Which rows each batch number holds (module docstring), and how a batch is split over ``mesh``;
  shared by the three feeds. ``num_examples``: N, the split's length; step ``start_step`` comes first
  and each step takes ``batches_per_step`` batches; ``order_groups``: array name -> group >= 1 for the
  arrays drawn in an order of their own (every other array is in group 0)."""

  def __init__(
    self,
    num_examples: int,
    *,
    global_batch_size: int,
    seed: int,
    mesh,
    start_step: int = 0,
    batches_per_step: int = 1,
    order_groups: dict[str, int] | None = None,
  ):
    parallel.local_batch_size(global_batch_size)  # Checks divisibility.
    self._num_examples = num_examples
    self._global_batch_size = global_batch_size
    self._batches_per_epoch = num_examples // global_batch_size
    if self._batches_per_epoch == 0:
      raise ValueError(
        f'config.train.batch_size={global_batch_size} exceeds the dataset size {num_examples}.'
      )
    self._seed = seed
    self._mesh = mesh
    self._batch_sharding = parallel.batch_sharding(mesh, stacked=True)
    self._step = start_step
    self._batches_per_step = batches_per_step
    self._order_groups = dict(order_groups or {})
    self._groups = sorted({0, *self._order_groups.values()})
    self._epoch_orders = {}  # (group, epoch) -> order, the last two epochs (a step spans at most two).

  @property
  def batches_per_epoch(self) -> int:
    return self._batches_per_epoch

  def group(self, name: str) -> int:
    """The order group of array ``name``."""
    return self._order_groups.get(name, 0)

  def global_rows(self, batch_number: int, group: int = 0) -> np.ndarray:
    """The dataset rows of global batch number ``batch_number`` (counting from step 0) for the arrays
    of order group ``group``."""
    epoch, position = divmod(batch_number, self._batches_per_epoch)
    order = self._epoch_orders.get((group, epoch))
    if order is None:  # Reader threads (stream feed) may compute one twice; it is the same order.
      order = epoch_order(self._num_examples, self._seed, epoch, group)
      kept = {key: value for key, value in self._epoch_orders.items() if key[1] >= epoch - 1}
      self._epoch_orders = {**kept, (group, epoch): order}
    start = position * self._global_batch_size
    return order[start : start + self._global_batch_size]

  def step_rows(self, step: int, group: int = 0) -> np.ndarray:
    """The dataset rows this host reads for step ``step`` in order group ``group``: [k, B / P]
    (k = batches_per_step)."""
    k = self._batches_per_step
    return np.stack(
      [
        host_rows(self.global_rows(step * k + j, group), jax.process_index(), jax.process_count())
        for j in range(k)
      ]
    )

  def _to_devices(self, host_batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """This host's share ``{name: [k, B / P, ...]}`` -> the global batch, split over the mesh."""
    return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(self._batch_sharding, x), host_batch
    )


class BatchIterator(_Schedule, Iterator[dict]):
  """Host feed: yields each step's batch, ``{name: [k, B, ...]}`` global ``jax.Array``s (``k =
  batches_per_step`` consecutive batches; e.g. ``'image'`` uint8 [k, B, H, W, C], ``'label'`` int32
  [k, B]) split over the mesh along axis 1."""

  def __init__(self, arrays: dict[str, np.ndarray], *, prefetch: int = 2, **schedule):
    super().__init__(_num_examples(arrays), **schedule)
    self._arrays = arrays
    self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._produce, daemon=True)
    self._thread.start()

  @staticmethod
  def select(inputs: dict, step) -> dict:
    """The step's batch from what ``next`` yielded: that is the batch already."""
    del step
    return inputs

  def _host_batch(self, step: int) -> dict[str, np.ndarray]:
    """This host's share of step ``step``'s batch: ``{name: [k, B / P, ...]}``."""
    rows = {group: self.step_rows(step, group) for group in self._groups}
    return {name: array[rows[self.group(name)]] for name, array in self._arrays.items()}

  def _produce(self):
    step = self._step
    try:
      while not self._stop.is_set():
        batch = self._to_devices(self._host_batch(step))
        while not self._stop.is_set():
          try:
            self._queue.put(batch, timeout=0.1)
            break
          except queue.Full:
            continue
        step += 1
    except Exception as e:  # Surface producer errors in the consumer instead of hanging.
      self._queue.put(e)

  def __next__(self) -> dict:
    item = self._queue.get()
    if isinstance(item, Exception):
      raise item
    self._step += 1
    return item

  def close(self):
    self._stop.set()
    self._thread.join(timeout=5)


class DeviceBatches(_Schedule, Iterator[dict]):
  """Device feed: the split lives on every device and each step gathers its batch there.

  ``next`` yields the step's inputs, ``{'arrays': name -> [N, ...] replicated, 'orders': int32 [G, 2, N]
  replicated (per order group, the orders of epochs e and e + 1), 'first_epoch': int32 e}``; a new one is made only when a
  step's first batch enters a new epoch (a step of ``k = batches_per_step`` batches spans at most
  two epochs). ``select(inputs, state.step)``, traced inside the jitted step, returns the batch the
  host feed would have given: ``{name: [k, B, ...]}`` split over the mesh along axis 1.

  Rows of fewer-than-4-byte elements (uint8 images) are kept as 32-bit words, [N, row bytes / 4] uint32,
  and unpacked after the gather: XLA:CPU gathers element by element, so this gathers 4× fewer elements
  (a 128 × 28 × 28 batch: ~20 instead of ~64 µs here).
  """

  def __init__(self, arrays: dict[str, np.ndarray], **schedule):
    super().__init__(_num_examples(arrays), **schedule)
    if self._batches_per_step > self._batches_per_epoch:
      raise ValueError(
        'the device feed takes a step of at most one epoch of batches, but a step uses '
        f'{self._batches_per_step} and an epoch has {self._batches_per_epoch}: use '
        '--config.train.feed=host or a smaller config.train.batch_size.'
      )
    self._replicated = parallel.replicated(self._mesh)
    self._rows = {name: (array.shape[1:], array.dtype) for name, array in arrays.items()}
    self._device_arrays = {
      name: self._replicate(_as_words(array)) for name, array in arrays.items()
    }
    self._inputs = (-1, None)

  def _replicate(self, array: np.ndarray) -> jax.Array:
    """A copy of ``array`` on every device of every process (each process holds the whole array)."""
    return jax.make_array_from_callback(array.shape, self._replicated, lambda index: array[index])

  def __next__(self) -> dict:
    epoch = self._step * self._batches_per_step // self._batches_per_epoch
    self._step += 1
    if self._inputs[0] != epoch:
      orders = np.stack(
        [
          [epoch_order(self._num_examples, self._seed, e, group) for e in (epoch, epoch + 1)]
          for group in self._groups
        ]
      )
      self._inputs = (
        epoch,
        {
          'arrays': self._device_arrays,
          'orders': self._replicate(orders.astype(np.int32)),
          'first_epoch': self._replicate(np.int32(epoch)),
        },
      )
    return self._inputs[1]

  def select(self, inputs: dict, step: jax.Array) -> dict:
    """The batch of step ``step`` (an int32 scalar, traced), ``{name: [k, B, ...]}``, gathered on
    the devices."""
    k = self._batches_per_step
    batch_numbers = step * k + jnp.arange(k)
    epochs = batch_numbers // self._batches_per_epoch - inputs['first_epoch']
    starts = batch_numbers % self._batches_per_epoch * self._global_batch_size
    rows = {}
    for index, group in enumerate(self._groups):
      group_rows = jax.vmap(
        lambda epoch, start, index=index: jax.lax.dynamic_slice(
          inputs['orders'][index], (epoch, start), (1, self._global_batch_size)
        )[0]
      )(epochs, starts)  # [k, B]
      rows[group] = jax.lax.with_sharding_constraint(group_rows, self._batch_sharding)
    return {
      name: _from_words(jnp.take(array, rows[self.group(name)], axis=0), *self._rows[name])
      for name, array in inputs['arrays'].items()
    }

  def close(self):
    """Nothing runs in the background."""


class StreamBatches(_Schedule, Iterator[dict]):
  """Stream feed: yields each step's batch as the host feed does, ``{name: [k, B, ...]}`` global
  ``jax.Array``s, read from ``source`` instead of arrays in memory.

  ``source``: the split on disk, random access: ``len(source)`` = N and ``source.read(rows, names)`` ->
  ``{name: [*rows.shape, ...]}`` numpy arrays of those rows (``gans.data.datasets.SplitSource``: one batched
  ``array_record`` read per call). ``names``: the arrays to read.

  The grain pipeline is indexed by step: element i of ``MapDataset.range(start_step, ...)`` is step
  ``start_step + i`` and its batch is ``step_rows(step)`` read from the source, a pure function of
  ``(seed, step)``. The iterator's state (grain's ``get_state()``, ``{'next_index': steps since
  start_step}``) is therefore the training step and nothing more: the checkpoint's step restarts the feed
  exactly where it stopped (``StreamBatches(..., start_step=step)``), so no grain state is saved.
  ``prefetch`` threads read steps ahead of the loop in parallel and keep ``prefetch`` steps buffered,
  already on the devices. Each host reads only its rows (``host_rows``). The examples stay on disk, but the
  epoch orders do not: two permutations of N int64 (16 bytes an example) are held, as by the other feeds.
  """

  def __init__(self, source, *, names: tuple[str, ...], prefetch: int = 2, **schedule):
    super().__init__(len(source), **schedule)
    if self._order_groups:
      raise ValueError(
        'the stream feed reads every array in one order; data with order groups (two domains) are '
        'made in memory: use --config.train.feed=host or device.'
      )
    self._source, self._names = source, tuple(names)
    steps = grain.MapDataset.range(self._step, _NO_END).map(
      lambda step: self._to_devices(self._host_batch(step))
    )
    options = grain.ReadOptions(num_threads=prefetch, prefetch_buffer_size=prefetch)
    self._iterator = iter(steps.to_iter_dataset(options))

  select = staticmethod(BatchIterator.select)

  def _host_batch(self, step: int) -> dict[str, np.ndarray]:
    """This host's share of step ``step``'s batch, read from the source: ``{name: [k, B / P, ...]}``."""
    return self._source.read(self.step_rows(step), self._names)

  def __next__(self) -> dict:
    batch = next(self._iterator)
    self._step += 1
    return batch

  def close(self):
    """Stops grain's reader threads."""
    self._iterator.close()


_NO_END = 1 << 62  # The stream feed's steps: as many as any run takes.


def _num_examples(arrays: dict[str, np.ndarray]) -> int:
  return len(next(iter(arrays.values())))


def _as_words(array: np.ndarray) -> np.ndarray:
  """[N, ...] with elements under 4 bytes and rows of a multiple of 4 bytes -> [N, row bytes / 4] uint32
  (the same bytes); other arrays unchanged."""
  row_bytes = array[0].nbytes if len(array) else 0
  if array.dtype.itemsize >= 4 or row_bytes % 4:
    return array
  return np.ascontiguousarray(array).reshape(len(array), -1).view(np.uint32)


def _from_words(gathered: jax.Array, row_shape: tuple, dtype: np.dtype) -> jax.Array:
  """Inverse of ``_as_words`` on gathered rows [..., W] (traced): -> [..., *row_shape] of ``dtype``."""
  if gathered.dtype == dtype:
    return gathered
  unpacked = jax.lax.bitcast_convert_type(gathered, dtype)  # [..., W, 4 / itemsize]
  return unpacked.reshape(*gathered.shape[:-1], *row_shape)
