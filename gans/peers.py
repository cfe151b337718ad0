"""A multi-process run whose process dies ends its other processes at once, with an error naming it.

When a process of a multi-process run dies, the others cannot go on: every step is a collective of all
of them. JAX's coordination service notices a process that sent no heartbeat for
``--heartbeat_timeout_s`` (JAX's default 100 s) and then ends every other process (a ``LOG(FATAL)`` and
SIGABRT, status 134, naming the task); it notices the loss of process 0, which hosts it, within a second.
Before that, a collective with a killed process fails in the survivor (gloo: "Connection reset by
peer"), and at its exit jax.distributed's shutdown waits at a barrier for the lost process until the
heartbeat timeout and then aborts. (JAX's ``missed_heartbeat_callback`` cannot replace the termination:
in jaxlib 0.10.2 calling it throws ``std::bad_cast``.)

So each process publishes its machine (host name and PID namespace), pid and start time in the
coordination service's key-value store when the run starts (``watch``), and a daemon thread checks the
other processes of its machine every ``POLL_S``: one that has exited (gone from /proc, a zombie, or its
pid reused) ends this process with one ``FATAL`` line naming it and ``EXIT_STATUS``, before gloo's error
or the coordination service's termination, and without waiting at the shutdown barrier. A stopped
process (SIGSTOP, a debugger) is not lost: ``describe`` names it for ``gans.watchdog``'s message.
Processes on other machines cannot be checked from here; for them the heartbeat timeout is the bound.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
import threading
import time

# Its client holds the coordination service's key-value store.
from jax._src import distributed as jax_distributed

# A process of the run is gone (distinct from an exception's 1 and gans.watchdog's stuck step, 3).
EXIT_STATUS = 4
POLL_S = 0.1

# The other processes of this run: process id -> (machine, pid, start time).
_peers: dict[int, tuple[str, int, str]] = {}
_count = 1
_stop = threading.Event()
_exiting = threading.Lock()


def _this_machine() -> str:
  """The host name and PID namespace: processes with the same one see each other's pids."""
  try:
    namespace = os.stat('/proc/self/ns/pid').st_ino
  except OSError:
    namespace = 0
  return f'{socket.gethostname()}/{namespace}'


def _proc_state(pid: int) -> tuple[str, str] | None:
  """(state letter, start time in clock ticks since boot) of ``pid`` from /proc, or None if there is
  no such process."""
  try:
    with open(f'/proc/{pid}/stat') as f:
      # After the command name, which is in parentheses and may hold spaces.
      fields = f.read().rsplit(')', 1)[1].split()
  except (OSError, IndexError):
    return None
  return fields[0], fields[19]  # Fields 3 and 22 of proc(5).


def watch(timeout_s: float = 300) -> None:
  """After ``jax.distributed.initialize``: publishes this process and reads the others (waiting up to
  ``timeout_s`` for them), then starts the thread that ends this process when one of its machine has
  exited. It stops at interpreter exit, before jax.distributed's shutdown, after which the others may
  end first."""
  global _count
  state = jax_distributed.global_state
  if state.client is None or state.num_processes < 2 or _peers:
    return
  me = _proc_state(os.getpid())  # None without /proc (not Linux): pids are not checked.
  state.client.key_value_set(
    f'gans/process/{state.process_id}', f'{_this_machine()} {os.getpid()} {me[1] if me else "?"}'
  )
  for i in range(state.num_processes):
    if i != state.process_id:
      value = state.client.blocking_key_value_get(f'gans/process/{i}', int(timeout_s * 1000))
      machine, pid, start = value.rsplit(' ', 2)
      if me is not None and start != '?':
        _peers[i] = (machine, int(pid), start)
  if not _peers:
    return
  _count = state.num_processes
  atexit.register(_at_exit)  # Runs before JAX's atexit shutdown, registered when jax was imported.
  threading.Thread(target=_watch, name='gans-peers', daemon=True).start()


def lost(wait_s: float = 0.0) -> tuple[dict[int, str], dict[int, str], list[int]]:
  """The other processes of this machine that have exited and those that are stopped, each as
  ``{process id: 'pid 123 ...'}``, and the ids of those on other machines (not checked); waits up to
  ``wait_s`` for one to exit (a killed peer's sockets close, failing a collective here, a moment before
  it becomes a zombie)."""
  if not _peers:
    return {}, {}, []
  here, deadline = _this_machine(), time.monotonic() + wait_s
  while True:
    exited, stopped, elsewhere = {}, {}, []
    for i, (machine, pid, start) in sorted(_peers.items()):
      if machine != here:
        elsewhere.append(i)
        continue
      state = _proc_state(pid)
      if state is None or state[1] != start or state[0] in ('Z', 'X'):
        exited[i] = f'pid {pid} has exited'
      elif state[0] in ('T', 't'):
        stopped[i] = f'pid {pid} is stopped: SIGSTOP or a debugger'
    if exited or time.monotonic() >= deadline:
      return exited, stopped, elsewhere
    time.sleep(POLL_S / 2)


def describe() -> str:
  """A sentence on the other processes of this run, for an error message ('' on one process)."""
  if not _peers:
    return ''
  exited, stopped, elsewhere = lost()
  words = [f'process {i} of {_count} ({what})' for i, what in {**exited, **stopped}.items()]
  sentence = (
    f'{", ".join(words)} on this machine'
    if words
    else 'the other processes on this machine are running'
  )
  if len(elsewhere) == 1:
    sentence += f'; process {elsewhere[0]} on another machine is not checked'
  elif elsewhere:
    sentence += f'; processes {", ".join(map(str, elsewhere))} on other machines are not checked'
  return sentence


def exit_if_lost(error: BaseException | None = None, wait_s: float = 0.0) -> None:
  """Ends this process with one ``FATAL`` line and ``EXIT_STATUS`` when another process of this machine
  has exited (``error``: what this process got meanwhile, e.g. a failed collective); returns if none.
  ``os._exit``: a normal exit would wait for the lost process at jax.distributed's shutdown barrier."""
  exited, _, _ = lost(wait_s)
  if not exited:
    return
  _exiting.acquire()  # Once: the thread and an exception in the main thread may both get here.
  names = ', '.join(f'process {i} of {_count} ({what})' for i, what in exited.items())
  got = ''
  if error is not None:
    while error.__cause__ is not None:  # E.g. CheckpointWriteError from gloo's error.
      error = error.__cause__
    reason = ' '.join(str(error).split())
    reason = reason if len(reason) <= 300 else reason[:299] + '…'
    got = f'; this process got {type(error).__name__}: {reason}'
  message = (
    f'FATAL {names}: the run cannot go on without it{got}. Process '
    f'{jax_distributed.global_state.process_id} exits with status {EXIT_STATUS} without a '
    'checkpoint; rerun the same command with every process to resume from the last one.'
  )
  sys.stderr.flush()
  os.write(
    sys.stderr.fileno(), f'{message}\n'.encode()
  )  # One write: a line no other output splits.
  sys.stdout.flush()
  os._exit(EXIT_STATUS)


def _at_exit() -> None:
  """Stops the thread; a process that has exited by now is lost (the others cannot have ended normally:
  they wait for this one at jax.distributed's shutdown barrier), e.g. when a SIGTERM from a launcher
  ended this process before the thread saw the loss."""
  _stop.set()
  exit_if_lost()


def _watch() -> None:
  while not _stop.wait(POLL_S):
    exit_if_lost()
