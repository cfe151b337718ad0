"""The DCGAN nets: the architectures of the reference, the module interface the trainer uses."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans.nets import dcgan, layers

BATCH = 4


def _init(module, x):
  return jax.jit(lambda x: module.init(jax.random.key(0), x, train=False))(x)


def _param_shapes(module, x):
  variables = jax.eval_shape(lambda x: module.init(jax.random.key(0), x, train=False), x)
  return jax.tree.map(jnp.shape, variables['params'])


def test_28x28_nets_are_the_reference_architecture():
  """Layer by layer, the nets of shared/bench/dcgan_torch_reference.py (kernels HWIO, not OIHW)."""
  g = _param_shapes(dcgan.generator(28, channels=1), jnp.zeros((BATCH, 100)))
  assert g == {
    'Dense_0': {'kernel': (100, 7 * 7 * 256)},
    'BatchNorm_0': {'scale': (7 * 7 * 256,), 'bias': (7 * 7 * 256,)},
    'ConvTranspose_0': {'kernel': (5, 5, 256, 128)},
    'BatchNorm_1': {'scale': (128,), 'bias': (128,)},
    'ConvTranspose_1': {'kernel': (5, 5, 128, 64)},
    'BatchNorm_2': {'scale': (64,), 'bias': (64,)},
    'ConvTranspose_2': {'kernel': (5, 5, 64, 1)},
  }
  d = _param_shapes(dcgan.discriminator(28), jnp.zeros((BATCH, 28, 28, 1)))
  assert d == {
    'trunk': {
      'Conv_0': {'kernel': (5, 5, 1, 64), 'bias': (64,)},
      'Conv_1': {'kernel': (5, 5, 64, 128), 'bias': (128,)},
      'BatchNorm_0': {'scale': (128,), 'bias': (128,)},
    },
    'head': {'kernel': (7 * 7 * 128, 1), 'bias': (1,)},
  }


def _batch_norm(h, params):
  """Training-mode BatchNorm over all but the channel axis, epsilon 1e-5."""
  axes = tuple(range(h.ndim - 1))
  normalized = (h - h.mean(axes)) / jnp.sqrt(h.var(axes) + 1e-5)
  return normalized * params['scale'] + params['bias']


def test_28x28_nets_compute_the_reference_layers_in_order():
  """The nets, in training mode, against the reference's layer sequence written with lax."""
  z = jax.random.normal(jax.random.key(1), (BATCH, 100))
  generator, discriminator = dcgan.generator(28), dcgan.discriminator(28)
  g, d = _init(generator, z), _init(discriminator, jnp.zeros((BATCH, 28, 28, 1)))
  g_params, d_params = g['params'], d['params']['trunk']

  def conv_transpose(h, name, stride):
    return jax.lax.conv_transpose(h, g_params[name]['kernel'], (stride, stride), 'SAME')

  h = jax.nn.relu(_batch_norm(z @ g_params['Dense_0']['kernel'], g_params['BatchNorm_0']))
  h = h.reshape(BATCH, 7, 7, 256)
  h = jax.nn.relu(_batch_norm(conv_transpose(h, 'ConvTranspose_0', 1), g_params['BatchNorm_1']))
  h = jax.nn.relu(_batch_norm(conv_transpose(h, 'ConvTranspose_1', 2), g_params['BatchNorm_2']))
  want_images = jnp.tanh(conv_transpose(h, 'ConvTranspose_2', 2))

  def conv(h, name):
    kernel, bias = d_params[name]['kernel'], d_params[name]['bias']
    return (
      jax.lax.conv_general_dilated(
        h, kernel, (2, 2), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
      )
      + bias
    )

  h = jax.nn.leaky_relu(conv(want_images, 'Conv_0'), 0.2)
  h = jax.nn.leaky_relu(_batch_norm(conv(h, 'Conv_1'), d_params['BatchNorm_0']), 0.2)
  want_features = h.reshape(BATCH, 7 * 7 * 128)
  head = d['params']['head']
  want_logits = (want_features @ head['kernel'] + head['bias'])[:, 0]

  images, _ = generator.apply(g, z, train=True, mutable=['batch_stats'])
  (logits, features), _ = discriminator.apply(
    d, images, train=True, return_features=True, mutable=['batch_stats']
  )
  np.testing.assert_allclose(images, want_images, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(features, want_features, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
  'size, channels, base, g_widths, d_widths',
  [
    (32, 3, 64, [256, 128, 64, 3], [64, 128, 256]),
    (64, 3, 64, [512, 256, 128, 64, 3], [64, 128, 256, 512]),
    (64, 1, 16, [128, 64, 32, 16, 1], [16, 32, 64, 128]),
  ],
)
def test_radford_nets_halve_widths_up_and_double_them_down(
  size, channels, base, g_widths, d_widths
):
  g = _param_shapes(dcgan.generator(size, channels, base), jnp.zeros((BATCH, 100)))
  assert g['Dense_0']['kernel'] == (100, 4 * 4 * g_widths[0])
  assert [g[f'ConvTranspose_{i}']['kernel'] for i in range(len(g_widths) - 1)] == [
    (4, 4, c_in, c_out) for c_in, c_out in zip(g_widths, g_widths[1:])
  ]
  d = _param_shapes(dcgan.discriminator(size, base), jnp.zeros((BATCH, size, size, channels)))
  assert [d['trunk'][f'Conv_{i}']['kernel'] for i in range(len(d_widths))] == [
    (4, 4, c_in, c_out) for c_in, c_out in zip([channels] + d_widths, d_widths)
  ]
  assert len([name for name in d['trunk'] if name.startswith('BatchNorm')]) == len(d_widths) - 1
  assert d['head']['kernel'] == (4 * 4 * d_widths[-1], 1)


@pytest.mark.parametrize('size, channels, base', [(28, 1, 64), (32, 3, 16), (64, 3, 16)])
def test_interface_shapes_ranges_and_features(size, channels, base):
  z = jax.random.normal(jax.random.key(1), (BATCH, 100))
  generator, discriminator = dcgan.generator(size, channels, base), dcgan.discriminator(size, base)
  g_vars = _init(generator, z)
  d_vars = _init(discriminator, jnp.zeros((BATCH, size, size, channels)))

  @jax.jit
  def run(z):
    images, g_updates = generator.apply(g_vars, z, train=True, mutable=['batch_stats'])
    logits = discriminator.apply(d_vars, images, train=False)
    return (
      images,
      g_updates,
      logits,
      discriminator.apply(d_vars, images, train=False, return_features=True),
    )

  images, g_updates, logits, (same_logits, features) = run(z)
  assert images.shape == (BATCH, size, size, channels)
  assert jnp.all(jnp.abs(images) <= 1) and jnp.std(images) > 0
  assert logits.shape == (BATCH,) and logits.dtype == jnp.float32
  np.testing.assert_array_equal(same_logits, logits)
  assert features.shape == (BATCH, int(np.prod(d_vars['params']['head']['kernel'].shape[:-1])))
  assert jax.tree.structure(g_updates['batch_stats']) == jax.tree.structure(g_vars['batch_stats'])


def test_batch_norm_uses_batch_statistics_in_training_and_running_averages_in_evaluation():
  generator = dcgan.generator(28)
  apply = jax.jit(generator.apply, static_argnames=('train', 'mutable'))
  z = jax.random.normal(jax.random.key(1), (BATCH, 100))
  variables = _init(generator, z)
  train_images, updates = apply(variables, z, train=True, mutable=('batch_stats',))
  # Running averages move 10% of the way to the batch statistics (PyTorch's momentum 0.1).
  projected = z @ variables['params']['Dense_0']['kernel']
  np.testing.assert_allclose(
    updates['batch_stats']['BatchNorm_0']['mean'], 0.1 * projected.mean(0), rtol=1e-4, atol=1e-6
  )
  eval_images = apply(variables, z, train=False)  # no mutable collection needed
  assert not np.allclose(eval_images, train_images, atol=1e-3)
  # In evaluation an example's image does not depend on the rest of the batch; in training it does.
  np.testing.assert_allclose(
    apply(variables, z[:2], train=False), eval_images[:2], rtol=1e-5, atol=1e-6
  )
  assert not np.allclose(
    apply(variables, z[:2], train=True, mutable=('batch_stats',))[0], train_images[:2], atol=1e-3
  )


@pytest.mark.parametrize('size', [28, 32])
def test_critic_without_batch_norm_scores_each_example_on_its_own(size):
  """batch_norm=False (WGAN-GP's critic): no BatchNorm layers or statistics, and in training an
  example's score does not depend on the rest of the batch."""
  critic = dcgan.discriminator(size, base_features=8, batch_norm=False)
  x = jax.random.normal(jax.random.key(2), (BATCH, size, size, 1))
  variables = _init(critic, x)
  assert set(variables) == {'params'}
  assert not any('BatchNorm' in name for name in variables['params']['trunk'])
  scores = critic.apply(variables, x, train=True)
  np.testing.assert_allclose(critic.apply(variables, x[:1], train=True), scores[:1], rtol=1e-5)


def test_weights_start_from_normal_0_02():
  g = _init(dcgan.generator(32, 3), jnp.zeros((BATCH, 100)))['params']
  for name in ['Dense_0', 'ConvTranspose_0', 'ConvTranspose_2']:
    assert abs(float(jnp.std(g[name]['kernel'])) - 0.02) < 0.002, name


@pytest.fixture
def flax_convolutions(monkeypatch):
  """Builds the nets with flax.linen's own Conv/ConvTranspose in place of the project's layers."""
  monkeypatch.setattr(layers, 'Conv', nn.Conv)
  monkeypatch.setattr(layers, 'ConvTranspose', nn.ConvTranspose)


def _generator_and_critic_grads(z):
  """Outputs and gradients of a generator -> discriminator chain, in training mode."""
  generator, discriminator = dcgan.generator(28), dcgan.discriminator(28)
  g_vars, d_vars = _init(generator, z), _init(discriminator, jnp.zeros((z.shape[0], 28, 28, 1)))

  def loss(g_params, d_params):
    images, _ = generator.apply(
      {**g_vars, 'params': g_params}, z, train=True, mutable=['batch_stats']
    )
    logits, _ = discriminator.apply(
      {**d_vars, 'params': d_params}, images, train=True, mutable=['batch_stats']
    )
    return jnp.sum(jnp.sin(logits)), (images, logits)

  return jax.jit(jax.grad(loss, (0, 1), has_aux=True))(g_vars['params'], d_vars['params'])


def test_nets_equal_the_same_nets_built_on_flax_convolutions(request):
  # A batch of 16: at 4, BatchNorm's statistics make these gradients ill-conditioned in float32 (flax's
  # own nets are 1 % off their float64 values there), and float rounding, not the nets, would decide.
  z = jax.random.normal(jax.random.key(1), (16, 100))
  got = _generator_and_critic_grads(z)
  request.getfixturevalue('flax_convolutions')
  want = _generator_and_critic_grads(z)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    # atol for the gradients that are zero but for roundoff (a bias before BatchNorm)
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * max(1.0, float(jnp.max(jnp.abs(w)))))


