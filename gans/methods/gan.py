"""GANs with one generator ``g`` and one discriminator ``d``: the vanilla GAN, its loss variants (DCGAN,
LSGAN, WGAN, WGAN-GP, hinge, relativistic) and, with the class label as a condition, the conditional GAN
(``gans.methods.cgan``).

    L_D = E_x[ℓ_real(D(x))] + E_z[ℓ_fake(D(G(z)))] + λ·P(D),    L_G = E_z[ℓ_G(D(G(z)))]

``config.loss.name`` picks (ℓ_D, ℓ_G) in ``adversarial.ADVERSARIAL_LOSSES``; ``loss.penalty_weight`` is λ
for the penalty P of ``loss.penalty_kind``; ``loss.clip`` is WGAN's weight clipping. The step is
``adversarial.alternate`` (n_critic D updates per G update, or one G forward with ``reuse_fakes``).

PacGAN (Lin et al. 2018) packing, ``config.method.pack`` = m: D judges m samples of the same kind at
once (data with data, samples with samples), concatenated along the feature axis (``pack_samples``), so
a batch of B samples is B/m inputs of D and the expectations above run over packs. m = 1 is the plain
GAN. PacGAN keeps D's batch of packs (100) and draws m·100 samples per step; a recipe follows it with
``train.batch_size`` = m·100.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gans import nets
from gans.methods import adversarial, base
from gans.state import GameState


def method_config(*, pack: int = 1, **game) -> ml_collections.ConfigDict:
  """``config.method`` of the GAN: the two-player game's fields (``adversarial.method_config``) and
  PacGAN's ``pack``."""
  config = adversarial.method_config('gan', **game)
  config.pack = pack  # m samples per input of D (PacGAN); 1 = the plain GAN.
  return config


def check_config(config) -> None:
  adversarial.check_method_config(config.method)
  adversarial.check_loss_config(config.loss, config.method.name)
  pack = config.method.get('pack', 1)  # The conditional GANs built on this class have no packing.
  if pack < 1:
    raise ValueError(f'config.method.pack={pack} must be >= 1 (1 = no packing).')
  for field in ('train', 'eval'):
    if config[field].batch_size % pack:
      raise ValueError(
        f'config.{field}.batch_size={config[field].batch_size} is not a multiple of '
        f'config.method.pack={pack}: D sees batch_size / pack packs of pack samples; set '
        f'--config.{field}.batch_size to a multiple of {pack}.'
      )


def pack_samples(images: jax.Array, pack: int) -> jax.Array:
  """PacGAN's packing: images [B, ..., C] -> packs [B/m, ..., m·C] for m = ``pack``.

  Pack j holds samples j·m, ..., j·m + m - 1 of the batch, concatenated along the last (feature or
  channel) axis: packs[j, ..., i·C + c] = images[j·m + i, ..., c]. Flat inputs [B, D] become
  [B/m, m·D]; images [B, H, W, C] become [B/m, H, W, m·C]. m = 1 returns ``images`` unchanged.
  """
  if pack == 1:
    return images
  grouped = images.reshape((images.shape[0] // pack, pack, *images.shape[1:]))
  grouped = jnp.moveaxis(grouped, 1, -2)  # [B/m, ..., m, C]
  return grouped.reshape((*grouped.shape[:-2], pack * images.shape[-1]))


class GAN:
  """Players ``g`` (latents -> images) and ``d`` (packs of ``config.method.pack`` images -> scores
  [B / pack]; images -> scores [B] without packing).

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
    self.pack = config.method.get('pack', 1)
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
    return (pack_samples(images, self.pack), *(conditions[name] for name in self.conditions))

  def init(self, rng, batch) -> GameState:
    example = jax.tree.map(lambda x: x[:2], batch)
    conditions = {name: example[name] for name in self.conditions}
    d_images = jnp.repeat(example['image'], self.pack, axis=0)  # 2·m images: two packs of D.
    return adversarial.init_game(
      self.config,
      rng,
      self.generator,
      lambda g_rng: self._g_inputs(self.latents(g_rng, 2, **conditions)),
      self.discriminator,
      self._d_inputs(d_images, example),
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
