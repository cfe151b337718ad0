"""The semi-supervised GAN's objectives: a K-class discriminator with the fake class as class K+1.

Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016, Sec. 3.1 and 5. D outputs K
logits l_1..l_K; the fake class K+1 has the logit l_{K+1} = 0 (a softmax is unchanged by subtracting
one logit from all of them, so fixing it loses nothing). With Z(x) = Σ_k exp l_k(x),

    p(y = k | x) = exp l_k / (Z + 1),   D(x) = p(y ≤ K | x) = Z / (Z + 1) = sigmoid(log Z(x)),

so the K logits' log-sum-exp is the logit of a real/fake discriminator:

    L_supervised   = -E_{x,y ~ labelled}[log p(y | x, y ≤ K)]           (K-way cross-entropy)
    L_unsupervised = -E_{x ~ data}[log D(x)] - E_z[log(1 - D(G(z)))]     (the GAN's, on log Z)

and G minimises feature matching, ‖E_x f(x) − E_z f(G(z))‖² / F, for D's intermediate features f [F].
"""

import chex
import jax
import jax.numpy as jnp

from gans.losses._common import Array, PairWeights, Weights, as_float
from gans.losses.adversarial import minimax_discriminator_loss
from gans.losses.infogan import infogan_categorical_loss


def real_logit(class_logits: Array) -> Array:
  """log Z(x) = log Σ_k exp l_k: the logit of D(x) = p(y ≤ K | x) for K class logits `[B, K]` -> `[B]`."""
  return jax.nn.logsumexp(as_float(class_logits), axis=-1)


def supervised_class_loss(class_logits: Array, labels: Array, *, weights: Weights = None) -> Array:
  """-E[log p(y | x, y ≤ K)]: the K-way softmax cross-entropy of labelled real images (the fake class
  drops out when conditioning on y ≤ K). The same arithmetic as ``infogan_categorical_loss``.

  Args:
    class_logits: `[B, K]` D's logits l_1..l_K.
    labels: `[B]` integer classes in [0, K).
    weights: optional `[B]` example weights.
  """
  return infogan_categorical_loss(class_logits, labels, weights=weights)


def semi_supervised_discriminator_loss(
  real_class_logits: Array, fake_class_logits: Array, *, weights: PairWeights = None
) -> Array:
  """L_unsupervised = -E_x[log D(x)] - E_z[log(1 - D(G(z)))] with D = sigmoid(log Z) (module docstring):
  E[softplus(-log Z(x))] + E[softplus(log Z(G(z)))].

  Args:
    real_class_logits: `[B, K]` D's class logits on unlabelled data.
    fake_class_logits: `[B', K]` on samples.
    weights: None, one `[B]` array, or a `(real_weights, fake_weights)` pair.
  """
  chex.assert_rank([real_class_logits, fake_class_logits], 2)
  return minimax_discriminator_loss(
    real_logit(real_class_logits), real_logit(fake_class_logits), weights=weights
  )


def feature_matching_loss(real_features: Array, fake_features: Array) -> Array:
  """‖mean_B f(x) − mean_B' f(G(z))‖² / F for features `[B, F]` and `[B', F]`: G's objective of feature
  matching (Salimans et al. 2016, Sec. 3.1), the squared distance of the batch means per feature."""
  chex.assert_rank([real_features, fake_features], 2)
  chex.assert_equal_shape_suffix([real_features, fake_features], 1)
  gap = jnp.mean(as_float(real_features), axis=0) - jnp.mean(as_float(fake_features), axis=0)
  return jnp.mean(gap * gap)
