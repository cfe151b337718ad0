"""FID, KID, classifier score, k-NN metrics: closed forms, brute-force references, invariances."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
import scipy.linalg

from gans import evaluation
from gans.evaluation import metrics


def _random_spd(rng, dim):
  a = rng.normal(size=(dim, dim))
  return a @ a.T / dim + 0.1 * np.eye(dim)


def _pairwise(a, b):
  return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def _knn_radii(x, k):
  d = _pairwise(x, x)
  np.fill_diagonal(d, np.inf)
  return np.sort(d, axis=1)[:, k - 1]


@pytest.fixture(scope='module')
def real_and_fake():
  rng = np.random.default_rng(0)
  real = rng.normal(size=(300, 16)).astype(np.float32)
  fake = (1.2 * rng.normal(size=(250, 16)) + 0.3).astype(np.float32)
  return real, fake


# FID


def test_frechet_distance_of_diagonal_gaussians_is_closed_form():
  mean_a, mean_b = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
  var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  expected = np.sum((mean_a - mean_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
  got = metrics.frechet_distance(mean_a, np.diag(var_a), mean_b, np.diag(var_b))
  np.testing.assert_allclose(got, expected, rtol=1e-12)  # 5 + 4 + 1 + 0 = 10


def test_frechet_distance_matches_scipy_sqrtm_for_non_commuting_covariances():
  rng = np.random.default_rng(1)
  mean_a, mean_b = rng.normal(size=6), rng.normal(size=6)
  cov_a, cov_b = _random_spd(rng, 6), _random_spd(rng, 6)
  expected = (
    np.sum((mean_a - mean_b) ** 2)
    + np.trace(cov_a + cov_b)
    - 2 * np.trace(scipy.linalg.sqrtm(cov_a @ cov_b)).real
  )
  np.testing.assert_allclose(
    metrics.frechet_distance(mean_a, cov_a, mean_b, cov_b), expected, rtol=1e-9
  )


def test_frechet_distance_handles_singular_covariances():
  cov = np.diag([1.0, 0.0, 0.0])  # rank 1, as with fewer samples than dimensions
  assert metrics.frechet_distance(np.zeros(3), cov, np.zeros(3), cov) == pytest.approx(
    0.0, abs=1e-12
  )


def test_fid_of_gaussian_samples_approaches_closed_form():
  rng = np.random.default_rng(2)
  mean_a, mean_b = rng.normal(size=4), rng.normal(size=4)
  cov_a, cov_b = _random_spd(rng, 4), _random_spd(rng, 4)
  a = rng.multivariate_normal(mean_a, cov_a, size=50_000)
  b = rng.multivariate_normal(mean_b, cov_b, size=50_000)
  expected = metrics.frechet_distance(mean_a, cov_a, mean_b, cov_b)
  np.testing.assert_allclose(evaluation.fid(a, b), expected, rtol=0.02)


def test_fid_is_zero_on_itself_and_symmetric(real_and_fake):
  real, fake = real_and_fake
  assert evaluation.fid(real, real) == pytest.approx(0.0, abs=1e-9)
  assert evaluation.fid(real, fake) > 1.0
  np.testing.assert_allclose(evaluation.fid(real, fake), evaluation.fid(fake, real), rtol=1e-9)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_gaussian_statistics_do_not_depend_on_batching(batch_sizes):
  rng = np.random.default_rng(3)
  x = rng.normal(size=(sum(batch_sizes) + 2, 5))
  batches = np.split(
    x, np.cumsum([2, *batch_sizes])[:-1]
  )  # first batch of 2 rows, then the drawn sizes
  streamed, whole = (
    evaluation.gaussian_statistics(batches),
    evaluation.GaussianStatistics.from_features(x),
  )
  assert streamed.count == whole.count
  np.testing.assert_allclose(streamed.mean, whole.mean, rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(streamed.covariance, whole.covariance, rtol=1e-10, atol=1e-12)
  np.testing.assert_allclose(whole.covariance, np.cov(x, rowvar=False), rtol=1e-10)


def test_streamed_covariance_survives_a_large_mean():
  """Merging centred scatters keeps the covariance when mean² ≫ variance (raw moments cancel)."""
  rng = np.random.default_rng(4)
  x = rng.normal(size=(4000, 3))
  stats = evaluation.gaussian_statistics(np.split(x + 1e6, 40))
  np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-6, atol=1e-8)


def test_fid_from_cached_statistics_equals_fid(real_and_fake):
  real, fake = real_and_fake
  stats_real = evaluation.gaussian_statistics(np.array_split(real, 7))
  stats_fake = evaluation.GaussianStatistics.from_features(fake)
  np.testing.assert_allclose(
    evaluation.fid_from_statistics(stats_real, stats_fake), evaluation.fid(real, fake), rtol=1e-9
  )


# KID


def test_kid_with_one_full_subset_matches_naive_unbiased_mmd(real_and_fake):
  real, fake = real_and_fake
  x, y = real[:200].astype(np.float64), fake[:200].astype(np.float64)
  m, dim = x.shape

  def kernel(u, v):
    return (u @ v.T / dim + 1) ** 3

  expected = (
    kernel(x, x).sum() - np.trace(kernel(x, x)) + kernel(y, y).sum() - np.trace(kernel(y, y))
  ) / (m * (m - 1)) - 2 * kernel(x, y).mean()
  mean, std = evaluation.kid(x, y, num_subsets=1, subset_size=m)  # the subsets are the whole sets
  np.testing.assert_allclose(mean, expected, rtol=1e-4)
  assert std == 0.0


def test_kid_is_unbiased_for_one_distribution_and_positive_for_two():
  rng = np.random.default_rng(5)
  a, b = rng.normal(size=(5000, 8)), rng.normal(size=(5000, 8))
  num_subsets = 400
  mean, std = evaluation.kid(a, b, num_subsets=num_subsets, subset_size=50)
  # The biased V-statistic would add 2 (E k(x, x) - E k(x, x')) / m ≈ 0.25 at m = 50, many stds.
  assert abs(mean) < 4 * std / np.sqrt(num_subsets)
  shifted_mean, shifted_std = evaluation.kid(a, b + 0.5, num_subsets=num_subsets, subset_size=50)
  assert shifted_mean > 10 * shifted_std / np.sqrt(num_subsets)


def test_kid_subsets_follow_the_seed_and_are_capped_by_the_set_size(real_and_fake):
  real, fake = real_and_fake
  seeded = evaluation.kid(real, fake, num_subsets=5, subset_size=100, seed=3)
  assert seeded == evaluation.kid(real, fake, num_subsets=5, subset_size=100, seed=3)
  assert seeded != evaluation.kid(real, fake, num_subsets=5, subset_size=100, seed=4)
  # Both sets have 250 rows: a larger subset_size is capped to 250, so every subset is a whole set.
  mean, std = evaluation.kid(real[:250], fake, num_subsets=4, subset_size=10_000)
  assert mean > 0 and std < 1e-4 * mean


# Classifier scores


def test_classifier_score_bounds():
  confident_and_even = 50.0 * np.eye(10)[np.arange(1000) % 10]
  assert evaluation.classifier_score(confident_and_even) == pytest.approx(10.0, rel=1e-4)
  same_logits = np.tile(np.random.default_rng(7).normal(size=(1, 10)), (100, 1))
  assert evaluation.classifier_score(same_logits) == pytest.approx(1.0, abs=1e-5)


def test_classifier_score_matches_numpy_formula():
  logits = np.random.default_rng(6).normal(scale=3, size=(500, 7))
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  expected = np.exp(np.mean(np.sum(p * (np.log(p) - np.log(p.mean(0))), axis=1)))
  np.testing.assert_allclose(evaluation.classifier_score(logits), expected, rtol=1e-5)


def test_class_conditional_accuracy():
  logits = np.eye(4)[[0, 1, 2, 3, 0]]
  assert evaluation.class_conditional_accuracy(logits, [0, 1, 2, 0, 1]) == pytest.approx(0.6)


# Precision / recall, density / coverage


def test_precision_recall_is_one_for_identical_sets_and_zero_for_disjoint_ones(real_and_fake):
  real, _ = real_and_fake
  assert evaluation.precision_recall(real, real, k=3) == (1.0, 1.0)
  assert evaluation.precision_recall(real, real + 100.0, k=3) == (0.0, 0.0)
  assert evaluation.density_coverage(real, real + 100.0, k=5) == (0.0, 0.0)
  assert evaluation.density_coverage(real, real, k=5)[1] == 1.0


def test_precision_recall_matches_brute_force(real_and_fake):
  real, fake = (x.astype(np.float64) for x in real_and_fake)
  d = _pairwise(fake, real)  # [M, N]
  precision = np.mean((d <= _knn_radii(real, 3)[None, :]).any(axis=1))
  recall = np.mean((d.T <= _knn_radii(fake, 3)[None, :]).any(axis=1))
  assert 0.2 < precision < 0.99 and 0.2 < recall < 0.99  # the case is not degenerate
  np.testing.assert_allclose(evaluation.precision_recall(*real_and_fake, k=3), (precision, recall))


def test_density_coverage_matches_brute_force(real_and_fake):
  real, fake = (x.astype(np.float64) for x in real_and_fake)
  inside = _pairwise(fake, real) <= _knn_radii(real, 5)[None, :]  # [M, N]
  density, coverage = inside.sum() / (5 * len(fake)), np.mean(inside.any(axis=0))
  assert 0.2 < coverage < 0.95
  np.testing.assert_allclose(evaluation.density_coverage(*real_and_fake, k=5), (density, coverage))


@pytest.mark.parametrize('batch_size', [1, 64])
def test_knn_metrics_do_not_depend_on_batch_size(real_and_fake, batch_size):
  reference_pr = evaluation.precision_recall(*real_and_fake, k=3, batch_size=1000)
  reference_dc = evaluation.density_coverage(*real_and_fake, k=5, batch_size=1000)
  assert evaluation.precision_recall(*real_and_fake, k=3, batch_size=batch_size) == reference_pr
  assert evaluation.density_coverage(*real_and_fake, k=5, batch_size=batch_size) == reference_dc


def test_knn_radius_excludes_the_point_itself_but_not_its_duplicates():
  x = np.array([[0.0], [0.0], [3.0]], np.float32)
  radii = np.sqrt(np.asarray(metrics._knn_sq_radii(x, 1, batch_size=2)))
  np.testing.assert_allclose(radii, [0.0, 0.0, 3.0])


def test_knn_metrics_reject_bad_arguments(real_and_fake):
  real, fake = real_and_fake
  with pytest.raises(ValueError, match='k='):
    evaluation.precision_recall(real[:3], fake, k=3)
  with pytest.raises(ValueError, match='dimensions differ'):
    evaluation.density_coverage(real, fake[:, :8])
