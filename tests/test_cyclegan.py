"""CycleGAN (``gans.nets.cyclegan``, ``gans.methods.image_pool``, ``gans.methods.cyclegan``,
``gans.data.domains``): the image pool, instance norm, the PatchGAN's field, the losses' wiring, one step
and the edge-map domain."""

from __future__ import annotations

import json
import os

from conftest import REPO, tiny_overrides
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image
import pytest
import tensorflow_datasets as tfds

from gans import config_lib, optim
from gans.data import datasets, domains
from gans.methods import cyclegan, image_pool
from gans.nets import cyclegan as cyclegan_nets


def _pool_with(images):
  """A full pool holding ``images`` [P, ...]."""
  return {'images': jnp.asarray(images, jnp.float32), 'count': jnp.asarray(len(images), jnp.int32)}


def test_the_pool_fills_first_then_returns_only_stored_or_current_fakes():
  pool = image_pool.empty(4, (1, 1, 1))
  fakes = jnp.arange(1.0, 4.0).reshape(3, 1, 1, 1)
  pool, returned = image_pool.query(pool, fakes, jax.random.PRNGKey(0))
  np.testing.assert_array_equal(returned, fakes)  # Filling: the fakes themselves.
  assert int(pool['count']) == 3 and list(pool['images'][:3, 0, 0, 0]) == [1.0, 2.0, 3.0]
  pool = _pool_with(np.arange(1.0, 5.0).reshape(4, 1, 1, 1))
  query = jax.jit(image_pool.query)
  for i in range(10):
    fakes = jnp.arange(100.0 + 10 * i, 108.0 + 10 * i).reshape(8, 1, 1, 1)
    before = {float(v) for v in pool['images'][:, 0, 0, 0]}
    current = {float(v) for v in fakes[:, 0, 0, 0]}
    new_pool, returned = query(pool, fakes, jax.random.PRNGKey(i))
    assert {float(v) for v in returned[:, 0, 0, 0]} <= before | current
    assert {float(v) for v in new_pool['images'][:, 0, 0, 0]} <= before | current
    assert int(new_pool['count']) == 4
    pool = new_pool
  # One fake at a time: a stored image comes back (and the fake takes its slot) with probability 1/2.
  swaps = 0
  for i in range(200):
    fake = jnp.full((1, 1, 1, 1), 1000.0 + i)
    new_pool, returned = query(pool, fake, jax.random.PRNGKey(100 + i))
    swapped = float(returned[0, 0, 0, 0]) != 1000.0 + i
    swaps += swapped
    changed = np.flatnonzero(np.asarray(new_pool['images'] != pool['images']))
    assert len(changed) == swapped and (
      not swapped or new_pool['images'].ravel()[changed[0]] == 1000.0 + i
    )
    pool = new_pool
  assert 70 < swaps < 130


def test_the_pool_is_a_pure_function_of_its_state_and_key_and_zero_turns_it_off():
  pool = _pool_with(np.random.default_rng(0).normal(size=(5, 2, 2, 1)))
  fakes = jnp.ones((6, 2, 2, 1))
  first = image_pool.query(pool, fakes, jax.random.PRNGKey(3))
  second = jax.jit(image_pool.query)(pool, fakes, jax.random.PRNGKey(3))
  jax.tree.map(np.testing.assert_array_equal, first, second)
  off = image_pool.empty(0, (2, 2, 1))
  same_pool, returned = image_pool.query(off, fakes, jax.random.PRNGKey(0))
  np.testing.assert_array_equal(returned, fakes)
  assert same_pool['images'].shape == (0, 2, 2, 1)


class _Norm(nn.Module):
  @nn.compact
  def __call__(self, x):
    return cyclegan_nets.instance_norm(x)


def test_instance_norm_without_affine_is_the_formula():
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 6, 4)) * 3 + 1
  variables = _Norm().init(jax.random.PRNGKey(1), x)
  assert not jax.tree.leaves(variables)  # No scale, no offset.
  mean = x.mean(axis=(1, 2), keepdims=True)
  var = x.var(axis=(1, 2), keepdims=True)
  np.testing.assert_allclose(
    _Norm().apply(variables, x), (x - mean) / jnp.sqrt(var + 1e-5), atol=1e-5
  )


