"""8 simulated CPU devices train the same parameters as 1 device for the same global batch; the
multi-process launcher trains, stops on a signal and ends with its processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from conftest import (
  PARAMS_ONLY,
  PARAMS_ONLY_FLAGS,
  REPO,
  STYLEGAN_TINY,
  load_params,
  tiny_config,
  tiny_overrides,
  wait_for_line,
)
import jax
import numpy as np
import psutil
import pytest

from gans import peers, train
from gans.data import datasets

# Small nets (BatchNorm in G: its statistics must be over the global batch) and a few steps of SGD (Adam
# divides by sqrt(v) and so amplifies float rounding in near-zero gradients to whole update sizes).
OVERRIDES = {
  'model.generator_kwargs.hidden': (32, 64),
  'model.discriminator_kwargs.hidden': (64, 32),
  'optim.g.name': 'sgd',
  'optim.g.lr': 0.05,
  'optim.d.name': 'sgd',
  'optim.d.lr': 0.05,
  'train.steps': 3,
  'train.checkpoint_every': 1,
}
# BigGAN at test size: spectral norms (u over replicated params), conditional BatchNorm over the global
# batch, D on the concatenated real and fake batches.
BIGGAN_OVERRIDES = {
  **{key: value for key, value in OVERRIDES.items() if not key.startswith('model.')},
  'model.generator_kwargs.ch': 4,
  'model.generator_kwargs.widths': (2, 2, 2),
  'model.generator_kwargs.z_dim': 32,
  'model.generator_kwargs.shared_dim': 8,
  'model.discriminator_kwargs.ch': 4,
  'model.discriminator_kwargs.widths': (2, 2, 2, 2),
}
# StyleGAN's tiny nets: minibatch std over groups spanning devices (group 4 of 2 images per device), and
# both lazy regularisers (R1 on step 2, path length on step 3) inside the 3 steps.
STYLEGAN_OVERRIDES = {
  **{key: value for key, value in OVERRIDES.items() if not key.startswith('model.')},
  **STYLEGAN_TINY,
  'eval.sample_metrics': False,
}
RECIPE_OVERRIDES = {
  'gan': OVERRIDES,
  'biggan': BIGGAN_OVERRIDES,
  'stylegan': STYLEGAN_OVERRIDES,
  # ssgan: D's per-example noise from a replicated key, its data-dependent init on step 0's global batch.
  'ssgan': {
    **OVERRIDES,
    'data.num_labelled': 20,
    'method.data_init': True,
    'model.discriminator_kwargs.authors_layers': True,
  },
}

_RUN_ON_8_DEVICES = """
import sys
sys.path.insert(0, {tests!r})
import jax
assert jax.device_count() == 8, jax.devices()
from conftest import tiny_config
from gans import peers, train
train.train_and_evaluate(tiny_config({recipe!r}, {idx_dir!r}, {tfds_dir!r}, **{overrides!r}), {workdir!r})
"""


FEEDS = [
  'device',
  'host',
]  # gans.data.input_pipeline: both feeds shard the global batch the same way.


@pytest.mark.parametrize(
  'recipe, feed',
  [('gan', feed) for feed in FEEDS]
  + [('biggan', 'device'), ('stylegan', 'device'), ('ssgan', 'device')],
)
def test_eight_devices_match_one(idx_dir, tfds_dir, tmp_path, recipe, feed):
  one, eight = str(tmp_path / 'one'), str(tmp_path / 'eight')
  # The parameters are under test, not the evaluation (test_two_processes_match_one_process scores).
  overrides = {**RECIPE_OVERRIDES[recipe], 'train.feed': feed, **PARAMS_ONLY}
  assert jax.device_count() == 1
  train.train_and_evaluate(tiny_config(recipe, idx_dir, tfds_dir, **overrides), one)
  env = {
    **os.environ,
    'XLA_FLAGS': f'{os.environ["XLA_FLAGS"]} --xla_force_host_platform_device_count=8',
  }
  script = _RUN_ON_8_DEVICES.format(
    recipe=recipe,
    tests=os.path.join(REPO, 'tests'),
    idx_dir=idx_dir,
    tfds_dir=tfds_dir,
    overrides=overrides,
    workdir=eight,
  )
  subprocess.run([sys.executable, '-c', script], env=env, check=True, cwd=REPO)

  a, b = load_params(one, 3), load_params(eight, 3)
  differences = jax.tree.leaves(jax.tree.map(lambda x, y: float(np.max(np.abs(x - y))), a, b))
  assert differences and max(differences) < 1e-5
  # The tolerance is meaningful: two training steps move the parameters by far more.
  moved = jax.tree.leaves(
    jax.tree.map(lambda x, y: float(np.max(np.abs(x - y))), load_params(one, 1), a)
  )
  assert max(moved) > 1e-3


def _tiny_flags(idx_dir, tfds_dir, workdir, feed):
  flat = {f'--config.{key}': value for key, value in {**OVERRIDES, 'train.feed': feed}.items()}
  return [
    f'--config={REPO}/configs/gan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    *(f'{flag}={value}' for flag, value in flat.items()),
  ]


@pytest.mark.parametrize('feed', FEEDS)
def test_two_processes_match_one_process(idx_dir, tfds_dir, tmp_path, feed):
  """2 processes × 2 devices (jax.distributed over 127.0.0.1, gloo) = 1 process × 4 devices."""
  one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
  env = {
    **os.environ,
    'XLA_FLAGS': f'{os.environ["XLA_FLAGS"]} --xla_force_host_platform_device_count=4',
    'JAX_PLATFORMS': 'cpu',
  }
  subprocess.run(
    [sys.executable, '-m', 'gans.main', *_tiny_flags(idx_dir, tfds_dir, one, feed)],
    env=env,
    check=True,
    cwd=REPO,
    capture_output=True,
    timeout=600,
  )
  result = subprocess.run(
    ['bash', 'launch/multiprocess_cpu.sh', '2', '2', *_tiny_flags(idx_dir, tfds_dir, two, feed)],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'JAX process 1 of 2, backend cpu: 2 local of 4 global devices' in result.stderr
  a, b = load_params(one, 3), load_params(two, 3)
  differences = jax.tree.leaves(jax.tree.map(lambda x, y: float(np.max(np.abs(x - y))), a, b))
  assert differences and max(differences) < 1e-5
  # Only process 0 wrote the figures: one file per figure and step.
  assert sorted(os.listdir(os.path.join(two, 'samples'))) == ['samples_0000003.png']


# The default recipe with small nets: a few seconds per hundred steps on 2 processes × 2 devices. No
# sample metrics, as in issue #20's command: their classifier is trained and cached by the first run
# (the 1-process one in test_two_processes_match_one_process).
_LAUNCHER_FLAGS = [
  '--config.model.generator_kwargs.hidden=(32, 64)',
  '--config.model.discriminator_kwargs.hidden=(64, 32)',
  '--config.eval.sample_metrics=False',
]


def _launch(idx_dir, tfds_dir, workdir, *flags):
  """``launch/multiprocess_cpu.sh 2 2`` on ``configs/gan.py`` at test size, stderr piped. The dataset is
  prepared here first: two processes preparing it at once would both build it into ``tfds_dir``."""
  datasets.load_split(tiny_config('gan', idx_dir, tfds_dir).data, 'train')
  return subprocess.Popen(
    [
      'bash',
      'launch/multiprocess_cpu.sh',
      '2',
      '2',
      f'--config={REPO}/configs/gan.py',
      f'--workdir={workdir}',
      *tiny_overrides(idx_dir, tfds_dir),
      *_LAUNCHER_FLAGS,
      *flags,
    ],
    cwd=REPO,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.PIPE,
    text=True,
  )


def test_the_launcher_trains_the_default_recipe_with_one_log_at_the_end(
  idx_dir, tfds_dir, tmp_path
):
  """No host sync but the window of steps in flight for 200 steps: unbounded, XLA:CPU queued more
  than 32 of them and deadlocked (issue #20)."""
  steps = 200
  launcher = _launch(
    idx_dir,
    tfds_dir,
    tmp_path,
    f'--config.train.steps={steps}',
    *(
      f'--config.train.{name}={steps}' for name in ('log_every', 'checkpoint_every', 'sample_every')
    ),
  )
  try:
    _, stderr = launcher.communicate(timeout=300)
  finally:
    _end(launcher, tmp_path)
  assert launcher.returncode == 0, stderr[-3000:]
  assert stderr.count(f'step {steps}/{steps} |') == 2  # One line from each process.
  assert os.listdir(tmp_path / 'checkpoints') == [str(steps)]


@pytest.mark.parametrize('target', ['launcher', 'one process'])
def test_sigterm_stops_both_processes_at_one_checkpointed_step(idx_dir, tfds_dir, tmp_path, target):
  """SIGTERM to the launcher reaches both processes; to one of them, the other stops too (at one step
  with it: each step and the checkpoint are collectives of both)."""
  launcher = _launch(
    idx_dir,
    tfds_dir,
    tmp_path,
    '--config.train.steps=100000',
    '--config.train.log_every=10',
    '--config.train.checkpoint_every=100000',
    '--config.train.sample_every=100000',
  )
  try:
    wait_for_line(launcher, 'step 20/100000', timeout=240)
    children = psutil.Process(launcher.pid).children()
    assert len(children) == 2
    (launcher if target == 'launcher' else children[1]).send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=120)
  finally:
    _end(launcher, tmp_path)
  assert launcher.returncode == 0, stderr[-3000:]
  stops = re.findall(r'Stopped at step (\d+) after checkpointing', stderr)
  assert len(stops) == 2 and stops[0] == stops[1], stderr[-3000:]
  assert os.listdir(tmp_path / 'checkpoints') == [stops[0]]
  assert not any(child.is_running() for child in children)


