"""InfoGAN (Chen et al. 2016): a GAN whose latent codes c are kept recoverable from G(z, c).

Latents: z ~ N(0, I) [62], c_cat ~ Cat(K = 10) (one-hot into G), c_cont ~ U(-1, 1)^L (L = 2). D and the
recognition net Q share a trunk (one player ``d``, ``gans.nets.infogan``). Both players add λ times the
negative log-likelihood of the codes under Q to their GAN loss (the variational bound L_I of I(c; G(z, c))):

    L_info = CE(Q_cat(G(z, c)), c_cat) + λ_cont · (-log N(c_cont; Q_cont(G(z, c)), I))
    L_D,Q  = L_D + λ L_info,    L_G = L_G + λ L_info         (λ = loss.info_weight = 1)

``code_accuracy`` scores Q's categorical code as a classifier of the real labels after the best
one-to-one matching of codes to classes (the paper reports ~5 % error on MNIST).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gans import losses, nets
from gans.methods import base, gan
from gans.state import GameState


def best_matching_accuracy(predictions, labels, num_classes: int) -> float:
  """max over bijections π of mean(π(predictions) == labels), for codes and labels in [0, K).

  The assignment is solved exactly by dynamic programming over subsets of classes: best[S] is the
  most agreements when codes 0..|S|-1 are matched to the classes in S, so
  best[S] = max_{y ∈ S} best[S \\ {y}] + C[|S| - 1, y] with C the [K, K] contingency table;
  O(2^K · K) steps (K = 10: ~10^4).
  """
  predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
  counts = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(counts, (predictions, labels), 1)
  best = np.full(1 << num_classes, -1, np.int64)
  best[0] = 0
  for subset in range(1, 1 << num_classes):
    code = bin(subset).count('1') - 1
    best[subset] = max(
      best[subset & ~(1 << y)] + counts[code, y] for y in range(num_classes) if subset >> y & 1
    )
  return float(best[-1]) / len(labels)


class InfoGAN(gan.GAN):
  """Players ``g`` and ``d`` (D and Q on a shared trunk); ``config.model`` names the categorical and
  continuous code sizes (``num_categories``, ``num_continuous``)."""

  def __init__(self, config, image_shape, num_classes):
    self.num_categories = config.model.num_categories
    self.num_continuous = config.model.num_continuous
    self.info_weight = config.loss.info_weight
    self.continuous_weight = config.loss.continuous_weight
    super().__init__(config, image_shape, num_classes)

  def _build_discriminator(self, model):
    return nets.build(
      model.discriminator,
      num_categories=self.num_categories,
      num_continuous=self.num_continuous,
      dtype=model.dtype,
      **model.discriminator_kwargs,
    )

  def latents(self, rng, num, labels=None):
    """``{'z': [num, z_dim] ~ N(0, I), 'category': int32 [num] ~ Cat(K), 'continuous': [num, L] ~
    U(-1, 1)}``; ``labels`` sets the categorical code (InfoGAN never sees the data's labels)."""
    z_rng, cat_rng, cont_rng = jax.random.split(rng, 3)
    if labels is None:
      labels = jax.random.randint(cat_rng, (num,), 0, self.num_categories)
    continuous = jax.random.uniform(cont_rng, (num, self.num_continuous), minval=-1.0, maxval=1.0)
    return {
      **super().latents(z_rng, num),
      'category': jnp.asarray(labels, jnp.int32),
      'continuous': continuous,
    }

  def _generator_inputs(self, latents):
    one_hot = jax.nn.one_hot(latents['category'], self.num_categories)
    return (jnp.concatenate([latents['z'], one_hot, latents['continuous']], axis=-1),)

  def _scores(self, outputs):
    logits, code_logits, code_means = outputs
    return logits, (code_logits, code_means)

  def _auxiliary_loss(self, fake_heads, latents):
    code_logits, code_means = fake_heads
    categorical = losses.infogan_categorical_loss(code_logits, latents['category'])
    continuous = losses.infogan_continuous_loss(code_means, latents['continuous'])
    metrics = base.scalar_metrics(
      info_categorical=categorical,
      info_continuous=continuous,
      code_accuracy_fake=jnp.mean(jnp.argmax(code_logits, -1) == latents['category']),
    )
    return self.info_weight * (categorical + self.continuous_weight * continuous), metrics

  def predict_codes(self, state: GameState, images) -> jax.Array:
    """Q's categorical code for ``images`` [B, H, W, C] (inference mode): int32 [B]."""
    _, code_logits, _ = base.apply_eval(state.players['d'], images)
    return jnp.argmax(code_logits, axis=-1)

  def code_accuracy(self, state: GameState, images, labels, *, batch_size: int = 500) -> float:
    """Accuracy of Q's categorical code on real ``images`` [N, H, W, C] against ``labels`` [N] after the
    best one-to-one matching of codes to classes (``best_matching_accuracy``)."""
    predict = jax.jit(self.predict_codes)
    predictions = np.concatenate(
      [
        np.asarray(predict(state, images[start : start + batch_size]))
        for start in range(0, len(images), batch_size)
      ]
    )
    return best_matching_accuracy(predictions, labels, max(self.num_categories, self.num_classes))

  def traversals(self, state: GameState, rng, *, cols: int = 10, span: float = 2.0):
    """``code_<j>`` [K, cols, H, W, C] per continuous code j: row k fixes the category to k, columns sweep
    c_j over [-span, span] (the paper goes past the prior's [-1, 1]); z and the other codes are fixed."""
    z = super().latents(rng, 1)['z']
    sweep = jnp.linspace(-span, span, cols)
    figures = {}
    for j in range(self.num_continuous):
      continuous = (
        jnp.zeros((self.num_categories * cols, self.num_continuous))
        .at[:, j]
        .set(jnp.tile(sweep, self.num_categories))
      )
      latents = {
        'z': jnp.tile(z, (self.num_categories * cols, 1)),
        'category': jnp.repeat(jnp.arange(self.num_categories, dtype=jnp.int32), cols),
        'continuous': continuous,
      }
      images = self.decode(state, latents)
      figures[f'code_{j}'] = images.reshape((self.num_categories, cols, *images.shape[1:]))
    return figures

  def figures(self, state: GameState, batch, rng):
    del batch
    return self.traversals(state, rng)
