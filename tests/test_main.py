"""End to end through ``gans.main``: tiny runs of every foundation recipe, then sample and eval modes."""

from __future__ import annotations

import json
import os

from conftest import REPO, tiny_overrides
import numpy as np
from PIL import Image
import pytest

from gans import export


@pytest.mark.parametrize('recipe', ['gan', 'vae', 'ae'])
def test_train_sample_eval(recipe, run_main, idx_dir, tfds_dir, tmp_path):
  workdir = str(tmp_path / recipe)
  common = [
    f'--config={REPO}/configs/{recipe}.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
  ]
  run_main(*common)

  assert sorted(os.listdir(os.path.join(workdir, 'checkpoints'))) == ['2', '4']
  assert json.load(open(os.path.join(workdir, 'config.json')))['method']['name'] == recipe
  assert any(f.startswith('events.') for f in os.listdir(os.path.join(workdir, 'tensorboard')))
  samples = os.listdir(os.path.join(workdir, 'samples'))
  assert 'samples_0000004.png' in samples
  if recipe != 'gan':
    assert {'reconstructions_0000004.png', 'interpolation_0000004.png'} <= set(samples)
    # Two rows (inputs, reconstructions) of 16 tiles of 28 pixels with 1 pixel of padding.
    picture = Image.open(os.path.join(workdir, 'samples', 'reconstructions_0000004.png'))
    assert picture.size == (16 * 29 + 1, 2 * 29 + 1)

  run_main(*common, '--mode=sample', '--config.sample.num=9', '--config.sample.seed=3')
  picture = np.asarray(
    Image.open(os.path.join(workdir, 'samples', 'samples_step0000004_seed3.png'))
  )
  assert picture.shape == (3 * 29 + 1, 3 * 29 + 1)
  assert picture.std() > 0  # Not a blank grid.
  run_main(*common, '--mode=sample', '--config.sample.kind=interpolate', '--config.sample.rows=2')
  walk = Image.open(os.path.join(workdir, 'samples', 'interpolate_spherical_step0000004_seed0.png'))
  assert walk.size == (10 * 29 + 1, 2 * 29 + 1)

  if recipe == 'gan':  # --mode=export without labels; tests/test_biggan.py exports with them.
    run_main(*common, '--mode=export', '--config.export.num=40', '--config.export.seed=5')
    images, labels = export.load(os.path.join(workdir, 'export', 'samples_step0000004_seed5.npz'))
    assert images.dtype == np.uint8 and images.shape == (40, 28, 28, 1) and labels is None
    record = json.load(open(os.path.join(workdir, 'export', 'samples_step0000004_seed5.json')))
    assert record['num'] == 40 and not record['labels'] and not record['ema']

  run_main(*common, '--mode=eval')
  metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  floor = metrics.pop('floor')
  assert metrics['step'] == 4
  expected = {'d_loss', 'd_real', 'd_fake'} if recipe == 'gan' else {'loss', 'reconstruction', 'kl'}
  quality = {
    'fid',
    'kid',
    'kid_std',
    'precision',
    'recall',
    'density',
    'coverage',
    'classifier_score',
  }
  assert expected | quality <= set(metrics) and all(np.isfinite(v) for v in metrics.values())
  assert quality <= set(floor) and floor['fid'] < metrics['fid']  # Real images beat a 4-step model.
  report = open(os.path.join(workdir, 'eval', 'report.md')).read()
  assert '| real train vs test (floor) |' in report and 'samples_0000004.png' in report
  assert os.path.exists(os.path.join(workdir, 'eval', 'samples_0000004.png'))


def test_sample_without_checkpoint_says_train_first(run_main, idx_dir, tfds_dir, tmp_path):
  with pytest.raises(FileNotFoundError, match='train first'):
    run_main(
      f'--config={REPO}/configs/gan.py',
      f'--workdir={tmp_path}',
      '--mode=sample',
      *tiny_overrides(idx_dir, tfds_dir),
    )


@pytest.mark.parametrize('channels', [1, 3])
def test_png_folder_reads_back_as_pytorch_fid_reads_it(channels, tmp_path):
  """export.write_png_folder: a flat folder of 000000.png ... that PIL's convert('RGB') (how
  pytorch-fid, torch-fidelity and clean-fid decode a file) turns back into the uint8 arrays, grey
  repeated to 3 channels; labels.txt beside them, which those tools skip (not an image)."""
  images = np.random.default_rng(0).integers(0, 256, (3, 5, 4, channels), dtype=np.uint8)
  export.write_png_folder(str(tmp_path), images, np.array([2, 0, 1]))
  assert sorted(os.listdir(tmp_path)) == ['000000.png', '000001.png', '000002.png', 'labels.txt']
  assert open(tmp_path / 'labels.txt').read() == '2\n0\n1\n'
  decoded = [np.asarray(Image.open(tmp_path / f'{i:06d}.png').convert('RGB')) for i in range(3)]
  np.testing.assert_array_equal(np.stack(decoded), np.broadcast_to(images, (3, 5, 4, 3)))
