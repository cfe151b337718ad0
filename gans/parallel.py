"""Devices, the data-parallel mesh, and how batches and states are placed on it.

One mesh axis, ``data``, spans every device of every process. The state is replicated; a batch
``[B, ...]`` is split along its first axis (a stacked batch ``[k, B, ...]`` along its second), so that
under ``jax.jit`` every mean over the batch (losses, gradients, BatchNorm statistics) is a mean over the
global batch, whatever the number of devices.
"""

from __future__ import annotations

from absl import logging
import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

from gans import peers

DATA_AXIS = 'data'


def make_mesh() -> Mesh:
  """A 1-D mesh over all devices of all processes."""
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, stacked: bool = False) -> NamedSharding:
  """Splits an evaluation batch ``[B, ...]`` along axis 0, or (``stacked``) a train step's batch
  ``[k, B, ...]`` along axis 1, over the data axis."""
  return NamedSharding(mesh, P(None, DATA_AXIS) if stacked else P(DATA_AXIS))


def local_batch_size(global_batch_size: int) -> int:
  """This process's share of the global batch; checks that it divides over devices and processes."""
  devices = jax.device_count()
  if global_batch_size % devices:
    raise ValueError(
      f'config.train.batch_size={global_batch_size} is not divisible by the {devices} devices; '
      f'use a multiple of {devices}.'
    )
  return global_batch_size // jax.process_count()


def to_host(tree):
  """Copies replicated arrays to numpy. Works on several processes, where a global array is not fully
  addressable but each process holds a complete replica."""
  return jax.tree.map(
    lambda x: np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else x, tree
  )


# JAX's default (``jax.distributed.initialize``): a process that sent no heartbeat for this long is
# declared dead by the coordination service, which then ends every other process.
HEARTBEAT_TIMEOUT_S = 100


def initialize_distributed(
  *,
  coordinator_address: str | None,
  num_processes: int | None,
  process_id: int | None,
  auto: bool,
  heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S,
) -> None:
  """Joins a multi-process JAX job: explicitly (coordinator, count, id) or by cluster auto-detection
  (TPU pods, SLURM). On CPU, cross-process collectives use gloo. A process that sends no heartbeat
  for ``heartbeat_timeout_s`` is declared dead by the coordination service, which then ends the others
  (JAX's own termination, SIGABRT, naming the task). ``gans.peers`` watches the processes of this
  machine and ends this one naming a lost one at once."""
  if not (coordinator_address or auto):
    return
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # Used only by the CPU backend.
  if auto:
    jax.distributed.initialize(heartbeat_timeout_seconds=heartbeat_timeout_s)
  else:
    jax.distributed.initialize(
      coordinator_address=coordinator_address,
      num_processes=num_processes,
      process_id=process_id,
      heartbeat_timeout_seconds=heartbeat_timeout_s,
    )
  peers.watch()


def log_layout() -> None:
  logging.info(
    'JAX process %d of %d, backend %s: %d local of %d global devices (%s)',
    jax.process_index(),
    jax.process_count(),
    jax.default_backend(),
    jax.local_device_count(),
    jax.device_count(),
    ', '.join(str(d) for d in jax.local_devices()),
  )
