"""Faults injected for real: signals, kills during saves, damaged checkpoints, NaNs, bad configs, two
runs in one workdir, a full disk, a step that never completes."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

from conftest import (
  PARAMS_ONLY,
  PARAMS_ONLY_FLAGS,
  REPO,
  STYLEGAN_TINY,
  load_params,
  same_params,
  tiny_config,
  tiny_overrides,
  wait_for_line,
)
from etils import epath
import jax
import numpy as np
import pytest

from gans import checkpoint, config_guard, guard, preemption, train, watchdog, workdir_lock
from gans.data import input_pipeline

SMALL_NETS = {
  'model.generator_kwargs.hidden': (32, 64),
  'model.discriminator_kwargs.hidden': (64, 32),
}
SMALL_NETS_FLAGS = [
  '--config.model.generator_kwargs.hidden=(32, 64)',
  '--config.model.discriminator_kwargs.hidden=(64, 32)',
]


def _start_main(idx_dir, tfds_dir, workdir, *extra):
  args = [
    sys.executable,
    '-m',
    'gans.main',
    f'--config={REPO}/configs/gan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    *extra,
  ]
  return subprocess.Popen(
    args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
  )


def test_sigterm_checkpoints_and_resume_equals_uninterrupted(idx_dir, tfds_dir, tmp_path):
  flags = [
    *SMALL_NETS_FLAGS,
    '--config.train.steps=3000',
    '--config.train.log_every=20',
    '--config.train.checkpoint_every=100000',
    *PARAMS_ONLY_FLAGS,
  ]
  interrupted = _start_main(idx_dir, tfds_dir, tmp_path / 'interrupted', *flags)
  wait_for_line(interrupted, 'step 40/3000')
  interrupted.send_signal(signal.SIGTERM)
  _, stderr = interrupted.communicate(timeout=120)
  assert interrupted.returncode == 0, stderr[-2000:]
  assert 'Stopped at step' in stderr
  (stopped_at,) = [int(s) for s in os.listdir(tmp_path / 'interrupted' / 'checkpoints')]
  assert 40 <= stopped_at < 3000

  # Resume to a few steps past the stop, and compare with a run that never stopped.
  end = [f'--config.train.steps={stopped_at + 7}']
  for workdir in ('interrupted', 'straight'):
    process = _start_main(idx_dir, tfds_dir, tmp_path / workdir, *flags, *end)
    assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:]
  assert same_params(
    load_params(tmp_path / 'interrupted', stopped_at + 7),
    load_params(tmp_path / 'straight', stopped_at + 7),
  )


def test_a_stop_request_at_a_checkpoint_step_checkpoints_once(
  idx_dir, tfds_dir, tmp_path, monkeypatch
):
  monkeypatch.setattr(preemption.Preemption, 'requested', lambda self, step: step == 4)
  config = tiny_config('gan', idx_dir, tfds_dir, steps=8, **SMALL_NETS)
  assert train.train_and_evaluate(config, str(tmp_path)) is None
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']


def test_sigkill_during_a_checkpoint_write_resumes_from_a_complete_one(idx_dir, tfds_dir, tmp_path):
  workdir = tmp_path / 'run'
  process = _start_main(
    idx_dir,
    tfds_dir,
    workdir,
    '--config.train.steps=100000',
    '--config.train.checkpoint_every=1',
    '--config.train.keep_checkpoints=2',
  )
  checkpoints = workdir / 'checkpoints'
  deadline = time.time() + 120

  def writing_after_a_complete_one():
    names = os.listdir(checkpoints) if checkpoints.exists() else []
    return any(name.isdigit() for name in names) and any('tmp' in name for name in names)

  while not writing_after_a_complete_one():
    assert time.time() < deadline and process.poll() is None, 'no checkpoint write was seen'
    time.sleep(0.002)
  process.kill()  # SIGKILL while a *.orbax-checkpoint-tmp directory is being written.
  process.wait()
  complete = sorted(int(name) for name in os.listdir(checkpoints) if name.isdigit())
  resumed = _start_main(idx_dir, tfds_dir, workdir, f'--config.train.steps={complete[-1] + 2}')
  _, stderr = resumed.communicate(timeout=300)
  assert resumed.returncode == 0, stderr[-3000:]
  assert f'checkpoints/{complete[-1]}' in stderr and f'from step {complete[-1]} to' in stderr


def test_damaged_checkpoint_falls_back_to_the_previous_one(idx_dir, tfds_dir, tmp_path):
  workdir = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config('gan', idx_dir, tfds_dir, steps=4, **SMALL_NETS), workdir)
  state_dir = os.path.join(workdir, 'checkpoints', '4', 'state')
  for root, _, files in os.walk(state_dir):  # Truncate every data file of the newest checkpoint.
    for name in files:
      with open(os.path.join(root, name), 'r+b') as f:
        f.truncate(max(0, os.path.getsize(f.name) // 3))
  train.train_and_evaluate(tiny_config('gan', idx_dir, tfds_dir, steps=6, **SMALL_NETS), workdir)
  assert sorted(int(s) for s in os.listdir(os.path.join(workdir, 'checkpoints'))) == [2, 4, 6]

  for step in ('4', '6'):
    shutil.rmtree(os.path.join(workdir, 'checkpoints', step, 'state'))
  shutil.rmtree(os.path.join(workdir, 'checkpoints', '2'))
  os.makedirs(os.path.join(workdir, 'checkpoints', '2'))
  with pytest.raises(checkpoint.CheckpointError, match='no readable checkpoint'):
    train.train_and_evaluate(tiny_config('gan', idx_dir, tfds_dir, steps=8, **SMALL_NETS), workdir)


HOST_FEED = {'train.feed': 'host'}


@pytest.fixture
def nan_at_step(monkeypatch):
  """Makes the batch of step ``k`` (1-based) contain a NaN pixel; images become float32 for every step.
  Host feed only (``HOST_FEED``): the device feed's images stay uint8."""

  def inject(k):
    original = input_pipeline.BatchIterator._host_batch

    def host_batch(self, step):
      batch = original(self, step)
      image = batch['image'].astype(np.float32)
      if step + 1 == k:
        image.reshape(-1)[0] = np.nan
      return {**batch, 'image': image}

    monkeypatch.setattr(input_pipeline.BatchIterator, '_host_batch', host_batch)

  return inject


