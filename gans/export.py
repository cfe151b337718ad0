"""``--mode=export``: samples of a trained model in the formats external FID/IS tools read.

    python -m gans.main --config=configs/biggan.py --workdir=runs/biggan --mode=export \
        [--config.export.num=50000] [--config.export.png=True] [--config.sample.truncation=1.0]

writes into ``workdir/export/``, for the latest checkpoint at step S and seed s = ``export.seed``:

- ``samples_stepS_seeds.npz``: ``images`` uint8 [N, H, W, C] (NHWC, C = 1 for grey-scale data, as the
  model draws them; tools that need RGB repeat the channel) and, for a class-conditional model
  (``base.ClassConditional``), ``labels`` int32 [N], the class each image was drawn for (every class
  equally often);
- ``samples_stepS_seeds.json``: what the samples are (step, seed, number, method, dataset, image shape,
  whether the EMA weights drew them, the truncation τ, the value range they were mapped from, the recipe
  and its overrides), so a score can be traced back to its samples;
- with ``export.png``: the folder ``samples_stepS_seeds/`` of ``000000.png`` ... (image i of the npz;
  flat, as pytorch-fid, torch-fidelity and clean-fid read folders) and ``labels.txt`` (line i: image i's
  class) for a class-conditional model.

The samples are drawn as the evaluation draws them (``Experiment.sample_batch``, ``eval.batch_size`` per
call, batch i with seed s + i) and mapped to uint8 as the sample grids are (``visualize.to_uint8``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from gans import visualize
from gans.evaluation import evaluator as evaluator_lib


def export_samples(experiment, step: int) -> dict[str, str]:
  """Writes the export of ``experiment``'s restored state (at ``step``); returns {kind: path}."""
  config = experiment.config
  if config.data.source == 'toy':
    raise ValueError(
      f'--mode=export writes images; {config.data.name} is a 2-D toy mixture (use --mode=sample or '
      '--mode=eval for its points).'
    )
  samples, labels = evaluator_lib.draw_samples(
    experiment.sample_batch, config.export.num, config.eval.batch_size, config.export.seed
  )
  images = visualize.to_uint8(samples, config.data.value_range)
  stem = os.path.join(
    experiment.workdir, 'export', f'samples_step{step:07d}_seed{config.export.seed}'
  )
  paths = {'npz': stem + '.npz', 'json': stem + '.json'}
  if not experiment.is_writer:
    return paths
  os.makedirs(os.path.dirname(stem), exist_ok=True)
  arrays = {'images': images} if labels is None else {'images': images, 'labels': labels}
  _write_atomically(paths['npz'], lambda f: np.savez(f, **arrays))
  if config.export.png:
    paths['png'] = stem
    write_png_folder(stem, images, labels)
  record = {
    'step': step,
    'seed': config.export.seed,
    'num': int(images.shape[0]),
    'method': config.method.name,
    'dataset': config.data.name,
    'image_shape': list(images.shape[1:]),
    'labels': labels is not None,
    'ema': bool(experiment.state.ema),
    'truncation': config.sample.get('truncation'),
    'value_range': list(config.data.value_range),
    'files': {kind: os.path.basename(path) for kind, path in paths.items() if kind != 'json'},
    'config': json.loads(config.to_json_best_effort()),
  }
  _write_atomically(paths['json'], lambda f: f.write(json.dumps(record, indent=2).encode()))
  return paths


def load(path: str) -> tuple[np.ndarray, np.ndarray | None]:
  """``(images uint8 [N, H, W, C], labels int32 [N] or None)`` of an exported ``.npz``."""
  with np.load(path) as data:
    return data['images'], data['labels'] if 'labels' in data else None


def _write_atomically(path: str, write) -> None:
  """``write(file)`` into ``path.tmp``, then renamed to ``path``: a reader never sees half a file."""
  with open(path + '.tmp', 'wb') as f:
    write(f)
  os.replace(path + '.tmp', path)


def write_png_folder(directory: str, images: np.ndarray, labels: np.ndarray | None = None) -> None:
  """``directory/000000.png`` ... of uint8 images [N, H, W, C] (C = 1: grey PNGs) and, with
  ``labels``, ``labels.txt``; also writes real reference images for external tools
  (``launch/reference/external_fid.py``)."""
  os.makedirs(directory, exist_ok=True)
  for i, image in enumerate(images):
    visualize.save_png(os.path.join(directory, f'{i:06d}.png'), image)
  if labels is not None:
    _write_atomically(
      os.path.join(directory, 'labels.txt'),
      lambda f: f.write(''.join(f'{label}\n' for label in labels).encode()),
    )
