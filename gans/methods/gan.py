"""GANs with one generator ``g`` and one discriminator ``d``: the vanilla GAN, its loss variants (DCGAN,
LSGAN, WGAN, WGAN-GP, hinge, relativistic) and, with the class label as a condition, the conditional GAN
(``gans.methods.cgan``).

    L_D = E_x[ℓ_real(D(x))] + E_z[ℓ_fake(D(G(z)))] + λ·P(D),    L_G = E_z[ℓ_G(D(G(z)))]

``config.loss.name`` picks (ℓ_D, ℓ_G) in ``adversarial.ADVERSARIAL_LOSSES``; ``loss.penalty_weight`` is λ
for the penalty P of ``loss.penalty_kind``; ``loss.clip`` is WGAN's weight clipping. The step is
``adversarial.alternate`` (n_critic D updates per G update, or one G forward with ``reuse_fakes``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gans import nets
from gans.methods import adversarial, base
from gans.state import GameState


def check_config(config) -> None:
  adversarial.check_method_config(config.method)
  adversarial.check_loss_config(config.loss, config.method.name)


class GAN:
  """Players ``g`` (latents -> images) and ``d`` (images -> scores [B]).

  ``conditions`` names the data arrays that condition both nets (none here; the conditional GAN's is
  ``('label',)``): G is called as G(z, *conditions) and D as D(x, *conditions); during training the
  fakes take the conditions of the real batch.
  """

  conditions: tuple[str, ...] = ()

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.image_shape = tuple(image_shape)
    self.num_classes = num_classes
    self.inputs = ('image', *self.conditions)
    self.batches_per_step = config.method.n_critic
    model = config.model
    self.generator = nets.build(
      model.generator, image_shape=self.image_shape, dtype=model.dtype, **model.generator_kwargs
    )
    self.discriminator = nets.build(
      model.discriminator, dtype=model.dtype, **model.discriminator_kwargs
    )
    self.loss = adversarial.ADVERSARIAL_LOSSES[config.loss.name](config.loss)

  def latents(self, rng, num: int, **conditions) -> dict[str, jax.Array]:
    """``{'z': [num, z_dim] ~ N(0, I), **conditions}``."""
    z = jax.random.normal(rng, (num, self.config.model.z_dim), jnp.float32)
    return {'z': z, **conditions}

  def _g_inputs(self, latents) -> tuple:
    return (latents['z'], *(latents[name] for name in self.conditions))

  def _d_inputs(self, images, conditions: dict) -> tuple:
    return (images, *(conditions[name] for name in self.conditions))

  def init(self, rng, batch) -> GameState:
    example = jax.tree.map(lambda x: x[:2], batch)
    conditions = {name: example[name] for name in self.conditions}
    return adversarial.init_game(
      self.config,
      rng,
      self.generator,
      lambda g_rng: self._g_inputs(self.latents(g_rng, 2, **conditions)),
      self.discriminator,
      self._d_inputs(example['image'], example),
    )

  def train_step(self, state: GameState, batch):
    """One step of the game on ``batch`` name -> [n_critic, B, ...]."""
    rng = state.step_rng()
    g, d = state.players['g'], state.players['d']

    def fakes_fn(params, data, rng):
      conditions = {name: data[name] for name in self.conditions}
      latents = self.latents(rng, data['image'].shape[0], **conditions)
      fakes, g_stats = base.apply_train(g, params, *self._g_inputs(latents))
      return fakes, (latents, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      real_inputs = self._d_inputs(data['image'], data)
      fake_inputs = self._d_inputs(fakes, latents)
      return adversarial.critic_loss(
        self.loss, self.config.loss, d, params, real_inputs, fake_inputs, rng
      )

    def g_loss_fn(fakes, d, data, latents):
      fake_inputs = self._d_inputs(fakes, latents)
      return adversarial.generator_loss(
        self.loss, d, fake_inputs, self._d_inputs(data['image'], data)
      )

    method = self.config.method
    g, d, metrics = adversarial.alternate(
      g, d, batch, rng, fakes_fn, d_loss_fn, g_loss_fn, method, self.config.loss.clip
    )
    return adversarial.advance(state, g, d, method), metrics

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(latents) in inference mode with the EMA copy when kept: [num, H, W, C]."""
    return base.apply_inference(state, 'g', *self._g_inputs(latents))

  def generate(self, state: GameState, rng, num, **conditions):
    """``num`` samples [num, H, W, C]."""
    return self.decode(state, self.latents(rng, num, **conditions))

  def eval_step(self, state: GameState, batch, rng):
    """D's loss and mean scores (inference mode) on held-out real images against as many samples."""
    conditions = {name: batch[name] for name in self.conditions}
    latents = self.latents(rng, batch['image'].shape[0], **conditions)
    fakes = self.decode(state, latents)
    d = state.players['d']
    real_scores = base.apply_eval(d, *self._d_inputs(batch['image'], batch))
    fake_scores = base.apply_eval(d, *self._d_inputs(fakes, latents))
    return {
      **base.scalar_metrics(d_loss=self.loss.d_loss(real_scores, fake_scores)),
      **adversarial.score_metrics(self.loss, real_scores, fake_scores),
    }

  def figures(self, state: GameState, batch, rng):
    del state, batch, rng  # Sample grids are written by the trainer for every method.
    return {}
