"""Sample-quality metrics from the features [N, D] or logits [N, K] of a fixed network.

  fid                         Fréchet distance between Gaussian fits (Heusel et al. 2017)
  kid                         unbiased MMD², cubic polynomial kernel (Bińkowski et al. 2018)
  classifier_score            Inception-score formula (Salimans et al. 2016) on classifier logits
  precision_recall            k-NN manifold precision and recall (Kynkäänniemi et al. 2019)
  density_coverage            density and coverage (Naeem et al. 2020)
  class_conditional_accuracy  a classifier's accuracy on samples generated for given labels

Streaming: FID statistics are merged batch by batch (``GaussianStatistics``,
``gaussian_statistics``), so the features of 10⁵ samples never have to exist at once; the k-NN
metrics compare the two sets block by block (``batch_size`` rows against ``batch_size`` rows, inside
one jitted scan), so memory is O(batch_size²) instead of O(N·M). No result depends on how the
samples are batched.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np

# --------------------------------------------------------------------------------------------------
# FID


@dataclasses.dataclass(frozen=True)
class GaussianStatistics:
  """Count, mean [D] and centred scatter Σ_i (x_i - mean)(x_i - mean)ᵀ [D, D] of features, float64.

  Two sets merge exactly (Chan, Golub and LeVeque 1979): with n = n_a + n_b and δ = mean_b - mean_a,
      mean = mean_a + δ n_b / n,    scatter = scatter_a + scatter_b + δ δᵀ n_a n_b / n,
  which never subtracts two large uncentred moments, so float64 holds the covariance of any number
  of batches accurately and the result does not depend on how the samples were split.
  """

  count: int
  mean: np.ndarray
  scatter: np.ndarray

  @classmethod
  def from_features(cls, features) -> GaussianStatistics:
    """Statistics of features [N, D]."""
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) == 0:
      raise ValueError(f'features must be a non-empty [N, D] array, got shape {x.shape}.')
    mean = x.mean(axis=0)
    centred = x - mean
    return cls(len(x), mean, centred.T @ centred)

  def merge(self, other: GaussianStatistics) -> GaussianStatistics:
    """Statistics of the union of the two sets."""
    count = self.count + other.count
    delta = other.mean - self.mean
    return GaussianStatistics(
      count,
      self.mean + delta * (other.count / count),
      self.scatter + other.scatter + np.outer(delta, delta) * (self.count * other.count / count),
    )

  @property
  def covariance(self) -> np.ndarray:
    """The unbiased covariance estimate scatter / (count - 1), [D, D]."""
    return self.scatter / (self.count - 1)


def gaussian_statistics(feature_batches: Iterable) -> GaussianStatistics:
  """Merged statistics of an iterable of feature batches [B_i, D], e.g. of a generator's batches."""
  return functools.reduce(
    GaussianStatistics.merge, map(GaussianStatistics.from_features, feature_batches)
  )


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  """The symmetric PSD square root V diag(√max(w, 0)) Vᵀ of a symmetric matrix V diag(w) Vᵀ."""
  eigenvalues, eigenvectors = np.linalg.eigh(matrix)
  return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
  """Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b): means [D], covariances [D, D].

      d² = ‖mean_a - mean_b‖² + Tr(cov_a + cov_b - 2 (cov_a cov_b)^½).

  cov_a cov_b is similar to the symmetric PSD matrix M = cov_a^½ cov_b cov_a^½, so
  Tr (cov_a cov_b)^½ = Σ √λ_i(M), computed with ``eigh`` in float64: no complex parts and no
  iterative matrix square root, even for singular covariances (fewer samples than dimensions).
  """
  mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
  cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
  sqrt_a = _psd_sqrt(cov_a)
  product = sqrt_a @ cov_b @ sqrt_a
  eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
  trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0, None)))
  diff = mean_a - mean_b
  return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def fid_from_statistics(stats_a: GaussianStatistics, stats_b: GaussianStatistics) -> float:
  """Fréchet distance between the Gaussian fits of two feature sets (e.g. cached real stats)."""
  return frechet_distance(stats_a.mean, stats_a.covariance, stats_b.mean, stats_b.covariance)


