"""gans.conv: the backend each platform gets, the 'xla' backend's layers are flax's (XLA
convolutions, JAX's gradients), and grouped convolutions on the 'cpu_fast' path (lax's, with both
modes of differentiation)."""

import logging

import flax.linen as nn
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import conv
from gans.nets import layers


@pytest.mark.parametrize(
  'platform, expected',
  [('cpu', 'cpu_fast'), ('gpu', 'xla'), ('cuda', 'xla'), ('rocm', 'xla'), ('tpu', 'xla')],
)
def test_each_platform_gets_its_backend(platform, expected):
  name, reason = conv.choose_backend(platform, '')
  assert name == expected and platform in reason


@pytest.mark.parametrize('platform', ['cpu', 'gpu', 'tpu'])
@pytest.mark.parametrize('setting', ['xla', 'cpu_fast'])
def test_environment_overrides_the_platform(platform, setting):
  assert conv.choose_backend(platform, setting) == (setting, f'GANS_CONV_BACKEND={setting}')


@pytest.mark.parametrize('setting', ['XLA', 'onednn', '0'])
def test_rejects_unknown_settings(setting):
  with pytest.raises(ValueError, match='GANS_CONV_BACKEND must be one of xla, cpu_fast'):
    conv.choose_backend('cpu', setting)


@pytest.fixture
def fresh_backend():
  """backend() decides once per process: decide again under the test's environment, and after it."""
  conv.backend.cache_clear()
  yield
  conv.backend.cache_clear()


@pytest.mark.usefixtures('fresh_backend')
def test_backend_is_decided_once_and_logged(monkeypatch, caplog):
  caplog.set_level(
    logging.INFO, logger='absl'
  )  # absl's verbosity is WARNING once flags are parsed.
  monkeypatch.setenv('GANS_CONV_BACKEND', 'xla')
  assert conv.backend() == 'xla'
  monkeypatch.setenv('GANS_CONV_BACKEND', 'cpu_fast')
  assert conv.backend() == 'xla'
  assert "'xla' backend (gans.conv): GANS_CONV_BACKEND=xla" in caplog.text


def _outputs(module, params, x):
  """y = module(x), the gradients of <y, cotangent> w.r.t. the params and x, and the JVP of y along
  (params, x) themselves."""
  apply = lambda p, x: module.apply(p, x)
  cotangent = jax.random.normal(jax.random.key(1), jax.eval_shape(apply, params, x).shape)
  grads = jax.grad(lambda p, x: jnp.sum(apply(p, x) * cotangent), (0, 1))
  jvp = lambda p, x: jax.jvp(apply, (p, x), (p, x))[1]
  return jax.jit(lambda p, x: (apply(p, x), grads(p, x), jvp(p, x)))(params, x)


def _assert_same_as_flax(ours, theirs, x):
  params = theirs.init(jax.random.key(0), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias
  assert jax.tree.map(jnp.shape, ours.init(jax.random.key(0), x)) == jax.tree.map(jnp.shape, params)
  for got, want in zip(
    jax.tree.leaves(_outputs(ours, params, x)), jax.tree.leaves(_outputs(theirs, params, x))
  ):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


_X = jnp.asarray(np.random.default_rng(0).standard_normal((2, 7, 6, 4)), jnp.float32)

# (module kwargs): strided and not, 'SAME', 'VALID' and explicit pads.
_LAYERS = [
  dict(features=3, kernel_size=(5, 5), strides=(2, 2)),
  dict(features=3, kernel_size=(4, 3), strides=(2, 1), padding='VALID'),
  dict(features=3, kernel_size=(3, 3), strides=(1, 1), padding=((1, 2), (0, 1))),
]


@pytest.mark.parametrize('kwargs', _LAYERS)
@pytest.mark.parametrize(
  'ours, theirs', [(layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)]
)
def test_xla_backend_is_flax_with_xla_convolutions(ours, theirs, kwargs, monkeypatch):
  """Values, gradients and JVPs as flax's; the gradient is three XLA convolutions (forward, input
  and kernel gradients), the input-dilated ones among them, with no custom call (oneDNN's) and no
  phases."""
  monkeypatch.setattr(conv, 'backend', lambda: 'xla')
  ours, theirs = ours(**kwargs), theirs(**kwargs)
  _assert_same_as_flax(ours, theirs, _X)
  params = ours.init(jax.random.key(0), _X)
  step = jax.jit(jax.grad(lambda p, x: jnp.sum(ours.apply(p, x) ** 2), (0, 1)))
  lowered = step.lower(params, _X).as_text()
  assert 'custom_call' not in lowered and lowered.count('stablehlo.convolution') == 3
  if kwargs['strides'] != (1, 1):
    assert 'lhs_dilate = [{}, {}]'.format(*kwargs['strides']) in lowered


@pytest.mark.parametrize('groups', [2, 4])
@pytest.mark.parametrize('strides', [1, 2])
def test_grouped_conv_on_the_cpu_path_equals_flax(groups, strides, monkeypatch):
  """feature_group_count G (G = C_in: depthwise) by 'cpu_fast': lax's convolution, so values,
  gradients and JVPs are flax's and the kernel is [kh, kw, C_in / G, features]."""
  monkeypatch.setattr(conv, 'backend', lambda: 'cpu_fast')
  kwargs = dict(features=8, kernel_size=(3, 3), strides=strides, feature_group_count=groups)
  _assert_same_as_flax(layers.Conv(**kwargs), nn.Conv(**kwargs), _X)
  kernel = layers.Conv(**kwargs).init(jax.random.key(0), _X)['params']['kernel']
  assert kernel.shape == (3, 3, 4 // groups, 8)


@pytest.mark.parametrize(
  'strides, lhs_dilation, rhs_dilation', [((1, 1), (1, 1), (2, 1)), ((2, 1), (2, 2), (1, 2))]
)
def test_cpu_path_leaves_what_it_does_not_rewrite_to_lax(
  strides, lhs_dilation, rhs_dilation, monkeypatch
):
  """Kernel dilation, and input dilation with strides: lax's convolution, values and gradients."""
  monkeypatch.setattr(conv, 'backend', lambda: 'cpu_fast')
  kernel = jnp.asarray(np.random.default_rng(1).standard_normal((3, 2, 4, 5)), jnp.float32)
  options = dict(lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation)
  pads = ((1, 2), (0, 1))
  ours = lambda x, k: conv.convolution(x, k, strides, pads, **options)
  theirs = lambda x, k: lax.conv_general_dilated(
    x, k, strides, pads, **options, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  sin_sum = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
  outputs = lambda f: jax.jit(lambda x, k: (f(x, k), jax.grad(sin_sum(f), (0, 1))(x, k)))
  for got, want in zip(
    jax.tree.leaves(outputs(ours)(_X, kernel)), jax.tree.leaves(outputs(theirs)(_X, kernel))
  ):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
