r"""Speed of one recipe's train step on this machine: compile time, steps/s, FLOPs, memory, input cost.

    python -m gans.benchmark --config=configs/gan.py [--steps=100] [--config.train.batch_size=128]

Prints one Markdown table row and writes the full JSON to ``--output`` (default
``runs/benchmark/<recipe>.json``). Measured quantities:

* ``compile_s``: lowering + compiling the step (the persistent compilation cache is not used);
* ``steps_per_s`` / ``images_per_s``: steady state, fed by the run's input pipeline (``feed``, chosen as
  training chooses it, ``--config.train.feed=device|host|stream`` to pick one: the device feed gathers rows
  inside the step, the host feed copies prefetched batches, the stream feed reads them from the split's
  ``array_record`` files with grain's threads); the median of ``rounds`` timings of ``steps / rounds``
  steps, each followed by a timing of the synthetic feed;
* ``synthetic_steps_per_s``: the step compiled for one fixed batch already on the devices;
  ``pipeline_overhead_pct`` = how much slower the real pipeline is (goal: <= 5 %), the median over rounds
  of synthetic / real - 1: pairing each round with the next cancels most of a shared machine's drift;
* ``conv_backend``: the implementation of the nets' convolutions (``gans.conv.backend()``), and
  ``onednn_convolutions``: whether they ran in oneDNN's kernels (``gans.conv.onednn``, 'cpu_fast' only);
* ``flops_per_step`` from XLA's cost analysis (``step_flops``), ``achieved_flops`` = flops_per_step × steps/s, and
  ``peak_fraction`` = achieved / this machine's f32 matmul rate measured here (``matmul_flops``);
* ``host_rss_mb`` at the start and end of the steady run (flat = no per-step copies of the dataset) and
  ``device_peak_mb`` where the backend reports memory statistics (GPU/TPU).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time

from absl import app, flags, logging
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import psutil

from gans import conv, train, xla_flags
from gans.conv import cpu, onednn

FLAGS = flags.FLAGS


def matmul_flops(n: int, repeats: int = 10) -> float:
  """FLOP/s of an [n, n] @ [n, n] float32 matmul (2n³ FLOPs) on the default device."""
  a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
  matmul = jax.jit(lambda x: x @ a)
  x = matmul(a).block_until_ready()
  start = time.perf_counter()
  for _ in range(repeats):
    x = matmul(x / n)
  x.block_until_ready()
  return 2 * n**3 * repeats / (time.perf_counter() - start)


def step_flops(compiled) -> float:
  """FLOPs of a compiled step: XLA's cost analysis, which counts a custom call as -1 FLOP, with each oneDNN
  convolution (gans.conv.onednn) counted as XLA counts a convolution: 2 FLOPs per product of an input
  element (not padding) with a kernel tap."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get('flops', 0.0)) if cost else 0.0
  hlo = compiled.as_text()
  shapes = {name: [int(n) for n in dims.split(',')] for name, dims in _DEFINITION.findall(hlo)}
  for output, x, kernel, config in _ONEDNN_CONVOLUTION.findall(hlo):
    window = json.loads(config)['onednn_conv_config']['window']
    batch, c_in, c_out = shapes[x][0], shapes[x][3], shapes[kernel][3]
    products = batch * c_in * c_out
    for axis in range(2):
      products *= _valid_taps(
        shapes[x][1 + axis],
        [int(n) for n in output.split(',')][1 + axis],
        *(int(window[key][axis]) for key in ('size', 'strides', 'window_dilations', 'pad_left')),
      )
    flops += 1 + 2 * products
  return flops


def counted_flops(experiment, inputs, select) -> float:
  """``step_flops`` of the step compiled once more with every loop over batch chunks unrolled into one
  convolution (``gans.conv.cpu.KERNEL_GRAD_CHUNK`` above the batch): cost analysis counts a loop's body
  once, so the chunked kernel gradients of the step that runs would count 16 of B images. The same
  arithmetic; only the count differs."""
  chunk = cpu.KERNEL_GRAD_CHUNK
  cpu.KERNEL_GRAD_CHUNK = 2**31 - 1
  try:
    compiled, _, _ = experiment.compile_train_step(inputs, select)
  finally:
    cpu.KERNEL_GRAD_CHUNK = chunk
  return step_flops(compiled)


_DEFINITION = re.compile(r'%([\w.\-]+) = \w+\[([\d,]+)\]')
_ONEDNN_CONVOLUTION = re.compile(
  r'= \w+\[([\d,]+)\]\S* custom-call\(%([\w.\-]+), %([\w.\-]+)\), '
  r'custom_call_target="__onednn\$convolution".*?backend_config=(\{.*\})$',
  re.MULTILINE,
)


def _valid_taps(size: int, outputs: int, taps: int, stride: int, dilation: int, pad: int) -> int:
  """Pairs (output o, tap t) of one spatial axis whose input o·stride + t·dilation - pad is in range."""
  return sum(
    0 <= o * stride + t * dilation - pad < size for o in range(outputs) for t in range(taps)
  )


def _rss_mb() -> float:
  return psutil.Process().memory_info().rss / 2**20


def _timed_steps(step, state, next_batch, steps: int):
  start = time.perf_counter()
  for _ in range(steps):
    state, _ = step(state, next_batch())
  jax.block_until_ready(state)
  return state, steps / (time.perf_counter() - start)