def test_nan_batch_stops_and_keeps_the_last_good_checkpoint(
  nan_at_step, idx_dir, tfds_dir, tmp_path
):
  nan_at_step(5)
  config = tiny_config('gan', idx_dir, tfds_dir, steps=10, **SMALL_NETS, **HOST_FEED)
  with pytest.raises(
    guard.DivergenceError, match='non-finite d_loss at step 5; the last good checkpoint is step 4'
  ):
    train.train_and_evaluate(config, str(tmp_path))
  assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['2', '4']
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(load_params(tmp_path, 4)))


def test_nan_batch_is_skipped_under_the_skip_policy(nan_at_step, idx_dir, tfds_dir, tmp_path):
  nan_at_step(3)
  config = tiny_config(
    'gan', idx_dir, tfds_dir, steps=6, **SMALL_NETS, **HOST_FEED, **{'train.nonfinite': 'skip'}
  )
  results = train.train_and_evaluate(config, str(tmp_path))
  assert all(np.isfinite(v) for v in results.values())
  assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(load_params(tmp_path, 6)))
  # Step 3's update was dropped: the D and G optimizers made 5 updates in 6 steps.
  restored = checkpoint.Checkpointer(str(tmp_path), every=2, keep=3)
  experiment_state = train.Experiment(config, str(tmp_path))
  state, _ = restored.restore(experiment_state.state)
  assert int(state.health['skipped']) == 1 and int(state.players['d'].step) == 5
  assert int(state.step) == 6


def test_same_seed_gives_bit_identical_parameters(idx_dir, tfds_dir, tmp_path):
  for name in ('a', 'b'):
    train.train_and_evaluate(
      tiny_config('gan', idx_dir, tfds_dir, steps=4, **SMALL_NETS), str(tmp_path / name)
    )
  assert same_params(load_params(tmp_path / 'a', 4), load_params(tmp_path / 'b', 4))