def test_the_patch_discriminator_sees_its_receptive_field(monkeypatch):
  """One logit's input gradient covers exactly ``receptive_field`` pixels of the convolutions (instance
  norm, which couples all pixels of an image, replaced by the identity for this)."""
  monkeypatch.setattr(cyclegan_nets, 'instance_norm', lambda x: x)
  assert cyclegan_nets.receptive_field(3) == 70  # The paper's 70×70 PatchGAN.
  d = cyclegan_nets.PatchDiscriminator(features=4, layers=1)
  images = jax.random.normal(jax.random.PRNGKey(0), (1, 28, 28, 1))
  variables = d.init(jax.random.PRNGKey(1), images, train=False)
  logits = d.apply(variables, images, train=False)
  assert logits.shape == (1, 12, 12)
  grad = jax.grad(lambda x: d.apply(variables, x, train=False)[0, 6, 6])(images)[0, ..., 0]
  rows, cols = np.nonzero(np.abs(np.asarray(grad)) > 0)
  field = cyclegan_nets.receptive_field(1)
  assert rows.max() - rows.min() + 1 == field and cols.max() - cols.min() + 1 == field == 16


class _Scale(nn.Module):
  """x -> s·x with s initialised to ``scale``: translators whose compositions are known."""

  scale: float

  @nn.compact
  def __call__(self, x, train: bool):
    del train
    return x * self.param('s', lambda key: jnp.asarray(self.scale))


def _config(pool_size=3, identity_weight=0.5):
  c = config_lib.base_config(cyclegan.method_config(pool_size))
  c.model = dict(
    dtype='float32',
    generator='cyclegan.ResnetGenerator',
    generator_kwargs=dict(features=4, blocks=1),
    discriminator='cyclegan.PatchDiscriminator',
    discriminator_kwargs=dict(features=4, layers=1),
  )
  c.loss = cyclegan.loss_config(identity_weight=identity_weight)
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  return c


def _batch(batch=2, seed=0):
  a_rng, b_rng = jax.random.split(jax.random.PRNGKey(seed))
  return {
    'image': jax.random.uniform(a_rng, (1, batch, 28, 28, 1), minval=-1, maxval=1),
    'image_b': jax.random.uniform(b_rng, (1, batch, 28, 28, 1), minval=-1, maxval=1),
  }


def test_cycle_and_identity_terms_are_wired_to_the_right_translators():
  method = cyclegan.CycleGAN(_config(), (28, 28, 1), 10)
  method.nets.update(g_ab=_Scale(2.0), g_ba=_Scale(0.5))  # F∘G = G∘F = identity; G, F are not.
  batch = _batch()
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  _, metrics = jax.jit(method.train_step)(state, batch)
  assert float(metrics['cycle_a']) == pytest.approx(0, abs=1e-6)
  assert float(metrics['cycle_b']) == pytest.approx(0, abs=1e-6)
  a, b = batch['image'][0], batch['image_b'][0]
  # |G(b) - b| = |b| and |F(a) - a| = |a| / 2: G is applied to b, F to a.
  expected = float(jnp.abs(b).mean() + 0.5 * jnp.abs(a).mean())
  assert float(metrics['identity']) == pytest.approx(expected, rel=1e-5)


@pytest.fixture(scope='module')
def two_steps():
  """A tiny CycleGAN (pools of 3) and its states before and after one and two steps on batches of 2."""
  method = cyclegan.CycleGAN(_config(pool_size=3), (28, 28, 1), 10)
  batch = _batch(batch=2)
  state = jax.jit(method.init)(jax.random.PRNGKey(0), jax.tree.map(lambda x: x[0], batch))
  step = jax.jit(method.train_step)
  first, metrics = step(state, batch)
  second, _ = step(first, batch)
  return method, batch, state, first, second, metrics


