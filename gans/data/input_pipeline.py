"""Deterministic, resumable, host-sharded and prefetched batches from an in-memory split.

Batch number ``b`` (counting from the start of training) is a pure function of ``(seed, b)``:

    epoch    = b // batches_per_epoch          (the last incomplete batch of an epoch is dropped)
    order    = permutation_{seed, epoch}(N)
    global   = order[(b % batches_per_epoch)·B : ... + B]
    this host takes global[process_index·B/P : (process_index + 1)·B/P]

so a run resumed at step ``s`` sees exactly the batches an uninterrupted run would have seen, and each host
reads only its rows. A background thread gathers the rows (one vectorised take per array, no per-example
Python) and places them on the devices ``prefetch`` steps ahead of the training loop.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import jax
import numpy as np

from gans import parallel


def epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The order of the examples in ``epoch``: a permutation determined by ``(seed, epoch)``."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def host_rows(global_rows: np.ndarray, process_index: int, process_count: int) -> np.ndarray:
  """The contiguous share of a global batch's rows that process ``process_index`` reads."""
  local = len(global_rows) // process_count
  return global_rows[process_index * local : (process_index + 1) * local]


class BatchIterator(Iterator[dict]):
  """Yields ``{'image': uint8 [B, H, W, C], 'label': int32 [B]}`` global ``jax.Array`` batches sharded
  over the mesh; with ``stack=k`` > 1 each item holds ``k`` consecutive batches as ``[k, B, ...]``."""

  def __init__(
    self,
    arrays: dict[str, np.ndarray],
    *,
    global_batch_size: int,
    seed: int,
    mesh,
    start_step: int = 0,
    stack: int = 1,
    prefetch: int = 2,
  ):
    self._arrays = arrays
    self._num_examples = len(next(iter(arrays.values())))
    self._global_batch_size = global_batch_size
    parallel.local_batch_size(global_batch_size)  # Checks divisibility.
    self._batches_per_epoch = self._num_examples // global_batch_size
    if self._batches_per_epoch == 0:
      raise ValueError(
        f'config.train.batch_size={global_batch_size} exceeds the dataset size '
        f'{self._num_examples}.'
      )
    self._seed = seed
    self._stack = stack
    self._sharding = parallel.batch_sharding(mesh, stacked=stack > 1)
    self._step = start_step
    self._epoch_order = (-1, None)
    self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._produce, daemon=True)
    self._thread.start()

  @property
  def batches_per_epoch(self) -> int:
    return self._batches_per_epoch

  def global_rows(self, batch_number: int) -> np.ndarray:
    """The dataset rows of global batch number ``batch_number`` (counting from step 0)."""
    epoch, position = divmod(batch_number, self._batches_per_epoch)
    cached_epoch, order = self._epoch_order
    if cached_epoch != epoch:
      order = epoch_order(self._num_examples, self._seed, epoch)
      self._epoch_order = (epoch, order)
    start = position * self._global_batch_size
    return order[start : start + self._global_batch_size]

  def _host_batch(self, step: int) -> dict[str, np.ndarray]:
    rows = np.stack(
      [
        host_rows(
          self.global_rows(step * self._stack + j), jax.process_index(), jax.process_count()
        )
        for j in range(self._stack)
      ]
    )
    if self._stack == 1:
      rows = rows[0]
    return {name: array[rows] for name, array in self._arrays.items()}

  def _produce(self):
    step = self._step
    try:
      while not self._stop.is_set():
        batch = jax.tree.map(
          lambda x: jax.make_array_from_process_local_data(self._sharding, x),
          self._host_batch(step),
        )
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
