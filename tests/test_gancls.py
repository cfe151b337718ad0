"""GAN-CLS (``gans.methods.gancls``): D's three terms and their weights, wrong captions from another
class, GAN-INT in G's loss only, S trained on G's samples only, φ pre-trained by the matching loss and
frozen after it, and one run through ``gans.main`` (train, evaluate, sample from text, style transfer)."""

from __future__ import annotations

import json
import math
import os

from conftest import REPO, tiny_overrides
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

from gans import config_lib, losses, methods
from gans.data import datasets
from gans.methods import gancls
from gans.train import normalize

TINY = dict(
  z_dim=8,
  compress_dim=4,
  text_encoder_kwargs=dict(embed_dim=8, hidden=8, out_dim=8),
  image_encoder_kwargs=dict(widths=(4,)),
  generator='mlp.MLPGenerator',
  generator_kwargs=dict(hidden=(16,), output='tanh'),
  discriminator_kwargs=dict(widths=(4, 8)),
  inverse_kwargs=dict(widths=(4,)),
)
TINY_FLAGS = [
  '--config.model.z_dim=8',
  '--config.model.compress_dim=4',
  '--config.model.text_encoder_kwargs.embed_dim=8',
  '--config.model.text_encoder_kwargs.hidden=8',
  '--config.model.text_encoder_kwargs.out_dim=8',
  '--config.model.image_encoder_kwargs.widths=(4,)',
  '--config.model.generator_kwargs.base_features=4',
  '--config.model.discriminator_kwargs.widths=(4,8)',
  '--config.model.inverse_kwargs.widths=(4,)',
]


def _config(idx_dir, tfds_dir, **loss):
  config = config_lib.load_recipe(f'{REPO}/configs/gancls.py')
  config.data.source_dir, config.data.tfds_dir = idx_dir, tfds_dir
  for name, value in TINY.items():
    config.model[name] = value
  config.loss.update(loss)
  return config


@pytest.fixture(scope='module')
def split(idx_dir, tfds_dir):
  return datasets.load_split(_config(idx_dir, tfds_dir).data, 'train').head(16)


def _batch(split, config, rows=slice(0, 8)):
  """name -> [1, 8, ...] normalised, the shape of a train step's batch."""
  arrays = {name: split[name][rows][None] for name in gancls.GANCLS.inputs}
  return normalize(arrays, config.data.value_range)


