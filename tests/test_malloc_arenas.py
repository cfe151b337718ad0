"""``gans.malloc_arenas``: the cap holds for threads that allocate at once, and a user's
``MALLOC_ARENA_MAX`` is left alone. Each case runs in a fresh interpreter (the cap is process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO
import pytest

# 16 threads that are alive together each allocate (each would get an arena of its own), then
# glibc's malloc_info reports the arenas as <heap nr=...> elements.
PROBE = """
import ctypes, sys, tempfile, threading
from gans import malloc_arenas
print(malloc_arenas.limit() if sys.argv[1] == 'cap' else None)
together = threading.Barrier(16)
def allocate():
  bytearray(100_000)
  together.wait()
threads = [threading.Thread(target=allocate) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
fd, path = tempfile.mkstemp()
stream = ctypes.c_void_p(libc.fdopen(fd, b'w'))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(path).read().count('<heap nr='))
"""


def _arenas(mode, **env):
  environment = {k: v for k, v in os.environ.items() if k != 'MALLOC_ARENA_MAX'} | env
  out = subprocess.run(
    [sys.executable, '-c', PROBE, mode],
    cwd=REPO,
    env=environment,
    capture_output=True,
    text=True,
    check=True,
  ).stdout.split()
  return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc arenas')
def test_the_cap_bounds_the_arenas_of_threads_that_allocate_together():
  assert _arenas('none')[1] > 8  # Without it, about one arena per thread.
  assert _arenas('cap') == ('2', 2)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc arenas')
def test_a_users_malloc_arena_max_is_kept():
  assert _arenas('cap', MALLOC_ARENA_MAX='4') == ('None', 4)
