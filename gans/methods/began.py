"""BEGAN (Berthelot, Schumm & Metz 2017): an autoencoder discriminator and a proportional controller.

With the autoencoder loss L(v) = E|v - D(v)| (D reconstructs its input):

    L_D = L(x) - k_t · L(G(z)),    L_G = L(G(z)),
    k_{t+1} = clip(k_t + λ_k (γ L(x) - L(G(z))), 0, 1),    M_global = L(x) + |γ L(x) - L(G(z))|

k_t lives in ``state.aux['k']`` (k_0 = 0) and is updated once per step from that step's D losses;
γ = ``loss.gamma`` (diversity ratio), λ_k = ``loss.lambda_k``. Players ``g`` (``BEGANDecoder``) and
``d`` (``BEGANAutoencoder``); the step is the GAN's (``gans.methods.gan``) with these terms.
"""

from __future__ import annotations

import jax.numpy as jnp

from gans import losses
from gans.methods import base, gan


class BEGAN(gan.GAN):
  def _setup_loss(self, cfg):
    if cfg.name != 'began':
      raise ValueError(f"config.loss.name={cfg.name!r}: method began uses loss.name='began'.")
    if not 0 < cfg.gamma <= 1 or cfg.lambda_k < 0:
      raise ValueError(
        f'config.loss.gamma={cfg.gamma} must be in (0, 1] and loss.lambda_k={cfg.lambda_k} >= 0.'
      )
    if cfg.gradient_penalty or cfg.clip:
      raise ValueError('method began takes no gradient penalty or weight clipping.')
    self.g_uses_real = False

  def _initial_aux(self):
    return {'k': jnp.zeros((), jnp.float32)}

  def _critic_terms(self, real, fake, real_out, fake_out, latents, aux):
    del latents
    real_loss = losses.began_autoencoder_loss(real, real_out)
    fake_loss = losses.began_autoencoder_loss(fake, fake_out)
    loss = losses.began_discriminator_loss(real_loss, fake_loss, aux['k'])
    return loss, base.scalar_metrics(
      d_loss=loss,
      real_ae_loss=real_loss,
      fake_ae_loss=fake_loss,
      m_global=losses.began_convergence_measure(real_loss, fake_loss, gamma=self.loss_config.gamma),
    )

  def _generator_terms(self, fake, fake_out, real_out, latents):
    del real_out, latents
    loss = losses.began_autoencoder_loss(fake, fake_out)
    return loss, base.scalar_metrics(g_loss=loss)

  def _next_aux(self, aux, d_metrics):
    k = losses.began_k_update(
      aux['k'],
      d_metrics['real_ae_loss'],
      d_metrics['fake_ae_loss'],
      gamma=self.loss_config.gamma,
      lambda_k=self.loss_config.lambda_k,
    )
    return {**aux, 'k': k}, base.scalar_metrics(k=k)
