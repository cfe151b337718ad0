"""Variational and plain autoencoders: players ``encoder`` and ``decoder``, no adversary.

VAE (Kingma & Welling 2014), per example x:

    (μ, log σ²) = E(x);   z = μ + σ·ε, ε ~ N(0, I)          (reparameterisation)
    -ELBO(x)   = -log p(x | D(z)) + β·KL(N(μ, σ²) ‖ N(0, I))

with a Bernoulli (pixel logits) or Gaussian (mean sigmoid(D(z)), fixed scale) likelihood and the analytic
KL. The AE uses the same nets with z = μ and no KL term.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import base, steps
from gans.optim import make_optimizer
from gans.state import GameState

LIKELIHOODS = ('bernoulli', 'gaussian')


def loss_config(
  likelihood: str = 'bernoulli', beta: float = 1.0, gaussian_log_scale: float = -2.0
) -> ml_collections.ConfigDict:
  """``config.loss``: the likelihood p(x | z), β of the KL term (the AE ignores it) and the fixed
  log-scale of the Gaussian likelihood."""
  return ml_collections.ConfigDict(
    dict(likelihood=likelihood, beta=beta, gaussian_log_scale=gaussian_log_scale)
  )


def check_config(config) -> None:
  if config.loss.likelihood not in LIKELIHOODS:
    raise ValueError(
      f"config.loss.likelihood={config.loss.likelihood!r}: use 'bernoulli' or 'gaussian'."
    )
  if config.loss.beta < 0:
    raise ValueError(f'config.loss.beta={config.loss.beta} must be >= 0.')


class VAE:
  """Players ``encoder`` (x -> (μ, log σ²)) and ``decoder`` (z -> pixel logits)."""

  inputs = ('image',)
  batches_per_step = 1
  variational = True

  def __init__(self, config, image_shape, num_classes):
    del num_classes
    self.config = config
    self.latent_dim = config.model.latent_dim
    self.encoder = nets.build(
      config.model.encoder,
      latent_dim=self.latent_dim,
      dtype=config.model.dtype,
      **config.model.encoder_kwargs,
    )
    self.decoder = nets.build(
      config.model.decoder,
      image_shape=tuple(image_shape),
      dtype=config.model.dtype,
      **config.model.decoder_kwargs,
    )

  def init(self, rng, batch) -> GameState:
    e_rng, d_rng, state_rng = jax.random.split(rng, 3)
    images = batch['image'][:2]
    players = {
      'encoder': base.init_player(
        self.encoder, make_optimizer(self.config.optim.encoder), e_rng, images
      ),
      'decoder': base.init_player(
        self.decoder,
        make_optimizer(self.config.optim.decoder),
        d_rng,
        jnp.zeros((2, self.latent_dim)),
      ),
    }
    return GameState.create(state_rng, players)

  def _log_likelihood(self, logits, images):
    if self.config.loss.likelihood == 'bernoulli':
      return losses.bernoulli_log_likelihood(logits, images)
    return losses.gaussian_log_likelihood(
      jax.nn.sigmoid(logits), images, log_scale=self.config.loss.gaussian_log_scale
    )

  def _loss_terms(self, images, rng, encode, decode):
    """-ELBO (or the reconstruction loss) of ``images`` [B, H, W, C] -> (loss, (batch_stats, metrics)),
    with the nets as ``encode``: images -> ((μ, log σ²), encoder batch_stats) and ``decode``: z ->
    (logits, decoder batch_stats)."""
    (mean, log_var), encoder_stats = encode(images)
    z = (
      mean + jnp.exp(0.5 * log_var) * jax.random.normal(rng, mean.shape)
      if self.variational
      else mean
    )
    logits, decoder_stats = decode(z)
    log_likelihood = self._log_likelihood(logits, images)
    kl = losses.gaussian_kl(mean, log_var) if self.variational else jnp.zeros_like(log_likelihood)
    loss = losses.negative_elbo(
      log_likelihood, kl, beta=self.config.loss.beta if self.variational else 0.0
    )
    metrics = base.scalar_metrics(
      loss=loss, reconstruction=-jnp.mean(log_likelihood), kl=jnp.mean(kl)
    )
    return loss, ({'encoder': encoder_stats, 'decoder': decoder_stats}, metrics)

  def train_step(self, state: GameState, batch):
    """One joint update of both players on ``batch['image']`` [1, B, H, W, C]."""
    rng = state.step_rng()
    images = batch['image'][0]
    encoder, decoder = state.players['encoder'], state.players['decoder']

    def loss_fn(params):
      return self._loss_terms(
        images,
        rng,
        lambda x: base.apply_train(encoder, params['encoder'], x),
        lambda z: base.apply_train(decoder, params['decoder'], z),
      )

    players, metrics = steps.update_players(state.players, loss_fn)
    return state.replace(step=state.step + 1, players=players), metrics

  def eval_step(self, state: GameState, batch, rng):
    """-ELBO, reconstruction and KL on held-out images; for the VAE also the importance-weighted bound
    ``iwae`` (Burda et al. 2016) on log p(x) with K = ``config.eval.iwae_samples`` samples of q(z | x):

        log p(x) >= E[log (1/K) Σ_k p(x | z_k) p(z_k) / q(z_k | x)]    (in nats per image)
    """
    elbo_rng, iwae_rng = jax.random.split(rng)
    encoder, decoder = state.players['encoder'], state.players['decoder']
    _, (_, metrics) = self._loss_terms(
      batch['image'],
      elbo_rng,
      lambda x: (base.apply_eval(encoder, x), {}),
      lambda z: (base.apply_eval(decoder, z), {}),
    )
    num_samples = self.config.eval.get('iwae_samples', 0)
    if self.variational and num_samples:
      metrics['iwae'] = self._iwae(state, batch['image'], iwae_rng, num_samples)
    return metrics

  def _iwae(self, state: GameState, images, rng, num_samples: int):
    mean, log_var = base.apply_eval(state.players['encoder'], images)
    std = jnp.exp(0.5 * log_var)
    eps = jax.random.normal(rng, (num_samples, *mean.shape))  # [K, B, latent]
    z = mean + std * eps
    logits = base.apply_eval(state.players['decoder'], z.reshape((-1, self.latent_dim)))
    logits = logits.reshape((num_samples, *images.shape))
    log_likelihood = jax.vmap(lambda l: self._log_likelihood(l, images))(logits)  # [K, B]
    log_prior = jax.vmap(lambda zk: losses.gaussian_log_likelihood(jnp.zeros_like(zk), zk))(z)
    log_posterior = jax.vmap(
      lambda zk: losses.gaussian_log_likelihood(mean, zk, log_scale=0.5 * log_var)
    )(z)
    return losses.iwae_bound(log_likelihood, log_prior, log_posterior)

  def latents(self, rng, num):
    """Prior samples ``{'z': [num, latent_dim]}``, z ~ N(0, I) (the visual tools walk ``z``)."""
    return {'z': jax.random.normal(rng, (num, self.latent_dim))}

  def decode(self, state: GameState, latents):
    """Decoder means (Bernoulli probabilities) of ``latents['z']`` [N, latent_dim]: [N, H, W, C] in
    [0, 1]."""
    return jax.nn.sigmoid(base.apply_eval(state.players['decoder'], latents['z']))

  def generate(self, state: GameState, rng, num):
    """Decoder means of z ~ N(0, I), [num, H, W, C] in [0, 1]."""
    return self.decode(state, self.latents(rng, num))

  def figures(self, state: GameState, batch, rng, *, num: int = 16, steps: int = 10):
    """``reconstructions`` [2, num, ...]: inputs above their reconstructions (posterior means);
    ``interpolation`` [num // 2, steps, ...]: decoded straight lines between the codes of two inputs."""
    del rng
    images = batch['image'][:num]
    codes, _ = base.apply_eval(state.players['encoder'], images)
    reconstructions = self.decode(state, {'z': codes})
    start, end = codes[0::2], codes[1::2]
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    path = (1 - t) * start[:, None] + t * end[:, None]  # [num // 2, steps, latent_dim]
    walk = self.decode(state, {'z': path.reshape((-1, self.latent_dim))})
    return {
      'reconstructions': jnp.stack([images, reconstructions]),
      'interpolation': walk.reshape((*path.shape[:2], *images.shape[1:])),
    }


class AE(VAE):
  """The deterministic autoencoder: the VAE's nets with z = μ and no KL term."""

  variational = False


def method_config(variational: bool = True) -> ml_collections.ConfigDict:
  """``config.method``: the VAE, or the AE with ``variational=False``."""
  return ml_collections.ConfigDict(dict(name='vae' if variational else 'ae'))
