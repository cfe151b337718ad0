"""Unconditional GANs: one generator, one discriminator, an adversarial loss chosen by name.

Step (Goodfellow et al. 2014, Algorithm 1, with ``n_critic`` discriminator updates per generator update):

    for each of the n_critic real batches x:   z ~ N(0, I);  d <- d - ∇_d L_D(D(x), D(G(z)))
    z ~ N(0, I);  g <- g - ∇_g L_G(D(G(z)))
    ema_g <- decay·ema_g + (1 - decay)·g               (when ema_decay > 0)

Vanilla, DCGAN, LSGAN, WGAN, ... differ only in nets (``config.model``) and loss (``config.loss``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gans import losses, nets
from gans.methods import base
from gans.optim import make_optimizer
from gans.state import GameState

# loss.name -> (discriminator loss(real_logits, fake_logits), generator loss(fake_logits)).
ADVERSARIAL_LOSSES = {
  'nonsaturating': (losses.minimax_discriminator_loss, losses.nonsaturating_generator_loss),
  'minimax': (losses.minimax_discriminator_loss, losses.minimax_generator_loss),
}


class GAN:
  """Players ``g`` and ``d``; ``config.method.n_critic`` D updates per G update."""

  def __init__(self, config, image_shape, num_classes):
    del num_classes  # Unconditional.
    self.config = config
    self.z_dim = config.model.z_dim
    self.generator = nets.build(
      config.model.generator,
      image_shape=tuple(image_shape),
      dtype=config.model.dtype,
      **config.model.generator_kwargs,
    )
    self.discriminator = nets.build(
      config.model.discriminator, dtype=config.model.dtype, **config.model.discriminator_kwargs
    )
    if config.loss.name not in ADVERSARIAL_LOSSES:
      raise ValueError(
        f'unknown config.loss.name={config.loss.name!r} for method gan; use one of '
        f'{", ".join(ADVERSARIAL_LOSSES)}.'
      )
    self.d_loss_fn, self.g_loss_fn = ADVERSARIAL_LOSSES[config.loss.name]
    self.n_critic = config.method.n_critic
    self.batches_per_step = self.n_critic
    self.ema_decay = config.method.ema_decay

  def _noise(self, rng, num):
    return jax.random.normal(rng, (num, self.z_dim), jnp.float32)

  def init(self, rng, batch) -> GameState:
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    images = batch['image'][:2]
    players = {
      'g': base.init_player(
        self.generator, make_optimizer(self.config.optim.g), g_rng, self._noise(g_rng, 2)
      ),
      'd': base.init_player(self.discriminator, make_optimizer(self.config.optim.d), d_rng, images),
    }
    return GameState.create(state_rng, players, ema_players=('g',) if self.ema_decay else ())

  def _d_update(self, g, d, real, rng):
    fake, _ = base.apply_train(g, g.params, self._noise(rng, real.shape[0]))
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(params):
      real_logits, stats = base.apply_train(d, params, real)
      fake_logits, stats = base.apply_train(d.replace(batch_stats=stats), params, fake)
      return self.d_loss_fn(real_logits, fake_logits), (stats, real_logits, fake_logits)

    (loss, (stats, real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      d.params
    )
    metrics = base.scalar_metrics(
      d_loss=loss,
      d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
      d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)),
    )
    return base.update_player(d, grads, stats), metrics

  def _g_update(self, g, d, rng, num):
    z = self._noise(rng, num)

    def loss_fn(params):
      fake, g_stats = base.apply_train(g, params, z)
      fake_logits, _ = base.apply_train(d, d.params, fake)
      return self.g_loss_fn(fake_logits), g_stats

    (loss, g_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
    return base.update_player(g, grads, g_stats), base.scalar_metrics(g_loss=loss)

  def train_step(self, state: GameState, batch):
    real = batch['image'] if self.n_critic > 1 else batch['image'][None]
    rng = state.step_rng()
    g, d = state.players['g'], state.players['d']

    def critic_iteration(d, inputs):
      real_k, k = inputs
      return self._d_update(g, d, real_k, jax.random.fold_in(rng, k))

    d, d_metrics = jax.lax.scan(critic_iteration, d, (real, jnp.arange(self.n_critic)))
    g, g_metrics = self._g_update(g, d, jax.random.fold_in(rng, self.n_critic), real.shape[1])
    state = state.replace(step=state.step + 1, players={'g': g, 'd': d})
    if self.ema_decay:
      state = state.update_ema(self.ema_decay)
    return state, {**jax.tree.map(jnp.mean, d_metrics), **g_metrics}

  def generate(self, state: GameState, rng, num):
    return base.apply_eval(state.players['g'], self._noise(rng, num), params=state.ema.get('g'))

  def eval_step(self, state: GameState, batch, rng):
    """Discriminator loss and mean D(x), D(G(z)) on held-out real images (inference mode)."""
    real = batch['image']
    fake = self.generate(state, rng, real.shape[0])
    real_logits = base.apply_eval(state.players['d'], real)
    fake_logits = base.apply_eval(state.players['d'], fake)
    return base.scalar_metrics(
      d_loss=self.d_loss_fn(real_logits, fake_logits),
      d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
      d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)),
    )

  def figures(self, state: GameState, batch, rng):
    del state, batch, rng  # Sample grids are written by the trainer for every method.
    return {}
