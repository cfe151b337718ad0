"""Conditional GAN (Mirza & Osindero 2014): G(z, y) and D(x, y) both see the class label y.

The game is the GAN's (``gans.methods.gan``, whose step it runs with ``conditions = ('label',)``) with
p_data(x | y) in place of p_data(x):

    L_D = E_{x,y}[ℓ_real(D(x, y))] + E_{z,y}[ℓ_fake(D(G(z, y), y))],   L_G = E_{z,y}[ℓ_G(D(G(z, y), y))]

During training the fakes take the labels of the real batch (so p(y) is the data's class frequencies).
``config.model.generator`` is any generator of a latent vector, wrapped in ``ConditionalGenerator``;
``config.model.discriminator`` is a trunk (images -> features), wrapped in ``ConditionalDiscriminator``
(label embedding concatenated to the input, or a projection head with ``model.projection=True``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gans import nets
from gans.methods import gan
from gans.state import GameState

check_config = gan.check_config


def cycled_labels(num: int, num_classes: int) -> jax.Array:
  """0, 1, ..., K-1, 0, 1, ...: int32 [num]."""
  return jnp.arange(num, dtype=jnp.int32) % num_classes


class ConditionalGAN(gan.GAN):
  """Players ``g`` and ``d`` of ``gan.GAN`` with the class label as the condition of both nets."""

  conditions = ('label',)

  def __init__(self, config, image_shape, num_classes):
    super().__init__(config, image_shape, num_classes)
    model = config.model
    self.generator = nets.conditional.ConditionalGenerator(
      generator=self.generator,
      num_classes=num_classes,
      embed_dim=model.embed_dim,
      dtype=model.dtype,
    )
    self.discriminator = nets.conditional.ConditionalDiscriminator(
      trunk=self.discriminator,
      num_classes=num_classes,
      embed_dim=model.embed_dim,
      projection=model.projection,
      dtype=model.dtype,
    )

  def latents(self, rng, num, label=None):
    """``{'z': [num, z_dim] ~ N(0, I), 'label': int32 [num]}``; labels cycle over the classes when
    not given, so ``generate(state, rng, num)`` draws every class equally often."""
    if label is None:
      label = cycled_labels(num, self.num_classes)
    return super().latents(rng, num, label=jnp.asarray(label, jnp.int32))

  def class_samples(self, state: GameState, rng, num: int) -> tuple[jax.Array, jax.Array]:
    """``num`` samples [num, H, W, C] and the labels int32 [num] they were generated for (every class
    equally often), for the evaluator's class-conditional accuracy."""
    labels = cycled_labels(num, self.num_classes)
    return self.generate(state, rng, num, label=labels), labels

  def traversals(self, state: GameState, rng, *, cols: int = 10):
    """``classes`` [K, cols, H, W, C]: row y holds G(z_j, y) for the same ``cols`` noises z_j."""
    z = super().latents(rng, cols)['z']
    latents = {
      'z': jnp.tile(z, (self.num_classes, 1)),
      'label': jnp.repeat(jnp.arange(self.num_classes, dtype=jnp.int32), cols),
    }
    images = self.decode(state, latents)
    return {'classes': images.reshape((self.num_classes, cols, *images.shape[1:]))}

  def figures(self, state: GameState, batch, rng):
    del batch
    return self.traversals(state, rng)
