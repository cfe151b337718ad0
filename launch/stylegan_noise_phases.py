"""Where the per-pixel standard deviation of a trained StyleGAN's noise response comes from, by layer.

    PYTHONPATH=. python launch/stylegan_noise_phases.py runs/stylegan [--rows=4] [--draws=64]

For ``rows`` styles w (EMA generator, ψ = 1), draws ``draws`` noises and measures the per-pixel standard
deviation of the images over them (as the ``stochastic_variation`` figure does), first with every noise
input re-drawn, then with only one layer's noise re-drawn and the others fixed (``decode``'s fixed draw).
For each it prints the mean std and the mean std of the four pixel phases (row, column) mod 2 relative to
that mean: a layer whose noise passes a ×2 upsampling makes a pattern of period 2 (the upsampled noise is
cyclostationary: its neighbours' correlations alternate, 9/16 and 6/16 for the [1, 3, 3, 1] filter), which
the std figure shows as a grid; noise entered at the output's resolution gives flat phases.
"""

from __future__ import annotations

import json
import os
import sys

from absl import app, flags
import jax
import ml_collections
import numpy as np

from gans import train

flags.DEFINE_integer('rows', 4, 'Styles w, one per row of the figure.')
flags.DEFINE_integer('draws', 64, 'Noise draws per style.')
FLAGS = flags.FLAGS


def phase_profile(std: np.ndarray) -> tuple[float, np.ndarray]:
  """std [N, H, W] -> (its mean, [2, 2] mean std of the pixels (i mod 2, j mod 2) / the mean)."""
  mean = float(std.mean())
  phases = np.array([[std[:, a::2, b::2].mean() for b in (0, 1)] for a in (0, 1)])
  return mean, phases / mean


def main(argv):
  if len(argv) != 2:
    sys.exit('usage: python launch/stylegan_noise_phases.py WORKDIR')
  workdir = argv[1]
  with open(os.path.join(workdir, 'config.json')) as f:
    config = ml_collections.ConfigDict(json.load(f))
  experiment = train.Experiment(config, workdir)
  experiment.restore()
  method, state = experiment.method, experiment.state
  num = FLAGS.rows * FLAGS.draws
  z = method.latents(jax.random.PRNGKey(1), FLAGS.rows)['z']
  ws = np.repeat(np.asarray(method.styles(state, z, truncation=1.0)), FLAGS.draws, axis=0)
  fixed = method.noise(None, num, const=True)
  fresh = method.noise(jax.random.PRNGKey(2), num)

  def report(name, noise):
    images = np.asarray(method.render(state, ws, noise))
    images = images.reshape(FLAGS.rows, FLAGS.draws, *images.shape[1:])
    mean, phases = phase_profile(images.std(axis=1).mean(axis=-1))
    print(f'| {name} | {mean:.4f} | ' + ' | '.join(f'{p:.2f}' for p in phases.ravel()) + ' |')

  print(
    f'step {int(state.step)} of {workdir}: per-pixel std over {FLAGS.draws} noises, {FLAGS.rows} styles'
  )
  print('| noise re-drawn | mean std | (0, 0) | (0, 1) | (1, 0) | (1, 1) |')
  print('|---|---|---|---|---|---|')
  report('every layer', fresh)
  for layer, noise in enumerate(fresh):
    side = noise.shape[1]
    report(f'layer {layer} ({side}×{side})', [*fixed[:layer], noise, *fixed[layer + 1 :]])


if __name__ == '__main__':
  app.run(main)