@pytest.mark.parametrize(
  'field, value, message',
  [
    ('train.steps', 0, 'config.train.steps=0 must be positive'),
    ('train.batch_size', -8, 'config.train.batch_size=-8 must be positive'),
    ('optim.g.lr', -1e-4, 'config.optim.g.lr=-0.0001 must be positive'),
    ('train.sample_every', -1, 'config.train.sample_every=-1 must be >= 0'),
    ('eval.num_batches', -2, 'config.eval.num_batches=-2 must be >= 0'),
    ('data.value_range', (1.0, 0.0), 'config.data.value_range=(1.0, 0.0) must be'),
    ('method.n_critic', 0, 'config.method.n_critic=0 must be >= 1'),
    ('method.ema_decay', 1.0, 'config.method.ema_decay=1.0 must be in'),
    ('train.eval_every', -1, 'config.train.eval_every=-1 must be >= 0'),
    ('train.nonfinite', 'ignore', "config.train.nonfinite='ignore': use one of stop, skip"),
    ('train.feed', 'disk', "config.train.feed='disk': use one of auto, device, host, stream"),
    ('train.max_steps_in_flight', 0, 'config.train.max_steps_in_flight=0 must be in 1..12'),
    ('train.max_steps_in_flight', 13, 'config.train.max_steps_in_flight=13 must be in 1..12'),
    ('train.step_timeout_s', -1.0, 'config.train.step_timeout_s=-1.0 must be >= 0'),
  ],
)
def test_config_guard_messages(idx_dir, tfds_dir, tmp_path, field, value, message):
  config = tiny_config('gan', idx_dir, tfds_dir, **SMALL_NETS, **{field: value})
  with pytest.raises(ValueError, match=message.replace('(', '\\(').replace(')', '\\)')):
    train.train_and_evaluate(config, str(tmp_path))


def test_resuming_with_changed_shapes_stops_with_a_diff(idx_dir, tfds_dir, tmp_path):
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=2, **SMALL_NETS), str(tmp_path)
  )
  changed = tiny_config('gan', idx_dir, tfds_dir, steps=4, **SMALL_NETS, **{'model.z_dim': 12})
  with pytest.raises(ValueError, match=r'model.z_dim: 10 \(checkpoint\) -> 12 \(now\)'):
    train.train_and_evaluate(changed, str(tmp_path))
  # Raising the step count is not a change of identity: the run continues.
  assert (
    config_guard.check_resumable(
      tiny_config('gan', idx_dir, tfds_dir, steps=9, **SMALL_NETS), str(tmp_path)
    )
    is None
  )


def _dead_pid() -> int:
  """The pid of a process of this host that has ended (and been reaped)."""
  process = subprocess.Popen([sys.executable, '-c', 'pass'])
  process.wait()
  return process.pid


def _write_lock_record(workdir, **record) -> None:
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, workdir_lock.LOCK_NAME), 'w') as f:
    json.dump(
      {'started': '2026-01-01T00:00:00+00:00', 'command': 'python -m gans.main', **record}, f
    )