def benchmark(config, *, steps: int, warmup: int, matmul_size: int, rounds: int = 3) -> dict:
  """Runs the measurements described in the module docstring for ``config``."""
  jax.config.update('jax_enable_compilation_cache', False)
  with tempfile.TemporaryDirectory() as workdir:
    experiment = train.Experiment(config, workdir)
    batches = experiment.batches()
    try:
      inputs = next(batches)
      step, compile_s, _ = experiment.compile_train_step(inputs, batches.select)
      flops_per_step = counted_flops(experiment, inputs, batches.select)
      batch = jax.jit(batches.select)(inputs, experiment.state.step)  # The synthetic feed's batch.
      synthetic_step, _, _ = experiment.compile_train_step(batch)
      state, _ = _timed_steps(step, experiment.state, lambda: next(batches), warmup)
      state, _ = _timed_steps(synthetic_step, state, lambda: batch, warmup)
      rss_start = _rss_mb()
      rates, synthetic_rates = [], []
      for _ in range(rounds):  # Alternate the two feeds: this machine's speed drifts.
        state, rate = _timed_steps(step, state, lambda: next(batches), steps // rounds)
        rates.append(rate)
        state, rate = _timed_steps(synthetic_step, state, lambda: batch, steps // rounds)
        synthetic_rates.append(rate)
      rss_end = _rss_mb()
      rate, synthetic_rate = float(np.median(rates)), float(np.median(synthetic_rates))
      overhead = float(np.median(np.asarray(synthetic_rates) / np.asarray(rates))) - 1.0
    finally:
      batches.close()
      experiment.checkpointer.close()
  peak = matmul_flops(matmul_size)
  memory = jax.devices()[0].memory_stats() or {}
  images_per_step = config.train.batch_size * experiment.method.batches_per_step
  return {
    'method': config.method.name,
    'backend': jax.default_backend(),
    'devices': jax.device_count(),
    'device_kind': jax.devices()[0].device_kind,
    'xla_flags': os.environ.get('XLA_FLAGS', ''),
    'conv_backend': conv.backend(),
    'onednn_convolutions': conv.backend() == 'cpu_fast' and onednn.enabled(),
    'dtype': config.model.dtype,
    'feed': experiment.feed,
    'prefetch': config.train.prefetch,
    'batch_size': config.train.batch_size,
    'compile_s': compile_s,
    'steps_per_s': rate,
    'images_per_s': rate * images_per_step,
    'synthetic_steps_per_s': synthetic_rate,
    'pipeline_overhead_pct': 100.0 * overhead,
    'rounds': rounds,
    'flops_per_step': flops_per_step,
    'achieved_flops': flops_per_step * rate,
    'matmul_flops': peak,
    'peak_fraction': flops_per_step * rate / peak,
    'host_rss_mb': [rss_start, rss_end],
    'device_peak_mb': memory.get('peak_bytes_in_use', 0) / 2**20 or None,
  }


def markdown_row(name: str, r: dict) -> str:
  return (
    f'| {name} | {r["backend"]} ×{r["devices"]} | {r["dtype"]} | {r["batch_size"]} | '
    f'{r["compile_s"]:.1f} | {r["steps_per_s"]:.1f} | {r["images_per_s"]:.0f} | '
    f'{r["pipeline_overhead_pct"]:+.1f} % | {r["flops_per_step"] / 1e9:.2f} | '
    f'{r["achieved_flops"] / 1e9:.1f} | {100 * r["peak_fraction"]:.1f} % | '
    f'{r["host_rss_mb"][0]:.0f} → {r["host_rss_mb"][1]:.0f} |'
  )


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  xla_flags.set_defaults()  # Before JAX starts a backend: the benchmark times what gans.main runs.
  config_path = config_flags.get_config_filename(FLAGS['config'])
  name = os.path.splitext(os.path.basename(config_path))[0]
  if FLAGS.config.train.feed != 'auto':
    name = f'{name}, {FLAGS.config.train.feed} feed'
  results = benchmark(
    FLAGS.config,
    steps=FLAGS.steps,
    warmup=FLAGS.warmup,
    matmul_size=FLAGS.matmul_size,
    rounds=FLAGS.rounds,
  )
  stem = name.replace(', ', '_').replace(' ', '_')
  output = FLAGS.output or os.path.join('runs', 'benchmark', f'{stem}.json')
  os.makedirs(os.path.dirname(output) or '.', exist_ok=True)
  with open(output, 'w') as f:
    json.dump(results, f, indent=2)
  logging.info('Wrote %s', output)
  print(
    '| recipe | devices | dtype | batch | compile s | steps/s | images/s | pipeline cost | GFLOP/step '
    '| GFLOP/s | of matmul peak | host RSS MB |'
  )
  print('|---|---|---|---|---|---|---|---|---|---|---|---|')
  print(markdown_row(name, results))


def define_flags():
  """Flags of this command (defined only when it runs, so that importing it beside gans.main works)."""
  config_flags.DEFINE_config_file(
    'config', None, 'Recipe file, e.g. configs/gan.py.', lock_config=True
  )
  flags.DEFINE_integer('steps', 100, 'Steady-state steps to time (each of the two feeds).')
  flags.DEFINE_integer('warmup', 5, 'Steps run before timing.')
  flags.DEFINE_integer('rounds', 3, 'Alternations of the two feeds the steps are split into.')
  flags.DEFINE_integer('matmul_size', 2048, 'Side of the square f32 matmul that measures the peak.')
  flags.DEFINE_string('output', None, 'JSON path (default runs/benchmark/<recipe>.json).')
  flags.mark_flags_as_required(['config'])


if __name__ == '__main__':
  define_flags()
  app.run(main)