def test_bfloat16_compute_keeps_float32_params():
  z = jax.random.normal(jax.random.key(1), (BATCH, 100))
  g_vars = _init(dcgan.generator(28, dtype=jnp.bfloat16), z)
  d_vars = _init(dcgan.discriminator(28, dtype=jnp.bfloat16), jnp.zeros((BATCH, 28, 28, 1)))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves((g_vars, d_vars)))

  @functools.partial(jax.jit, static_argnums=1)
  def images_and_logits(z, dtype):
    images = dcgan.generator(28, dtype=dtype).apply(g_vars, z, train=False)
    return images, dcgan.discriminator(28, dtype=dtype).apply(d_vars, images, train=False)

  images16, logits16 = images_and_logits(z, jnp.bfloat16)
  images32, logits32 = images_and_logits(z, jnp.float32)
  assert images16.dtype == jnp.bfloat16 and logits16.dtype == jnp.float32
  np.testing.assert_allclose(images16.astype(jnp.float32), images32, atol=0.05)
  np.testing.assert_allclose(logits16, logits32, atol=0.05)


@pytest.mark.parametrize('size', [0, 4, 30, 48])
def test_rejects_sizes_without_an_architecture(size):
  with pytest.raises(ValueError, match='image_size'):
    dcgan.generator(size)
