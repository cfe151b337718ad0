"""Checks of a config before any work: types and ranges, and compatibility with a run being resumed."""

from __future__ import annotations

import json
import os

from ml_collections import ConfigDict

from gans import methods
from gans.data import datasets

# config.train.feed: gans.data.input_pipeline's three feeds, or auto (gans.train.Experiment.feed).
FEEDS = ('auto', 'device', 'host', 'stream')

# Fields that define what a checkpoint holds (shapes, optimizer state structure, data order). A run resumed
# with any of them changed would crash inside orbax or silently train something else.
IDENTITY_FIELDS = (
  'method.',
  'model.',
  'data.name',
  'data.source',
  'data.value_range',
  'data.stacked_images',
  'data.domain_b',
  'data.captions',
  'data.center_crop',
  'data.image_size',
  'data.label_attribute',
  'data.num_labelled',
  'data.labelled_seed',
  'train.batch_size',
  'train.seed',
)


# Identity fields added after runs were checkpointed, each with the value that reproduces the runs from
# before it: a checkpoint whose config lacks the field resumes when the field has that value now.
ADDED_FIELDS = {
  'data.stacked_images': 0,
  'data.domain_b': '',
  'data.captions': '',
  'data.center_crop': 0,
  'data.image_size': 0,
  'data.label_attribute': '',
  'data.num_labelled': 0,
  'data.labelled_seed': 0,
  'method.pack': 1,  # The plain GAN's PacGAN packing (gans.methods.gan); 1 = none.
}
# XLA:CPU lets at most 32 computations per device be queued; a multi-device step queued beyond that blocks
# one of the runtime's threads (as many as devices on a machine with few cores) and the collective of the
# steps before it never gets all its devices: a deadlock (docs/design.md). The loop queues at most
# max_steps_in_flight + 1 steps, plus on several processes 2 stop-flag all-reduces (gans.preemption) and
# the 2 programs of the figures: 13 + 4 < 32.
MAX_STEPS_IN_FLIGHT = 12


def _flatten(tree: dict, prefix: str = '') -> dict[str, object]:
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(_flatten(value, f'{prefix}{key}.'))
    else:
      flat[f'{prefix}{key}'] = list(value) if isinstance(value, tuple) else value
  return flat


def _is_identity(field: str) -> bool:
  return any(field.startswith(p) if p.endswith('.') else field == p for p in IDENTITY_FIELDS) or (
    field.startswith('optim.') and field.endswith('.name')
  )


def validate(config: ConfigDict) -> None:
  """Raises ValueError naming the field for values no run can use: the shared groups here, the
  family's ``method`` and ``loss`` groups by its ``check_config`` (``gans.methods``)."""
  t = config.train
  positive = {
    'train.steps': t.steps,
    'train.batch_size': t.batch_size,
    'train.log_every': t.log_every,
    'train.checkpoint_every': t.checkpoint_every,
    'train.keep_checkpoints': t.keep_checkpoints,
    'train.prefetch': t.prefetch,
    'eval.batch_size': config.eval.batch_size,
    'sample.num': config.sample.num,
    'export.num': config.export.num,
  }
  for name, value in positive.items():
    if value <= 0:
      raise ValueError(f'config.{name}={value} must be positive.')
  if t.feed not in FEEDS:
    raise ValueError(f'config.train.feed={t.feed!r}: use one of {", ".join(FEEDS)}.')
  if t.feed == 'stream' and not datasets.streamable(config.data):
    raise ValueError(
      f'config.train.feed=stream reads the training split from disk, but data.source='
      f'{config.data.source!r} with data.stacked_images={config.data.get("stacked_images", 0)} is made '
      'in memory: stream only idx or tfds data without stacking, or use auto, device or host.'
    )
  if config.data.get('in_memory_limit_mb', 1) <= 0:
    raise ValueError(
      f'config.data.in_memory_limit_mb={config.data.in_memory_limit_mb} must be positive.'
    )
  if not 1 <= t.max_steps_in_flight <= MAX_STEPS_IN_FLIGHT:
    raise ValueError(
      f'config.train.max_steps_in_flight={t.max_steps_in_flight} must be in 1..{MAX_STEPS_IN_FLIGHT} '
      "(more would queue past XLA:CPU's 32 computations per device and can deadlock)."
    )
  for name, value in (
    ('train.sample_every', t.sample_every),
    ('eval.num_batches', config.eval.num_batches),
  ):
    if value < 0:
      raise ValueError(f'config.{name}={value} must be >= 0 (0 = none).')
  for name in ('step_timeout_s', 'stop_timeout_s'):
    if t[name] < 0:
      raise ValueError(f'config.train.{name}={t[name]} must be >= 0 (0 = off).')
  if t.eval_every < 0:
    raise ValueError(f'config.train.eval_every={t.eval_every} must be >= 0 (0 = only at the end).')
  for player, optim in config.optim.items():
    if optim.lr <= 0:
      raise ValueError(f'config.optim.{player}.lr={optim.lr} must be positive.')
  lo, hi = config.data.value_range
  if not lo < hi:
    raise ValueError(
      f'config.data.value_range={tuple(config.data.value_range)} must be (low, high), low < high.'
    )
  methods.check_config(config)


def check_resumable(config: ConfigDict, workdir: str) -> None:
  """Raises ValueError with a field-by-field diff if ``workdir`` was trained with a different identity."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return
  with open(path) as f:
    saved = _flatten(json.load(f))
  current = _flatten(json.loads(config.to_json_best_effort()))
  for (
    field,
    old_behaviour,
  ) in ADDED_FIELDS.items():  # Absent (an old run, a recipe without it): as before.
    saved.setdefault(field, old_behaviour)
    current.setdefault(field, old_behaviour)
  changed = sorted(
    field
    for field in set(saved) | set(current)
    if _is_identity(field) and saved.get(field) != current.get(field)
  )
  if changed:
    diff = '\n'.join(
      f'  {field}: {saved.get(field)!r} (checkpoint) -> {current.get(field)!r} (now)'
      for field in changed
    )
    raise ValueError(
      f'{workdir} holds checkpoints of a different run; these fields would change what the checkpoint '
      f'means:\n{diff}\nUse a new --workdir, or set the fields back to resume.'
    )
