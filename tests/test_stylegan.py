"""StyleGAN (``gans.nets.stylegan``, ``gans.methods.stylegan``, ``gans.losses.path_length``): equalized
LR, demodulation and its two forms, style mixing, truncation, R1, path length, noise inputs, the
recipe's bad inputs, and one run through ``gans.main`` that counts the lazy regularisers' updates."""

from __future__ import annotations

import functools
import math
import os

from conftest import REPO, tiny_overrides
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from gans import config_lib, losses, methods
from gans.methods import base, stylegan
from gans.nets import stylegan as nets

TINY = dict(z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=4)
# The gans.main run at the smallest size the nets allow (4×4: G one style conv and a toRGB, D no residual
# block; L = 2), as its step's compile (R1 and the path length's second-order gradient) is the cost.
MAIN_FLAGS = [
  '--config.data.image_size=4',
  *(f'--config.model.generator_kwargs.{key}={value}' for key, value in TINY.items()),
  '--config.model.discriminator_kwargs.channel_base=64',
  '--config.model.discriminator_kwargs.channel_max=4',
  '--config.train.batch_size=4',
]


def _config(**loss):
  config = config_lib.load_recipe(f'{REPO}/configs/stylegan.py')
  config.data.image_size = 8
  config.model.generator_kwargs.update(TINY)
  config.model.discriminator_kwargs.update(channel_base=64, channel_max=4)
  config.train.batch_size = 4
  config.loss.update(loss)
  return config


@pytest.fixture(scope='module')
def tiny():
  """The recipe's method at 8×8 with tiny nets, and its initial state (init jitted)."""
  method = methods.create(_config(), (8, 8, 1), 10)
  images = jax.random.normal(jax.random.PRNGKey(0), (4, 8, 8, 1))
  return method, jax.jit(method.init)(jax.random.PRNGKey(0), {'image': images}), images


def _generator(**kwargs):
  return nets.Generator(image_shape=(8, 8, 1), **{**TINY, **kwargs})


def _noise(side, batch, seed):
  keys = jax.random.split(jax.random.PRNGKey(seed), len(nets.noise_shapes(side, batch)))
  return [jax.random.normal(k, s) for k, s in zip(keys, nets.noise_shapes(side, batch))]


def test_upsampling_is_bilinear_with_clamped_edges():
  """×2 upsampling of [B, H, W, C] equals jax.image.resize's bilinear (half-pixel centres, edges
  clamped), which is the [1, 3, 3, 1]/4 filter; and 2×2 mean pooling inverts it on constants."""
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 3, 4))
  want = jax.image.resize(x, (2, 10, 6, 4), 'bilinear')
  np.testing.assert_allclose(nets.upsample(x), want, atol=1e-6)
  np.testing.assert_allclose(nets.downsample(nets.upsample(jnp.ones((1, 4, 4, 1)))), 1.0)


def test_equalized_lr_scales_the_stored_weights_by_lr_mul_over_sqrt_fan_in():
  x = jax.random.normal(jax.random.PRNGKey(0), (3, 256))
  dense = nets.Dense(128, lr_mul=0.01, bias_init=0.5)
  params = dense.init(jax.random.PRNGKey(1), x)['params']
  assert abs(float(jnp.std(params['kernel'])) * 0.01 - 1.0) < 0.02  # Stored std ≈ 1/lr_mul.
  expected = x @ (params['kernel'] * 0.01 / math.sqrt(256)) + 0.5
  np.testing.assert_allclose(dense.apply({'params': params}, x), expected, rtol=1e-5, atol=1e-5)
  images = jax.random.normal(jax.random.PRNGKey(2), (2, 6, 6, 16))
  conv = nets.Conv(32)
  params = conv.init(jax.random.PRNGKey(3), images)['params']
  assert abs(float(jnp.std(params['kernel'])) - 1.0) < 0.05
  expected = lax.conv_general_dilated(
    images,
    params['kernel'] / math.sqrt(9 * 16),
    (1, 1),
    'SAME',
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
  )
  np.testing.assert_allclose(conv.apply({'params': params}, images), expected, atol=1e-5)


