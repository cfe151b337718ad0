"""SIGTERM / SIGINT become a request to checkpoint and stop cleanly at a step boundary.

On one process the request is a flag set by the signal handler, seen at the next step boundary. On several
processes all must stop at the same step (every step and the checkpoint are collectives of all of them),
but a signal reaches them at different steps, or reaches only one. So every ``lag`` step boundaries each
process dispatches an all-reduce of the processes' flags ("has this process received a signal?") and
reads the previous one, dispatched ``lag`` boundaries before: all processes read the same value at the
same step and stop there together, at most ``2 × lag`` steps after the signal. The lag is
``config.train.max_steps_in_flight``, the steps the loop keeps queued anyway, so the read rarely waits,
and one small collective per ``lag`` steps costs little. (JAX's own
``multihost_utils.reached_preemption_sync_point`` cannot serve: it relies on the coordination service's
SIGTERM handler, which a Python handler replaces.)
"""

from __future__ import annotations

import signal
import threading

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from gans import parallel

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preemption:
  """Context manager: ``with Preemption(mesh, lag) as p: ... if p.requested(step): save and stop``.

  ``mesh`` (``gans.parallel.make_mesh``) and ``lag`` matter only on several processes; there
  ``requested`` must be called at every step boundary by every process.
  """

  def __init__(self, mesh=None, lag: int = 1):
    self._mesh, self._lag = mesh, lag
    self._signal = None
    self._previous = {}
    self._any = None  # Several processes: the jitted all-reduce of the flags, and its two inputs.
    self._flags = {}
    self._boundaries = 0
    self._pending = None  # The all-reduce dispatched at the last boundary that dispatched one.

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in _SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    if jax.process_count() > 1:
      sharding = parallel.batch_sharding(self._mesh)
      for flag in (False, True):
        local = np.full(jax.local_device_count(), flag)
        self._flags[flag] = jax.make_array_from_process_local_data(sharding, local)
      self._any = jax.jit(jnp.any, out_shardings=parallel.replicated(self._mesh))
      self._any(self._flags[False]).block_until_ready()  # Compiled here, not in the first step.
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    return False

  def _handle(self, signum, frame):
    del frame
    self._signal = signal.Signals(signum).name
    logging.warning(
      'Received %s: checkpointing at a step boundary (the next one on one process) and stopping.',
      self._signal,
    )

  def requested(self, step: int) -> bool:
    """Whether the run stops at ``step``: this process's flag, or on several processes the flags of
    all of them as they were ``lag`` boundaries ago, read every ``lag`` boundaries."""
    del step  # Every process calls this at every boundary, so boundaries are counted in calls.
    if self._any is None:
      return self._signal is not None
    self._boundaries += 1
    if self._boundaries % self._lag:
      return False
    previous, self._pending = self._pending, self._any(self._flags[self._signal is not None])
    return previous is not None and bool(parallel.to_host(previous))
