r"""Command-line entry point: train, evaluate or sample one recipe.

    python -m gans.main --config=configs/vae.py [--workdir=runs/vae] [--mode=train|eval|sample|export] \
        [--config.train.steps=200 --config.optim.g.lr=1e-4 ...]

``--workdir`` defaults to ``runs/<config file name>``. Rerunning with the same workdir resumes from its
latest checkpoint. A training run locks its workdir (``gans.workdir_lock``): a second one there stops
with a message naming the first. ``--mode=eval``, ``sample`` and ``export`` take no lock: they only read
checkpoints (complete ones: saves are atomic) and write ``eval/``, ``samples/`` and ``export/`` files of their own
names, so they may run beside the training run, e.g. to look at its progress.
"""

from __future__ import annotations

import json
import logging as std_logging
import os
import sys

from absl import app, flags, logging
import jax
from ml_collections import config_flags

from gans import (
  checkpoint,
  config_guard,
  export,
  malloc_arenas,
  parallel,
  peers,
  train,
  workdir_lock,
  xla_flags,
)

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
  'config', None, 'Recipe file, e.g. configs/vae.py.', lock_config=True
)
flags.DEFINE_string('workdir', None, 'Run directory (default: runs/<config name>).')
flags.DEFINE_enum(
  'mode', 'train', ['train', 'eval', 'sample', 'export'], 'What to do with the recipe.'
)
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, for a multi-process run.')
flags.DEFINE_integer('num_processes', None, 'Number of processes of a multi-process run.')
flags.DEFINE_integer('process_id', None, "This process's index in a multi-process run.")
flags.DEFINE_bool(
  'auto_distributed',
  False,
  'Join a multi-process run by cluster auto-detection '
  '(TPU pods, SLURM): jax.distributed.initialize() with no arguments.',
)
flags.DEFINE_integer(
  'heartbeat_timeout_s',
  parallel.HEARTBEAT_TIMEOUT_S,
  'Multi-process run: a process that sent the coordination service no heartbeat for this long is '
  "declared dead and the others end (JAX's termination, naming it).",
  lower_bound=1,
)
flags.DEFINE_bool('library_logs', False, 'Also show INFO logs of orbax, TFDS and other libraries.')
flags.mark_flags_as_required(['config'])

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _only_own_info_logs(record) -> bool:
  """Keeps warnings from everyone but INFO lines only from this package (orbax logs every file it writes)."""
  return record.levelno >= std_logging.WARNING or record.pathname.startswith(_PACKAGE_DIR)


def default_workdir(config_path: str) -> str:
  """``configs/vae.py`` -> ``runs/vae``; ``configs/dcgan.py:cifar10`` -> ``runs/dcgan_cifar10`` (each
  dataset of a recipe gets its own run)."""
  path, _, arg = config_path.partition(':')
  name = os.path.splitext(os.path.basename(path))[0]
  return os.path.join('runs', f'{name}_{arg}' if arg else name)


def restored_experiment(config, workdir: str) -> tuple[train.Experiment, int]:
  """The experiment of ``workdir`` restored from its latest checkpoint, and that checkpoint's step;
  ``config`` is validated first, as for training."""
  config_guard.validate(config)
  experiment = train.Experiment(config, workdir)
  if experiment.checkpointer.latest_step() is None:
    raise FileNotFoundError(
      f'no checkpoint in {experiment.checkpointer.directory}; train first with '
      f'python -m gans.main --config=... --workdir={workdir}'
    )
  return experiment, experiment.restore()


def sample(config, workdir: str) -> list[str]:
  """Renders ``config.sample.kind`` (``gans.visualize.render_sample_kind``) from the latest checkpoint
  into ``workdir/samples/<name>_step<step>_seed<seed>.png``; returns the paths."""
  experiment, step = restored_experiment(config, workdir)
  pictures = train.visualize.render_sample_kind(
    config.sample.kind,
    experiment.method,
    experiment.state,
    config,
    jax.random.PRNGKey(config.sample.seed),
    workdir=workdir,
  )
  paths = []
  for name, picture in pictures.items():
    paths.append(
      os.path.join(workdir, 'samples', f'{name}_step{step:07d}_seed{config.sample.seed}.png')
    )
    if experiment.is_writer:
      train.visualize.save_png(paths[-1], picture)
  return paths


