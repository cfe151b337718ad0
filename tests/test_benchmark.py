"""The benchmark command measures a real step (tiny here; real numbers come from `-m gans.benchmark`)."""

from __future__ import annotations

from conftest import tiny_config
import jax

from gans import benchmark


def test_benchmark_reports_every_quantity(idx_dir, tfds_dir):
  config = tiny_config('gan', idx_dir, tfds_dir)
  results = benchmark.benchmark(config, steps=3, warmup=1, matmul_size=64)
  assert (
    results['compile_s'] > 0 and results['steps_per_s'] > 0 and results['synthetic_steps_per_s'] > 0
  )
  assert results['images_per_s'] == results['steps_per_s'] * 16
  assert results['flops_per_step'] > 1e6  # The MLP GAN step is a few MFLOP at batch 16.
  assert results['matmul_flops'] > 1e6 and results['peak_fraction'] > 0
  assert results['devices'] == jax.device_count() and len(results['host_rss_mb']) == 2
  row = benchmark.markdown_row('gan', results)
  assert row.startswith('| gan | cpu ×1 | float32 | 16 |') and row.count('|') == 13
