"""LapGAN (Denton, Chintala, Szlam & Fergus 2015): a Laplacian pyramid of GANs, one per level.

With the pyramid of ``gans.pyramid`` (levels k = 0 finest ... K coarsest, I_{k+1} = d(I_k),
l_k = u(I_{k+1}), h_k = I_k − l_k):

* level K is a GAN on the coarse images I_K: G_K(z) against D_K(I);
* each level k < K is a conditional GAN on the bands: G_k(z_k, l_k) = h̃_k against D_k(h, l_k), real
  h_k against h̃_k, with the conditioning image l_k in both nets (``gans.nets.lapgan``).

Training: every level learns from the pyramids of real images, independently of the other levels'
outputs, all in one jitted step (each level one ``adversarial.alternate``: ``method.n_critic`` D updates,
then one G update, with its own key):

    L_{D_k} = E[ℓ_real(D_k(h_k, l_k))] + E[ℓ_fake(D_k(G_k(z_k, l_k), l_k))],   L_{G_k} = E[ℓ_G(D_k(G_k(z_k, l_k), l_k))]

Sampling chains the levels coarse to fine: Ĩ_K = G_K(z_K), Ĩ_k = u(Ĩ_{k+1}) + G_k(z_k, u(Ĩ_{k+1})); the
finest image is clipped to the data's value range. ``cc_lapgan`` is the paper's class-conditional
CC-LAPGAN: the label conditions every G and D (the coarse nets through ``gans.nets.conditional``, the band
nets as a learned label plane). The players are ``g_<side>`` and ``d_<side>`` (``g_7``, ``d_7``, ``g_14``,
..., ``d_28`` on Fashion-MNIST); every G uses ``config.optim.g`` and every D ``config.optim.d``.

Latents: ``z`` [num, z_dim] ~ N(0, I) for level K and a noise plane ``noise_<side>`` [num, side, side, 1]
~ N(0, 1) per band level (the paper's extra colour plane), plus ``label`` for CC-LAPGAN.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from gans import nets, pyramid
from gans.methods import adversarial, base, cgan, steps
from gans.nets import lapgan as lapgan_nets
from gans.optim import make_optimizer
from gans.state import GameState


def check_config(config) -> None:
  """The method's and the loss's fields that no run can use, named (before any work)."""
  adversarial.check_method_config(config.method)
  adversarial.check_loss_config(config.loss, config.method.name)


@dataclasses.dataclass(frozen=True)
class Level:
  """One pyramid level: its side in pixels and whether it is the coarsest (a GAN on I_K, no l_k)."""

  side: int
  coarse: bool

  @property
  def g(self) -> str:
    return f'g_{self.side}'

  @property
  def d(self) -> str:
    return f'd_{self.side}'

  @property
  def noise(self) -> str:
    return f'noise_{self.side}'


class LapGAN:
  """The unconditional LapGAN; ``ClassConditionalLapGAN`` is CC-LAPGAN."""

  conditions: tuple[str, ...] = ()

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.image_shape = tuple(image_shape)
    self.num_classes = num_classes
    self.inputs = ('image', *self.conditions)
    self.batches_per_step = config.method.n_critic
    model = config.model
    side, channels = self.image_shape[0], self.image_shape[-1]
    if self.image_shape[1] != side:
      raise ValueError(f'LapGAN needs square images, got {self.image_shape[:2]}.')
    pyramid.check_levels(side, model.levels)
    # Finest first: 28, 14, 7 on Fashion-MNIST.
    self.levels = [Level(side // 2**k, k == model.levels - 1) for k in range(model.levels)]
    coarse = self.levels[-1].side
    label_classes = num_classes if self.conditions else 0
    coarse_g = nets.build(
      model.coarse_generator,
      image_shape=(coarse, coarse, channels),
      dtype=model.dtype,
      **model.coarse_generator_kwargs,
    )
    coarse_trunk = nets.build(
      model.coarse_discriminator, dtype=model.dtype, **model.coarse_discriminator_kwargs
    )
    if self.conditions:
      coarse_g = nets.conditional.ConditionalGenerator(
        generator=coarse_g, num_classes=num_classes, embed_dim=model.embed_dim, dtype=model.dtype
      )
      coarse_d = nets.conditional.ConditionalDiscriminator(
        trunk=coarse_trunk, num_classes=num_classes, embed_dim=model.embed_dim, dtype=model.dtype
      )
    else:
      coarse_d = lapgan_nets.TrunkDiscriminator(trunk=coarse_trunk, dtype=model.dtype)
    band_g, band_d = (
      nets.build(name, num_classes=label_classes, dtype=model.dtype, **kwargs)
      for name, kwargs in (
        (model.band_generator, model.band_generator_kwargs),
        (model.band_discriminator, model.band_discriminator_kwargs),
      )
    )
    self.nets = {}
    for level in self.levels:
      self.nets[level.g], self.nets[level.d] = (
        (coarse_g, coarse_d) if level.coarse else (band_g, band_d)
      )
    self.loss = adversarial.ADVERSARIAL_LOSSES[config.loss.name](config.loss)

  # Latents and the nets' inputs.

  def latents(self, rng, num: int, **conditions) -> dict[str, jax.Array]:
    """``{'z': [num, z_dim], 'noise_<side>': [num, side, side, 1] per band level, **conditions}``."""
    keys = jax.random.split(rng, len(self.levels))
    latents = {'z': jax.random.normal(keys[-1], (num, self.config.model.z_dim), jnp.float32)}
    for key, level in zip(keys, self.levels[:-1]):
      latents[level.noise] = jax.random.normal(key, (num, level.side, level.side, 1), jnp.float32)
    return {**latents, **conditions}

  def _g_inputs(self, level: Level, latents: dict, low) -> tuple:
    """G_K(z[, y]) or G_k(z_k, l_k[, y])."""
    first = (latents['z'],) if level.coarse else (latents[level.noise], low)
    return (*first, *(latents[name] for name in self.conditions))

  def _d_inputs(self, level: Level, images, data: dict) -> tuple:
    """D_K(I[, y]) or D_k(h, l_k[, y]); ``data`` holds l_k as ``'low'`` and the conditions."""
    first = (images,) if level.coarse else (images, data['low'])
    return (*first, *(data[name] for name in self.conditions))

  def _level_batches(self, images, data: dict) -> list[dict]:
    """Per level (finest first), its training data from the real pyramid of ``images`` [..., H, W, C]:
    ``{'image': h_k or I_K, 'low': l_k (k < K), **conditions}``."""
    bands, coarse = pyramid.laplacian(images, len(self.levels))
    conditions = {name: data[name] for name in self.conditions}
    return [{'image': band, 'low': low, **conditions} for band, low in bands] + [
      {'image': coarse, **conditions}
    ]

  # Training.

  def init(self, rng, batch) -> GameState:
    example = jax.tree.map(lambda x: x[:2], batch)
    level_batches = self._level_batches(example['image'], example)
    keys = jax.random.split(rng, 2 * len(self.levels) + 1)
    players = {}
    for i, (level, data) in enumerate(zip(self.levels, level_batches)):
      latents = self.latents(keys[2 * i], 2, **{name: data[name] for name in self.conditions})
      players[level.g] = base.init_player(
        self.nets[level.g],
        make_optimizer(self.config.optim.g),
        keys[2 * i],
        *self._g_inputs(level, latents, data.get('low')),
      )
      players[level.d] = base.init_player(
        self.nets[level.d],
        make_optimizer(self.config.optim.d),
        keys[2 * i + 1],
        *self._d_inputs(level, data['image'], data),
      )
      adversarial.check_penalty_critic(self.config.loss, players[level.d])
    ema = tuple(level.g for level in self.levels) if self.config.method.ema_decay else ()
    return GameState.create(keys[-1], players, ema_players=ema)

  def train_step(self, state: GameState, batch):
    """One step of every level's game on its part of the real pyramids of ``batch`` name -> [k, B, ...]."""
    rng = state.step_rng()
    players, metrics = dict(state.players), {}
    for i, (level, data) in enumerate(zip(self.levels, self._level_batches(batch['image'], batch))):
      g, d, level_metrics = self._train_level(
        level, players[level.g], players[level.d], data, jax.random.fold_in(rng, i)
      )
      players[level.g], players[level.d] = g, d
      metrics.update({f'{name}_{level.side}': value for name, value in level_metrics.items()})
    method = self.config.method
    state = state.replace(step=state.step + 1, players=players)
    return steps.update_ema(state, method.ema_decay, method.ema_start), metrics

  def _train_level(self, level: Level, g, d, batches: dict, rng):
    """``adversarial.alternate`` on one level: D_k on (h_k, l_k) against (G_k(z_k, l_k), l_k)."""

    def fakes_fn(params, data, rng):
      conditions = {name: data[name] for name in self.conditions}
      latents = self.latents(rng, data['image'].shape[0], **conditions)
      fakes, g_stats = base.apply_train(g, params, *self._g_inputs(level, latents, data.get('low')))
      return fakes, (latents, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      del latents  # The fakes share the real data's l_k and labels.
      real_inputs = self._d_inputs(level, data['image'], data)
      fake_inputs = self._d_inputs(level, fakes, data)
      return adversarial.critic_loss(
        self.loss, self.config.loss, d, params, real_inputs, fake_inputs, rng
      )

    def g_loss_fn(fakes, d, data, latents):
      del latents
      fake_inputs = self._d_inputs(level, fakes, data)
      real_inputs = self._d_inputs(level, data['image'], data)
      return adversarial.generator_loss(self.loss, d, fake_inputs, real_inputs)

    return adversarial.alternate(
      g, d, batches, rng, fakes_fn, d_loss_fn, g_loss_fn, self.config.method, self.config.loss.clip
    )

  # Sampling.

  def chain(self, state: GameState, latents) -> list[dict[str, jax.Array]]:
    """The coarse-to-fine chain of ``latents`` in inference mode (EMA weights when kept): per level,
    coarsest first, ``{'low': u(Ĩ_{k+1}), 'band': h̃_k, 'image': Ĩ_k}`` ([num, side, side, C]; the
    coarsest level has only ``'image'`` = Ĩ_K). Nothing is clipped."""
    coarse = self.levels[-1]
    image = base.apply_inference(state, coarse.g, *self._g_inputs(coarse, latents, None))
    chain = [{'image': image}]
    for level in reversed(self.levels[:-1]):
      low = pyramid.expand(image)
      band = base.apply_inference(state, level.g, *self._g_inputs(level, latents, low))
      image = low + band
      chain.append({'low': low, 'band': band, 'image': image})
    return chain

  def decode(self, state: GameState, latents) -> jax.Array:
    """The finest image of the chain, clipped to the data's value range: [num, H, W, C]."""
    low, high = self.config.data.value_range
    return jnp.clip(self.chain(state, latents)[-1]['image'], low, high)

  def generate(self, state: GameState, rng, num, **conditions):
    """``num`` samples [num, H, W, C]."""
    return self.decode(state, self.latents(rng, num, **conditions))

  def eval_step(self, state: GameState, batch, rng):
    """Per level, D_k's loss and mean scores (inference mode) on held-out real pyramids against as many
    G_k outputs conditioned on the same l_k."""
    metrics = {}
    latents = self.latents(rng, batch['image'].shape[0], **{n: batch[n] for n in self.conditions})
    for level, data in zip(self.levels, self._level_batches(batch['image'], batch)):
      fakes = base.apply_inference(state, level.g, *self._g_inputs(level, latents, data.get('low')))
      d = state.players[level.d]
      real_scores = base.apply_eval(d, *self._d_inputs(level, data['image'], data))
      fake_scores = base.apply_eval(d, *self._d_inputs(level, fakes, data))
      level_metrics = {
        **base.scalar_metrics(d_loss=self.loss.d_loss(real_scores, fake_scores)),
        **adversarial.score_metrics(self.loss, real_scores, fake_scores),
      }
      metrics.update({f'{name}_{level.side}': value for name, value in level_metrics.items()})
    return metrics

  def figures(self, state: GameState, batch, rng, *, rows: int = 8, cols: int = 8):
    """``pyramid_chain`` [rows, 2K + 1, H, W, C]: per sample, Ĩ_K, then each level's band h̃_k and image
    Ĩ_k (smaller levels repeated up to H, bands shown around the middle of the value range);
    ``shared_coarse`` [rows, cols, H, W, C]: each row one Ĩ_K, each column other fine noise."""
    del batch
    low, high = self.config.data.value_range
    chain_rng, coarse_rng, fine_rng = jax.random.split(rng, 3)
    conditions = {'label': cgan.cycled_labels(rows, self.num_classes)} if self.conditions else {}
    chain = self.chain(state, self.latents(chain_rng, rows, **conditions))
    side = self.image_shape[0]
    tiles = [chain[0]['image']]
    for entry in chain[1:]:
      tiles += [entry['band'] + (low + high) / 2, entry['image']]
    tiles = [_repeat_to(jnp.clip(tile, low, high), side) for tile in tiles]
    coarse = self.latents(coarse_rng, rows, **conditions)
    fine = self.latents(
      fine_rng, rows * cols, **{n: jnp.repeat(v, cols) for n, v in conditions.items()}
    )
    shared = {**fine, 'z': jnp.repeat(coarse['z'], cols, axis=0)}
    return {
      'pyramid_chain': jnp.stack(tiles, axis=1),
      'shared_coarse': self.decode(state, shared).reshape(rows, cols, *self.image_shape),
    }


class ClassConditionalLapGAN(LapGAN):
  """CC-LAPGAN: the class label conditions every level's G and D."""

  conditions = ('label',)

  def latents(self, rng, num, label=None, **conditions):
    """As ``LapGAN.latents``, with ``label`` int32 [num] (classes cycled when not given)."""
    if label is None:
      label = cgan.cycled_labels(num, self.num_classes)
    return super().latents(rng, num, label=jnp.asarray(label, jnp.int32), **conditions)

  def class_samples(self, state: GameState, rng, num: int) -> tuple[jax.Array, jax.Array]:
    """``num`` samples [num, H, W, C] and the labels int32 [num] they were drawn for (every class
    equally often), for the evaluator's class-conditional accuracy."""
    labels = cgan.cycled_labels(num, self.num_classes)
    return self.generate(state, rng, num, label=labels), labels


def _repeat_to(images, side: int):
  """[N, s, s, C] -> [N, side, side, C] by pixel repetition (side a multiple of s), for display."""
  factor = side // images.shape[1]
  return jnp.repeat(jnp.repeat(images, factor, axis=1), factor, axis=2)
