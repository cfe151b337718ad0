"""gans.conv.onednn: XLA:CPU's oneDNN convolution equals lax.conv_general_dilated, and is used only where
it was verified."""

import jax
from jax import lax
import jax.numpy as jnp
import jaxlib
import numpy as np
import pytest

from gans.conv import onednn

# (input [B, H, W, C_in], kernel [kh, kw, C_in, C_out], strides, pads, rhs dilation): the shapes the
# layers produce (phases, kernel gradients with a dilated "kernel"), asymmetric everything, 1x1.
CASES = [
  ((2, 7, 7, 16), (5, 5, 16, 8), (1, 1), ((2, 2), (2, 2)), (1, 1)),
  ((2, 14, 14, 8), (5, 5, 8, 16), (2, 2), ((1, 2), (1, 2)), (1, 1)),
  ((16, 11, 11, 2), (7, 7, 2, 4), (1, 1), ((0, 0), (0, 0)), (1, 1)),
  ((16, 14, 14, 2), (7, 7, 2, 4), (1, 1), ((1, 2), (1, 2)), (2, 2)),
  ((3, 9, 8, 3), (3, 2, 3, 5), (2, 1), ((1, 0), (0, 1)), (1, 2)),
  ((2, 5, 5, 4), (1, 1, 4, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
]


def _lax(x, kernel, strides, pads, rhs_dilation):
  return lax.conv_general_dilated(
    x, kernel, strides, pads, rhs_dilation=rhs_dilation, dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )


def _arrays(x_shape, kernel_shape):
  rng = np.random.default_rng(0)
  return (
    jnp.asarray(rng.standard_normal(x_shape), jnp.float32),
    jnp.asarray(rng.standard_normal(kernel_shape), jnp.float32),
  )


@pytest.fixture
def fresh_decision():
  """enabled() decides once per process: decide again under the test's environment, and after it."""
  onednn.enabled.cache_clear()
  yield
  onednn.enabled.cache_clear()


def test_enabled_where_verified():
  """So that CI fails, rather than silently falling back to XLA, if a verified jaxlib stops running it."""
  version = '.'.join(jaxlib.__version__.split('.')[:2])
  if version not in onednn.VERIFIED_JAXLIB or jax.device_count() != 1:
    pytest.skip(f'jaxlib {version} on {jax.device_count()} devices: XLA convolutions by design')
  assert onednn.enabled()


@pytest.mark.parametrize('x_shape, kernel_shape, strides, pads, rhs_dilation', CASES)
def test_equals_lax(x_shape, kernel_shape, strides, pads, rhs_dilation):
  x, kernel = _arrays(x_shape, kernel_shape)
  got = jax.jit(lambda x, k: onednn.conv(x, k, strides, pads, rhs_dilation))(x, kernel)
  want = _lax(x, kernel, strides, pads, rhs_dilation)
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_compiles_to_the_onednn_custom_call():
  x, kernel = _arrays(*CASES[0][:2])
  compiled = jax.jit(lambda x, k: onednn.conv(x, k, (1, 1), ((2, 2), (2, 2)))).lower(x, kernel)
  hlo = compiled.compile().as_text()
  assert '__onednn$convolution' in hlo and 'convolution(' not in hlo.replace('$convolution', '')


def test_eager_call_equals_jitted():
  x, kernel = _arrays(*CASES[1][:2])
  args = ((2, 2), ((1, 2), (1, 2)))
  np.testing.assert_array_equal(
    onednn.conv(x, kernel, *args), jax.jit(lambda x, k: onednn.conv(x, k, *args))(x, kernel)
  )


def test_gradients_and_vmap_equal_lax():
  """Its derivatives (reached only at second order through gans.conv.cpu.conv) and batches are XLA's."""
  x_shape, kernel_shape, strides, pads, rhs_dilation = CASES[4]
  x, kernel = _arrays(x_shape, kernel_shape)
  ours = lambda x, k: jnp.sum(jnp.sin(onednn.conv(x, k, strides, pads, rhs_dilation)))
  theirs = lambda x, k: jnp.sum(jnp.sin(_lax(x, k, strides, pads, rhs_dilation)))
  for g, w in zip(jax.grad(ours, (0, 1))(x, kernel), jax.grad(theirs, (0, 1))(x, kernel)):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
  xs = jnp.stack([x, 2 * x])
  np.testing.assert_allclose(
    jax.vmap(lambda x: onednn.conv(x, kernel, strides, pads, rhs_dilation))(xs),
    jax.vmap(lambda x: _lax(x, kernel, strides, pads, rhs_dilation))(xs),
    rtol=1e-5,
    atol=1e-4,
  )


def test_usable_only_for_float32_non_negative_pads_and_not_tiny_outputs(monkeypatch):
  monkeypatch.setattr(onednn, 'enabled', lambda: True)
  x, kernel = _arrays((1, 4, 4, 2), (3, 3, 2, 2))
  same = ((1, 1), (1, 1))
  assert onednn.usable(x, kernel, (1, 1), same)  # 4 x 4 = MIN_OUTPUT_POSITIONS outputs.
  assert not onednn.usable(x, kernel, (2, 1), same)  # 2 x 4.
  assert not onednn.usable(x, kernel, (1, 1), ((0, 0), (0, 0)))  # 2 x 2.
  assert not onednn.usable(x, kernel, (1, 1), same, rhs_dilation=(2, 2))  # 2 x 2.
  assert not onednn.usable(x, kernel, (1, 1), ((-1, 3), (1, 1)))
  assert not onednn.usable(x.astype(jnp.bfloat16), kernel.astype(jnp.bfloat16), (1, 1), same)


@pytest.mark.usefixtures('fresh_decision')
def test_turned_off_by_environment(monkeypatch):
  monkeypatch.setenv('GANS_ONEDNN_CONV', '0')
  assert not onednn.enabled()


@pytest.mark.usefixtures('fresh_decision')
def test_off_on_several_devices(monkeypatch):
  """No SPMD partitioning rule for the custom call: a data-parallel mesh keeps XLA's convolutions."""
  monkeypatch.setattr(jax, 'device_count', lambda: 8)
  assert not onednn.enabled()


@pytest.mark.usefixtures('fresh_decision')
def test_off_when_unverified_jaxlib(monkeypatch):
  monkeypatch.setattr(onednn, 'VERIFIED_JAXLIB', ())
  assert not onednn.enabled()


def test_off_when_self_check_disagrees(monkeypatch, caplog):
  def off_by_one(x, kernel, strides, pads, rhs_dilation=(1, 1)):
    return _lax(x, kernel, strides, pads, rhs_dilation) + 1

  monkeypatch.setattr(onednn, 'conv', off_by_one)
  assert not onednn._self_check()
  assert 'disagrees' in caplog.text


def test_off_when_custom_call_fails(monkeypatch, caplog):
  def failing(*args, **kwargs):
    raise RuntimeError('no such custom call')

  monkeypatch.setattr(onednn, 'conv', failing)
  assert not onednn._self_check()
  assert 'no such custom call' in caplog.text