def test_demodulated_outputs_have_unit_variance_and_both_forms_agree(tiny):
  """Unit-variance i.i.d. inputs -> every output channel of every sample at unit variance (±5 %),
  whatever the styles; the activation-scaling and grouped forms agree to 1e-5."""
  k_rng, s_rng, x_rng = jax.random.split(jax.random.PRNGKey(0), 3)
  kernel = jax.random.normal(k_rng, (3, 3, 8, 6)) * jnp.linspace(0.1, 3.0, 6)
  styles = jnp.exp(jax.random.normal(s_rng, (2, 8)))  # Styles of very different sizes.
  x = jax.random.normal(x_rng, (2, 96, 96, 8))
  y = nets.modulated_conv(x, kernel, styles, form='activations')
  variance = jnp.var(y[:, 1:-1, 1:-1], axis=(1, 2))  # [B, C_out], interior (no zero padding).
  np.testing.assert_allclose(variance, 1.0, atol=0.05)
  grouped = nets.modulated_conv(x, kernel, styles, form='grouped')
  np.testing.assert_allclose(grouped, y, atol=1e-5)
  plain = nets.modulated_conv(x, kernel, styles, demodulate=False, form='grouped')
  np.testing.assert_allclose(
    plain, nets.modulated_conv(x, kernel, styles, demodulate=False), atol=1e-4, rtol=1e-5
  )
  # The whole generator in either form.
  z = jax.random.normal(jax.random.PRNGKey(1), (3, 8))
  noise = _noise(8, 3, 2)
  variables = {'params': tiny[1].players['g'].params}
  np.testing.assert_allclose(
    jax.jit(_generator(form='grouped').apply)(variables, z, noise),
    jax.jit(_generator().apply)(variables, z, noise),
    atol=1e-5,
  )


def test_layers_before_the_crossover_depend_only_on_w1_and_after_only_on_w2(tiny):
  w1, w2 = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 8))
  layers, crossover = 6, 2
  d_w1, d_w2 = jax.jacobian(lambda a, b: stylegan.mix(a, b, crossover, layers), (0, 1))(w1, w2)
  # [B, L, w_dim, B, w_dim] -> gradient magnitude per layer.
  per_layer = lambda jac: jnp.abs(jac).sum(axis=(0, 2, 3, 4))  # noqa: E731
  assert np.all(per_layer(d_w1)[:crossover] > 0) and np.all(per_layer(d_w1)[crossover:] == 0)
  assert np.all(per_layer(d_w2)[:crossover] == 0) and np.all(per_layer(d_w2)[crossover:] > 0)
  # The method's mixing draws a crossover in [1, L - 1] with probability 1.
  config = _config()
  config.method.style_mixing_prob = 1.0
  method = methods.create(config, (8, 8, 1), 10)
  mixed_styles = jax.jit(method.mixed_styles, static_argnums=2)
  ws = mixed_styles(tiny[1].players['g'].params, jax.random.PRNGKey(2), 3)
  first = jnp.all(ws == ws[:, :1], axis=(0, 2))
  assert method.num_styles == 4 and first[0] and not first[-1]
  assert int(jnp.argmin(first)) >= 1 and bool(jnp.all(first[: int(jnp.argmin(first))]))


def test_truncation_at_zero_is_the_mean_w_and_at_one_the_identity(tiny):
  method, state, _ = tiny
  w_avg = jax.random.normal(jax.random.PRNGKey(1), (8,))
  state = state.replace(carry={**state.carry, 'w_avg': w_avg})
  z = jax.random.normal(jax.random.PRNGKey(2), (5, 8))
  styles = jax.jit(method.styles, static_argnums=2)
  at_zero = styles(state, z, 0.0)
  np.testing.assert_allclose(at_zero, jnp.broadcast_to(w_avg, at_zero.shape), atol=1e-6)
  w = jax.jit(method.map)(state.variables('g')['params'], z)
  np.testing.assert_allclose(styles(state, z, 1.0)[:, 3], w, atol=1e-6)
  assert not np.allclose(styles(state, z, 0.5)[:, 3], w)


