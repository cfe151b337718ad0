"""gans.nets.layers.Conv/ConvTranspose are flax.linen.Conv/ConvTranspose; by the 'cpu_fast' backend
(gans.conv.cpu), on every platform here, they compute without input dilation, by oneDNN's convolution
kernel (gans.conv.onednn) or by XLA's. tests/test_conv_backend.py checks the 'xla' backend."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import conv
from gans.conv import cpu, onednn
from gans.nets import layers

# (kernel, strides, padding, input [H, W, C_in], features): odd and even kernels, kernels smaller than,
# equal to and larger than the stride, asymmetric strides and kernels, odd and even sizes. ConvTranspose
# (and Conv's input gradient, with C_in for features) stacks the phases of outputs with fewer than 128
# features * phases in one convolution and gives the others a convolution each: both kinds are here.
CASES = [
  ((5, 5), 2, 'SAME', (7, 7, 16), 8),
  ((5, 5), 2, 'SAME', (6, 6, 32), 1),
  ((5, 5), 2, 'SAME', (5, 6, 4), 32),
  ((5, 5), 1, 'SAME', (5, 6, 8), 32),
  ((4, 4), 2, 'SAME', (4, 5, 8), 3),
  ((4, 4), 2, 'SAME', (5, 4, 3), 40),
  ((3, 3), 3, 'SAME', (4, 4, 2), 5),
  ((3, 3), 3, 'SAME', (4, 3, 16), 32),
  ((2, 2), 2, 'SAME', (3, 4, 3), 2),
  ((1, 1), 2, 'SAME', (3, 3, 4), 4),
  ((1, 1), 2, 'SAME', (3, 3, 4), 32),
  ((3, 5), (1, 2), 'SAME', (5, 4, 3), 2),
  ((3, 5), (2, 1), 'SAME', (5, 4, 3), 64),
  ((5, 5), 2, 'VALID', (6, 7, 3), 4),
  ((5, 5), 2, 'VALID', (5, 4, 3), 32),
  ((4, 4), 2, ((1, 2), (2, 1)), (5, 4, 3), 2),
  ((4, 4), 2, ((1, 2), (2, 1)), (4, 5, 3), 32),
]
BATCH = 2


@pytest.fixture(autouse=True)
def cpu_fast(monkeypatch):
  """The layers' convolutions by gans.conv.cpu, whatever the platform."""
  monkeypatch.setattr(conv, 'backend', lambda: 'cpu_fast')


@pytest.fixture(params=['onednn', 'xla'])
def conv_path(request, monkeypatch):
  """Each way `gans.conv.cpu.conv` computes a convolution on CPU: all in XLA, or all (even the tiny
  ones) in oneDNN. test_onednn checks that oneDNN's is on here."""
  if request.param == 'xla':
    monkeypatch.setattr(onednn, 'enabled', lambda: False)
  elif not onednn.enabled():
    pytest.skip('oneDNN convolutions are unavailable with this jaxlib (test_onednn says why)')
  else:
    monkeypatch.setattr(onednn, 'MIN_OUTPUT_POSITIONS', 1)
  return request.param


def _values_and_grads(module, params, x, cotangent):
  """y = module(x) and the gradients of <y, cotangent> w.r.t. the params and x."""
  loss = lambda p, x: jnp.sum(module.apply(p, x) * cotangent)
  return jax.jit(lambda p, x: (module.apply(p, x), jax.grad(loss, (0, 1))(p, x)))(params, x)


def _assert_same_as_flax(ours, theirs, input_shape, batch=BATCH):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((batch, *input_shape)), jnp.float32)
  params = theirs.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias
  expected = theirs.apply(params, x)
  cotangent = jnp.asarray(rng.standard_normal(expected.shape), jnp.float32)
  want = _values_and_grads(theirs, params, x, cotangent)
  got = _values_and_grads(ours, params, x, cotangent)
  assert jax.tree.structure(got) == jax.tree.structure(want)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    assert g.shape == w.shape
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-4)


@pytest.mark.usefixtures('conv_path')
@pytest.mark.parametrize('kernel_size, strides, padding, input_shape, features', CASES)
def test_conv_transpose_equals_flax(kernel_size, strides, padding, input_shape, features):
  kwargs = dict(features=features, kernel_size=kernel_size, strides=strides, padding=padding)
  _assert_same_as_flax(layers.ConvTranspose(**kwargs), nn.ConvTranspose(**kwargs), input_shape)


@pytest.mark.usefixtures('conv_path')
@pytest.mark.parametrize('kernel_size, strides, padding, input_shape, features', CASES)
def test_conv_equals_flax(kernel_size, strides, padding, input_shape, features):
  kwargs = dict(features=features, kernel_size=kernel_size, strides=strides, padding=padding)
  _assert_same_as_flax(layers.Conv(**kwargs), nn.Conv(**kwargs), input_shape)


@pytest.mark.usefixtures('conv_path')
@pytest.mark.parametrize('batch', [4, 7])
@pytest.mark.parametrize(
  'ours, theirs', [(layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)]
)
def test_kernel_gradient_summed_over_batch_chunks_equals_flax(ours, theirs, batch, monkeypatch):
  """Chunks of 2 images: two chunks, and three chunks plus one image."""
  monkeypatch.setattr(cpu, 'KERNEL_GRAD_CHUNK', 2)
  kwargs = dict(features=8, kernel_size=(3, 3), strides=2, padding='SAME')
  _assert_same_as_flax(ours(**kwargs), theirs(**kwargs), (6, 5, 4), batch)


