"""Shared fixtures: a tiny IDX dataset written by the tests, and running ``gans.main`` in-process."""

from __future__ import annotations

import os
import time

from absl import flags
import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from gans import config_lib
from gans.data import idx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


FAST_COMPILE = '--xla_backend_optimization_level=0'


def pytest_configure(config):
  """Compiled programs are cached on disk for the session in the subprocesses the tests start (they
  inherit the environment): recipes that several ``gans.main`` runs train compile once. Not in this
  process: late in full-suite runs, writing a program to the cache crashed jaxlib 0.10.2's executable
  serialisation here (a segfault in ``compilation_cache.put_executable_and_time``, twice on 2026-12-01,
  in ``test_recipe_on_another_dataset_trains_a_step_at_its_size``; not with the file alone)."""

  from gans import xla_flags

  xla_flags.set_defaults()  # As gans.main does; before the first JAX computation.
  # The suite compiles hundreds of tiny programs and runs each a few steps: XLA's backend (LLVM)
  # optimisation level 0 compiles them about a third faster (20 min -> 14.5 min for the suite on
  # 2026-12-01); gans.main and gans.benchmark keep the default. Subprocesses inherit it.
  if '--xla_backend_optimization_level=' not in os.environ.get('XLA_FLAGS', ''):
    os.environ['XLA_FLAGS'] = f'{os.environ.get("XLA_FLAGS", "")} {FAST_COMPILE}'.strip()
  cache = config.cache.mkdir('xla_cache') if getattr(config, 'cache', None) else None
  if cache is not None:
    os.environ['JAX_COMPILATION_CACHE_DIR'] = str(cache)
    os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0.5'


def write_idx_dataset(directory, num_train=256, num_test=128, seed=0):
  """Writes MNIST-format files of random 28×28 images whose brightness depends on the label."""
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  for prefix, n in (('train', num_train), ('t10k', num_test)):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = np.clip(rng.normal(20 * labels[:, None, None], 30, (n, 28, 28)), 0, 255).astype(
      np.uint8
    )
    idx.write_idx(os.path.join(directory, f'{prefix}-images-idx3-ubyte.gz'), images)
    idx.write_idx(os.path.join(directory, f'{prefix}-labels-idx1-ubyte.gz'), labels)
  return directory


@pytest.fixture(scope='session')
def idx_dir(tmp_path_factory):
  return write_idx_dataset(str(tmp_path_factory.mktemp('idx')))


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp('tfds'))


def tiny_config(recipe, idx_dir, tfds_dir, steps=4, **overrides):
  """``configs/<recipe>.py`` with the same tiny settings as ``tiny_overrides``, plus ``overrides``
  given as ``{'train.steps': 6}``."""
  config = config_lib.load_recipe(os.path.join(REPO, 'configs', f'{recipe}.py'))
  for arg in tiny_overrides(idx_dir, tfds_dir, steps):
    key, value = arg[len('--config.') :].split('=', 1)
    _set(config, key, type(_get(config, key))(value))
  for key, value in overrides.items():
    _set(config, key, value)
  return config


def _get(config, dotted):
  for part in dotted.split('.'):
    config = config[part]
  return config


def _set(config, dotted, value):
  *parents, leaf = dotted.split('.')
  for part in parents:
    config = config[part]
  config[leaf] = value


def load_params(workdir, step):
  """The params of every player in checkpoint ``step`` of ``workdir``, as numpy arrays."""
  path = os.path.join(workdir, 'checkpoints', str(step), 'state')
  checkpointer = ocp.PyTreeCheckpointer()
  as_numpy = jax.tree.map(
    lambda _: ocp.RestoreArgs(restore_type=np.ndarray),
    checkpointer.metadata(path).item_metadata.tree,
  )
  restored = checkpointer.restore(path, restore_args=as_numpy)
  return {name: player['params'] for name, player in restored['players'].items()}


def same_params(a, b) -> bool:
  """Whether two param trees (``load_params``) are non-empty and equal bit for bit."""
  leaves = jax.tree.leaves(jax.tree.map(np.array_equal, a, b))
  return bool(leaves) and all(leaves)


def any_param_moved(before, after) -> bool:
  """Whether any array of the param tree ``after`` differs from ``before`` (training did something)."""
  return any(jax.tree.leaves(jax.tree.map(lambda x, y: not np.array_equal(x, y), before, after)))


def wait_for_line(process, needle: str, timeout: float = 120) -> None:
  """Reads ``process``'s stderr (a text pipe) up to a line with ``needle``."""
  deadline = time.time() + timeout
  for line in process.stderr:
    if needle in line:
      return
    assert time.time() < deadline, f'no {needle!r} within {timeout} s'
  raise AssertionError(f'process ended ({process.wait()}) before printing {needle!r}')


# StyleGAN at 4×4, its smallest nets (its step's compile is the cost), with both lazy regularisers within
# a few steps: R1 on every 2nd, the path length on every 3rd.
STYLEGAN_TINY = {
  'data.image_size': 4,
  'model.generator_kwargs.z_dim': 8,
  'model.generator_kwargs.w_dim': 8,
  'model.generator_kwargs.mapping_layers': 1,
  'model.generator_kwargs.channel_base': 64,
  'model.generator_kwargs.channel_max': 4,
  'model.discriminator_kwargs.channel_base': 64,
  'model.discriminator_kwargs.channel_max': 4,
  'loss.r1_interval': 2,
  'loss.pl_interval': 3,
}

# For runs whose parameters alone are under test: no figures, no evaluation (saves their compiles).
PARAMS_ONLY = {'train.sample_every': 0, 'eval.num_batches': 0, 'eval.sample_metrics': False}
PARAMS_ONLY_FLAGS = [f'--config.{key}={value}' for key, value in PARAMS_ONLY.items()]


def tiny_overrides(idx_dir, tfds_dir, steps=4):
  """Command-line overrides that make any recipe a seconds-long run on the test dataset."""
  return [
    f'--config.data.source_dir={idx_dir}',
    f'--config.data.tfds_dir={tfds_dir}',
    f'--config.train.steps={steps}',
    '--config.train.batch_size=16',
    '--config.train.log_every=2',
    '--config.train.checkpoint_every=2',
    '--config.train.sample_every=4',
    '--config.eval.batch_size=32',
    '--config.eval.num_batches=2',
    '--config.sample.num=16',
    '--config.eval.num_samples=64',
    '--config.eval.classifier_steps=20',
    '--config.eval.kid_subsets=4',
    '--config.eval.kid_subset_size=32',
  ]


@pytest.fixture
def run_main(monkeypatch):
  """Runs ``python -m gans.main ARGS`` in this process (flags parsed afresh each call).

  ``ml_collections`` finds ``--config.*`` overrides in ``sys.argv`` when it parses ``--config``, so
  ``sys.argv`` is set as a real command line would set it.
  """
  from gans import main

  def run(*args):
    argv = ['gans.main', *args]
    monkeypatch.setattr('sys.argv', argv)
    _forget_config_overrides()
    flags.FLAGS(argv)
    main.main(['gans.main'])

  yield run
  _forget_config_overrides()


def _forget_config_overrides():
  """Undoes a previous parse, including the ``--config.*`` flags that ml_collections defined in it."""
  flags.FLAGS.unparse_flags()
  for name in [name for name in flags.FLAGS if name.startswith('config.')]:
    delattr(flags.FLAGS, name)