def evaluate(config, workdir: str) -> str:
  """Evaluates the latest checkpoint into ``workdir/eval/metrics.json`` and ``report.md`` (a table with
  the real data's own floor and a sample grid); returns the report's path. With ``eval.image_size`` > 0
  the directory is ``eval_<size>px`` (the scores at the data's own size are kept)."""
  experiment, step = restored_experiment(config, workdir)
  metrics = {'step': step, **experiment.evaluate()}
  floor = experiment.evaluator.floor()
  grid = train.visualize.to_picture(
    parallel.to_host(experiment.generate(config.sample.num, config.sample.seed)), config.data
  )
  size = config.eval.image_size
  directory = os.path.join(workdir, f'eval_{size}px' if size else 'eval')
  if experiment.is_writer:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, 'metrics.json'), 'w') as f:
      json.dump({**metrics, 'floor': floor}, f, indent=2)
    train.visualize.save_png(os.path.join(directory, f'samples_{step:07d}.png'), grid)
    with open(os.path.join(directory, 'report.md'), 'w') as f:
      f.write(report_markdown(config, workdir, step, metrics, floor))
  return os.path.join(directory, 'report.md')


def report_markdown(config, workdir: str, step: int, metrics: dict, floor: dict) -> str:
  """A Markdown report: one row for the model, one for the real data's floor, then the sample grid."""
  names = [name for name in metrics if name != 'step']
  lines = [
    f'# {config.method.name} on {config.data.name}: step {step}',
    '',
    f'Workdir `{workdir}`; {config.eval.num_samples} samples against the test split (the '
    f'method metrics on the {config.eval.split} split).',
    '',
    '| | ' + ' | '.join(names) + ' |',
    '|---|' + '---|' * len(names),
    '| model | ' + ' | '.join(f'{metrics[n]:.4g}' for n in names) + ' |',
  ]
  if floor:
    lines.append(
      '| real train vs test (floor) | '
      + ' | '.join(f'{floor[n]:.4g}' if n in floor else '' for n in names)
      + ' |'
    )
  lines += ['', f'![samples](samples_{step:07d}.png)', '']
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if not FLAGS.library_logs:
    logging.get_absl_handler().python_handler.addFilter(_only_own_info_logs)
  malloc_arenas.limit()  # Before JAX's and orbax's threads allocate.
  added_xla_flags = xla_flags.set_defaults()  # Before JAX starts a backend.
  config = FLAGS.config
  workdir = FLAGS.workdir or default_workdir(config_flags.get_config_filename(FLAGS['config']))
  parallel.initialize_distributed(
    coordinator_address=FLAGS.coordinator_address,
    num_processes=FLAGS.num_processes,
    process_id=FLAGS.process_id,
    auto=FLAGS.auto_distributed,
    heartbeat_timeout_s=FLAGS.heartbeat_timeout_s,
  )
  parallel.log_layout()
  if added_xla_flags:
    logging.info('XLA flags added by gans.xla_flags: %s', ' '.join(added_xla_flags))
  logging.info('Mode %s, workdir %s', FLAGS.mode, workdir)
  try:
    _run(FLAGS.mode, config, workdir)
  except Exception as e:
    # A failed collective because another process of the run has exited: one line naming it.
    peers.exit_if_lost(e, wait_s=2.0)
    if isinstance(e, (workdir_lock.WorkdirLocked, checkpoint.CheckpointWriteError)):
      sys.exit(f'FATAL {e}')  # The message says what happened and what to do; no traceback.
    raise


def _run(mode: str, config, workdir: str) -> None:
  if mode == 'train':
    train.train_and_evaluate(config, workdir)
  elif mode == 'sample':
    logging.info('Wrote %s', ', '.join(sample(config, workdir)))
  elif mode == 'export':
    experiment, step = restored_experiment(config, workdir)
    logging.info('Wrote %s', ', '.join(export.export_samples(experiment, step).values()))
  else:
    logging.info('Wrote %s', evaluate(config, workdir))


def parse_flags(argv: list[str]) -> list[str]:
  """absl's parsing, with an unknown ``--config.*`` field reported in one line instead of a traceback."""
  try:
    return FLAGS(argv)
  except flags.Error as e:
    sys.exit(
      f'FATAL Flags parsing error: {e}\nPass --helpshort or --helpfull to see help on flags.'
    )
  except (AttributeError, KeyError) as e:
    overrides = [arg for arg in argv if arg.startswith('--config.')]
    hint = ' '.join(str(e).encode().decode('unicode_escape').replace("'", '').split())
    field = hint.split(' ', 1)[0].strip('"')
    # The overrides whose dotted path has the unknown field (all of them if none has).
    named = [arg for arg in overrides if field in arg.split('=', 1)[0].split('.')] or overrides
    sys.exit(
      f'FATAL config error: unknown config field in {" ".join(named)}: {hint} (the recipe has no '
      'such field: check the spelling and the recipe, configs/<name>.py, for the fields it sets)'
    )


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