def fid(features_a, features_b) -> float:
  """Fréchet (Inception) distance of feature sets [N, D] and [M, D]; see ``frechet_distance``."""
  return fid_from_statistics(
    GaussianStatistics.from_features(features_a), GaussianStatistics.from_features(features_b)
  )


# --------------------------------------------------------------------------------------------------
# KID


def _as_features(features, name: str) -> jax.Array:
  x = jnp.asarray(features, jnp.float32)
  if x.ndim != 2 or x.shape[0] == 0:
    raise ValueError(f'{name} must be a non-empty [N, D] array, got shape {x.shape}.')
  return x


def _unbiased_mmd2(x: jax.Array, y: jax.Array) -> jax.Array:
  """Unbiased MMD² of x [m, D] and y [m, D] under k(u, v) = (u·v / D + 1)³:

  Σ_{i≠j} k(x_i, x_j) / (m(m-1)) + Σ_{i≠j} k(y_i, y_j) / (m(m-1)) - 2 Σ_{i,j} k(x_i, y_j) / m².
  """
  m, dim = x.shape

  def kernel(u, v):
    return (u @ v.T / dim + 1) ** 3

  def off_diagonal_sum(k):
    return jnp.sum(k) - jnp.trace(k)

  k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
  return (off_diagonal_sum(k_xx) + off_diagonal_sum(k_yy)) / (m * (m - 1)) - 2 * jnp.mean(k_xy)


@functools.partial(jax.jit, static_argnames='subset_size')
def _subset_mmd2(features_a, features_b, keys, subset_size: int) -> jax.Array:
  """MMD² [S] of one random subset pair (drawn without replacement) per key [S]."""

  def one_subset(key):
    key_a, key_b = jax.random.split(key)
    x = features_a[jax.random.choice(key_a, len(features_a), (subset_size,), replace=False)]
    y = features_b[jax.random.choice(key_b, len(features_b), (subset_size,), replace=False)]
    return _unbiased_mmd2(x, y)

  return jax.lax.map(one_subset, keys)


