"""GAN-CLS's other objectives: the matching loss that pre-trains the text encoder, and the inverse net's.

Its discriminator loss is ``conditional.matching_aware_discriminator_loss``; G's is the non-saturating
loss on D(G(z, h), h) (``adversarial.nonsaturating_generator_loss``).
"""

import chex
import jax
import jax.numpy as jnp

from gans.losses._common import Array, Weights, as_float, per_example_sum, weighted_mean


def symmetric_contrastive_loss(
  image_embeddings: Array, text_embeddings: Array, *, temperature: float = 0.1
) -> Array:
  """½ [CE(softmax_j(s_ij), i) + CE(softmax_i(s_ij), j)] averaged over the batch, s = u vᵀ / τ.

  The symmetric InfoNCE of CLIP (Radford et al. 2021), a joint embedding of matching image-text pairs
  in the spirit of Reed et al.'s structured joint embedding (2016): pair i of the batch is the positive,
  the other B - 1 of each row and column the negatives.

  Args:
    image_embeddings: `[B, D]` u_i (unit norm for cosine similarities).
    text_embeddings: `[B, D]` v_i of the matching captions.
    temperature: τ > 0.
  """
  chex.assert_rank(image_embeddings, 2)
  chex.assert_equal_shape([image_embeddings, text_embeddings])
  logits = as_float(image_embeddings) @ as_float(text_embeddings).T / temperature
  diagonal = jnp.diagonal(logits)
  rows = jax.nn.logsumexp(logits, axis=1) - diagonal
  cols = jax.nn.logsumexp(logits, axis=0) - diagonal
  return 0.5 * (jnp.mean(rows) + jnp.mean(cols))


def latent_regression_loss(latents: Array, predictions: Array, *, weights: Weights = None) -> Array:
  """E‖z - S(G(z, h))‖²₂ (summed over the latent's dimensions): the inverse net S of style transfer.

  Args:
    latents: `[B, Z]` the z G was given.
    predictions: `[B, Z]` S of G's samples.
    weights: optional `[B]` example weights.
  """
  chex.assert_equal_shape([latents, predictions])
  return weighted_mean(
    per_example_sum(jnp.square(as_float(latents) - as_float(predictions))), weights
  )