def test_one_step_trains_all_four_players_and_fills_the_pools(two_steps):
  method, batch, state, first, second, metrics = two_steps
  for name, player in state.players.items():
    moved = jax.tree.map(
      lambda x, y: float(jnp.abs(x - y).max()), player.params, first.players[name].params
    )
    assert max(jax.tree.leaves(moved)) > 0, name
  assert {'g_loss', 'cycle_a', 'cycle_b', 'identity', 'd_a_loss', 'd_b_loss'} <= set(metrics)
  assert [int(first.carry[p]['count']) for p in ('pool_a', 'pool_b')] == [2, 2]
  assert [int(second.carry[p]['count']) for p in ('pool_a', 'pool_b')] == [3, 3]
  # D_A's fakes F(b) entered pool A: the pool holds the translations of the step's B images.
  fake_a = jax.jit(method.translate, static_argnums=2)(state, batch['image_b'][0], 'b2a')
  np.testing.assert_allclose(first.carry['pool_a']['images'][:2], fake_a, atol=1e-5)
  assert fake_a.shape == (2, 28, 28, 1) and float(jnp.abs(fake_a).max()) < 1  # tanh.
  kernels = [leaf for leaf in jax.tree.leaves(state.players['g_ab'].params) if leaf.ndim == 4]
  assert (
    abs(float(np.std(np.concatenate([k.ravel() for k in kernels]))) - 0.02) < 0.004
  )  # N(0, 0.02).


def test_generate_needs_exactly_one_source_and_translate_a_direction(two_steps):
  method, batch, state, *_ = two_steps
  with pytest.raises(ValueError, match='exactly one of image='):
    method.generate(state, jax.random.PRNGKey(0), 2)
  with pytest.raises(ValueError, match='use a2b or b2a'):
    method.translate(state, batch['image'][0], 'up')


def test_learning_rate_is_constant_then_decays_linearly_to_zero():
  cfg = config_lib.optimizer('sgd', lr=1.0, decay_start=10, decay_steps=20)
  schedule = optim.learning_rate(cfg)
  assert [float(schedule(t)) for t in (0, 10, 20, 30, 40)] == [1.0, 1.0, 0.5, 0.0, 0.0]
  tx = optim.make_optimizer(cfg)
  params = jnp.zeros(())
  state = tx.init(params)
  for _ in range(20):
    updates, state = tx.update(jnp.ones(()), state, params)
  assert float(updates) == pytest.approx(-(1 - 19 / 20 * 0 - (19 - 10) / 20), abs=1e-6)
  assert optim.learning_rate(config_lib.optimizer('adam', lr=3e-4)) == 3e-4
  with pytest.raises(ValueError, match='decay_steps=-1 must be >= 0'):
    optim.learning_rate(ml_collections.ConfigDict(dict(lr=1.0, decay_start=0, decay_steps=-1)))


def test_edge_maps_mark_the_outline_and_domain_b_is_another_shuffle():
  images = np.zeros((6, 12, 12, 1), np.uint8)
  for i in range(
    5
  ):  # Filled squares of different sizes: edges on their borders, none inside or far out.
    images[i, 3 : 6 + i, 3 : 6 + i] = 255
  edges = domains.sobel_edges(images)
  assert edges.shape == images.shape and set(np.unique(edges)) <= {0, 255}
  assert edges[4, 6, 6, 0] == 0 and edges[4, 0, 0, 0] == 0 and edges[4, 3, 5, 0] == 255
  assert not edges[5].any()
  labels = np.arange(6, dtype=np.int32)
  arrays, groups = domains.edges_domains(images, labels, seed=0)
  assert groups == {'image_b': 1} and set(arrays) == {'image', 'image_b', 'label', 'edges'}
  np.testing.assert_array_equal(arrays['edges'], edges)
  shuffled = [
    next(j for j in range(6) if (arrays['image_b'][i] == edges[j]).all()) for i in range(6)
  ]
  assert sorted(shuffled) == list(range(6)) and shuffled != list(range(6))


CYCLEGAN_TINY = [
  '--config.model.generator_kwargs.features=4',
  '--config.model.generator_kwargs.blocks=1',
  '--config.model.discriminator_kwargs.features=4',
  '--config.train.batch_size=4',
  '--config.method.pool_size=6',
]


