"""Command-line config errors stop with one clear line, before any work."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO
import pytest

from gans import config_guard, config_lib, main


def _run_main(*args):
  return subprocess.run(
    [sys.executable, '-m', 'gans.main', *args],
    cwd=REPO,
    capture_output=True,
    text=True,
    timeout=120,
  )


@pytest.mark.parametrize(
  'override, message',
  [
    (
      '--config.train.stepz=3',
      'FATAL config error: unknown config field in --config.train.stepz=3: stepz '
      'Did you mean "steps" instead of "stepz"?',
    ),
    (  # Among several overrides, the one with the unknown field is named.
      '--config.train.steps=2 --config.model.generator_kwargs.output=tanh',
      'FATAL config error: unknown config field in --config.model.generator_kwargs.output=tanh: '
      '"output" (the recipe has no such field',
    ),
    (
      '--config.train.steps=abc',
      'FATAL Flags parsing error: flag --config.train.steps=abc: invalid literal',
    ),
  ],
)
def test_bad_override_is_one_clear_message(override, message):
  result = _run_main('--config=configs/gan.py', *override.split())
  assert result.returncode != 0
  assert message in result.stderr
  assert 'Traceback' not in result.stderr


def test_default_workdir_is_named_after_the_recipe():
  assert main.default_workdir('configs/vae.py') == 'runs/vae'
  assert main.default_workdir('/abs/configs/dcgan.py:cifar10') == 'runs/dcgan_cifar10'


@pytest.mark.parametrize('recipe', ['gan', 'vae', 'ae'])
def test_recipes_have_the_fixed_groups(recipe):
  config = config_lib.load_recipe(f'{REPO}/configs/{recipe}.py')
  assert set(config) == {
    'method',
    'data',
    'model',
    'loss',
    'optim',
    'train',
    'eval',
    'sample',
    'export',
  }
  assert config.method.name == recipe


@pytest.mark.parametrize('field', sorted(config_guard.ADDED_FIELDS))
def test_a_checkpoint_from_before_an_identity_field_existed_resumes_at_its_old_behaviour(
  tmp_path, field
):
  """A workdir whose config.json lacks a field added later (as runs from before it do) resumes while the
  field keeps the value that reproduces those runs, and is refused with the diff otherwise."""
  config = config_lib.load_recipe(f'{REPO}/configs/cgan.py')
  saved = json.loads(config.to_json_best_effort())
  group, name = field.split('.')
  saved[group].pop(name, None)
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  assert config_guard.check_resumable(config, str(tmp_path)) is None
  config[group][name] = {
    'data.stacked_images': 3,
    'data.domain_b': 'edges',
    'data.captions': 'attributes',
    'data.center_crop': 20,
    'data.image_size': 32,
    'data.label_attribute': 'Male',
    'data.num_labelled': 100,
    'data.labelled_seed': 3,
    'method.pack': 2,
  }[field]
  with pytest.raises(ValueError, match=rf'{field}: .* \(checkpoint\) -> .* \(now\)'):
    config_guard.check_resumable(config, str(tmp_path))