@pytest.mark.parametrize(
  'ours, theirs', [(layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)]
)
def test_params_are_laid_out_and_initialised_as_flax(ours, theirs):
  x = jnp.ones((1, 6, 6, 3))
  kwargs = dict(features=5, kernel_size=(4, 4), strides=2)
  got, want = ours(**kwargs).init(jax.random.key(0), x), theirs(**kwargs).init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, got) == {'params': {'kernel': (4, 4, 3, 5), 'bias': (5,)}}
  jax.tree.map(np.testing.assert_array_equal, got, want)
  assert 'bias' not in ours(**kwargs, use_bias=False).init(jax.random.key(0), x)['params']


def _critic(conv):
  return nn.Sequential([conv(8, (5, 5), 2), nn.tanh, conv(4, (3, 3), 2), lambda h: jnp.sum(h**3)])


_PENALTY_INPUT = jnp.asarray(np.random.default_rng(0).standard_normal((2, 8, 8, 3)), jnp.float32)


def _penalty(net):
  """|d net(x) / dx|^2 as a function of the params (WGAN-GP's and R1's penalties differentiate this)."""
  return lambda p: jnp.sum(jax.grad(net.apply, argnums=1)(p, _PENALTY_INPUT) ** 2)


@pytest.mark.usefixtures('conv_path')
def test_gradient_penalty_equals_flax():
  """Reverse-over-reverse through the custom input gradient: d/dparams |d D(x) / dx|^2 (WGAN-GP, R1)."""
  params = _critic(nn.Conv).init(jax.random.key(0), _PENALTY_INPUT)
  for g, w in zip(
    jax.tree.leaves(jax.jit(jax.grad(_penalty(_critic(layers.Conv))))(params)),
    jax.tree.leaves(jax.jit(jax.grad(_penalty(_critic(nn.Conv))))(params)),
  ):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


def _lowered_gradient_penalty():
  params = _critic(nn.Conv).init(jax.random.key(0), _PENALTY_INPUT)
  return jax.jit(jax.grad(_penalty(_critic(layers.Conv)))).lower(params).as_text()


def test_second_order_convolutions_stay_on_xla_fast_path(monkeypatch):
  """XLA's path: the second-order pass, too, has only NHWC x HWIO convolutions without input dilation
  (JAX's own transposition rules, which gans.conv.cpu.conv replaces at every order, lay some out as
  [f, 0, 1, b])."""
  monkeypatch.setattr(onednn, 'enabled', lambda: False)
  lowered = _lowered_gradient_penalty()
  assert set(re.findall(r'lhs_dilate = \[([^\]]*)\]', lowered)) == {'1, 1'}
  layouts = set(re.findall(r'dim_numbers = (\[[^\]]*\]x\[[^\]]*\]->\[[^\]]*\])', lowered))
  assert layouts == {'[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]'}


def test_every_order_of_convolution_runs_in_onednn(monkeypatch):
  """oneDNN's path: forward, both gradients and the second-order pass are all its custom calls."""
  if not onednn.enabled():
    pytest.skip('oneDNN convolutions are unavailable with this jaxlib (test_onednn says why)')
  monkeypatch.setattr(onednn, 'MIN_OUTPUT_POSITIONS', 1)  # These 8 x 8 images have tiny outputs.
  lowered = _lowered_gradient_penalty()
  assert 'stablehlo.convolution' not in lowered
  assert lowered.count('__onednn$convolution') >= 6


@pytest.mark.parametrize(
  'ours, theirs', [(layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)]
)
def test_bfloat16_compute_with_float32_params(ours, theirs):
  x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 7, 7, 8)), jnp.float32)
  kwargs = dict(features=8, kernel_size=(5, 5), strides=2, dtype=jnp.bfloat16)
  params = theirs(**kwargs).init(jax.random.key(0), x)
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(params))
  got, want = ours(**kwargs).apply(params, x), theirs(**kwargs).apply(params, x)
  assert got.dtype == want.dtype == jnp.bfloat16
  np.testing.assert_allclose(
    got.astype(jnp.float32), want.astype(jnp.float32), rtol=0.05, atol=0.05
  )


def _lhs_dilations(module, x):
  """The input dilations of every convolution in the lowered forward and backward pass."""
  params = module.init(jax.random.key(0), x)
  step = jax.jit(jax.grad(lambda p, x: jnp.sum(module.apply(p, x) ** 2), (0, 1)))
  return re.findall(r'lhs_dilate = \[([^\]]*)\]', step.lower(params, x).as_text())


@pytest.mark.parametrize(
  'ours, theirs', [(layers.Conv, nn.Conv), (layers.ConvTranspose, nn.ConvTranspose)]
)
def test_no_input_dilated_convolution_in_forward_or_backward(ours, theirs, monkeypatch):
  """What makes them fast on XLA:CPU: every convolution runs without input (base) dilation."""
  monkeypatch.setattr(onednn, 'enabled', lambda: False)
  x = jnp.ones((2, 8, 8, 16))
  assert '2, 2' in _lhs_dilations(theirs(16, (5, 5), 2), x)  # the slow path exists in flax's
  assert set(_lhs_dilations(ours(16, (5, 5), 2), x)) == {'1, 1'}


def test_rejects_unknown_padding():
  with pytest.raises(ValueError, match='padding'):
    layers.ConvTranspose(4, (3, 3), 2, padding='CIRCULAR').init(
      jax.random.key(0), jnp.ones((1, 4, 4, 2))
    )