def test_workdir_lock_acquire_refuse_release_and_stale(tmp_path, caplog):
  workdir = str(tmp_path / 'run')
  host = socket.gethostname()
  with workdir_lock.WorkdirLock(workdir):
    record = workdir_lock.read_record(workdir)
    assert record['host'] == host and record['pid'] == os.getpid() and record['started']
    with pytest.raises(
      workdir_lock.WorkdirLocked, match=f'in use by another run \\(pid {os.getpid()}'
    ):
      workdir_lock.WorkdirLock(workdir).acquire()
    open(os.path.join(workdir, workdir_lock.LOCK_NAME), 'w').close()  # The flock alone refuses.
    with pytest.raises(workdir_lock.WorkdirLocked, match='a process that left no record'):
      workdir_lock.WorkdirLock(workdir).acquire()
  assert workdir_lock.read_record(workdir) is None  # Released.

  with pytest.raises(ZeroDivisionError), workdir_lock.WorkdirLock(workdir):
    1 / 0
  assert workdir_lock.read_record(workdir) is None  # Released on an exception.

  with pytest.raises(SystemExit), workdir_lock.WorkdirLock(workdir):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(60)
  assert workdir_lock.read_record(workdir) is None  # Released on SIGTERM.

  dead = _dead_pid()
  _write_lock_record(workdir, host=host, pid=dead)
  with workdir_lock.WorkdirLock(workdir):
    assert workdir_lock.read_record(workdir)['pid'] == os.getpid()
  assert f'Taking over the stale lock of pid {dead} on host {host}' in caplog.text

  _write_lock_record(workdir, host='node-elsewhere', pid=dead)
  with pytest.raises(workdir_lock.WorkdirLocked) as refused:
    workdir_lock.WorkdirLock(workdir).acquire()
  for part in (f'pid {dead} on host node-elsewhere, started 2026-01-01', 'delete', 'run.lock'):
    assert part in str(refused.value)

  with workdir_lock.WorkdirLock('gs://bucket/run'):  # Not locked, not an error.
    assert 'gs://bucket/run is not a local path' in caplog.text


@pytest.fixture
def started():
  """A list for the test's processes: those still running at its end are killed."""
  processes = []
  yield processes
  for process in processes:
    if process.poll() is None:
      process.kill()
      process.wait()


def test_a_second_run_in_a_workdir_is_refused_while_the_first_runs(
  idx_dir, tfds_dir, tmp_path, started
):
  workdir = tmp_path / 'run'
  flags = [
    *SMALL_NETS_FLAGS,
    '--config.train.steps=100000',
    '--config.train.log_every=20',
    '--config.train.checkpoint_every=20',
    '--config.train.sample_every=100000',
  ]
  first = _start_main(idx_dir, tfds_dir, workdir, *flags)
  started.append(first)
  wait_for_line(first, 'step 20/100000')
  second = _start_main(idx_dir, tfds_dir, workdir, *flags)
  started.append(second)
  _, stderr = second.communicate(timeout=180)
  assert second.returncode != 0 and first.poll() is None
  assert (
    f'workdir {workdir} is in use by another run (pid {first.pid} on host {socket.gethostname()}, '
    'started ' in stderr
  ), stderr[-2000:]
  assert 'gans.main' in stderr.split('in use by another run')[1]  # Its command line.

  wait_for_line(first, '/100000 |')  # The first one trains on, then stops cleanly.
  first.send_signal(signal.SIGTERM)
  _, stderr = first.communicate(timeout=120)
  assert first.returncode == 0 and 'Stopped at step' in stderr, stderr[-2000:]
  steps = sorted(int(name) for name in os.listdir(workdir / 'checkpoints') if name.isdigit())
  assert len(steps) >= 2 and all(
    np.isfinite(leaf).all()
    for step in steps
    for leaf in jax.tree.leaves(load_params(workdir, step))
  )
  assert workdir_lock.read_record(workdir) is None


def test_a_stale_lock_of_a_dead_process_is_taken_over(idx_dir, tfds_dir, tmp_path, caplog):
  _write_lock_record(tmp_path, host=socket.gethostname(), pid=_dead_pid())
  config = tiny_config('gan', idx_dir, tfds_dir, steps=2, **SMALL_NETS)
  assert train.train_and_evaluate(config, str(tmp_path))
  assert 'Taking over the stale lock' in caplog.text
  assert os.listdir(tmp_path / 'checkpoints') == ['2']
  assert workdir_lock.read_record(tmp_path) is None


@pytest.fixture
def disk_full_from_checkpoint(monkeypatch):
  """From checkpoint ``k`` on, every file orbax opens for writing in a checkpoint being written fails
  with ENOSPC, as on a full disk (at the lowest Python write of orbax, etils.epath's ``open``; arrays
  are written by TensorStore, below Python). Returns a function that ends the fault."""
  original = epath.gpath.PosixGPath.open

  def fill(k):
    def open_(self, mode='r', *args, **kwargs):
      writing = re.search(r'/(\d+)\.orbax-checkpoint-tmp', os.fspath(self))
      if writing and int(writing.group(1)) >= k and any(c in mode for c in 'wax+'):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(self))
      return original(self, mode, *args, **kwargs)

    monkeypatch.setattr(epath.gpath.PosixGPath, 'open', open_)
    return lambda: monkeypatch.setattr(epath.gpath.PosixGPath, 'open', original)

  return fill