def test_a_killed_process_ends_the_other_naming_it_and_a_rerun_resumes(idx_dir, tfds_dir, tmp_path):
  """SIGKILL to one of the two processes (not through the launcher): the other ends at once with one
  line naming it and status 4, well within the heartbeat timeout; the same command with both then
  resumes from the last checkpoint and ends with the parameters of an uninterrupted run."""
  killed, whole = tmp_path / 'killed', tmp_path / 'whole'
  flags = (
    '--heartbeat_timeout_s=10',
    '--config.train.steps=80',
    '--config.train.log_every=10',
    '--config.train.checkpoint_every=10',
    *PARAMS_ONLY_FLAGS,
  )
  launcher = _launch(idx_dir, tfds_dir, killed, *flags)
  try:
    wait_for_line(launcher, 'step 20/80', timeout=240)
    victim = next(
      child
      for child in psutil.Process(launcher.pid).children()
      if '--process_id=1' in child.cmdline()
    )
    victim.kill()
    killed_at = time.time()
    _, stderr = launcher.communicate(timeout=60)
    ended_after = time.time() - killed_at
  finally:
    _end(launcher, killed)
  assert launcher.returncode == 128 + signal.SIGKILL, stderr[
    -3000:
  ]  # The launcher: the dead process's status, not the survivor's 4, whichever is reaped first.
  assert ended_after < 10, (
    ended_after,
    stderr[-3000:],
  )  # The heartbeat timeout is not needed here.
  fatal = [line for line in stderr.splitlines() if line.startswith('FATAL')]
  assert len(fatal) == 1, stderr[-3000:]
  assert fatal[0].startswith(
    f'FATAL process 1 of 2 (pid {victim.pid} has exited): the run cannot go on'
  )
  assert 'Process 0 exits with status 4' in fatal[0]
  assert re.search(r'process 0 \(pid \d+\) exited with status 4$', stderr, re.M), stderr[-3000:]

  for workdir in (killed, whole):  # The same command with both processes; an uninterrupted run.
    launcher = _launch(idx_dir, tfds_dir, workdir, *flags)
    try:
      _, stderr = launcher.communicate(timeout=300)
    finally:
      _end(launcher, workdir)
    assert launcher.returncode == 0, stderr[-3000:]
    if workdir == killed:
      resumed = re.search(r'Training gan from step (\d+) to 80', stderr)
      assert resumed and 0 < int(resumed.group(1)) < 80, stderr[-3000:]
  a, b = load_params(killed, 80), load_params(whole, 80)
  assert jax.tree.all(jax.tree.map(np.array_equal, a, b))