def kid(
  features_a, features_b, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
  """Kernel Inception Distance: mean and std, over ``num_subsets`` random subset pairs, of the
  unbiased MMD² (``_unbiased_mmd2``) with the cubic polynomial kernel k(u, v) = (u·v / D + 1)³.

  features_a [N, D], features_b [M, D]; each subset has m = min(subset_size, N, M) rows drawn
  without replacement from each set. The estimate is unbiased (0 in expectation, so it can be
  negative) when both sets come from one distribution. ``seed`` fixes the subsets.
  """
  a, b = _as_features(features_a, 'features_a'), _as_features(features_b, 'features_b')
  subset_size = min(subset_size, len(a), len(b))
  if subset_size < 2:
    raise ValueError('KID needs at least 2 samples in each set.')
  keys = jax.random.split(jax.random.key(seed), num_subsets)
  mmd2 = np.asarray(_subset_mmd2(a, b, keys, subset_size), np.float64)
  return float(mmd2.mean()), float(mmd2.std())


# --------------------------------------------------------------------------------------------------
# Classifier-based scores


@jax.jit
def _mean_kl_to_marginal(logits: jax.Array) -> jax.Array:
  """E_x KL(p(y|x) ‖ p(y)) for logits [N, K], in log space, with log p(y) as a log-mean-exp."""
  log_p = jax.nn.log_softmax(logits, axis=-1)
  log_marginal = jax.nn.logsumexp(log_p, axis=0) - jnp.log(log_p.shape[0])
  return jnp.mean(jnp.sum(jnp.exp(log_p) * (log_p - log_marginal), axis=-1))


def classifier_score(logits) -> float:
  """The Inception-score formula on a classifier's logits [N, K]:

      exp( E_x KL(p(y|x) ‖ p(y)) ),    p(y) = E_x p(y|x).

  1 when every prediction is the same, K when predictions are confident and spread evenly over K
  classes.
  """
  return float(jnp.exp(_mean_kl_to_marginal(jnp.asarray(logits, jnp.float32))))


def class_conditional_accuracy(logits, labels) -> float:
  """Fraction of samples made for ``labels`` [N] that the classifier (logits [N, K]) puts there."""
  return float(np.mean(np.argmax(np.asarray(logits), axis=-1) == np.asarray(labels)))


# --------------------------------------------------------------------------------------------------
# k-NN manifold metrics


def _to_blocks(x: jax.Array, block_size: int) -> jax.Array:
  """Pads x [N, ...] with zero rows to [ceil(N / block_size), block_size, ...]."""
  num_blocks = -(-x.shape[0] // block_size)
  padding = [(0, num_blocks * block_size - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
  return jnp.pad(x, padding).reshape(num_blocks, block_size, *x.shape[1:])


def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  """‖a_i - b_j‖² [n, m] for a [n, D] and b [m, D], as ‖a_i‖² - 2 a_i·b_j + ‖b_j‖² clipped at 0."""
  sq_a = jnp.sum(a * a, axis=1)[:, None]
  sq_b = jnp.sum(b * b, axis=1)[None, :]
  return jnp.maximum(sq_a - 2 * a @ b.T + sq_b, 0.0)


def _keep_smallest(carry: jax.Array, sq_distances: jax.Array, values: jax.Array) -> jax.Array:
  """carry [b, k]: the k smallest squared distances seen so far, ascending."""
  del values  # The k-NN fold needs no per-reference value.
  k = carry.shape[1]
  return -jax.lax.top_k(-jnp.concatenate([carry, sq_distances], axis=1), k)[0]


def _count_in_balls(carry: jax.Array, sq_distances: jax.Array, sq_radii: jax.Array) -> jax.Array:
  """carry [b]: how many references j seen so far satisfy ‖q - r_j‖² ≤ sq_radii[j]."""
  return carry + jnp.sum(sq_distances <= sq_radii[None, :], axis=1)


def _fold_over_references(
  queries, references, reference_values, init, *, reduce_fn, exclude_self: bool, batch_size: int
) -> jax.Array:
  """For each query, folds ``reduce_fn(carry, squared distances, values)`` over the references.

  queries [N, D], references [M, D], reference_values [M]; ``init`` is one query's initial carry,
  shape S. Queries and references go in blocks of b = min(batch_size, max(N, M)) rows: ``lax.map``
  over query blocks, ``lax.scan`` over reference blocks, so one step sees distances [b, b]. Padding
  references, and the pairs (i, i) when ``exclude_self`` (queries are the references), are at
  distance +inf. Returns the carries [N, *S].
  """
  return _fold_blocks(
    queries,
    references,
    reference_values,
    init,
    reduce_fn=reduce_fn,
    exclude_self=exclude_self,
    batch_size=min(batch_size, max(len(queries), len(references))),
  )


@functools.partial(jax.jit, static_argnames=('reduce_fn', 'exclude_self', 'batch_size'))
def _fold_blocks(
  queries, references, reference_values, init, *, reduce_fn, exclude_self: bool, batch_size: int
) -> jax.Array:
  """The jitted body of ``_fold_over_references``, for a block size that fits the inputs."""
  num_references = len(references)
  query_blocks = _to_blocks(queries, batch_size)
  query_ids = jnp.arange(query_blocks.shape[0] * batch_size).reshape(-1, batch_size)
  reference_blocks = _to_blocks(references, batch_size)
  reference_ids = jnp.arange(reference_blocks.shape[0] * batch_size).reshape(-1, batch_size)
  value_blocks = _to_blocks(reference_values, batch_size)

  def fold_query_block(query_block):
    block, ids = query_block

    def step(carry, reference_block):
      refs, ref_ids, values = reference_block
      ignored = jnp.broadcast_to(ref_ids[None, :] >= num_references, (batch_size, batch_size))
      if exclude_self:
        ignored = ignored | (ids[:, None] == ref_ids[None, :])
      sq_distances = jnp.where(ignored, jnp.inf, _squared_distances(block, refs))
      return reduce_fn(carry, sq_distances, values), None

    carry = jnp.broadcast_to(init, (batch_size, *init.shape))
    return jax.lax.scan(step, carry, (reference_blocks, reference_ids, value_blocks))[0]

  carries = jax.lax.map(fold_query_block, (query_blocks, query_ids))
  return carries.reshape(-1, *init.shape)[: len(queries)]


def _knn_sq_distances(
  queries, references, k: int, *, exclude_self: bool, batch_size: int
) -> jax.Array:
  """Squared distances [N, k] from each query to its k nearest references, ascending."""
  return _fold_over_references(
    queries,
    references,
    jnp.zeros(len(references)),
    jnp.full((k,), jnp.inf),
    reduce_fn=_keep_smallest,
    exclude_self=exclude_self,
    batch_size=batch_size,
  )


def _knn_sq_radii(features, k: int, batch_size: int) -> jax.Array:
  """Squared distance [N] from each row to its k-th nearest *other* row: NND_k(x_i)²."""
  if not 1 <= k < len(features):
    raise ValueError(
      f'k={k} must be in [1, {len(features)}) for a set of {len(features)} features.'
    )
  return _knn_sq_distances(features, features, k, exclude_self=True, batch_size=batch_size)[:, -1]


def _num_balls_containing(queries, centers, sq_radii, batch_size: int) -> jax.Array:
  """For each query [N]: the number of balls B(centers_i, radius_i) that contain it."""
  return _fold_over_references(
    queries,
    centers,
    sq_radii,
    jnp.zeros((), jnp.int32),
    reduce_fn=_count_in_balls,
    exclude_self=False,
    batch_size=batch_size,
  )


def _centred_pair(real_features, fake_features) -> tuple[jax.Array, jax.Array]:
  """Both sets [N, D], [M, D] minus the real mean: same distances, smaller float32 rounding."""
  real, fake = (
    _as_features(real_features, 'real_features'),
    _as_features(fake_features, 'fake_features'),
  )
  if real.shape[1] != fake.shape[1]:
    raise ValueError(
      f'feature dimensions differ: {real.shape[1]} (real) and {fake.shape[1]} (fake).'
    )
  centre = jnp.mean(real, axis=0)
  return real - centre, fake - centre


def precision_recall(
  real_features, fake_features, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
  """Improved precision and recall (Kynkäänniemi et al. 2019) of real [N, D] and fake [M, D].

  The manifold of a set X is ∪_i B(x_i, NND_k(x_i)), NND_k(x_i) the distance from x_i to its k-th
  nearest other point of X.
      precision = (1/M) Σ_j 1[fake_j ∈ manifold(real)]    (fake samples that look real)
      recall    = (1/N) Σ_i 1[real_i ∈ manifold(fake)]    (real samples the generator reaches)
  ``batch_size`` only sets the block size of the distance computations.
  """
  real, fake = _centred_pair(real_features, fake_features)
  in_real = _num_balls_containing(fake, real, _knn_sq_radii(real, k, batch_size), batch_size) > 0
  in_fake = _num_balls_containing(real, fake, _knn_sq_radii(fake, k, batch_size), batch_size) > 0
  return float(np.mean(np.asarray(in_real))), float(np.mean(np.asarray(in_fake)))


def density_coverage(
  real_features, fake_features, k: int = 5, batch_size: int = 1000
) -> tuple[float, float]:
  """Density and coverage (Naeem et al. 2020) of features real [N, D] and fake [M, D].

  With the real k-NN balls B_i = B(real_i, NND_k(real_i)):
      density  = 1/(kM) Σ_j Σ_i 1[fake_j ∈ B_i]      (≈ 1 when fake ~ real; above 1 when clustered)
      coverage = (1/N) Σ_i 1[∃ j: fake_j ∈ B_i]      (fraction of real neighbourhoods reached)
  ``batch_size`` only sets the block size of the distance computations.
  """
  real, fake = _centred_pair(real_features, fake_features)
  sq_radii = _knn_sq_radii(real, k, batch_size)
  counts = np.asarray(_num_balls_containing(fake, real, sq_radii, batch_size), np.int64)
  density = counts.sum() / (k * len(fake))
  nearest_fake = _knn_sq_distances(real, fake, 1, exclude_self=False, batch_size=batch_size)[:, 0]
  return float(density), float(np.mean(np.asarray(nearest_fake <= sq_radii)))
