"""The XLA options gans sets by default (gans.xla_flags)."""

import os

import jax
from jax import lax
import jaxlib
import pytest

from gans import xla_flags

FLAG = '--xla_cpu_experimental_ynn_fusion_type=-individual_convolution'


@pytest.fixture
def environ(monkeypatch):
  monkeypatch.delenv('XLA_FLAGS', raising=False)
  monkeypatch.delenv('GANS_XLA_DEFAULTS', raising=False)
  monkeypatch.setattr(jaxlib, '__version__', '0.10.2')
  return monkeypatch


def test_adds_the_convolution_flag_to_existing_flags(environ):
  environ.setenv('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
  assert xla_flags.set_defaults() == [FLAG]
  assert os.environ['XLA_FLAGS'] == f'--xla_force_host_platform_device_count=8 {FLAG}'
  assert xla_flags.set_defaults() == []  # Idempotent.


@pytest.mark.parametrize(
  'setting',
  [
    {'XLA_FLAGS': '--xla_cpu_experimental_ynn_fusion_type=dot'},  # The user's value wins.
    {'GANS_XLA_DEFAULTS': '0'},  # Opted out.
    {'version': '0.9.1'},  # A jaxlib it was not measured on (the flag may be unknown there).
  ],
)
def test_leaves_the_environment_alone(environ, setting):
  for name, value in setting.items():
    if name == 'version':
      environ.setattr(jaxlib, '__version__', value)
    else:
      environ.setenv(name, value)
  before = os.environ.get('XLA_FLAGS')
  assert xla_flags.set_defaults() == []
  assert os.environ.get('XLA_FLAGS') == before


@pytest.mark.skipif(
  '.'.join(jaxlib.__version__.split('.')[:2]) not in xla_flags.DEFAULT_FLAGS[0][2]
  or os.environ.get('GANS_XLA_DEFAULTS') == '0',
  reason='the default applies to other jaxlib versions only, or was turned off',
)
def test_the_test_session_runs_convolutions_outside_ynnpack():
  """conftest sets the defaults as gans.main does: XLA accepted the flag, and a convolution is not a
  YNNPACK fusion while a matrix product still is."""
  x = jax.numpy.ones((8, 16, 16, 32))
  conv = lambda x, w: lax.conv_general_dilated(
    x, w, (1, 1), 'SAME', dimension_numbers=('NHWC', 'HWIO', 'NHWC')
  )
  conv_hlo = jax.jit(conv).lower(x, jax.numpy.ones((3, 3, 32, 32))).compile().as_text()
  dot_hlo = jax.jit(lambda a: a @ a).lower(jax.numpy.ones((256, 256))).compile().as_text()
  assert '__ynn_fusion' not in conv_hlo and 'convolution(' in conv_hlo
  assert '__ynn_fusion' in dot_hlo
