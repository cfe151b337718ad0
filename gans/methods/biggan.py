"""BigGAN (Brock, Donahue & Simonyan 2019): a class-conditional ResNet GAN with spectral norm, a shared
class embedding with hierarchical z, self-attention, the hinge loss, an EMA generator and truncation.

Nets (``gans.nets.biggan``): G splits z into chunks, one to the first linear layer and one per up-block,
concatenated with the shared embedding of y to condition that block's BatchNorm; D is a ResNet with a
projection head, score(x, y) = ψ(h) + ⟨embed(y), h⟩, h = Σ_{H,W} ReLU(φ(x)). Spectral norm on every G and
D layer but G's shared embedding, with D's u updated once per D update: the real and fake batches pass
through D in one call.

Objective (hinge, Lim & Ye 2017; Miyato et al. 2018), ``config.method.n_critic`` D updates per G update:

    L_D = E[max(0, 1 - D(x, y))] + E[max(0, 1 + D(G(z, y), y))],    L_G = -E[D(G(z, y), y)]

plus, optionally, BigGAN's orthogonal regularisation of G, β Σ_W ‖WᵀW ⊙ (1 - I)‖²_F over G's ≥2-D
weights but the shared embedding (W as [fan_in, features]), added to G's gradient like weight decay
(``losses.orthogonal_regularization``; β = ``loss.orthogonal_weight``, 0 = off as in the CIFAR runs).

EMA of G (``method.ema_decay``, from ``method.ema_start`` on) over params and the batch_stats collection
(BatchNorm running statistics and the spectral norms' u and σ, as BigGAN-PyTorch's EMA of the state
dict) decodes every sample, figure and evaluation.

Truncation (``sample.truncation`` = τ, None = off): every component of z with |z| > τ is redrawn from
N(0, 1) until |z| ≤ τ (``truncate``); components already inside are kept. ``--mode=eval
--config.sample.truncation=τ`` scores the truncated samples; ``launch/biggan_truncation.sh`` sweeps τ.

During training the fakes take the labels of the real batch, as in the conditional GAN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gans import losses, nets
from gans.methods import adversarial, base, cgan
from gans.optim import make_optimizer
from gans.state import GameState


def method_config(
  n_critic: int = 2, ema_decay: float = 0.9999, ema_start: int = 20_000
) -> ml_collections.ConfigDict:
  """``config.method`` (the paper's ImageNet values by default: 2 D steps, EMA 0.9999 from 20k)."""
  return adversarial.method_config(
    'biggan', n_critic=n_critic, ema_decay=ema_decay, ema_start=ema_start
  )


def loss_config(orthogonal_weight: float = 0.0) -> ml_collections.ConfigDict:
  """``config.loss``: the hinge loss, and β of the orthogonal regularisation (0 = off)."""
  cfg = adversarial.loss_config('hinge')
  cfg.orthogonal_weight = orthogonal_weight
  return cfg


def check_config(config) -> None:
  """The method's and the nets' fields that no run can use, named (before any work)."""
  adversarial.check_method_config(config.method)
  adversarial.check_loss_config(config.loss, 'biggan')
  if config.loss.orthogonal_weight < 0:
    raise ValueError(f'config.loss.orthogonal_weight={config.loss.orthogonal_weight} must be >= 0.')
  truncation = config.sample.get('truncation')
  if truncation is not None and truncation <= 0:
    raise ValueError(
      f'config.sample.truncation={truncation} must be > 0 (the largest |z| kept), or None for no '
      'truncation.'
    )


def truncate(rng, z: jax.Array, threshold: float) -> jax.Array:
  """The truncation trick: components of z [..] with |z| > ``threshold`` redrawn from N(0, 1) until
  inside; the others unchanged. Their law is N(0, 1) conditioned on |z| ≤ τ (a truncated normal)."""

  def redraw(carry):
    rng, z = carry
    rng, key = jax.random.split(rng)
    fresh = jax.random.normal(key, z.shape, z.dtype)
    return rng, jnp.where(jnp.abs(z) > threshold, fresh, z)

  _, z = jax.lax.while_loop(lambda carry: jnp.any(jnp.abs(carry[1]) > threshold), redraw, (rng, z))
  return z


def orthogonal_regularization(weight: float, exclude=('shared',)) -> optax.GradientTransformation:
  """Adds β ∇_θ Σ_W ‖WᵀW ⊙ (1 - I)‖²_F to the updates (W: every ≥2-D param not under a top-level
  module named in ``exclude``), before the optimizer: BigGAN's orthogonal regularisation of G."""

  def penalty(params):
    kept = {name: tree for name, tree in params.items() if name not in exclude}
    return losses.orthogonal_regularization(kept)

  def update_fn(updates, state, params):
    extra = jax.grad(penalty)(params)
    return jax.tree.map(lambda u, e: u + weight * e, updates, extra), state

  return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


class BigGAN:
  """Players ``g`` (z, y -> images) and ``d`` (images, y -> scores [B])."""

  inputs = ('image', 'label')

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.num_classes = num_classes
    self.batches_per_step = config.method.n_critic
    model = config.model
    self.generator = nets.build(
      model.generator,
      image_shape=tuple(image_shape),
      num_classes=num_classes,
      dtype=model.dtype,
      **model.generator_kwargs,
    )
    self.discriminator = nets.build(
      model.discriminator, num_classes=num_classes, dtype=model.dtype, **model.discriminator_kwargs
    )
    self.loss = adversarial.ADVERSARIAL_LOSSES[config.loss.name](config.loss)

  @property
  def z_dim(self) -> int:
    return self.config.model.generator_kwargs.z_dim

  def latents(self, rng, num, label=None, truncation=None):
    """``{'z': [num, z_dim], 'label': int32 [num]}``: z ~ N(0, I), truncated at τ = ``truncation``
    when given; labels cycle over the classes when not given."""
    z_rng, truncation_rng = jax.random.split(rng)
    z = jax.random.normal(z_rng, (num, self.z_dim), jnp.float32)
    if truncation is not None:
      z = truncate(truncation_rng, z, truncation)
    if label is None:
      label = cgan.cycled_labels(num, self.num_classes)
    return {'z': z, 'label': jnp.asarray(label, jnp.int32)}

  def init(self, rng, batch) -> GameState:
    example = jax.tree.map(lambda x: x[:2], batch)
    orthogonal = self.config.loss.orthogonal_weight
    g_optimizer = make_optimizer(self.config.optim.g)
    if orthogonal:
      g_optimizer = optax.chain(orthogonal_regularization(orthogonal), g_optimizer)
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    latents = self.latents(g_rng, 2, label=example['label'])
    players = {
      'g': base.init_player(self.generator, g_optimizer, g_rng, latents['z'], latents['label']),
      'd': base.init_player(
        self.discriminator,
        make_optimizer(self.config.optim.d),
        d_rng,
        example['image'],
        example['label'],
      ),
    }
    ema_players = ('g',) if self.config.method.ema_decay else ()
    return GameState.create(state_rng, players, ema_players=ema_players)

  def train_step(self, state: GameState, batch):
    """One step of the game (``adversarial.alternate``) on ``batch`` name -> [n_critic, B, ...]."""
    rng = state.step_rng()
    g, d = state.players['g'], state.players['d']

    def fakes_fn(params, data, rng):
      latents = self.latents(rng, data['image'].shape[0], label=data['label'])
      fakes, g_stats = base.apply_train(g, params, latents['z'], latents['label'])
      return fakes, (latents, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      # Real and fake in one call: D's spectral norms take one power iteration per D update.
      images = jnp.concatenate([data['image'], fakes])
      labels = jnp.concatenate([data['label'], latents['label']])
      scores, stats = base.apply_train(d, params, images, labels)
      real_scores, fake_scores = jnp.split(scores, 2)
      loss = self.loss.d_loss(real_scores, fake_scores)
      metrics = {
        **base.scalar_metrics(d_loss=loss),
        **adversarial.score_metrics(self.loss, real_scores, fake_scores),
      }
      return loss, (stats, metrics)

    def g_loss_fn(fakes, d, data, latents):
      del data
      fake_scores = base.apply_train(d, d.params, fakes, latents['label'])[0]
      loss = self.loss.g_loss(fake_scores)
      return loss, base.scalar_metrics(g_loss=loss)

    method = self.config.method
    g, d, metrics = adversarial.alternate(g, d, batch, rng, fakes_fn, d_loss_fn, g_loss_fn, method)
    return adversarial.advance(state, g, d, method), metrics

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(z, y) in inference mode with the EMA copy when kept: [num, H, W, C] (``label``: int [num]
    classes or float [num, K] class weights)."""
    return base.apply_inference(state, 'g', latents['z'], latents['label'])

  def generate(self, state: GameState, rng, num, label=None, truncation=None):
    """``num`` samples [num, H, W, C] of classes ``label`` (default: cycled) at truncation τ
    (default ``config.sample.truncation``)."""
    if truncation is None:
      truncation = self.config.sample.get('truncation')
    return self.decode(state, self.latents(rng, num, label, truncation))

  def class_samples(self, state: GameState, rng, num: int) -> tuple[jax.Array, jax.Array]:
    """``num`` samples and the int32 [num] classes they were drawn for (every class equally often)."""
    labels = cgan.cycled_labels(num, self.num_classes)
    return self.generate(state, rng, num, label=labels), labels

  def eval_step(self, state: GameState, batch, rng):
    """D's hinge loss and mean scores (inference mode) on held-out images against as many samples."""
    latents = self.latents(rng, batch['image'].shape[0], label=batch['label'])
    fakes = self.decode(state, latents)
    d = state.players['d']
    real_scores = base.apply_eval(d, batch['image'], batch['label'])
    fake_scores = base.apply_eval(d, fakes, latents['label'])
    return {
      **base.scalar_metrics(d_loss=self.loss.d_loss(real_scores, fake_scores)),
      **adversarial.score_metrics(self.loss, real_scores, fake_scores),
    }

  def traversals(self, state: GameState, rng, *, cols: int = 10):
    """Grids [rows, cols, H, W, C] of the EMA generator:

    classes: row y holds G(z_j, y) for the same ``cols`` noises z_j (no truncation);
    truncation: one class per row, columns the same z truncated at growing τ (0.25 ... 2, then none);
    interpolation_within: rows walk z linearly between two noises at a fixed class;
    interpolation_across: row a walks the class from a to a + 1 (mod K) at a fixed z, G's shared
      embedding going from E[a] to E[a + 1] through (1 - t) E[a] + t E[a + 1].
    """
    z_rng, walk_rng = jax.random.split(rng)
    rows = self.num_classes
    z = jax.random.normal(z_rng, (cols, self.z_dim))
    labels = jnp.repeat(jnp.arange(rows, dtype=jnp.int32), cols)
    classes = self.decode(state, {'z': jnp.tile(z, (rows, 1)), 'label': labels})
    thresholds = jnp.linspace(0.25, 2.0, cols - 1)
    truncated = jnp.concatenate([jax.vmap(lambda t: truncate(z_rng, z[0], t))(thresholds), z[:1]])
    truncation = self.decode(state, {'z': jnp.tile(truncated, (rows, 1)), 'label': labels})
    start, end = jax.random.normal(walk_rng, (2, rows, self.z_dim))
    t = jnp.linspace(0.0, 1.0, cols)[None, :, None]
    walk = ((1 - t) * start[:, None] + t * end[:, None]).reshape(rows * cols, self.z_dim)
    within = self.decode(state, {'z': walk, 'label': labels})
    one_hot = jax.nn.one_hot(jnp.arange(rows), self.num_classes)
    weights = (1 - t) * one_hot[:, None] + t * jnp.roll(one_hot, -1, axis=0)[:, None]
    across = self.decode(
      state,
      {'z': jnp.repeat(start, cols, axis=0), 'label': weights.reshape(rows * cols, -1)},
    )
    shape = (rows, cols, *classes.shape[1:])
    return {
      'classes': classes.reshape(shape),
      'truncation': truncation.reshape(shape),
      'interpolation_within': within.reshape(shape),
      'interpolation_across': across.reshape(shape),
    }

  def figures(self, state: GameState, batch, rng):
    del batch
    return self.traversals(state, rng)