def _setup(config, split):
  method = methods.create(config, (28, 28, 1), 10)
  batch = _batch(split, config)
  state = method.init(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  return method, state, batch


def test_d_loss_has_the_three_terms_with_their_weights(idx_dir, tfds_dir):
  """-log s_r - ½ log(1 - s_w) - ½ log(1 - s_f) on hand logits; without the matching-aware term the
  plain GAN's -log s_r - log(1 - s_f)."""
  real_right, real_wrong, fake_right = jnp.array([2.0]), jnp.array([-1.0]), jnp.array([0.5])
  sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
  expected = (
    -math.log(sigmoid(2.0)) - 0.5 * math.log(1 - sigmoid(-1.0)) - 0.5 * math.log(1 - sigmoid(0.5))
  )
  baseline = -math.log(sigmoid(2.0)) - math.log(1 - sigmoid(0.5))
  for matching_aware, value in ((True, expected), (False, baseline)):
    method = gancls.GANCLS(
      _config(idx_dir, tfds_dir, matching_aware=matching_aware), (28, 28, 1), 10
    )
    loss, metrics = method.critic_loss(real_right, real_wrong, fake_right)
    np.testing.assert_allclose(float(loss), value, rtol=1e-6)
    np.testing.assert_allclose(float(metrics['d_wrong']), sigmoid(-1.0), rtol=1e-6)


def test_wrong_captions_come_from_another_class():
  labels = jnp.array([0, 0, 1, 2, 2, 2, 3, 1])
  seen = set()
  for seed in range(20):
    rows = np.asarray(gancls.wrong_rows(labels, jax.random.PRNGKey(seed)))
    assert (np.asarray(labels)[rows] != np.asarray(labels)).all()
    seen.update(zip(range(8), rows))
  assert len({j for i, j in seen if i == 0}) == 6  # Every row of another class gets drawn.
  tokens = jnp.arange(24).reshape(2, 3, 4)
  chosen = gancls.choose_captions(tokens, jax.random.PRNGKey(0))
  assert chosen.shape == (2, 4) and all(
    any((c == t).all() for t in tokens[i]) for i, c in enumerate(chosen)
  )


def test_gan_int_interpolates_only_gs_conditioning_and_s_learns_from_gs_samples_only(
  idx_dir, tfds_dir, split
):
  """D after a step is the same with GAN-INT on or off, G is not; S after a step is the same for other
  real images (it never sees them) and moves; φ and ψ are frozen in the game."""
  h = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
  np.testing.assert_allclose(gancls.interpolate(h, 0.5), [[0.5, 0.5], [1.0, 1.5], [1.5, 1.0]])
  config = _config(idx_dir, tfds_dir)
  config.method.pretrain_steps = 0
  method, state, batch = _setup(config, split)
  step = jax.jit(method.train_step)
  after, metrics = step(state, batch)
  assert float(metrics['g_interpolated_loss']) > 0
  no_int = _config(idx_dir, tfds_dir, interpolation_weight=0.0)
  no_int.method.pretrain_steps = 0
  after_no_int = jax.jit(methods.create(no_int, (28, 28, 1), 10).train_step)(state, batch)[0]
  other_images = {**batch, 'image': batch['image'][:, ::-1]}
  after_other = step(state, other_images)[0]

  def same(a, b, name):
    return all(
      jax.tree.leaves(jax.tree.map(np.array_equal, a.players[name].params, b.players[name].params))
    )

  assert same(after, after_no_int, 'd') and not same(after, after_no_int, 'g')
  assert same(after, after_other, 's') and not same(after, state, 's')
  assert not same(after, after_other, 'd')
  assert same(after, state, 'text') and same(after, state, 'image_encoder')


def test_the_text_encoder_is_pretrained_by_the_matching_loss_then_frozen(idx_dir, tfds_dir, split):
  u = jax.random.normal(jax.random.PRNGKey(0), (4, 3))
  v = jax.random.normal(jax.random.PRNGKey(1), (4, 3))
  logits = u @ v.T / 0.5
  explicit = -0.5 * (
    jnp.mean(jnp.diag(jax.nn.log_softmax(logits, 1)))
    + jnp.mean(jnp.diag(jax.nn.log_softmax(logits, 0)))
  )
  np.testing.assert_allclose(
    losses.symmetric_contrastive_loss(u, v, temperature=0.5), explicit, rtol=1e-5
  )
  config = _config(idx_dir, tfds_dir)
  config.method.pretrain_steps = 1
  config.method.train_text_encoder = True
  method, state, batch = _setup(config, split)
  step = jax.jit(method.train_step)
  first, metrics = step(state, batch)
  assert float(metrics['matching_loss']) > 0 and float(metrics['d_loss']) == 0
  second, metrics = step(first, batch)
  assert float(metrics['d_loss']) > 0 and float(metrics['matching_loss']) > 0

  def moved(a, b, name):
    return not all(
      jax.tree.leaves(jax.tree.map(np.array_equal, a.players[name].params, b.players[name].params))
    )

  assert moved(state, first, 'text') and moved(state, first, 'image_encoder')
  assert not any(moved(state, first, name) for name in ('g', 'd', 's'))
  assert all(moved(first, second, name) for name in ('text', 'g', 'd', 's'))


def test_gancls_trains_evaluates_and_samples_from_text_through_main(
  run_main, idx_dir, tfds_dir, tmp_path
):
  workdir = str(tmp_path / 'gancls')
  flags = [
    f'--config={REPO}/configs/gancls.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir, steps=3),
    *TINY_FLAGS,
    '--config.method.pretrain_steps=1',
    '--config.train.batch_size=8',
  ]
  run_main(*flags, '--config.eval.num_samples=32')
  run_main(*flags, '--mode=eval', '--config.eval.num_samples=32')
  with open(os.path.join(workdir, 'eval', 'metrics.json')) as f:
    metrics = json.load(f)
  for name in (
    'd_loss',
    'matching_loss',
    'inverse_loss',
    'fid',
    'class_accuracy',
    'text_fid',
    'text_class_accuracy',
    'text_attribute_mean',
    'style_fid',
    'style_class_accuracy',
    'style_attribute_brightness',
  ):
    assert np.isfinite(metrics[name]), name
  run_main(
    *flags,
    '--mode=sample',
    '--config.sample.kind=text',
    '--config.sample.captions=a dark sneaker;a light, wide dress',
  )
  run_main(
    *flags,
    '--mode=sample',
    '--config.sample.kind=style_transfer',
    '--config.sample.rows=3',
    '--config.sample.captions=a dark sneaker;a light, wide dress',
  )
  pictures = {
    name.split('_step')[0]: np.asarray(Image.open(os.path.join(workdir, 'samples', name)))
    for name in os.listdir(os.path.join(workdir, 'samples'))
    if '_step' in name
  }
  assert pictures['text'].shape[:2] == (2 * 29 + 1, 8 * 29 + 1)
  assert pictures['text_interpolation'].shape[:2] == (29 + 1, 10 * 29 + 1)
  assert pictures['style_transfer'].shape[:2] == (3 * 29 + 1, 3 * 29 + 1)
  with pytest.raises(
    ValueError, match="caption 2 'a purple dress' of config.sample.captions: 'purple' not in"
  ):
    run_main(
      *flags,
      '--mode=sample',
      '--config.sample.kind=text',
      '--config.sample.captions=a dark sneaker;a purple dress',
    )
