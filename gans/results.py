r"""Collects ``eval/metrics.json`` of finished runs into README's results table.

    python -m gans.results runs/gan runs/vae ...
    python -m gans.results --eval_dir=eval_32px runs/dcgan runs/biggan   # after --config.eval.image_size=32

One row per run (the command that made it comes from the run's recipe name), then the real-data floor of
the first image run; toy mixtures and stacked data get the mode-coverage columns.
"""

from __future__ import annotations

import json
import os
import sys

IMAGE_COLUMNS = ('fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'classifier_score')
TOY_COLUMNS = ('modes', 'high_quality_fraction', 'kl')
# Columns of the runs that report them: VAE's bound, CGAN's class accuracy, InfoGAN's code accuracy.
EXTRA_COLUMNS = ('iwae', 'class_accuracy', 'code_accuracy')


def _load(workdir: str, eval_dir: str) -> tuple[dict, dict]:
  path = os.path.join(workdir, eval_dir, 'metrics.json')
  if not os.path.exists(path):
    size = eval_dir[len('eval_') : -len('px')] if eval_dir.startswith('eval_') else ''
    raise FileNotFoundError(
      f'{path} does not exist: evaluate the run first, python -m gans.main --config=<its recipe> '
      f'--workdir={workdir} --mode=eval'
      + (f' --config.eval.image_size={size}' if size else '')
      + ' (the end-of-training evaluation logs its metrics but writes no metrics.json).'
    )
  with open(path) as f:
    metrics = json.load(f)
  with open(os.path.join(workdir, 'config.json')) as f:
    config = json.load(f)
  return metrics, config


def _cell(metrics: dict, name: str) -> str:
  if name not in metrics:
    return ''
  if name == 'kid':
    return f'{metrics["kid"]:.4f} ± {metrics["kid_std"]:.4f}'
  return f'{metrics[name]:.4g}'


def _mode_data(data: dict) -> str:
  """'ring (8)', 'grid (25)' or 'fashion_mnist stacked ×3 (1000)'."""
  stacked = data.get('stacked_images') or data.get('stack')  # 'stack' in runs before 2026-12-01.
  if stacked:
    return f'{data["name"]} stacked ×{stacked} ({10**stacked})'
  return f'{data["name"]} ({ {"ring": 8, "grid": 25}.get(data["name"], "?") })'


def table(workdirs: list[str], eval_dir: str = 'eval') -> str:
  """The rows of ``workdir/<eval_dir>/metrics.json`` of each run (``eval_<size>px``: ``eval.image_size``)."""
  runs = [(workdir, *_load(workdir, eval_dir)) for workdir in workdirs]
  toy_runs = [run for run in runs if 'modes' in run[1]]  # Toy mixtures and stacked data.
  image_runs = [run for run in runs if 'modes' not in run[1]]
  lines = []
  if image_runs:
    extra = tuple(k for k in EXTRA_COLUMNS if any(k in m for _, m, _ in image_runs))
    columns = IMAGE_COLUMNS + extra
    lines += [
      '| run | data | steps | ' + ' | '.join(columns) + ' |',
      '|---|---|---|' + '---|' * len(columns),
    ]
    for workdir, metrics, config in image_runs:
      cells = ' | '.join(_cell(metrics, c) for c in columns)
      lines.append(
        f'| `{os.path.basename(workdir)}` | {config["data"]["name"]} | {metrics["step"]} | {cells} |'
      )
    floor = image_runs[0][1].get('floor', {})
    if floor:
      cells = ' | '.join(_cell(floor, c) for c in columns)
      lines.append(
        f'| real train vs test (floor) | {image_runs[0][2]["data"]["name"]} | | {cells} |'
      )
  if toy_runs:
    lines += [
      '',
      '| run | data (modes) | steps | modes | high-quality fraction | KL(modes ‖ uniform) |',
    ]
    lines.append('|---|---|---|---|---|---|')
    for workdir, metrics, config in toy_runs:
      cells = ' | '.join(_cell(metrics, c) for c in TOY_COLUMNS)
      lines.append(
        f'| `{os.path.basename(workdir)}` | {_mode_data(config["data"])} | {metrics["step"]} | {cells} |'
      )
  return '\n'.join(lines)


if __name__ == '__main__':
  arguments = sys.argv[1:]
  options = [a for a in arguments if a.startswith('--eval_dir=')]
  try:
    print(
      table(
        [a for a in arguments if a not in options],
        options[-1].split('=', 1)[1] if options else 'eval',
      )
    )
  except FileNotFoundError as e:
    sys.exit(f'FATAL {e}')
