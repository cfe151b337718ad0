"""8 simulated CPU devices train the same parameters as 1 device for the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO, load_params, tiny_config, tiny_overrides
import jax
import numpy as np
import pytest

from gans import train

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
RECIPE_OVERRIDES = {'gan': OVERRIDES, 'biggan': BIGGAN_OVERRIDES}

_RUN_ON_8_DEVICES = """
import sys
sys.path.insert(0, {tests!r})
import jax
assert jax.device_count() == 8, jax.devices()
from conftest import tiny_config
from gans import train
train.train_and_evaluate(tiny_config({recipe!r}, {idx_dir!r}, {tfds_dir!r}, **{overrides!r}), {workdir!r})
"""


FEEDS = [
  'device',
  'host',
]  # gans.data.input_pipeline: both feeds shard the global batch the same way.


@pytest.mark.parametrize('recipe, feed', [('gan', feed) for feed in FEEDS] + [('biggan', 'device')])
def test_eight_devices_match_one(idx_dir, tfds_dir, tmp_path, recipe, feed):
  one, eight = str(tmp_path / 'one'), str(tmp_path / 'eight')
  overrides = {**RECIPE_OVERRIDES[recipe], 'train.feed': feed}
  assert jax.device_count() == 1
  train.train_and_evaluate(tiny_config(recipe, idx_dir, tfds_dir, **overrides), one)
  env = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=8'}
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
    'XLA_FLAGS': '--xla_force_host_platform_device_count=4',
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
