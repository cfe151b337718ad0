"""GAN-CLS (``gans.methods.gancls``): D's three terms and their weights, wrong captions from another
class, GAN-INT in G's loss only, S trained on G's samples only, φ pre-trained by the matching loss and
frozen after it, and one run through ``gans.main`` (train, evaluate, sample from text, style transfer)."""

from __future__ import annotations

import copy
import math
import os

from conftest import REPO, tiny_overrides
import jax
from jax.interpreters import partial_eval as pe
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gans import config_lib, losses, methods, plots, visualize
from gans.data import datasets
from gans.methods import base, gancls
from gans.train import normalize

TINY = dict(
  z_dim=8,
  compress_dim=4,
  text_encoder_kwargs=dict(embed_dim=8, hidden=8, out_dim=8),
  image_encoder_kwargs=dict(widths=(4,)),
  generator='mlp.MLPGenerator',
  generator_kwargs=dict(hidden=(16,), output='tanh'),
  discriminator_kwargs=dict(widths=(4,)),
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
  '--config.model.discriminator_kwargs.widths=(4,)',
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
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
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
  seen, draw = set(), jax.jit(gancls.wrong_rows)
  for seed in range(20):
    rows = np.asarray(draw(labels, jax.random.PRNGKey(seed)))
    assert (np.asarray(labels)[rows] != np.asarray(labels)).all()
    seen.update(zip(range(8), rows))
  assert len({j for i, j in seen if i == 0}) == 6  # Every row of another class gets drawn.
  tokens = jnp.arange(24).reshape(2, 3, 4)
  chosen = gancls.choose_captions(tokens, jax.random.PRNGKey(0))
  assert chosen.shape == (2, 4) and all(
    any((c == t).all() for t in tokens[i]) for i, c in enumerate(chosen)
  )


@pytest.fixture(scope='module')
def trained(idx_dir, tfds_dir, split):
  """The two phases compiled apart (``test_train_step_pretrains_then_plays`` checks that ``train_step``
  picks them): one matching step from the initial state, then the game from its result, on the batch and
  on other real images: (method, batch, states, (pretraining metrics, game metrics))."""
  config = _config(idx_dir, tfds_dir)
  config.method.pretrain_steps = 1
  method, state, batch = _setup(config, split)
  pretrained, pretrain_metrics = jax.jit(method.matching_step)(state, batch)
  game = jax.jit(method.game_step)
  played, game_metrics = game(pretrained, batch)
  other_images = game(pretrained, {**batch, 'image': batch['image'][:, ::-1]})[0]
  states = dict(initial=state, pretrained=pretrained, played=played, other_images=other_images)
  return method, batch, states, (pretrain_metrics, game_metrics)


def test_train_step_pretrains_then_plays(trained):
  """``train_step`` runs the matching step for the first ``method.pretrain_steps`` = 1 steps, then the
  game, each reporting both phases' metrics (0 for the other's); the phases are stubs here."""
  method, batch, states, _ = trained
  staged = copy.copy(method)
  for name, metric in (('matching_step', 'matching_loss'), ('game_step', 'd_loss')):
    setattr(
      staged,
      name,
      lambda state, batch, metric=metric: (
        state.replace(step=state.step + 1),
        {metric: jnp.float32(1.0)},
      ),
    )
  step, state, phases = jax.jit(staged.train_step), states['initial'], []
  for _ in range(3):
    state, metrics = step(state, batch)
    phases.append((float(metrics['matching_loss']), float(metrics['d_loss'])))
  assert phases == [(1.0, 0.0), (0.0, 1.0), (0.0, 1.0)]


def _same(a, b, name) -> bool:
  return all(
    jax.tree.leaves(jax.tree.map(np.array_equal, a.players[name].params, b.players[name].params))
  )


def test_gan_int_interpolates_only_gs_conditioning(trained):
  """GAN-INT's formula; in the traced game step, D's new parameters do not depend on β or λ_int (D never
  sees h_int) and G's do (β and λ_int traced, the program's dead code eliminated: no second compile)."""
  h = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
  np.testing.assert_allclose(gancls.interpolate(h, 0.5), [[0.5, 0.5], [1.0, 1.5], [1.5, 1.0]])
  method, batch, states, (_, metrics) = trained
  assert float(metrics['g_interpolated_loss']) > 0
  traced = copy.copy(method)

  def step(beta, weight):
    traced.config = ml_collections.ConfigDict(method.config.to_dict(), type_safe=False)
    traced.config.loss.update(interpolation_beta=beta, interpolation_weight=weight)
    players = traced.game_step(states['pretrained'], batch)[0].players
    return players['d'].params, players['g'].params

  closed = jax.make_jaxpr(step)(0.5, 1.0)
  d_leaves = len(jax.tree.leaves(states['played'].players['d'].params))
  outputs = len(closed.jaxpr.outvars)
  for player, wanted in (('d', range(d_leaves)), ('g', range(d_leaves, outputs))):
    used = [i in wanted for i in range(outputs)]
    inputs = pe.dce_jaxpr_consts(closed.jaxpr, used)[2]
    assert inputs == ([False, False] if player == 'd' else [True, True]), player


def test_s_learns_from_gs_samples_only_and_the_text_encoder_is_frozen(trained):
  """S after a step is the same for other real images (it never sees them) and moves; φ and ψ are
  frozen in the game; pre-training moves φ and ψ only."""
  _, _, states, (pretrain_metrics, game_metrics) = trained
  played, other = states['played'], states['other_images']
  assert _same(played, other, 's') and not _same(played, states['pretrained'], 's')
  assert not _same(played, other, 'd')
  for name in ('text', 'image_encoder'):
    assert _same(played, states['pretrained'], name)
    assert not _same(states['initial'], states['pretrained'], name)
  for name in ('g', 'd', 's'):
    assert _same(states['initial'], states['pretrained'], name)
  assert float(pretrain_metrics['matching_loss']) > 0 and 'd_loss' not in pretrain_metrics
  assert float(game_metrics['d_loss']) > 0 and 'matching_loss' not in game_metrics


def test_the_matching_loss_is_the_symmetric_cross_entropy():
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
  aligned = losses.symmetric_contrastive_loss(u, u, temperature=0.01)
  assert float(aligned) < float(losses.symmetric_contrastive_loss(u, u[::-1], temperature=0.01))


def test_sampling_from_text_and_style_transfer(trained):
  """``--mode=sample``'s kinds text (rows of captions, walks between them) and style_transfer (each
  real image, then G(S(x), φ(t)) per caption); a word outside the vocabulary is refused by name."""
  method, batch, states, _ = trained
  config, state, rng = method.config, states['played'], jax.random.PRNGKey(0)
  texts = 'a dark sneaker;a light, wide dress'
  config.sample.rows, config.sample.steps, config.sample.captions = 3, 5, texts
  pictures = visualize.render_sample_kind('text', method, state, config, rng)
  assert pictures['text'].shape == (2 * 29 + 1, 8 * 29 + 1, 1)
  assert pictures['text_interpolation'].shape == (29 + 1, 5 * 29 + 1, 1)
  pictures = visualize.render_sample_kind('style_transfer', method, state, config, rng)
  assert pictures['style_transfer'].shape == (3 * 29 + 1, 3 * 29 + 1, 1)
  images = batch['image'][0, :3]
  grid = method.style_transfer_figures(state, images, texts)['style_transfer']
  np.testing.assert_array_equal(grid[:, 0], images)
  z = base.apply_eval(state.players['s'], images)
  tokens = jnp.tile(method.encode_captions('a light, wide dress'), (3, 1))
  np.testing.assert_allclose(
    grid[:, 2], jax.jit(method.decode)(state, {'z': z, 'caption': tokens}), atol=1e-5
  )
  config.sample.captions = 'a dark sneaker;a purple dress'
  with pytest.raises(
    ValueError, match="caption 2 'a purple dress' of config.sample.captions: 'purple' not in"
  ):
    visualize.render_sample_kind('text', method, state, config, rng)
  with pytest.raises(ValueError, match='no captions: pass --config.sample.captions'):
    method.encode_captions('')


def test_caption_metrics_score_text_and_style_transfer_against_the_captions(
  idx_dir, tfds_dir, trained
):
  """Samples of test captions are scored against their images' classes, style transfers against the
  class of the caption's image (another class than the source's), both by attribute agreement too."""
  method, _, states, _ = trained
  test = datasets.load_split(_config(idx_dir, tfds_dir).data, 'test').head(16)
  calls = []

  def score(images, labels):
    calls.append((images, labels))
    return {'fid': float(images.mean())}

  results = method.caption_metrics(states['played'], test, score, num=16, batch_size=16, seed=0)
  (text_images, text_labels), (style_images, style_labels) = calls
  assert text_images.shape == style_images.shape == (16, 28, 28, 1)
  assert 0 <= text_images.min() and text_images.max() <= 1
  np.testing.assert_array_equal(text_labels, test['label'])
  assert (style_labels != test['label']).all()
  names = {
    f'{p}_{n}'
    for p in ('text', 'style')
    for n in (
      'fid',
      'attribute_brightness',
      'attribute_width',
      'attribute_texture',
      'attribute_mean',
    )
  }
  assert set(results) == names
  assert all(0 <= results[f'{p}_attribute_mean'] <= 1 for p in ('text', 'style'))


def test_gancls_trains_and_evaluates_through_main(run_main, idx_dir, tfds_dir, tmp_path):
  """Training, the figures and the final evaluation of D's, φ's and S's terms (the sample metrics are
  ``test_caption_metrics_score_text_and_style_transfer_against_the_captions``'s)."""
  workdir = str(tmp_path / 'gancls')
  run_main(
    f'--config={REPO}/configs/gancls.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir, steps=2),
    *TINY_FLAGS,
    '--config.method.pretrain_steps=0',
    '--config.train.batch_size=8',
    '--config.eval.sample_metrics=False',
    '--config.eval.num_batches=1',
    '--config.eval.batch_size=8',
    '--config.sample.num=8',
  )
  scalars = plots.read_scalars(os.path.join(workdir, 'tensorboard'))
  for name in ('d_loss', 'd_wrong', 'matching_loss', 'matching_retrieval', 'inverse_loss'):
    steps, values = scalars[f'eval/{name}']
    assert steps[-1] == 2 and np.isfinite(values[-1]), name
  assert os.path.exists(os.path.join(workdir, 'samples', 'style_transfer_0000002.png'))


@pytest.mark.parametrize(
  'field, value, message',
  [
    ('loss.interpolation_beta', 1.5, 'interpolation_beta in \\[0, 1\\]'),
    ('loss.temperature', 0.0, 'config.loss.temperature=0.0 must be > 0'),
    ('method.pretrain_steps', -1, 'config.method.pretrain_steps=-1 must be >= 0'),
    ('method.reuse_fakes', True, 'reuse_fakes=True: GAN-CLS draws G fresh samples'),
    ('data.captions', '', "set config.data.captions to one of \\('attributes', 'files'\\)"),
  ],
)
def test_bad_config_fields_are_refused_before_any_work(field, value, message):
  config = config_lib.load_recipe(f'{REPO}/configs/gancls.py')
  group, name = field.split('.')
  config[group][name] = value
  with pytest.raises(ValueError, match=message):
    methods.check_config(config)
