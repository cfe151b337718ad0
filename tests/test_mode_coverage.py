"""Toy mixtures and the mode-coverage scores: constructed samples with known answers."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from gans import evaluation
from gans.data import toy


def test_ring_and_grid_centers():
  ring = toy.ring_centers()
  assert ring.shape == (8, 2)
  np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0, rtol=1e-6)
  np.testing.assert_allclose(
    np.linalg.norm(ring - np.roll(ring, 1, axis=0), axis=1), 2 * np.sin(np.pi / 8), rtol=1e-6
  )  # evenly spaced
  grid = toy.grid_centers()
  assert grid.shape == (25, 2)
  assert {tuple(c) for c in grid} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


def test_sample_mixture_has_even_modes_and_the_given_std():
  centers = toy.grid_centers()
  samples = np.asarray(toy.sample_mixture(jax.random.key(0), centers, 0.05, 25_000))
  assert samples.shape == (25_000, 2) and samples.dtype == np.float32
  nearest = np.argmin(np.linalg.norm(samples[:, None] - centers[None], axis=-1), axis=1)
  assert np.bincount(nearest, minlength=25).min() > 850  # 1000 expected per mode
  np.testing.assert_allclose(np.std(samples - centers[nearest], axis=0), 0.05, rtol=0.03)


def test_toy_dataset_is_determined_by_its_seed():
  a, b = toy.toy_dataset('ring', 100, seed=1), toy.toy_dataset('ring', 100, seed=1)
  np.testing.assert_array_equal(a, b)
  assert a.shape == (100, 2) and a.dtype == np.float32
  assert not np.array_equal(a, toy.toy_dataset('ring', 100, seed=2))
  with pytest.raises(ValueError, match='unknown toy mixture'):
    toy.toy_dataset('spiral', 10)


def test_kl_to_uniform():
  assert evaluation.kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0)
  assert evaluation.kl_to_uniform([0, 7, 0, 0]) == pytest.approx(np.log(4))
  assert evaluation.kl_to_uniform([1, 3]) == pytest.approx(0.25 * np.log(0.5) + 0.75 * np.log(1.5))


@pytest.mark.parametrize('name', ['ring', 'grid'])
def test_true_mixture_captures_every_mode(name):
  mixture = toy.TOY_MIXTURES[name]
  samples = toy.toy_dataset(name, 2500, seed=0)
  scores = evaluation.mode_coverage(samples, mixture.centers, mixture.std)
  assert scores['modes'] == len(mixture.centers)
  # P(‖z‖ ≤ 3) for a 2-D standard normal z is 1 - exp(-9/2) ≈ 0.989.
  assert scores['high_quality_fraction'] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
  assert scores['kl'] < 0.02


def test_collapsed_samples_on_three_grid_modes():
  centers = toy.grid_centers()
  samples = np.repeat(centers[[0, 7, 24]], [100, 100, 100], axis=0)
  scores = evaluation.mode_coverage(samples, centers, 0.05)
  assert scores == {'modes': 3, 'high_quality_fraction': 1.0, 'kl': pytest.approx(np.log(25 / 3))}


def test_only_high_quality_samples_capture_modes():
  centers = toy.ring_centers()
  std = 0.01
  on_mode = np.repeat(centers[:2], 5, axis=0)  # 10 samples on modes 0 and 1
  off_mode = centers[2:4] * (1 + 4 * std)  # 2 samples 4 std from modes 2 and 3
  samples = np.concatenate([on_mode, off_mode])
  scores = evaluation.mode_coverage(samples, centers, std)
  assert scores['modes'] == 2
  assert scores['high_quality_fraction'] == pytest.approx(10 / 12)
  # The histogram counts the high-quality samples only (PacGAN): [5, 5, 0, 0, 0, 0, 0, 0], not the two
  # off-mode samples at modes 2 and 3.
  assert scores['kl'] == pytest.approx(np.log(4))
  far = evaluation.mode_coverage(off_mode, centers, std)  # No high-quality sample: no histogram.
  assert far['modes'] == 0 and far['high_quality_fraction'] == 0 and np.isnan(far['kl'])
  assert evaluation.mode_coverage(samples, centers, std, min_high_quality=6)['modes'] == 0
  assert evaluation.mode_coverage(samples, centers, std, num_std=5)['modes'] == 4


def _digit_channel_classifier(images):
  """Fake classifier: a channel image filled with value c / 10 has logits one_hot(c)."""
  assert images.shape[1:] == (28, 28, 1)
  return 10.0 * np.eye(10)[np.rint(images.mean(axis=(1, 2, 3)) * 10).astype(int)]


@pytest.mark.parametrize('batch_size', [7, 1000])
def test_stacked_mode_coverage_counts_label_triples(batch_size):
  labels = np.random.default_rng(0).integers(0, 10, size=(300, 3))
  samples = np.broadcast_to(labels[:, None, None, :] / 10, (300, 28, 28, 3))
  modes = labels @ [100, 10, 1]
  scores = evaluation.stacked_mode_coverage(
    _digit_channel_classifier, samples, batch_size=batch_size
  )
  assert scores['modes'] == len(np.unique(modes))
  assert scores['kl'] == pytest.approx(evaluation.kl_to_uniform(np.bincount(modes, minlength=1000)))


def test_stacked_mode_coverage_of_a_single_mode():
  samples = np.broadcast_to(np.array([0.1, 0.2, 0.3]), (50, 28, 28, 3))
  scores = evaluation.stacked_mode_coverage(_digit_channel_classifier, samples)
  assert scores == {'modes': 1, 'kl': pytest.approx(np.log(1000))}
