"""CycleGAN (Zhu, Park, Isola & Efros 2017): unpaired translation between domains A and B.

Players: ``g_ab`` (G: A -> B), ``g_ba`` (F: B -> A), ``d_a`` and ``d_b`` (PatchGANs, ``gans.nets.cyclegan``).
A batch holds ``image`` (domain A) and ``image_b`` (domain B) drawn in independent orders, never paired.

    L_G,F = E[(D_B(G(a)) − 1)²] + E[(D_A(F(b)) − 1)²]                         (least squares, the paper's)
            + λ (E|F(G(a)) − a| + E|G(F(b)) − b|)                             (cycle consistency, λ = 10)
            + λ_id λ (E|G(b) − b| + E|F(a) − a|)                              (identity, λ_id = 0.5)
    L_D_B = ½ E[(D_B(b) − 1)²] + ½ E[D_B(pool_B(G(a)))²],   L_D_A likewise    (D's loss halved)

One step (the reference implementation's order): G and F take one update of their joint loss with D_A and
D_B fixed; then each D one update on its real images against fakes of that forward (before G's update)
passed through its image pool (``gans.methods.image_pool``: 50 past fakes, a stored one returned with
probability ½). The pools live in ``state.carry``. Learning rates: constant, then linear decay to 0
(``config.optim.*.decay_start`` / ``decay_steps``, ``gans.optim``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import base, image_pool, steps
from gans.optim import make_optimizer
from gans.state import GameState

DIRECTIONS = ('a2b', 'b2a')


def method_config(pool_size: int = 50) -> ml_collections.ConfigDict:
  """``config.method``: the image pool's size per D (0 = off: D sees the latest fakes)."""
  return ml_collections.ConfigDict(dict(name='cyclegan', pool_size=pool_size))


def loss_config(
  cycle_weight: float = 10.0, identity_weight: float = 0.5
) -> ml_collections.ConfigDict:
  """``config.loss``: λ of the cycle terms and λ_id, the identity terms' weight relative to λ."""
  return ml_collections.ConfigDict(dict(cycle_weight=cycle_weight, identity_weight=identity_weight))


def check_config(config) -> None:
  """The fields no run can use, named (before any work)."""
  if config.method.pool_size < 0:
    raise ValueError(f'config.method.pool_size={config.method.pool_size} must be >= 0 (0 = off).')
  for name in ('cycle_weight', 'identity_weight'):
    if config.loss[name] < 0:
      raise ValueError(f'config.loss.{name}={config.loss[name]} must be >= 0.')


def generator_adversarial_loss(scores: jax.Array) -> jax.Array:
  """E[(D(G(x)) − 1)²]: the reference's mean squared error, twice LSGAN's ½ E[(D(G(z)) − c)²] at c = 1."""
  return 2.0 * losses.least_squares_generator_loss(scores, c=1.0)