# After the failed save, TensorStore's callbacks reach orbax's closed event loop ("Event loop is closed").
@pytest.mark.filterwarnings('ignore::pytest.PytestUnraisableExceptionWarning')
def test_disk_full_during_a_checkpoint_stops_and_resumes_from_the_previous_one(
  disk_full_from_checkpoint, idx_dir, tfds_dir, tmp_path, caplog
):
  caplog.set_level(logging.INFO, logger='absl')
  workdir, straight = tmp_path / 'run', tmp_path / 'straight'
  config = tiny_config('gan', idx_dir, tfds_dir, steps=8, **SMALL_NETS)
  free_space = disk_full_from_checkpoint(4)
  with pytest.raises(checkpoint.CheckpointWriteError) as stopped:
    train.train_and_evaluate(config, str(workdir))
  free_space()
  message = str(stopped.value)
  for part in (
    f'could not write checkpoint 4 in {workdir}/checkpoints: disk full',
    'No space left on device',
    'The previous checkpoint, step 2, is kept',
  ):
    assert part in message, message
  names = os.listdir(workdir / 'checkpoints')
  assert [name for name in names if name.isdigit()] == ['2'], names  # The partial write is no step.
  assert workdir_lock.read_record(workdir) is None

  train.train_and_evaluate(config, str(workdir))
  assert 'Training gan from step 2 to 8' in caplog.text
  train.train_and_evaluate(config, str(straight))
  assert same_params(load_params(workdir, 8), load_params(straight, 8))


def test_a_failing_write_below_python_stops_the_run_naming_the_error(idx_dir, tfds_dir, tmp_path):
  """A real I/O error in TensorStore's array write, in orbax's background thread: files are limited to
  256 KiB (RLIMIT_FSIZE: the write past it fails with EFBIG, Python ignores SIGXFSZ), less than a
  checkpoint's array data (1.1 MiB) but more than any other file of the run."""
  workdir = tmp_path / 'run'
  config = tiny_config('gan', idx_dir, tfds_dir, steps=8, **SMALL_NETS)
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=2, **SMALL_NETS), str(workdir)
  )
  limited = _start_main(idx_dir, tfds_dir, workdir, *SMALL_NETS_FLAGS, '--config.train.steps=8')
  # Set while it starts (it writes nothing big before checkpoint 4): preexec_fn would fork JAX's threads.
  resource.prlimit(limited.pid, resource.RLIMIT_FSIZE, (256 << 10, 256 << 10))
  _, stderr = limited.communicate(timeout=300)
  assert limited.returncode == 1, stderr[-3000:]
  # One FATAL line; orbax's background tasks may log their own copy of the error after it at exit.
  (fatal,) = [line for line in stderr.splitlines() if line.startswith('FATAL')]
  for part in (
    f'FATAL could not write checkpoint 4 in {workdir}/checkpoints: write failed (ValueError: ',
    'File too large',
    'The previous checkpoint, step 2, is kept',
  ):
    assert part in fatal, stderr[-3000:]
  assert [name for name in os.listdir(workdir / 'checkpoints') if name.isdigit()] == ['2']
  assert workdir_lock.read_record(workdir) is None

  assert train.train_and_evaluate(config, str(workdir))
  assert sorted(int(name) for name in os.listdir(workdir / 'checkpoints')) == [4, 6, 8]


def test_the_loop_waits_only_for_the_step_max_steps_in_flight_behind(monkeypatch):
  waited, beats = [], []
  monkeypatch.setattr(jax, 'block_until_ready', waited.append)
  in_flight = train._StepsInFlight(4, types.SimpleNamespace(beat=beats.append))
  for step in range(1, 7):
    in_flight.add(step, {'loss': step})
  assert waited == [{'loss': 1}, {'loss': 2}] and beats == [1, 2]
  in_flight.all_done(6)  # A log step copied every metric to the host.
  in_flight.add(7, {'loss': 7})
  assert len(waited) == 2 and beats == [1, 2, 6]


