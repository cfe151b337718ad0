"""Blocks of the two-player games (a generator ``g`` against a discriminator or critic ``d``), shared by
the GAN, the conditional GAN, InfoGAN and BEGAN: their configs, the adversarial objectives, D's passes
and the alternating updates.

One step of the game (Goodfellow et al. 2014, Algorithm 1, with n_critic = k D updates per G update):

    for each of the k real batches x:   z ~ p(z);  d <- d - ∇_d L_D(d; x, G(z))    (then clip d's weights)
    z ~ p(z);  g <- g - ∇_g L_G(g; D(G(z)))

``alternate`` runs it; with ``reuse_fakes`` (k = 1) the G update reuses the D update's z and G(z),
back-propagating through the kept VJP of that forward (PyTorch's DCGAN example does the same): the same
gradient as a fresh forward on the same z, one G forward less.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses
from gans.methods import base, steps
from gans.optim import make_optimizer
from gans.state import GameState, Player


def method_config(
  name: str,
  *,
  n_critic: int = 1,
  reuse_fakes: bool = False,
  ema_decay: float = 0.0,
  ema_start: int = 0,
) -> ml_collections.ConfigDict:
  """``config.method`` of a two-player game."""
  return ml_collections.ConfigDict(
    dict(
      name=name,
      n_critic=n_critic,  # D updates per G update, each on its own real batch.
      reuse_fakes=reuse_fakes,  # n_critic = 1: the G update reuses the D update's z and G(z).
      ema_decay=ema_decay,  # Decay of the EMA copy of G used for samples and evaluation; 0 = off.
      ema_start=ema_start,  # The EMA copy follows G itself up to this step.
    )
  )


def check_method_config(method) -> None:
  """Raises ValueError naming the field of ``config.method`` that no run can use."""
  if method.n_critic < 1:
    raise ValueError(f'config.method.n_critic={method.n_critic} must be >= 1.')
  if method.reuse_fakes and method.n_critic != 1:
    raise ValueError(
      'config.method.reuse_fakes=True needs config.method.n_critic=1 (the G update reuses the '
      'fakes of the one D update); set one of them.'
    )
  if not 0 <= method.ema_decay < 1:
    raise ValueError(f'config.method.ema_decay={method.ema_decay} must be in [0, 1).')
  if method.ema_start < 0:
    raise ValueError(f'config.method.ema_start={method.ema_start} must be >= 0.')


# Every field of ``config.loss`` of the adversarial objectives, with its default.
LOSS_DEFAULTS = dict(
  name='nonsaturating',  # A key of ADVERSARIAL_LOSSES.
  a=0.0,  # least_squares: D's target for fakes (0-1 coding: a=0, b=1, c=1; Mao et al. eq. 9: -1, 1, 0).
  b=1.0,  # least_squares: D's target for data.
  c=1.0,  # least_squares: G's target for its samples.
  relativistic_kind='sigmoid',  # relativistic: sigmoid | least_squares | hinge.
  penalty_weight=0.0,  # λ of the penalty on D (r1: γ, applied as γ/2 · R1); 0 = off.
  penalty_kind='two_sided',  # two_sided (WGAN-GP) | one_sided (WGAN-LP) | r1 | dragan.
  clip=0.0,  # c of WGAN's weight clipping of D at init and after each update; 0 = off.
)

PENALTY_KINDS = ('two_sided', 'one_sided', 'r1', 'dragan')


def loss_config(name: str = 'nonsaturating', **overrides) -> ml_collections.ConfigDict:
  """``config.loss`` with every field of ``LOSS_DEFAULTS`` (each overridable from the command line),
  ``name`` and ``overrides`` set."""
  unknown = set(overrides) - set(LOSS_DEFAULTS)
  if unknown:
    raise ValueError(f'unknown loss fields {sorted(unknown)}; known: {sorted(LOSS_DEFAULTS)}.')
  return ml_collections.ConfigDict({**LOSS_DEFAULTS, 'name': name, **overrides})


def check_loss_config(loss, method_name: str) -> None:
  """Raises ValueError naming a bad field of an adversarial ``config.loss``."""
  if loss.name not in ADVERSARIAL_LOSSES:
    raise ValueError(
      f'unknown config.loss.name={loss.name!r} for method {method_name}; use one of '
      f'{", ".join(ADVERSARIAL_LOSSES)}.'
    )
  if loss.penalty_kind not in PENALTY_KINDS:
    raise ValueError(
      f'unknown config.loss.penalty_kind={loss.penalty_kind!r}; use one of {PENALTY_KINDS}.'
    )
  if loss.penalty_weight < 0 or loss.clip < 0:
    raise ValueError('config.loss.penalty_weight and config.loss.clip must be >= 0 (0 = off).')


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


def score_metrics(loss: AdversarialLoss, real_scores, fake_scores) -> base.Metrics:
  """Mean D(x) and D(G(z)): probabilities for logit losses, raw critic values otherwise."""
  squash = jax.nn.sigmoid if loss.probability else (lambda s: s)
  return base.scalar_metrics(
    d_real=jnp.mean(squash(real_scores)), d_fake=jnp.mean(squash(fake_scores))
  )


def discriminate(d: Player, params, real_inputs: tuple, fake_inputs: tuple):
  """D in training mode on data, then on samples (BatchNorm statistics carried from the first pass to
  the second): -> (outputs on data, outputs on samples, D's batch_stats)."""
  real_out, stats = base.apply_train(d, params, *real_inputs)
  fake_out, stats = base.apply_train(d.replace(batch_stats=stats), params, *fake_inputs)
  return real_out, fake_out, stats


def penalty(kind: str, critic_fn, real, fake, rng) -> jax.Array:
  """P(D) of ``loss.penalty_kind`` (unscaled) for ``critic_fn``: images [B, ...] -> scores [B]."""
  if kind == 'r1':
    return losses.r1_penalty(critic_fn, real)
  if kind == 'dragan':
    return losses.dragan_penalty(critic_fn, real, rng)
  return losses.gradient_penalty(critic_fn, real, fake, rng, one_sided=kind == 'one_sided')


def critic_loss(loss: AdversarialLoss, cfg, d: Player, params, real_inputs, fake_inputs, rng):
  """L_D(scores on data, scores on samples) + λ·P(D) for a D whose outputs are its scores [B].

  ``real_inputs``, ``fake_inputs``: D's positional inputs, images first (then its conditions, e.g.
  labels). -> (loss, (D's batch_stats, metrics)), the ``steps.update_player`` signature.
  """
  real_scores, fake_scores, stats = discriminate(d, params, real_inputs, fake_inputs)
  adversarial = loss.d_loss(real_scores, fake_scores)
  metrics = {
    **base.scalar_metrics(d_loss=adversarial),
    **score_metrics(loss, real_scores, fake_scores),
  }
  if not cfg.penalty_weight:
    return adversarial, (stats, metrics)
  real, *conditions = real_inputs

  def critic_fn(images):
    return base.apply_train(d, params, images, *conditions)[0]

  value = penalty(cfg.penalty_kind, critic_fn, real, fake_inputs[0], rng)
  metrics = {**metrics, **base.scalar_metrics(gradient_penalty=value)}
  return adversarial + penalty_coefficient(cfg) * value, (stats, metrics)


def penalty_coefficient(cfg) -> float:
  """The factor of P(D) in D's loss: ``loss.penalty_weight`` = λ for the gradient penalties (WGAN-GP's
  λ = 10), and = γ for R1, whose regulariser is γ/2 · E‖∇D(x)‖² (Mescheder et al. 2018, eq. 9), so the
  papers' γ (e.g. 10) is the value to set."""
  return cfg.penalty_weight / 2 if cfg.penalty_kind == 'r1' else cfg.penalty_weight


def check_penalty_critic(loss_cfg, d: Player) -> None:
  """Raises ValueError when a gradient penalty is asked of a D with BatchNorm (running ``mean``/``var``
  in its batch_stats): BatchNorm couples the examples of a batch, so the per-example input gradients that
  the penalties constrain are not the critic's (Gulrajani et al. 2017, Sec. 4, drop it for this reason)."""
  if not loss_cfg.get('penalty_weight'):
    return
  norms = [
    jax.tree_util.keystr(path)
    for path, _ in jax.tree_util.tree_leaves_with_path(d.batch_stats)
    if getattr(path[-1], 'key', None) == 'mean'
  ]
  if norms:
    raise ValueError(
      f'config.loss.penalty_weight={loss_cfg.penalty_weight} ({loss_cfg.penalty_kind}) on a '
      f'discriminator with BatchNorm ({", ".join(norms[:3])}): per-example gradient norms are wrong '
      'under BatchNorm. Use a critic without it (e.g. --config.model.discriminator_kwargs.batch_norm='
      'False, as configs/wgan_gp.py does, or layer norm), or set --config.loss.penalty_weight=0.'
    )


def generator_loss(loss: AdversarialLoss, d: Player, fake_inputs, real_inputs):
  """L_G(D(G(z))) with D fixed (training mode, its statistics discarded), and D's scores on data for
  the losses that read them: -> (loss, metrics)."""
  fake_scores = base.apply_train(d, d.params, *fake_inputs)[0]
  real_scores = base.apply_train(d, d.params, *real_inputs)[0] if loss.uses_real_in_g else None
  value = loss.g_loss(fake_scores, real_scores)
  return value, base.scalar_metrics(g_loss=value)


def init_game(config, rng, generator, g_inputs, discriminator, d_inputs, carry=None) -> GameState:
  """The state of a two-player game: players ``g`` and ``d`` initialised on example inputs
  (``g_inputs(g_rng)``: G's positional inputs, drawn from G's key; ``d_inputs``: D's), their
  optimizers ``config.optim.g`` / ``.d``, an EMA copy of G when ``config.method.ema_decay`` > 0."""
  g_rng, d_rng, state_rng = jax.random.split(rng, 3)
  players = {
    'g': base.init_player(generator, make_optimizer(config.optim.g), g_rng, *g_inputs(g_rng)),
    'd': base.init_player(discriminator, make_optimizer(config.optim.d), d_rng, *d_inputs),
  }
  clip = config.loss.get('clip', 0.0)
  if clip:  # WGAN's critic is clipped from the start, as the reference clips before each update.
    players['d'] = players['d'].replace(params=losses.clip_weights(players['d'].params, clip))
  check_penalty_critic(config.loss, players['d'])
  ema_players = ('g',) if config.method.ema_decay else ()
  return GameState.create(state_rng, players, ema_players=ema_players, carry=carry)


def advance(state: GameState, g: Player, d: Player, method, **carry) -> GameState:
  """The state after a step: step + 1, the updated players and ``carry`` entries, G's EMA copy
  (``config.method.ema_decay`` / ``ema_start``) updated."""
  state = state.replace(
    step=state.step + 1,
    players={**state.players, 'g': g, 'd': d},
    carry={**state.carry, **carry},
  )
  return steps.update_ema(state, method.ema_decay, method.ema_start)


def alternate(
  g: Player,
  d: Player,
  batches: dict[str, jax.Array],
  rng: jax.Array,
  fakes_fn,
  d_loss_fn,
  g_loss_fn,
  method,
  clip: float = 0.0,
) -> tuple[Player, Player, base.Metrics]:
  """k D updates (each on its own batch and fresh fakes), then one G update (module docstring).

  Args:
    batches: name -> [k, B, ...], the step's data.
    fakes_fn: (g_params, batch, rng) -> (fakes [B, ...], (latents, G's batch_stats)): G in training
      mode on fresh latents for ``batch`` (name -> [B, ...]; conditional games read its labels).
    d_loss_fn: (d, d_params, batch, fakes, latents, rng) -> (loss, (D's batch_stats, metrics)).
    g_loss_fn: (fakes, d, batch, latents) -> (loss, metrics), D fixed.
    method: ``config.method``; with ``reuse_fakes`` (k = 1) the G update back-propagates through the
      D update's fakes.
    clip: c > 0 clips D's weights to [-c, c] after each of its updates (WGAN; ``init_game`` clips the
      initial ones).

  Returns:
    (g, d, metrics): D's metrics averaged over its k updates, then G's (a name both report keeps G's).
  """

  def d_update(d, batch, fakes, latents, rng):
    fakes = jax.lax.stop_gradient(fakes)
    d, metrics = steps.update_player(d, functools.partial(d_loss_fn, d), batch, fakes, latents, rng)
    if clip:
      d = d.replace(params=losses.clip_weights(d.params, clip))
    return d, metrics

  if method.reuse_fakes:
    batch = jax.tree.map(lambda x: x[0], batches)
    fakes_rng, d_rng = jax.random.split(rng)
    fakes, pullback, (latents, g_stats) = jax.vjp(
      lambda params: fakes_fn(params, batch, fakes_rng), g.params, has_aux=True
    )
    d, d_metrics = d_update(d, batch, fakes, latents, d_rng)
    fakes_grad, g_metrics = jax.grad(g_loss_fn, has_aux=True)(fakes, d, batch, latents)
    return steps.apply_gradients(g, pullback(fakes_grad)[0], g_stats), d, {**d_metrics, **g_metrics}

  def critic_update(d, batch, rng):
    fakes_rng, d_rng = jax.random.split(rng)
    fakes, (latents, _) = fakes_fn(g.params, batch, fakes_rng)
    return d_update(d, batch, fakes, latents, d_rng)

  d, d_metrics = steps.critic_loop(critic_update, d, batches, rng)
  last = jax.tree.map(lambda x: x[-1], batches)
  g_rng = jax.random.fold_in(rng, jax.tree.leaves(batches)[0].shape[0])

  def g_objective(params):
    fakes, (latents, g_stats) = fakes_fn(params, last, g_rng)
    loss, metrics = g_loss_fn(fakes, d, last, latents)
    return loss, (g_stats, metrics)

  g, g_metrics = steps.update_player(g, g_objective)
  return g, d, {**d_metrics, **g_metrics}
