"""SIGTERM / SIGINT become a request to checkpoint and stop cleanly at the next step boundary.

On one process the request is a flag set by the signal handler. On several processes every host must stop
at the same step, so the check is JAX's preemption sync point (the coordination service of
``jax.distributed`` notices the signal on any host and all hosts agree on the step).
"""

from __future__ import annotations

import signal
import threading

from absl import logging
import jax

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preemption:
  """Context manager: ``with Preemption() as p: ... if p.requested(step): save and stop``."""

  def __init__(self):
    self._signal = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in _SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    return False

  def _handle(self, signum, frame):
    del frame
    self._signal = signal.Signals(signum).name
    logging.warning(
      'Received %s: checkpointing at the next step boundary and stopping.', self._signal
    )

  def requested(self, step: int) -> bool:
    if jax.process_count() > 1:
      from jax.experimental import multihost_utils  # Needs jax.distributed.

      return self._signal is not None or multihost_utils.reached_preemption_sync_point(step)
    return self._signal is not None