# Step 11 and everything after it wait for a host callback that never returns: the main thread blocks
# inside XLA, where neither Python code nor signal handlers run, as in a collective whose peer is gone.
_STUCK_AT_STEP_11 = """
import sys, threading
sys.path.insert(0, {tests!r})
from absl import logging
import jax
from conftest import tiny_config
from gans import train

def wait_forever(tree):
  threading.Event().wait()
  return tree

def never_done(tree):
  shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
  return jax.pure_callback(wait_forever, shapes, tree)

original = train.Experiment.compile_train_step

def compile_stuck(self, *args, **kwargs):
  step, seconds, names = original(self, *args, **kwargs)
  calls = []

  def run(state, inputs):
    calls.append(None)
    outputs = step(state, inputs)
    return jax.jit(never_done)(outputs) if len(calls) == 11 else outputs

  return run, seconds, names

train.Experiment.compile_train_step = compile_stuck
logging.set_verbosity(logging.INFO)
overrides = {{'train.steps': 1000, 'train.log_every': 5, **{overrides!r}}}
train.train_and_evaluate(tiny_config('gan', {idx_dir!r}, {tfds_dir!r}, **overrides), {workdir!r})
"""


@pytest.mark.parametrize(
  'timeouts, signal_after_s, message',
  [
    (
      {'train.step_timeout_s': 3.0},
      None,
      'no training step was done for 3 s (config.train.step_timeout_s): step 11 is stuck',
    ),
    (
      {'train.step_timeout_s': 600.0, 'train.stop_timeout_s': 2.0},
      1.0,
      'received SIGTERM and no step was done in the 2 s after it (config.train.stop_timeout_s)',
    ),
  ],
  ids=['step_timeout', 'sigterm_while_stuck'],
)
def test_a_step_that_never_completes_ends_the_run_naming_it(
  idx_dir, tfds_dir, tmp_path, started, timeouts, signal_after_s, message
):
  script = _STUCK_AT_STEP_11.format(
    tests=os.path.join(REPO, 'tests'),
    idx_dir=idx_dir,
    tfds_dir=tfds_dir,
    overrides={**SMALL_NETS, **timeouts},
    workdir=str(tmp_path),
  )
  process = subprocess.Popen(
    [sys.executable, '-c', script], cwd=REPO, stderr=subprocess.PIPE, text=True
  )
  started.append(process)
  wait_for_line(process, 'step 10/1000')
  stuck_since = time.monotonic()
  if signal_after_s is not None:
    time.sleep(signal_after_s)
    process.send_signal(signal.SIGTERM)
  _, stderr = process.communicate(timeout=60)
  waited = time.monotonic() - stuck_since
  assert process.returncode == watchdog.EXIT_STATUS, stderr[-3000:]
  assert message in stderr and 'step 11 is stuck (the last step done is 10)' in stderr, stderr[
    -3000:
  ]
  limit = timeouts['train.step_timeout_s'] if signal_after_s is None else signal_after_s + 2.0
  assert limit <= waited + 0.5 and waited < limit + 10, waited


