"""The benchmark command measures a real step (tiny here; real numbers come from `-m gans.benchmark`)."""

from __future__ import annotations

import functools

from conftest import tiny_config
import jax
from jax import lax
import jax.numpy as jnp

from gans import benchmark, benchmark_layers, conv
from gans.conv import onednn


def test_benchmark_reports_every_quantity(idx_dir, tfds_dir):
  config = tiny_config('gan', idx_dir, tfds_dir)
  results = benchmark.benchmark(config, steps=3, warmup=1, matmul_size=64, rounds=1)
  assert (
    results['compile_s'] > 0 and results['steps_per_s'] > 0 and results['synthetic_steps_per_s'] > 0
  )
  assert results['feed'] == 'device'  # The tiny split is far under train.DEVICE_FEED_MAX_BYTES.
  overhead = 100 * (results['synthetic_steps_per_s'] / results['steps_per_s'] - 1)
  assert abs(results['pipeline_overhead_pct'] - overhead) < 1e-9
  assert results['images_per_s'] == results['steps_per_s'] * 16
  assert results['flops_per_step'] > 1e6  # The MLP GAN step is a few MFLOP at batch 16.
  assert results['matmul_flops'] > 1e6 and results['peak_fraction'] > 0
  assert results['devices'] == jax.device_count() and len(results['host_rss_mb']) == 2
  assert results['conv_backend'] == conv.backend()
  assert results['onednn_convolutions'] == (conv.backend() == 'cpu_fast' and onednn.enabled())
  row = benchmark.markdown_row('gan', results)
  assert row.startswith('| gan | cpu ×1 | float32 | 16 |') and row.count('|') == 13


def test_layer_benchmark_times_both_passes_of_the_dcgan_shapes():
  """gans.benchmark_layers on one (shrunk) DCGAN convolution: a forward and a backward time for each
  library; the real table comes from `python -m gans.benchmark_layers`."""
  name, kind, input_shape, features, stride = benchmark_layers.DCGAN_28_CONVOLUTIONS[1]
  assert (kind, input_shape, features, stride) == ('transpose', (7, 7, 128), 64, 2)
  for module in benchmark_layers.MODULES[kind].values():
    forward_ms, backward_ms = benchmark_layers.time_layer(
      module(4, (5, 5), stride), (7, 7, 8), batch=2, repeats=2
    )
    assert forward_ms > 0 and backward_ms > 0


def test_step_flops_count_a_onednn_convolution_as_xla_counts_it():
  """XLA's cost analysis counts a custom call as -1 FLOP; step_flops counts the valid products instead."""
  x, kernel = jnp.ones((3, 9, 8, 4)), jnp.ones((3, 2, 4, 5))
  params = dict(strides=(2, 1), pads=((1, 2), (0, 1)), rhs_dilation=(1, 2))
  ours = jax.jit(functools.partial(onednn.conv, **params)).lower(x, kernel).compile()
  xla = jax.jit(
    lambda x, k: lax.conv_general_dilated(
      x,
      k,
      params['strides'],
      params['pads'],
      rhs_dilation=params['rhs_dilation'],
      dimension_numbers=('NHWC', 'HWIO', 'NHWC'),
    )
  )
  assert 'custom-call' in ours.as_text()
  assert benchmark.step_flops(ours) == benchmark.step_flops(xla.lower(x, kernel).compile()) > 0