def test_samples_redraw_the_noise_or_use_the_fixed_draw(tiny):
  """``sample.noise=const``: generate(rng) is decode of the same z (the fixed noise); ``random``
  re-draws it."""
  method, state, _ = tiny
  strong = jax.tree_util.tree_map_with_path(
    lambda path, p: p + 0.5 if 'noise_strength' in jax.tree_util.keystr(path) else p,
    state.players['g'].params,
  )
  state = state.replace(players={**state.players, 'g': state.players['g'].replace(params=strong)})
  state = state.replace(ema={'g': state.ema['g'].replace(params=strong)})
  rng = jax.random.PRNGKey(3)
  decoded = jax.jit(method.decode)(state, method.latents(jax.random.split(rng)[0], 4))
  # The setting is read when traced: a new function to jit per setting.
  generate = lambda: jax.jit(functools.partial(method.generate, num=4))(state, rng)  # noqa: E731
  method.config.sample.noise = 'const'
  np.testing.assert_allclose(generate(), decoded, atol=1e-6)
  method.config.sample.noise = 'random'
  assert not np.allclose(generate(), decoded, atol=1e-3)


def test_r1_of_a_constant_critic_is_zero(tiny):
  method, state, images = tiny
  assert float(losses.r1_penalty(lambda x: jnp.full(x.shape[0], 3.0), images)) == 0.0
  d = state.players['d']
  constant = {**d.params, 'out': jax.tree.map(jnp.zeros_like, d.params['out'])}
  constant['out']['bias'] = jnp.ones_like(constant['out']['bias'])  # D(x) = 0.01 for every x.
  r1 = jax.jit(lambda params: method.r1_update(d.replace(params=params), images)[1]['r1_penalty'])
  assert float(r1(d.params)) > 0 and float(r1(constant)) == 0.0


def test_path_length_penalty_is_zero_when_the_lengths_equal_their_running_mean():
  penalty, mean = losses.path_length_penalty(jnp.full(6, 1.7), jnp.asarray(1.7), 0.01)
  assert float(penalty) == 0.0 and float(mean) == pytest.approx(1.7)
  penalty, mean = losses.path_length_penalty(jnp.asarray([1.0, 2.0]), jnp.asarray(1.7), 0.5)
  assert float(mean) == pytest.approx(1.6) and float(penalty) == pytest.approx(0.26, rel=1e-5)
  # Lengths of a linear synthesis images = ws·A: ‖Aᵀ y‖ per layer, y ~ N(0, I)/√(H W).
  a = jax.random.normal(jax.random.PRNGKey(0), (4, 3 * 4 * 4))
  ws = jax.random.normal(jax.random.PRNGKey(1), (2, 5, 4))
  fn = lambda ws: jnp.einsum('blw,wp->bp', ws, a).reshape(2, 3, 4, 4)  # noqa: E731
  rng = jax.random.PRNGKey(2)
  y = jax.random.normal(rng, (2, 3, 4, 4)) / jnp.sqrt(12.0)  # H·W = 3·4 for [B, H, W, C].
  grads = jnp.einsum('bp,wp->bw', y.reshape(2, -1), a)  # The same for each of the 5 layers.
  np.testing.assert_allclose(
    jax.jit(losses.path_lengths, static_argnums=0)(fn, ws, rng),
    jnp.linalg.norm(grads, axis=-1),
    rtol=1e-5,
  )


@pytest.mark.parametrize('style_block', ['modulated', 'adain'])
def test_noise_strength_zero_makes_the_output_independent_of_the_noise(tiny, style_block):
  g = _generator(style_block=style_block)
  z = jax.random.normal(jax.random.PRNGKey(0), (2, 8))
  if style_block == 'modulated':
    variables = {'params': tiny[1].players['g'].params}
  else:
    variables = jax.jit(g.init)(jax.random.PRNGKey(1), z, _noise(8, 2, 0))
  apply = jax.jit(g.apply)
  first, second = apply(variables, z, _noise(8, 2, 1)), apply(variables, z, _noise(8, 2, 2))
  assert first.shape == (2, 8, 8, 1)
  np.testing.assert_array_equal(first, second)
  strengths = jax.tree_util.tree_map_with_path(
    lambda path, p: p + 0.1 if 'noise_strength' in jax.tree_util.keystr(path) else p, variables
  )
  assert not np.allclose(apply(strengths, z, _noise(8, 2, 1)), apply(strengths, z, _noise(8, 2, 2)))