# Test-size nets of the families whose state or data is not one G and one D on images: LapGAN's pyramid
# of players, CycleGAN's four players with image pools in the carry, on two domains in independent orders.
NEW_STATES = {
  'lapgan': {
    'model.coarse_generator_kwargs.hidden': (16,),
    'model.coarse_discriminator_kwargs.hidden': (16,),
    'model.band_generator_kwargs.features': (4,),
    'model.band_discriminator_kwargs.features': (4, 4),
  },
  'cyclegan': {
    'model.generator_kwargs.features': 4,
    'model.generator_kwargs.blocks': 1,
    'model.discriminator_kwargs.features': 4,
    'train.batch_size': 4,
    'method.pool_size': 6,
  },
  # Captions (attribute sentences), five players, and the phase switch (φ, ψ pre-trained for 2 steps)
  # between the SIGTERM and the end.
  'gancls': {
    'model.z_dim': 8,
    'model.compress_dim': 4,
    'model.text_encoder_kwargs.embed_dim': 8,
    'model.text_encoder_kwargs.hidden': 8,
    'model.text_encoder_kwargs.out_dim': 8,
    'model.image_encoder_kwargs.widths': (4,),
    'model.generator_kwargs.base_features': 4,
    'model.discriminator_kwargs.widths': (4,),
    'model.inverse_kwargs.widths': (4,),
    'method.pretrain_steps': 2,
    'train.batch_size': 8,
  },
  # The lazy regularisers' counters (R1 every 2 steps, path length every 3) and the carry (w̄, the path
  # length's running mean) across the resume.
  'stylegan': {**STYLEGAN_TINY, 'train.batch_size': 4},
}


@pytest.mark.parametrize('recipe', sorted(NEW_STATES))
def test_sigterm_and_resume_is_bit_identical_for_several_players_pools_and_domains(
  recipe, idx_dir, tfds_dir, tmp_path, monkeypatch
):
  """A real SIGTERM at step 3 of 6 (sent from the loop's boundary check), then a resume: every player's
  params, optimizer states and the carry (CycleGAN's half-filled pools, StyleGAN's w̄ and path-length
  mean) equal an uninterrupted run's. The config guard's diff covers the new fields (a pyramid level,
  the second domain, the captions, the image size)."""
  requested = preemption.Preemption.requested

  def sigterm_at_step_3(self, step):
    if step == 3:
      os.kill(os.getpid(), signal.SIGTERM)
    return requested(self, step)

  overrides = {**NEW_STATES[recipe], **PARAMS_ONLY, 'train.checkpoint_every': 100}

  def config(steps):
    return tiny_config(recipe, idx_dir, tfds_dir, steps=steps, **overrides)

  with monkeypatch.context() as patch:
    patch.setattr(preemption.Preemption, 'requested', sigterm_at_step_3)
    assert train.train_and_evaluate(config(6), str(tmp_path / 'interrupted')) is None
  assert os.listdir(tmp_path / 'interrupted' / 'checkpoints') == ['3']
  train.train_and_evaluate(config(6), str(tmp_path / 'interrupted'))
  train.train_and_evaluate(config(6), str(tmp_path / 'straight'))
  states = []
  for name in ('interrupted', 'straight'):
    experiment = train.Experiment(config(6), str(tmp_path / name))
    experiment.restore()
    states.append(jax.device_get(experiment.state))
  assert int(states[0].step) == 6
  # Params, optimizer states, BatchNorm statistics, EMA copies and the carry, leaf by leaf.
  leaves = [jax.tree.leaves((s.players, s.ema, s.carry, s.rng)) for s in states]
  assert len(leaves[0]) == len(leaves[1]) > 0
  assert all(np.array_equal(a, b) for a, b in zip(*leaves))
  if recipe == 'cyclegan':
    assert int(states[0].carry['pool_a']['count']) == 6  # Filled across the resume.
  if (
    recipe == 'stylegan'
  ):  # Adam's counts: 6 steps, plus R1's updates of D on steps 2, 4, 6 and the
    # path length's of G on 3, 6, across the resume.
    counts = {
      name: {
        int(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(player.opt_state)
        if 'count' in jax.tree_util.keystr(path)
      }
      for name, player in states[0].players.items()
    }
    assert counts == {'d': {9}, 'g': {8}}, counts
  changed = {
    'lapgan': ('model.levels', 2),
    'cyclegan': ('data.domain_b', ''),
    'gancls': ('data.captions', 'files'),
    'stylegan': ('data.image_size', 8),
  }[recipe]
  with pytest.raises(ValueError, match=f'{changed[0]}: .* \\(checkpoint\\) -> .* \\(now\\)'):
    config_guard.check_resumable(
      tiny_config(recipe, idx_dir, tfds_dir, steps=9, **{**overrides, **dict([changed])}),
      str(tmp_path / 'straight'),
    )