def test_cyclegan_trains_evaluates_and_translates_a_folder_through_main(
  run_main, idx_dir, tfds_dir, tmp_path
):
  workdir = str(tmp_path / 'cyclegan')
  flags = [
    f'--config={REPO}/configs/cyclegan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    *CYCLEGAN_TINY,
  ]
  run_main(*flags)
  for name in ('cycle_a', 'cycle_b'):  # Rows a -> G(a) -> F(G(a)) and b -> F(b) -> G(F(b)).
    picture = Image.open(os.path.join(workdir, 'samples', f'{name}_0000004.png'))
    assert picture.size == (3 * 29 + 1, 16 * 29 + 1)
  run_main(*flags, '--mode=eval')
  metrics = json.load(open(os.path.join(workdir, 'eval', 'metrics.json')))
  for name in ('edge_l1', 'edge_iou', 'class_accuracy', 'cycle_a', 'cycle_b', 'fid'):
    assert np.isfinite(metrics[name]), name
  assert 0 <= metrics['edge_iou'] <= 1 and 0 <= metrics['class_accuracy'] <= 1
  inputs = tmp_path / 'inputs'
  inputs.mkdir()
  for i, size in enumerate((28, 40)):  # Another size is resized to the model's.
    Image.fromarray(np.full((size, size), 40 * i, np.uint8)).save(inputs / f'shoe_{i}.png')
  (inputs / 'notes.txt').write_text('not an image')
  translate = [
    *flags,
    '--mode=sample',
    '--config.sample.kind=translate',
    f'--config.sample.input_dir={inputs}',
  ]
  run_main(*translate, '--config.sample.direction=b2a')
  written = sorted(
    f for f in os.listdir(os.path.join(workdir, 'samples')) if f.startswith('translate')
  )
  assert [f.split('_step')[0] for f in written] == [
    'translate_sheet',
    'translate_shoe_0',
    'translate_shoe_1',
  ]
  assert Image.open(os.path.join(workdir, 'samples', written[0])).size == (2 * 29 + 1, 2 * 29 + 1)
  Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(inputs / 'colour.png')
  with pytest.raises(ValueError, match='colour.png is a RGB image but the model takes 1-channel'):
    run_main(*translate)
  with pytest.raises(ValueError, match='no PNG/JPEG images in config.sample.input_dir'):
    run_main(*translate[:-1], f'--config.sample.input_dir={tmp_path}')
  with pytest.raises(ValueError, match='translates images rather than sampling them'):
    run_main(*flags, '--mode=sample')


class _Source:
  """A TFDS data source over examples made by the test (``tfds.testing.mock_data``'s hook)."""

  def __init__(self, examples, dataset_info):
    self.examples, self.dataset_info = examples, dataset_info

  def __len__(self):
    return len(self.examples)

  def __getitem__(self, key):
    return self.examples[key]

  def __getitems__(self, keys):
    return [self.examples[key] for key in keys]


def test_tfds_cycle_gan_pairs_load_as_two_domains_of_one_split(tmp_path):
  rng = np.random.default_rng(0)
  sizes = {'trainA': (6, 16), 'trainB': (4, 16), 'testA': (3, 16), 'testB': (2, 8)}
  examples = {
    name: [
      {'image': rng.integers(0, 255, (side, side, 3), dtype=np.uint8), 'label': name.endswith('B')}
      for _ in range(num)
    ]
    for name, (num, side) in sizes.items()
  }
  config = config_lib.load_recipe(f'{REPO}/configs/cyclegan.py', 'horse2zebra')
  config.data.tfds_dir = str(tmp_path)
  info = tfds.builder(config.data.name, data_dir=str(tmp_path)).info  # Features only: nothing read.

  def source(builder, split, **_):
    del builder
    return _Source(examples[split], info)

  with tfds.testing.mock_data(as_data_source_fn=source):
    train = datasets.load_split(config.data, 'train')
    with pytest.raises(ValueError, match='the two domains differ in shape: .*data.image_size=S'):
      datasets.load_split(config.data, 'test')  # testB's images are 8×8.
  assert config.data.name == 'cycle_gan/horse2zebra' and train.order_groups == {'image_b': 1}
  assert train['image'].shape == (6, 16, 16, 3) and train['image_b'].shape == (6, 16, 16, 3)
  np.testing.assert_array_equal(train['image'], [e['image'] for e in examples['trainA']])
  b_images = [e['image'] for e in examples['trainB']]
  used = [next(i for i, b in enumerate(b_images) if (b == row).all()) for row in train['image_b']]
  assert sorted(set(used)) == [0, 1, 2, 3]  # B resampled to A's 6 rows, every B image used.