@pytest.mark.parametrize(
  'field, value, message',
  [
    ('data.image_size', 28, 'config.data.image_size=28'),
    ('method.style_mixing_prob', 1.5, 'config.method.style_mixing_prob=1.5'),
    ('loss.r1_interval', 0, 'config.loss.r1_interval=0'),
    ('sample.truncation', -0.5, 'config.sample.truncation=-0.5'),
    ('model.style_block', 'mod', "config.model.style_block='mod'"),
    ('model.dtype', 'bfloat16', "config.model.dtype='bfloat16'"),
    ('sample.noise', 'fixed', "config.sample.noise='fixed'"),
  ],
)
def test_bad_input_stops_naming_the_field(field, value, message):
  config = _config()
  group, name = field.split('.')
  config[group][name] = value
  with pytest.raises(ValueError, match=message.replace('(', r'\(')):
    methods.check_config(config)


def test_trains_through_main_with_the_lazy_regularisers_on_their_steps(
  run_main, idx_dir, tfds_dir, tmp_path
):
  """4 steps with R1 every 2 and path length every 3: Adam's count of D is 4 + 2 (steps 2, 4), of G
  4 + 1 (step 3); the figures are written."""
  workdir = str(tmp_path / 'stylegan')
  run_main(
    f'--config={REPO}/configs/stylegan.py',
    f'--workdir={workdir}',
    *tiny_overrides(idx_dir, tfds_dir),
    *MAIN_FLAGS,
    '--config.loss.r1_interval=2',
    '--config.loss.pl_interval=3',
    '--config.eval.sample_metrics=False',
  )
  path = os.path.join(workdir, 'checkpoints', '4', 'state')
  restored = ocp.PyTreeCheckpointer().restore(path)
  counts = {
    name: {int(np.asarray(c)) for c in _leaves_named(player['opt_state'], 'count')}
    for name, player in restored['players'].items()
  }
  assert counts == {'d': {6}, 'g': {5}}, counts
  assert float(np.abs(restored['carry']['pl_mean'])) > 0
  for name in ('style_mixing', 'stochastic_variation', 'truncation', 'samples'):
    assert os.path.exists(os.path.join(workdir, 'samples', f'{name}_0000004.png')), name


def _leaves_named(tree, name):
  return [
    leaf
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    if name in jax.tree_util.keystr(path)
  ]


def test_the_method_reports_its_capabilities(tiny):
  method = tiny[0]
  assert base.supports(method, base.LatentSpace) and base.supports(method, base.Traversals)
  assert not base.supports(method, base.ClassConditional)


@pytest.mark.parametrize(
  'dataset, side, params', [('cifar10', 32, (20.0, 21.5)), ('celebahq256', 256, (24.8, 24.0))]
)
def test_the_other_recipes_build_their_nets(dataset, side, params):
  """The CIFAR-10 and 256×256 recipes pass their checks and build (abstractly, no compile), with the
  parameter counts (millions) of these nets as built today (a regression check, not the papers')."""
  config = config_lib.load_recipe(f'{REPO}/configs/stylegan.py', dataset)
  method = methods.create(config, (side, side, 3), 10)
  state = jax.eval_shape(
    method.init, jax.random.PRNGKey(0), {'image': jnp.zeros((4, side, side, 3))}
  )
  counts = {
    name: sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(player.params)) / 1e6
    for name, player in state.players.items()
  }
  assert method.num_styles == 2 * int(math.log2(side)) - 2 and set(counts) == {'g', 'd'}
  assert (round(counts['g'], 1), round(counts['d'], 1)) == params, counts
