"""A training run that stops making progress ends with an error instead of hanging.

A step stuck in a collective (a peer process died or froze, a network partition, a runtime deadlock)
blocks the main thread inside XLA, where the loop cannot go on (in a dispatch no Python runs at all, the
SIGTERM handler included), and nothing can interrupt it. ``Watchdog`` is a daemon thread that the loop
tells of every step it knows to be done (``beat``). It ends the process with ``EXIT_STATUS`` after
logging an error that names the step and the likely cause when

  * no step is done for ``timeout_s`` (``config.train.step_timeout_s``), or
  * no step is done within ``stop_timeout_s`` (``config.train.stop_timeout_s``) of a SIGTERM/SIGINT: the
    loop would checkpoint at its next step boundary but does not reach one. The thread learns of the
    signal through ``signal.set_wakeup_fd``, which CPython writes from its C-level handler even while
    the main thread is blocked (and a handler may even run there, inside JAX's wait, and return to it).

Phases that are not steps and may take long run ``paused()``: evaluation, which may train its
classifier, and figures, which compile their own programs. They are not timed; a signal received inside
one is timed from its end, except in a phase whose signal handlers end the process (the final
evaluation, after the loop), where it is timed from its arrival.

The exit is ``os._exit`` once the logs are flushed: a thread blocked in a collective cannot be joined, so
a normal exit would hang too. Nothing is checkpointed (the state is inside the stuck step); the workdir
lock's flock is released by the kernel and its record is taken over as stale by the next run.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys
import threading
import time

from absl import logging

# Distinct from 1 (an exception) so that a launcher or scheduler can tell a stuck run.
EXIT_STATUS = 3
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Watchdog:
  """Context manager: ``with Watchdog(600, 60, start_step) as dog: ... dog.beat(step)``; 0 turns a
  deadline off. Enter it from the main thread, else signals are not watched."""

  def __init__(self, timeout_s: float, stop_timeout_s: float, start_step: int, peers=lambda: ''):
    """``peers()``: a sentence on the run's other processes for the error (``gans.peers.describe``)."""
    self._timeout, self._stop_timeout = float(timeout_s), float(stop_timeout_s)
    self._peers = peers
    self._lock = threading.Lock()
    self._last_beat = time.monotonic()
    self._done_step = start_step  # The last step known to be done.
    self._signal = None  # [name, time] of the first stop signal since the last beat.
    self._paused = []  # (what, signals end it) of the phases running untimed, innermost last.
    self._closing = threading.Event()
    self._thread = None
    self._wakeup = None  # (read socket, write socket, the previous wakeup descriptor).

  def __enter__(self):
    if not (self._timeout or self._stop_timeout):
      return self
    if self._stop_timeout and threading.current_thread() is threading.main_thread():
      read, write = socket.socketpair()
      read.setblocking(False)
      write.setblocking(False)
      previous = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
      self._wakeup = (read, write, previous)
    self._last_beat = time.monotonic()
    self._thread = threading.Thread(target=self._watch, name='gans-watchdog', daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._closing.set()
    if self._wakeup is not None:
      self._wakeup[1].send(b'\0')  # Ends the thread's wait at once (0 is no signal).
    if self._thread is not None:
      self._thread.join()
    if self._wakeup is not None:
      read, write, previous = self._wakeup
      signal.set_wakeup_fd(previous)
      read.close()
      write.close()
    return False

  def beat(self, step: int) -> None:
    """Step ``step`` is done (its outputs are ready)."""
    with self._lock:
      self._last_beat, self._done_step, self._signal = time.monotonic(), step, None

  @contextlib.contextmanager
  def paused(self, what: str, signals_end_it: bool = False):
    """``what`` (e.g. 'evaluation') runs inside, untimed; ``signals_end_it``: its SIGTERM/SIGINT
    handlers end the process, so a signal's deadline runs inside it (module docstring)."""
    with self._lock:
      self._paused.append((what, signals_end_it))
    try:
      yield
    finally:
      with self._lock:
        self._paused.pop()
        self._last_beat = time.monotonic()
        if self._signal is not None:
          self._signal[1] = self._last_beat

  def _watch(self) -> None:
    poll = min(1.0, min(d for d in (self._timeout, self._stop_timeout) if d) / 10)
    while not self._closing.is_set():
      if self._wakeup is None:
        self._closing.wait(poll)
      elif select.select([self._wakeup[0]], [], [], poll)[0]:
        self._read_signals()
      with self._lock:
        now = time.monotonic()
        if self._timeout and not self._paused and now - self._last_beat > self._timeout:
          self._exit(
            f'no training step was done for {self._timeout:g} s (config.train.step_timeout_s)'
          )
        ending = bool(self._paused) and self._paused[-1][1]
        if self._signal and (ending or not self._paused):
          if now - self._signal[1] > self._stop_timeout:
            outcome = 'the process did not end' if ending else 'no step was done'
            self._exit(
              f'received {self._signal[0]} and {outcome} in the {self._stop_timeout:g} s after it '
              '(config.train.stop_timeout_s)'
            )

  def _read_signals(self) -> None:
    try:
      numbers = self._wakeup[0].recv(64)
    except BlockingIOError:
      return
    with self._lock:
      for number in numbers:
        if number in _STOP_SIGNALS and self._signal is None:
          self._signal = [signal.Signals(number).name, time.monotonic()]

  def _exit(self, what: str) -> None:
    done = self._done_step
    stuck = (
      f'the {self._paused[-1][0]} after step {done} is stuck'
      if self._paused
      else f'step {done + 1} is stuck (the last step done is {done})'
    )
    try:
      peers = self._peers()
    except Exception as e:  # The exit must not fail.
      peers = f'the other processes could not be checked ({e})'
    logging.error(
      '%s: %s. A peer process died or froze, or a collective cannot complete%s. Exiting with status %d '
      'without a checkpoint; rerun the same command to resume from the last one.',
      what,
      stuck,
      f': {peers}' if peers else '',
      EXIT_STATUS,
    )
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_STATUS)