def test_peers_lost_names_exited_and_stopped_processes_of_this_machine(monkeypatch):
  """``gans.peers.lost``: a pid gone or reused is exited, a SIGSTOPped one stopped (not lost), a
  process on another machine unchecked."""
  gone = subprocess.Popen(['true'])
  gone.wait()
  stopped = subprocess.Popen(['sleep', '60'])
  try:
    stopped.send_signal(signal.SIGSTOP)
    while peers._proc_state(stopped.pid)[0] not in ('T', 't'):
      time.sleep(0.01)
    here = peers._this_machine()
    monkeypatch.setattr(peers, '_count', 5)
    monkeypatch.setattr(
      peers,
      '_peers',
      {
        1: (here, gone.pid, '1'),
        2: (here, os.getpid(), '1'),  # This pid, another start time: a reused pid.
        3: (here, stopped.pid, peers._proc_state(stopped.pid)[1]),
        4: ('elsewhere/1', 1, '1'),
      },
    )
    exited, paused, elsewhere = peers.lost()
    assert exited == {1: f'pid {gone.pid} has exited', 2: f'pid {os.getpid()} has exited'}
    assert paused == {3: f'pid {stopped.pid} is stopped: SIGSTOP or a debugger'} and elsewhere == [
      4
    ]
    assert peers.describe().endswith(
      f'process 3 of 5 (pid {stopped.pid} is stopped: SIGSTOP or a debugger) on this machine; '
      'process 4 on another machine is not checked'
    )
  finally:
    stopped.kill()
    stopped.wait()


def _end(launcher, workdir) -> None:
  """Kills what a failed test left running: the launcher, and the processes training in ``workdir``
  (also those a killed launcher left behind)."""
  if launcher.poll() is None:
    launcher.kill()
    launcher.communicate()
  for process in psutil.process_iter(['cmdline']):
    if f'--workdir={workdir}' in (process.info['cmdline'] or []):
      process.kill()