class CycleGAN:
  """Players ``g_ab``, ``g_ba``, ``d_a``, ``d_b``; the pools ``pool_a``, ``pool_b`` in ``state.carry``."""

  inputs = ('image', 'image_b')
  batches_per_step = 1

  def __init__(self, config, image_shape, num_classes):
    del num_classes  # Labels are not used in training.
    self.config = config
    self.image_shape = tuple(image_shape)
    model = config.model
    generator = nets.build(model.generator, dtype=model.dtype, **model.generator_kwargs)
    discriminator = nets.build(model.discriminator, dtype=model.dtype, **model.discriminator_kwargs)
    self.nets = {'g_ab': generator, 'g_ba': generator, 'd_a': discriminator, 'd_b': discriminator}

  def init(self, rng, batch) -> GameState:
    if batch['image'].shape[1:] != batch['image_b'].shape[1:]:
      raise ValueError(
        f'the domains differ in shape: image {batch["image"].shape[1:]}, image_b '
        f'{batch["image_b"].shape[1:]}; G maps A to B and F back, so make them one shape '
        '(config.data.image_size resizes both).'
      )
    keys = dict(zip(('g_ab', 'g_ba', 'd_a', 'd_b', 'state'), jax.random.split(rng, 5)))
    example = {'g_ab': batch['image'], 'g_ba': batch['image_b']}
    example.update(d_a=batch['image'], d_b=batch['image_b'])
    players = {
      name: base.init_player(
        self.nets[name],
        make_optimizer(self.config.optim.g if name.startswith('g') else self.config.optim.d),
        keys[name],
        example[name][:2],
      )
      for name in self.nets
    }
    size = self.config.method.pool_size
    carry = {
      'pool_a': image_pool.empty(size, batch['image'].shape[1:]),
      'pool_b': image_pool.empty(size, batch['image_b'].shape[1:]),
    }
    return GameState.create(keys['state'], players, carry=carry)

  def train_step(self, state: GameState, batch):
    """One update of G and F together, then one of each D, on ``batch`` name -> [1, B, H, W, C]."""
    rng = state.step_rng()
    pool_a_rng, pool_b_rng = jax.random.split(rng)
    a, b = batch['image'][0], batch['image_b'][0]
    players = state.players
    cfg = self.config.loss

    def generators_loss(params):
      def translate(name, images):  # G (g_ab) or F (g_ba) in training mode with ``params``.
        return base.apply_train(players[name], params[name], images)[0]

      fake_b, fake_a = translate('g_ab', a), translate('g_ba', b)
      adversarial = generator_adversarial_loss(
        base.apply_eval(players['d_b'], fake_b)
      ) + generator_adversarial_loss(base.apply_eval(players['d_a'], fake_a))
      cycle_a = losses.cycle_consistency_loss(a, translate('g_ba', fake_b))
      cycle_b = losses.cycle_consistency_loss(b, translate('g_ab', fake_a))
      loss = adversarial + cfg.cycle_weight * (cycle_a + cycle_b)
      metrics = dict(g_adversarial=adversarial, cycle_a=cycle_a, cycle_b=cycle_b)
      if cfg.identity_weight:
        identity = losses.identity_loss(b, translate('g_ab', b)) + losses.identity_loss(
          a, translate('g_ba', a)
        )
        loss += cfg.identity_weight * cfg.cycle_weight * identity
        metrics['identity'] = identity
      return loss, (base.scalar_metrics(g_loss=loss, **metrics), (fake_a, fake_b))

    generator_params = {name: players[name].params for name in ('g_ab', 'g_ba')}
    (_, (g_metrics, fakes)), grads = jax.value_and_grad(generators_loss, has_aux=True)(
      generator_params
    )
    fake_a, fake_b = jax.lax.stop_gradient(fakes)
    generators = {name: steps.apply_gradients(players[name], grads[name], {}) for name in grads}

    pool_a, pooled_a = image_pool.query(state.carry['pool_a'], fake_a, pool_a_rng)
    pool_b, pooled_b = image_pool.query(state.carry['pool_b'], fake_b, pool_b_rng)

    def discriminator_loss(params, d, real, fake):
      real_scores, fake_scores = (base.apply_train(d, params, x)[0] for x in (real, fake))
      loss = losses.least_squares_discriminator_loss(real_scores, fake_scores, a=0.0, b=1.0)
      return loss, ({}, base.scalar_metrics(d_loss=loss))

    d_a, d_a_metrics = steps.update_player(
      players['d_a'], discriminator_loss, players['d_a'], a, pooled_a
    )
    d_b, d_b_metrics = steps.update_player(
      players['d_b'], discriminator_loss, players['d_b'], b, pooled_b
    )
    state = state.replace(
      step=state.step + 1,
      players={**generators, 'd_a': d_a, 'd_b': d_b},
      carry={'pool_a': pool_a, 'pool_b': pool_b},
    )
    metrics = {**g_metrics, 'd_a_loss': d_a_metrics['d_loss'], 'd_b_loss': d_b_metrics['d_loss']}
    return state, metrics

  def translate(self, state: GameState, images, direction: str = 'a2b') -> jax.Array:
    """G(images) for ``a2b``, F(images) for ``b2a`` (inference mode): [B, H, W, C] -> [B, H, W, C]."""
    if direction not in DIRECTIONS:
      raise ValueError(f'direction={direction!r}: use a2b or b2a (config.sample.direction).')
    return base.apply_inference(state, 'g_ab' if direction == 'a2b' else 'g_ba', images)

  def generate(self, state: GameState, rng, num, *, image=None, image_b=None):
    """Translations of ``num`` given source images [num, H, W, C]: F(image_b) (domain A) or G(image)
    (domain B); exactly one source. There is nothing to sample without one."""
    del rng
    if (image is None) == (image_b is None):
      raise ValueError(
        'CycleGAN translates images: give generate exactly one of image= (A -> B) or image_b= (B -> A).'
      )
    source, direction = (image, 'a2b') if image is not None else (image_b, 'b2a')
    return self.translate(state, source[:num], direction)

  def eval_step(self, state: GameState, batch, rng):
    """Both cycle errors E|F(G(a)) − a|, E|G(F(b)) − b| and each D's loss on held-out images."""
    del rng
    a, b = batch['image'], batch['image_b']
    fake_b, fake_a = self.translate(state, a, 'a2b'), self.translate(state, b, 'b2a')
    d_a, d_b = state.players['d_a'], state.players['d_b']
    return base.scalar_metrics(
      cycle_a=losses.cycle_consistency_loss(a, self.translate(state, fake_b, 'b2a')),
      cycle_b=losses.cycle_consistency_loss(b, self.translate(state, fake_a, 'a2b')),
      d_a_loss=losses.least_squares_discriminator_loss(
        base.apply_eval(d_a, a), base.apply_eval(d_a, fake_a)
      ),
      d_b_loss=losses.least_squares_discriminator_loss(
        base.apply_eval(d_b, b), base.apply_eval(d_b, fake_b)
      ),
    )

  def figures(self, state: GameState, batch, rng):
    """``cycle_a`` [B, 3, H, W, C]: rows a -> G(a) -> F(G(a)); ``cycle_b``: b -> F(b) -> G(F(b))."""
    del rng
    rows = {}
    for name, images, there, back in (
      ('cycle_a', batch['image'], 'a2b', 'b2a'),
      ('cycle_b', batch['image_b'], 'b2a', 'a2b'),
    ):
      translated = self.translate(state, images, there)
      rows[name] = jnp.stack([images, translated, self.translate(state, translated, back)], 1)
    return rows
