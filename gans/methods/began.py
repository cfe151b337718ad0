"""BEGAN (Berthelot, Schumm & Metz 2017): an autoencoder discriminator and a proportional controller.

With the autoencoder loss L(v) = E|v - D(v)| (D reconstructs its input):

    L_D = L(x) - k_t · L(G(z)),    L_G = L(G(z)),
    k_{t+1} = clip(k_t + λ_k (γ L(x) - L(G(z))), 0, 1),    M_global = L(x) + |γ L(x) - L(G(z))|

k_t lives in ``state.carry['k']`` (k_0 = 0) and is updated once per step from that step's D losses;
γ = ``loss.gamma`` (diversity ratio), λ_k = ``loss.lambda_k``. Players ``g`` (any generator of z) and
``d`` (an autoencoder, ``BEGANAutoencoder``); the step is the two-player game's
(``adversarial.alternate``) with these losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import adversarial, base
from gans.state import GameState


def loss_config(gamma: float = 0.5, lambda_k: float = 1e-3) -> ml_collections.ConfigDict:
  """``config.loss``: γ, the diversity ratio L(G(z)) / L(x) at equilibrium, and λ_k, k_t's gain."""
  return ml_collections.ConfigDict(dict(name='began', gamma=gamma, lambda_k=lambda_k))


def check_config(config) -> None:
  adversarial.check_method_config(config.method)
  cfg = config.loss
  if cfg.name != 'began':
    raise ValueError(f"config.loss.name={cfg.name!r}: method began uses loss.name='began'.")
  if not 0 < cfg.gamma <= 1 or cfg.lambda_k < 0:
    raise ValueError(
      f'config.loss.gamma={cfg.gamma} must be in (0, 1] and loss.lambda_k={cfg.lambda_k} >= 0.'
    )


class BEGAN:
  """Players ``g`` (z -> images) and ``d`` (images -> reconstructions); ``state.carry['k']``."""

  inputs = ('image',)

  def __init__(self, config, image_shape, num_classes):
    del num_classes
    self.config = config
    self.batches_per_step = config.method.n_critic
    model = config.model
    self.generator = nets.build(
      model.generator, image_shape=tuple(image_shape), dtype=model.dtype, **model.generator_kwargs
    )
    self.discriminator = nets.build(
      model.discriminator, dtype=model.dtype, **model.discriminator_kwargs
    )

  def latents(self, rng, num):
    """``{'z': [num, z_dim] ~ N(0, I)}``."""
    return {'z': jax.random.normal(rng, (num, self.config.model.z_dim), jnp.float32)}

  def _critic_terms(self, real, fakes, real_outputs, fake_outputs, k):
    """L_D = L(x) - k_t L(G(z)) from D's reconstructions -> (loss, metrics)."""
    real_loss = losses.began_autoencoder_loss(real, real_outputs)
    fake_loss = losses.began_autoencoder_loss(fakes, fake_outputs)
    loss = losses.began_discriminator_loss(real_loss, fake_loss, k)
    return loss, base.scalar_metrics(
      d_loss=loss,
      real_ae_loss=real_loss,
      fake_ae_loss=fake_loss,
      m_global=losses.began_convergence_measure(real_loss, fake_loss, gamma=self.config.loss.gamma),
    )

  def init(self, rng, batch) -> GameState:
    return adversarial.init_game(
      self.config,
      rng,
      self.generator,
      lambda g_rng: (self.latents(g_rng, 2)['z'],),
      self.discriminator,
      (batch['image'][:2],),
      carry={'k': jnp.zeros((), jnp.float32)},
    )

  def train_step(self, state: GameState, batch):
    """One step of the game, then k_{t+1} from the step's (mean) D losses."""
    rng = state.step_rng()
    g, d, k = state.players['g'], state.players['d'], state.carry['k']

    def fakes_fn(params, data, rng):
      latents = self.latents(rng, data['image'].shape[0])
      fakes, g_stats = base.apply_train(g, params, latents['z'])
      return fakes, (latents, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      del latents, rng
      real_outputs, fake_outputs, stats = adversarial.discriminate(
        d, params, (data['image'],), (fakes,)
      )
      loss, metrics = self._critic_terms(data['image'], fakes, real_outputs, fake_outputs, k)
      return loss, (stats, metrics)

    def g_loss_fn(fakes, d, data, latents):
      del data, latents
      loss = losses.began_autoencoder_loss(fakes, base.apply_train(d, d.params, fakes)[0])
      return loss, base.scalar_metrics(g_loss=loss)

    method = self.config.method
    g, d, metrics = adversarial.alternate(g, d, batch, rng, fakes_fn, d_loss_fn, g_loss_fn, method)
    k = losses.began_k_update(
      k,
      metrics['real_ae_loss'],
      metrics['fake_ae_loss'],
      gamma=self.config.loss.gamma,
      lambda_k=self.config.loss.lambda_k,
    )
    return adversarial.advance(state, g, d, method, k=k), {**metrics, **base.scalar_metrics(k=k)}

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(latents) in inference mode with the EMA copy when kept: [num, H, W, C]."""
    return base.apply_inference(state, 'g', latents['z'])

  def generate(self, state: GameState, rng, num):
    """``num`` samples [num, H, W, C]."""
    return self.decode(state, self.latents(rng, num))

  def eval_step(self, state: GameState, batch, rng):
    """D's loss terms (inference mode) on held-out real images against as many samples."""
    fakes = self.generate(state, rng, batch['image'].shape[0])
    d = state.players['d']
    real_outputs, fake_outputs = base.apply_eval(d, batch['image']), base.apply_eval(d, fakes)
    return self._critic_terms(batch['image'], fakes, real_outputs, fake_outputs, state.carry['k'])[
      1
    ]

  def figures(self, state: GameState, batch, rng):
    del state, batch, rng  # Sample grids are written by the trainer for every method.
    return {}
