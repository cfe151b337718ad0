"""One training run per workdir: process 0 of a run holds ``workdir/run.lock`` while it trains.

Two runs in one workdir (a requeued job while the old one still runs, a second terminal) would both write
its checkpoints and TensorBoard log. The lock is an ``fcntl.flock`` on ``run.lock`` plus a record in it
(host, pid, start time, command line) that names the holder in the message of a refused run:

  * flock is released by the kernel however the holder ends, SIGKILL included, and Linux's NFS client
    forwards it to the server as a byte-range lock, so it also works between hosts when the mount has
    locking (not ``nolock``). Where flock is not supported at all, the record alone is checked (then two
    runs started at the same instant can both pass; logged as a warning).
  * The record is cleared on release. One left behind means its run did not end cleanly: on this host it
    is stale when its pid is not alive (or the flock was free, so no live process holds it; a reused pid)
    and is taken over with a warning; a record from another host cannot be checked (its pid means nothing
    here, and the flock may not reach that host), so the run is refused with the way to remove it.
  * A non-local workdir (``gs://...``) has no flock: it is not locked, with a warning.

While held, a SIGTERM that nothing else handles exits through the normal cleanup (the training loop's
own handler, ``gans.preemption``, checkpoints first), so the record is cleared on that path too.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import signal
import socket
import sys
import threading

from absl import logging

LOCK_NAME = 'run.lock'


class WorkdirLocked(RuntimeError):
  """Another run holds the workdir."""


def is_local(workdir: str) -> bool:
  """Whether ``workdir`` is a local (or mounted) path rather than a URL such as ``gs://bucket/run``."""
  return '://' not in os.fspath(workdir)


def read_record(workdir: str) -> dict | None:
  """The record of the run that holds ``workdir``'s lock (or left it behind), or None when free."""
  try:
    with open(os.path.join(workdir, LOCK_NAME)) as f:
      return _parse(f.read())
  except FileNotFoundError:
    return None


def _parse(text: str) -> dict | None:
  """A record from the lock file's text: None when empty; an unreadable record is reported as such."""
  if not text.strip():
    return None
  try:
    return json.loads(text)
  except json.JSONDecodeError:
    return {'unreadable': text[:200]}


def _record_of(fd: int) -> dict | None:
  """The record in the open lock file ``fd``."""
  return _parse(os.pread(fd, os.fstat(fd).st_size, 0).decode(errors='replace'))


def _describe(record: dict | None) -> str:
  """``pid 12 on host n7, started 2026-12-01T10:00:00+00:00: python -m gans.main ...``."""
  if not record:
    return 'a process that left no record'
  if 'unreadable' in record:
    return f'a run whose record is unreadable ({record["unreadable"]!r})'
  return (
    f'pid {record.get("pid")} on host {record.get("host")}, started {record.get("started")}: '
    f'{record.get("command", "(command unknown)")}'
  )


def _pid_alive(pid) -> bool:
  """Whether a process with this pid exists on this host (one of another user counts)."""
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def _command_line() -> str:
  """This process's command line (from /proc where there is one: ``python -m gans.main ...``)."""
  try:
    with open('/proc/self/cmdline', 'rb') as f:
      return ' '.join(arg.decode(errors='replace') for arg in f.read().split(b'\0') if arg)
  except OSError:
    return ' '.join(sys.argv)


def _exit_on_sigterm(signum, frame):
  """SIGTERM outside the training loop: unwind (releasing the lock) instead of dying on the spot."""
  del frame
  logging.warning('Received SIGTERM outside the training loop: stopping.')
  raise SystemExit(128 + signum)


class WorkdirLock:
  """``with WorkdirLock(workdir): ...`` holds ``workdir``'s lock or raises WorkdirLocked naming the
  holder. ``active=False`` (processes other than 0) and non-local workdirs make it a no-op."""

  def __init__(self, workdir: str, *, active: bool = True):
    self.workdir = os.fspath(workdir)
    self.path = os.path.join(self.workdir, LOCK_NAME)
    self._active = active
    self._fd = None
    self._previous_sigterm = None

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()
    return False

  def acquire(self) -> None:
    """Takes the lock (creating the workdir), or raises WorkdirLocked."""
    if not self._active:
      return
    if not is_local(self.workdir):
      logging.warning(
        'Workdir %s is not a local path: it is not locked, so a second run in it would not be '
        'refused; make sure only one run uses it.',
        self.workdir,
      )
      return
    os.makedirs(self.workdir, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      flocked = self._flock(fd)
      self._check_record(_record_of(fd), flocked)
      self._write_record(fd)
    except BaseException:
      os.close(fd)
      raise
    self._fd = fd
    if threading.current_thread() is threading.main_thread():
      if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)

  def _flock(self, fd: int) -> bool:
    """flock ``fd``: True when taken, False where the filesystem has no flock; WorkdirLocked when
    another process holds it."""
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      return True
    except BlockingIOError:
      raise WorkdirLocked(
        f'workdir {self.workdir} is in use by another run ({_describe(_record_of(fd))}). Two runs '
        'in one workdir would both write its checkpoints and TensorBoard log. Wait for that run to '
        'end or stop it, or give this one another --workdir.'
      ) from None
    except OSError as e:
      logging.warning(
        'The filesystem of %s has no flock (%s): only the lock record is checked, so two runs '
        'started at the same instant would not be told apart.',
        self.path,
        errno.errorcode.get(e.errno, e),
      )
      return False

  def _check_record(self, record: dict | None, flocked: bool) -> None:
    """Refuses a live or uncheckable holder named by ``record``; warns when taking over a stale one."""
    if record is None:
      return
    host, pid = socket.gethostname(), record.get('pid')
    if record.get('host') != host or not isinstance(pid, int):
      raise WorkdirLocked(
        f'workdir {self.workdir} is locked by {_describe(record)}, which cannot be checked from this '
        f'host ({host}). If that run is really gone (its node crashed, or it was killed with SIGKILL), '
        f'delete {self.path} and rerun; otherwise wait for it to end, or give this run another '
        '--workdir.'
      )
    alive = _pid_alive(pid)
    if alive and not flocked:
      raise WorkdirLocked(
        f'workdir {self.workdir} is in use by another run ({_describe(record)}). Wait for it to '
        f'end or stop it (kill {pid}), or give this run another --workdir.'
      )
    logging.warning(
      'Taking over the stale lock of %s: pid %d is %s.',
      _describe(record),
      pid,
      'alive but does not hold the lock (a reused pid)' if alive else 'not running',
    )

  def _write_record(self, fd: int) -> None:
    """Replaces the lock file's record with this process's."""
    record = {
      'host': socket.gethostname(),
      'pid': os.getpid(),
      'started': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
      'command': _command_line(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + '\n').encode(), 0)
    os.fsync(fd)

  def release(self) -> None:
    """Clears the record and drops the flock (the empty file stays: removing it would let a process
    that opened it just before lock a file no one else sees)."""
    if self._fd is None:
      return
    if self._previous_sigterm is not None:
      signal.signal(signal.SIGTERM, self._previous_sigterm)
      self._previous_sigterm = None
    fd, self._fd = self._fd, None
    try:
      os.ftruncate(fd, 0)
      os.fsync(fd)
    finally:
      os.close(fd)
