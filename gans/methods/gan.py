"""GANs with one generator ``g`` and one discriminator ``d``: the vanilla GAN and the classic zoo.

Step (Goodfellow et al. 2014, Algorithm 1, with ``n_critic`` discriminator updates per generator update):

    for each of the n_critic real batches x:   z ~ p(z);  d <- d - ∇_d [L_D(D(x), D(G(z))) + λ·P(D)]
                                               d <- clip(d, -c, c)                  (when loss.clip > 0)
    z ~ p(z);  g <- g - ∇_g L_G(D(G(z)))
    ema_g <- decay·ema_g + (1 - decay)·g                                            (when ema_decay > 0)

With ``method.reuse_fakes`` (n_critic = 1) the G update reuses the D update's z and G(z), back-propagating
through the kept VJP of that forward (PyTorch's DCGAN example does the same), one G forward less.

The vanilla GAN, DCGAN, LSGAN, WGAN and WGAN-GP differ only in nets (``config.model``) and loss
(``config.loss``, see ``LOSS_DEFAULTS``): ``loss.name`` picks (L_D, L_G) in ``ADVERSARIAL_LOSSES``,
``loss.gradient_penalty`` is λ for the penalty P named by ``loss.penalty`` and ``loss.clip`` is WGAN's
weight clipping. The conditional GAN, InfoGAN and BEGAN subclass ``GAN`` and override its hooks: the
latent variables (``latents``), what G and D are called on (``_generator_inputs``, ``_critic_inputs``),
how D's outputs split into a score and extra heads (``_scores``), an extra loss on the heads
(``_auxiliary_loss``), the loss terms themselves (``_critic_terms``, ``_generator_terms``) and values
carried between steps in ``state.aux`` (``_initial_aux``, ``_next_aux``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import base
from gans.optim import make_optimizer
from gans.state import GameState

# Every field of ``config.loss`` the GAN reads, with its default; a recipe may omit any of them.
LOSS_DEFAULTS = dict(
  name='nonsaturating',  # A key of ADVERSARIAL_LOSSES.
  a=0.0,  # least_squares: D's target for fakes (0-1 coding: a=0, b=1, c=1; Mao et al. eq. 9: -1, 1, 0).
  b=1.0,  # least_squares: D's target for data.
  c=1.0,  # least_squares: G's target for its samples.
  relativistic_kind='sigmoid',  # relativistic: sigmoid | least_squares | hinge.
  gradient_penalty=0.0,  # λ of the penalty; 0 = off.
  penalty='two_sided',  # two_sided (WGAN-GP) | one_sided (WGAN-LP) | r1 | dragan.
  clip=0.0,  # c of WGAN's weight clipping of D after each update; 0 = off.
)

PENALTIES = ('two_sided', 'one_sided', 'r1', 'dragan')


def loss_config(name: str = 'nonsaturating', **overrides) -> ml_collections.ConfigDict:
  """``config.loss`` with every field of ``LOSS_DEFAULTS`` (so each is overridable from the command
  line), ``name`` and ``overrides`` set."""
  unknown = set(overrides) - set(LOSS_DEFAULTS)
  if unknown:
    raise ValueError(f'unknown loss fields {sorted(unknown)}; known: {sorted(LOSS_DEFAULTS)}.')
  return ml_collections.ConfigDict({**LOSS_DEFAULTS, 'name': name, **overrides})


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
  """The two players' objectives on D's scores (logits or critic values, [B]).

  Attributes:
    d_loss: (real_scores, fake_scores) -> scalar, minimised by D.
    g_loss: (fake_scores, real_scores=None) -> scalar, minimised by G; only relativistic losses read
      ``real_scores``.
    probability: the scores are logits of D(x) = sigmoid(score), so metrics report sigmoid means; for the
      other losses they report the raw score means (critic values, least-squares outputs).
    uses_real_in_g: G's loss needs D's scores on data.
  """

  d_loss: Callable[[jax.Array, jax.Array], jax.Array]
  g_loss: Callable[..., jax.Array]
  probability: bool
  uses_real_in_g: bool = False


def _fake_only(g_loss):
  """A G loss of the fake scores alone, in the (fake_scores, real_scores=None) signature."""
  return lambda fake_scores, real_scores=None: g_loss(fake_scores)


# loss.name -> (loss config -> AdversarialLoss).
ADVERSARIAL_LOSSES: dict[str, Callable[[ml_collections.ConfigDict], AdversarialLoss]] = {
  'nonsaturating': lambda cfg: AdversarialLoss(
    losses.minimax_discriminator_loss, _fake_only(losses.nonsaturating_generator_loss), True
  ),
  'minimax': lambda cfg: AdversarialLoss(
    losses.minimax_discriminator_loss, _fake_only(losses.minimax_generator_loss), True
  ),
  'wasserstein': lambda cfg: AdversarialLoss(
    losses.wasserstein_discriminator_loss, _fake_only(losses.wasserstein_generator_loss), False
  ),
  'hinge': lambda cfg: AdversarialLoss(
    losses.hinge_discriminator_loss, _fake_only(losses.hinge_generator_loss), False
  ),
  'least_squares': lambda cfg: AdversarialLoss(
    functools.partial(losses.least_squares_discriminator_loss, a=cfg.a, b=cfg.b),
    _fake_only(functools.partial(losses.least_squares_generator_loss, c=cfg.c)),
    False,
  ),
  'relativistic': lambda cfg: AdversarialLoss(
    functools.partial(losses.relativistic_average_discriminator_loss, kind=cfg.relativistic_kind),
    lambda fake_scores, real_scores: losses.relativistic_average_generator_loss(
      real_scores, fake_scores, kind=cfg.relativistic_kind
    ),
    False,
    uses_real_in_g=True,
  ),
}


class GAN:
  """Players ``g`` and ``d``; ``config.method.n_critic`` D updates per G update."""

  # Whether G and D see the class label (the real batch's labels are the fake ones during training).
  conditional = False

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.image_shape = tuple(image_shape)
    self.num_classes = num_classes
    self.z_dim = config.model.z_dim
    self.generator = self._build_generator(config.model)
    self.discriminator = self._build_discriminator(config.model)
    self.loss_config = ml_collections.ConfigDict({**LOSS_DEFAULTS, **config.loss.to_dict()})
    self._setup_loss(self.loss_config)
    self.n_critic = config.method.n_critic
    self.batches_per_step = self.n_critic
    self.ema_decay = config.method.ema_decay
    self.reuse_fakes = config.method.reuse_fakes
    if self.reuse_fakes and self.n_critic != 1:
      raise ValueError(
        'config.method.reuse_fakes=True needs config.method.n_critic=1 (the G update reuses the '
        'fakes of the one D update); set one of them.'
      )

  # ----------------------------------------------------------------------------------------------
  # Hooks: a family overrides these.

  def _build_generator(self, model):
    return nets.build(
      model.generator, image_shape=self.image_shape, dtype=model.dtype, **model.generator_kwargs
    )

  def _build_discriminator(self, model):
    return nets.build(model.discriminator, dtype=model.dtype, **model.discriminator_kwargs)

  def _setup_loss(self, cfg):
    """Picks the adversarial loss (``d_loss_fn``, ``g_loss_fn``, ``g_uses_real``); raises ValueError
    naming a bad field."""
    if cfg.name not in ADVERSARIAL_LOSSES:
      raise ValueError(
        f'unknown config.loss.name={cfg.name!r} for method {self.config.method.name}; use one of '
        f'{", ".join(ADVERSARIAL_LOSSES)}.'
      )
    if cfg.penalty not in PENALTIES:
      raise ValueError(f'unknown config.loss.penalty={cfg.penalty!r}; use one of {PENALTIES}.')
    if cfg.gradient_penalty < 0 or cfg.clip < 0:
      raise ValueError('config.loss.gradient_penalty and config.loss.clip must be >= 0 (0 = off).')
    self.adversarial = ADVERSARIAL_LOSSES[cfg.name](cfg)
    self.d_loss_fn, self.g_loss_fn = self.adversarial.d_loss, self.adversarial.g_loss
    self.g_uses_real = self.adversarial.uses_real_in_g

  def latents(self, rng, num: int, labels=None) -> dict[str, jax.Array]:
    """The generator's latent variables for ``num`` samples: here ``{'z': [num, z_dim] ~ N(0, I)}``.

    ``labels`` ([num] int32) conditions the samples of conditional families; unconditional ones
    ignore it. Float entries are continuous (the visual tools interpolate and average them), integer
    entries are discrete codes.
    """
    del labels
    return {'z': jax.random.normal(rng, (num, self.z_dim), jnp.float32)}

  def _generator_inputs(self, latents) -> tuple:
    """The positional inputs of G for ``latents``."""
    return (latents['z'],)

  def _critic_inputs(self, images, labels) -> tuple:
    """The positional inputs of D for ``images`` [B, H, W, C] with class ``labels`` [B] (or None)."""
    del labels
    return (images,)

  def _scores(self, outputs):
    """D's outputs -> (scores [B] for the adversarial loss, extra heads or None)."""
    return outputs, None

  def _auxiliary_loss(self, fake_heads, latents) -> tuple[jax.Array, base.Metrics]:
    """An extra loss on D's heads for the fakes, added to both players' objectives."""
    del fake_heads, latents
    return jnp.zeros((), jnp.float32), {}

  def _score_metrics(self, real_scores, fake_scores) -> base.Metrics:
    """Mean D(x) and D(G(z)): probabilities for logit losses, raw critic values otherwise."""
    squash = jax.nn.sigmoid if self.adversarial.probability else (lambda s: s)
    return base.scalar_metrics(
      d_real=jnp.mean(squash(real_scores)), d_fake=jnp.mean(squash(fake_scores))
    )

  def _critic_terms(self, real, fake, real_out, fake_out, latents, aux):
    """D's loss (without the penalty) from its outputs on data and samples -> (loss, metrics)."""
    del real, fake, aux
    real_scores, _ = self._scores(real_out)
    fake_scores, fake_heads = self._scores(fake_out)
    adversarial = self.d_loss_fn(real_scores, fake_scores)
    extra, extra_metrics = self._auxiliary_loss(fake_heads, latents)
    metrics = {
      **base.scalar_metrics(d_loss=adversarial),
      **self._score_metrics(real_scores, fake_scores),
      **extra_metrics,
    }
    return adversarial + extra, metrics

  def _generator_terms(self, fake, fake_out, real_out, latents):
    """G's loss from D's outputs on its samples (and on data, when the loss needs them)."""
    del fake
    fake_scores, fake_heads = self._scores(fake_out)
    real_scores = None if real_out is None else self._scores(real_out)[0]
    adversarial = self.g_loss_fn(fake_scores, real_scores)
    extra, extra_metrics = self._auxiliary_loss(fake_heads, latents)
    return adversarial + extra, {**base.scalar_metrics(g_loss=adversarial), **extra_metrics}

  def _initial_aux(self) -> dict[str, jax.Array]:
    return {}

  def _next_aux(self, aux, d_metrics) -> tuple[dict, base.Metrics]:
    """The carried values after a step, from the (mean) D metrics of the step; and their metrics."""
    del d_metrics
    return aux, {}

  # ----------------------------------------------------------------------------------------------
  # The protocol.

  def init(self, rng, batch) -> GameState:
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    images = batch['image'][:2]
    labels = batch['label'][:2]
    latents = self.latents(g_rng, 2, labels)
    players = {
      'g': base.init_player(
        self.generator, make_optimizer(self.config.optim.g), g_rng, *self._generator_inputs(latents)
      ),
      'd': base.init_player(
        self.discriminator,
        make_optimizer(self.config.optim.d),
        d_rng,
        *self._critic_inputs(images, labels),
      ),
    }
    return GameState.create(
      state_rng,
      players,
      ema_players=('g',) if self.ema_decay else (),
      aux=self._initial_aux(),
    )

  def _training_latents(self, rng, num, labels):
    return self.latents(rng, num, labels if self.conditional else None)

  def _penalty(self, d, params, real, fake, labels, rng):
    """P(D) of ``loss.penalty`` on this batch (unscaled), D's scores as a function of its input."""

    def critic_fn(images):
      return self._scores(base.apply_train(d, params, *self._critic_inputs(images, labels))[0])[0]

    kind = self.loss_config.penalty
    if kind == 'r1':
      return losses.r1_penalty(critic_fn, real)
    if kind == 'dragan':
      return losses.dragan_penalty(critic_fn, real, rng)
    return losses.gradient_penalty(critic_fn, real, fake, rng, one_sided=kind == 'one_sided')

  def _fakes(self, g, params, real, labels, rng):
    """Fresh latents for this batch and G(latents) in training mode -> (latents, fakes, G's batch_stats)."""
    latents = self._training_latents(rng, real.shape[0], labels)
    fake, g_stats = base.apply_train(g, params, *self._generator_inputs(latents))
    return latents, fake, g_stats

  def _d_update(self, d, real, labels, latents, fake, aux, rng):
    """One D update on a real batch against the fakes ``fake`` = G(``latents``) (no gradient to G)."""
    fake = jax.lax.stop_gradient(fake)
    weight = self.loss_config.gradient_penalty

    def loss_fn(params):
      real_out, stats = base.apply_train(d, params, *self._critic_inputs(real, labels))
      fake_out, stats = base.apply_train(
        d.replace(batch_stats=stats), params, *self._critic_inputs(fake, latents.get('label'))
      )
      loss, metrics = self._critic_terms(real, fake, real_out, fake_out, latents, aux)
      if weight:
        penalty = self._penalty(d, params, real, fake, labels, rng)
        loss = loss + weight * penalty
        metrics = {**metrics, **base.scalar_metrics(gradient_penalty=penalty)}
      return loss, (stats, metrics)

    (_, (stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d.params)
    d = base.update_player(d, grads, stats)
    if self.loss_config.clip:
      d = d.replace(params=losses.clip_weights(d.params, self.loss_config.clip))
    return d, metrics

  def _generator_objective(self, d, real, labels, latents, fake):
    """G's loss (and metrics) as a function of its samples ``fake`` = G(``latents``), D fixed."""
    real_out = (
      base.apply_train(d, d.params, *self._critic_inputs(real, labels))[0]
      if self.g_uses_real
      else None
    )
    fake_out, _ = base.apply_train(d, d.params, *self._critic_inputs(fake, latents.get('label')))
    return self._generator_terms(fake, fake_out, real_out, latents)

  def _g_update(self, g, d, real, labels, rng):
    """One G update on fresh latents."""

    def loss_fn(params):
      latents, fake, g_stats = self._fakes(g, params, real, labels, rng)
      loss, metrics = self._generator_objective(d, real, labels, latents, fake)
      return loss, (g_stats, metrics)

    (_, (g_stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g.params)
    return base.update_player(g, grads, g_stats), metrics

  def train_step(self, state: GameState, batch):
    """``batch['image']`` [B, H, W, C] (or [n_critic, B, H, W, C]), ``batch['label']`` [B] (or
    [n_critic, B]; [B] is used for every critic batch); one G update after ``n_critic`` D updates,
    each on its own real batch."""
    stack = (lambda x: x) if self.n_critic > 1 else (lambda x: x[None])
    real = stack(batch['image'])
    labels = jnp.broadcast_to(batch['label'], real.shape[:2])  # One label batch may serve all.
    rng = state.step_rng()
    g, d = state.players['g'], state.players['d']
    if self.reuse_fakes:
      g, d, d_metrics, g_metrics = self._reused_fakes_updates(
        g, d, real[0], labels[0], state.aux, rng
      )
    else:

      def critic_iteration(d, inputs):
        real_k, labels_k, k = inputs
        fakes_rng, penalty_rng = jax.random.split(jax.random.fold_in(rng, k))
        latents, fake, _ = self._fakes(g, g.params, real_k, labels_k, fakes_rng)
        return self._d_update(d, real_k, labels_k, latents, fake, state.aux, penalty_rng)

      d, d_metrics = jax.lax.scan(critic_iteration, d, (real, labels, jnp.arange(self.n_critic)))
      d_metrics = jax.tree.map(jnp.mean, d_metrics)
      g, g_metrics = self._g_update(
        g, d, real[-1], labels[-1], jax.random.fold_in(rng, self.n_critic)
      )
    aux, aux_metrics = self._next_aux(state.aux, d_metrics)
    state = state.replace(step=state.step + 1, players={'g': g, 'd': d}, aux=aux)
    if self.ema_decay:
      state = state.update_ema(self.ema_decay)
    # A metric both players report (InfoGAN's code losses) keeps the G update's value.
    return state, {**d_metrics, **g_metrics, **aux_metrics}

  def _reused_fakes_updates(self, g, d, real, labels, aux, rng):
    """``method.reuse_fakes``: one G forward per step, as in PyTorch's DCGAN example.

    The D update sees x_fake = G(z); the G update then back-propagates its loss through the updated
    D to x_fake and, by the vector-Jacobian product kept from that forward, to G's parameters:
    the same gradient as a fresh forward on the same z (G has not changed in between), one G forward
    less. -> (g, d, D metrics, G metrics).
    """
    fakes_rng, penalty_rng = jax.random.split(rng)

    def fakes(params):
      latents, fake, g_stats = self._fakes(g, params, real, labels, fakes_rng)
      return fake, (latents, g_stats)

    fake, pullback, (latents, g_stats) = jax.vjp(fakes, g.params, has_aux=True)
    d, d_metrics = self._d_update(d, real, labels, latents, fake, aux, penalty_rng)
    fake_grad, g_metrics = jax.grad(
      lambda fake: self._generator_objective(d, real, labels, latents, fake), has_aux=True
    )(fake)
    g = base.update_player(g, pullback(fake_grad)[0], g_stats)
    return g, d, d_metrics, g_metrics

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(latents) in inference mode with the EMA weights when present: [num, H, W, C]."""
    return base.apply_eval(
      state.players['g'], *self._generator_inputs(latents), params=state.ema.get('g')
    )

  def generate(self, state: GameState, rng, num, labels=None):
    """``num`` samples [num, H, W, C]; ``labels`` [num] conditions the conditional families."""
    return self.decode(state, self.latents(rng, num, labels))

  def eval_step(self, state: GameState, batch, rng):
    """D's loss terms (inference mode) on held-out real images against as many samples."""
    real, labels = batch['image'], batch['label']
    latents = self._training_latents(rng, real.shape[0], labels)
    fake = self.decode(state, latents)
    real_out = base.apply_eval(state.players['d'], *self._critic_inputs(real, labels))
    fake_out = base.apply_eval(state.players['d'], *self._critic_inputs(fake, latents.get('label')))
    return self._critic_terms(real, fake, real_out, fake_out, latents, state.aux)[1]

  def figures(self, state: GameState, batch, rng):
    del state, batch, rng  # Sample grids are written by the trainer for every method.
    return {}
