"""StyleGAN (Karras, Laine & Aila 2019) with StyleGAN2's generator and regularisers (Karras et al. 2020).

Nets (``gans.nets.stylegan``): G = synthesis ∘ mapping, z -> w -> per-layer styles ws [B, L, w_dim],
style convolutions (modulated/demodulated, or the 2019 AdaIN with ``model.style_block=adain``) with
noise inputs and a skip output; D a residual net with a minibatch-std layer. Equalized LR everywhere.

One step (one jitted call), on a batch x of B images:

    D:   L_D = E[softplus(D(G(z)))] + E[softplus(-D(x))]                      (non-saturating logistic)
    G:   L_G = E[softplus(-D(G(z)))]
    every k_D-th step, D:  (γ/2) k_D · E‖∇_x D(x)‖²                           (lazy R1)
    every k_G-th step, G:  w_pl k_G · E[(‖J_wᵀ y‖ - a)²], a <- a + 0.01 (E‖J_wᵀ y‖ - a)  (path length)

with the regularised players' Adam at lr·c, β^c, c = k/(k+1) (``steps.lazy_optimizer``; the config holds
the uncorrected values). Style mixing: with probability ``method.style_mixing_prob`` a batch takes two
latents z1, z2 and a crossover layer c ~ U{1, ..., L-1}: layers i < c read w1, layers ≥ c read w2
(``mix``). The carry holds w̄ (the moving average of w, β = ``method.w_avg_beta``, for truncation
w̄ + ψ(w - w̄), ``truncate``) and a. G's EMA has a half-life of ``method.ema_kimg`` thousand images,
ramped up over the first ``ema_rampup`` of the images seen: β = 0.5^{B / min(1000 ema_kimg,
ema_rampup · images)}, used for samples, figures and evaluation.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import adversarial, base, steps
from gans.nets import stylegan as stylegan_nets
from gans.optim import make_optimizer
from gans.state import GameState

CONST_NOISE_SEED = 0  # The key of the fixed noise of ``noise='const'`` samples.


def method_config(
  style_mixing_prob: float = 0.9,
  w_avg_beta: float = 0.995,
  ema_kimg: float = 10.0,
  ema_rampup: float = 0.05,
) -> ml_collections.ConfigDict:
  """``config.method`` (the official defaults)."""
  return ml_collections.ConfigDict(
    dict(
      name='stylegan',
      n_critic=1,  # D updates per G update (1 in the papers).
      reuse_fakes=False,
      style_mixing_prob=style_mixing_prob,  # Probability that a batch mixes two latents.
      w_avg_beta=w_avg_beta,  # Decay of the tracked mean w̄ (truncation centre).
      ema_kimg=ema_kimg,  # Half-life of G's EMA in thousands of images; 0 = no EMA.
      ema_rampup=ema_rampup,  # The half-life is at most this fraction of the images seen; 0 = none.
    )
  )


def loss_config(
  r1_gamma: float = 10.0,
  r1_interval: int = 16,
  pl_weight: float = 2.0,
  pl_interval: int = 4,
  pl_decay: float = 0.01,
  pl_batch_shrink: int = 2,
) -> ml_collections.ConfigDict:
  """``config.loss``: lazy R1 (γ, every k_D steps) and path length (weight, every k_G steps, decay
  of its mean, batch divisor)."""
  return ml_collections.ConfigDict(
    dict(
      r1_gamma=r1_gamma,
      r1_interval=r1_interval,
      pl_weight=pl_weight,
      pl_interval=pl_interval,
      pl_decay=pl_decay,
      pl_batch_shrink=pl_batch_shrink,
    )
  )


def check_config(config) -> None:
  """The fields no run can use, named with their fix (before any work)."""
  method, loss = config.method, config.loss
  if method.n_critic < 1:
    raise ValueError(f'config.method.n_critic={method.n_critic} must be >= 1.')
  if not 0.0 <= method.style_mixing_prob <= 1.0:
    raise ValueError(
      f'config.method.style_mixing_prob={method.style_mixing_prob} is a probability: set it in '
      '[0, 1] (0.9 in the papers, 0 = no mixing).'
    )
  if not 0.0 <= method.w_avg_beta < 1.0:
    raise ValueError(f'config.method.w_avg_beta={method.w_avg_beta} must be in [0, 1) (0.995).')
  if method.ema_kimg < 0 or method.ema_rampup < 0:
    raise ValueError('config.method.ema_kimg and ema_rampup must be >= 0 (0 = off).')
  for field in ('r1_interval', 'pl_interval'):
    if loss[field] < 1:
      raise ValueError(
        f'config.loss.{field}={loss[field]}: a lazy regulariser runs every k >= 1 steps; set it to '
        '1 (every step) or more (16 for R1, 4 for path length in the papers).'
      )
  for field in ('r1_gamma', 'pl_weight', 'pl_decay'):
    if loss[field] < 0:
      raise ValueError(f'config.loss.{field}={loss[field]} must be >= 0 (0 = off).')
  if loss.pl_batch_shrink < 1 or config.train.batch_size % loss.pl_batch_shrink:
    raise ValueError(
      f'config.loss.pl_batch_shrink={loss.pl_batch_shrink} must be >= 1 and divide '
      f'config.train.batch_size={config.train.batch_size}.'
    )
  if config.model.style_block not in stylegan_nets.STYLE_BLOCKS:
    raise ValueError(
      f'config.model.style_block={config.model.style_block!r}; use one of '
      f'{", ".join(stylegan_nets.STYLE_BLOCKS)}.'
    )
  if config.model.dtype != 'float32':
    raise ValueError(
      f'config.model.dtype={config.model.dtype!r}: the StyleGAN nets compute in float32 only; set '
      '--config.model.dtype=float32.'
    )
  stylegan_nets.check_resolution(config.data.image_size, 'config.data.image_size')
  group = config.model.discriminator_kwargs.mbstd_group_size
  if group < 1 or config.train.batch_size % min(group, config.train.batch_size):
    raise ValueError(
      f'config.model.discriminator_kwargs.mbstd_group_size={group} must be >= 1 and divide '
      f'config.train.batch_size={config.train.batch_size}.'
    )
  if config.sample.get('noise', 'random') not in ('random', 'const'):
    raise ValueError(
      f'config.sample.noise={config.sample.noise!r}: use random (re-drawn per sample) or const '
      '(one fixed draw).'
    )
  psi = config.sample.get('truncation')
  if psi is not None and psi < 0:
    raise ValueError(
      f'config.sample.truncation={psi}: ψ scales w - w̄, so it must be >= 0 (1 = no truncation, '
      '0 = the mean image).'
    )


def mix(w1: jax.Array, w2: jax.Array, crossover, num_layers: int) -> jax.Array:
  """Style mixing: ws [B, L, w_dim] with layer i = w1 for i < ``crossover``, w2 for i ≥ it (w1, w2
  [B, w_dim]; crossover an int, scalar or [B] per sample; crossover = L: w1 only)."""
  first = (jnp.arange(num_layers) < jnp.asarray(crossover)[..., None])[..., None]
  return jnp.where(first, w1[:, None], w2[:, None])


def truncate(ws: jax.Array, w_avg: jax.Array, psi: float) -> jax.Array:
  """The truncation trick in w space: w̄ + ψ (w - w̄) for w [..., w_dim] and w̄ [w_dim]."""
  return w_avg + psi * (ws - w_avg)


def ema_decay(step: jax.Array, batch: int, method) -> jax.Array:
  """β of G's EMA after ``step`` steps of ``batch`` images: 0.5^{B / n}, n = 1000·ema_kimg, at most
  ema_rampup · step · B (the official schedule)."""
  half_life = jnp.asarray(method.ema_kimg * 1000.0)
  if method.ema_rampup:
    half_life = jnp.minimum(half_life, step * batch * method.ema_rampup)
  return 0.5 ** (batch / jnp.maximum(half_life, 1e-8))


class StyleGAN:
  """Players ``g`` (z, noise -> images) and ``d`` (images -> logits [B]); carry ``w_avg``, ``pl_mean``."""

  inputs = ('image',)

  def __init__(self, config, image_shape, num_classes):
    del num_classes
    self.config = config
    self.batches_per_step = config.method.n_critic
    self.image_shape = tuple(image_shape)
    stylegan_nets.check_resolution(image_shape[0], 'the image side')
    model = config.model
    self.generator = nets.build(
      model.generator,
      image_shape=self.image_shape,
      style_block=model.style_block,
      dtype=model.dtype,
      **model.generator_kwargs,
    )
    self.discriminator = nets.build(
      model.discriminator, dtype=model.dtype, **model.discriminator_kwargs
    )
    self.num_styles = stylegan_nets.num_styles(image_shape[0])
    self.loss = adversarial.ADVERSARIAL_LOSSES['nonsaturating'](config.loss)

  @property
  def z_dim(self) -> int:
    return self.config.model.generator_kwargs.z_dim

  # Latents, styles and noise.

  def noise(self, rng, num: int, const: bool = False) -> list[jax.Array]:
    """The noise inputs [num, r, r, 1] of every style conv: fresh from ``rng``, or (``const``) one
    fixed draw shared by all samples."""
    if const:
      rng = jax.random.PRNGKey(CONST_NOISE_SEED)
    shapes = stylegan_nets.noise_shapes(self.image_shape[0], 1 if const else num)
    noise = [
      jax.random.normal(key, shape)
      for key, shape in zip(jax.random.split(rng, len(shapes)), shapes)
    ]
    return [jnp.broadcast_to(n, (num, *n.shape[1:])) for n in noise]

  def map(self, params, z: jax.Array) -> jax.Array:
    """w = mapping(z): [B, z_dim] -> [B, w_dim]."""
    return self.generator.apply({'params': params}, z, method='map')

  def synthesize(self, params, ws: jax.Array, noise) -> jax.Array:
    """Images [B, H, W, C] of styles ws [B, L, w_dim] and noise."""
    return self.generator.apply({'params': params}, ws, noise, method='synthesize')

  def mixed_styles(self, params, rng, num: int) -> jax.Array:
    """ws [num, L, w_dim] of fresh latents, two of them mixed at a random crossover with
    probability ``method.style_mixing_prob`` (one crossover per batch)."""
    z_rng, mix_z_rng, coin_rng, cut_rng = jax.random.split(rng, 4)
    w1 = self.map(params, jax.random.normal(z_rng, (num, self.z_dim)))
    prob = self.config.method.style_mixing_prob
    if not prob:
      return mix(w1, w1, self.num_styles, self.num_styles)
    w2 = self.map(params, jax.random.normal(mix_z_rng, (num, self.z_dim)))
    cut = jax.random.randint(cut_rng, (), 1, self.num_styles)
    crossover = jnp.where(jax.random.uniform(coin_rng) < prob, cut, self.num_styles)
    return mix(w1, w2, crossover, self.num_styles)

  def latents(self, rng, num):
    """``{'z': [num, z_dim]}``, z ~ N(0, I)."""
    return {'z': jax.random.normal(rng, (num, self.z_dim))}

  def styles(self, state: GameState, z: jax.Array, truncation=None) -> jax.Array:
    """ws [num, L, w_dim] of the EMA generator's mapping, truncated at ψ (default
    ``config.sample.truncation``; None = 1) around the tracked w̄."""
    if truncation is None:
      truncation = self.config.sample.get('truncation')
    params = state.variables('g')['params']
    w = self.map(params, z)
    if truncation is not None:
      w = truncate(w, state.carry['w_avg'], truncation)
    return jnp.repeat(w[:, None], self.num_styles, axis=1)

  def render(self, state: GameState, ws: jax.Array, noise) -> jax.Array:
    """The EMA generator's images of ws and noise, clipped to the data's value range."""
    low, high = self.config.data.value_range
    return jnp.clip(self.synthesize(state.variables('g')['params'], ws, noise), low, high)

  # The protocol.

  def init(self, rng, batch) -> GameState:
    example = batch['image'][:2]
    g_rng, d_rng, state_rng = jax.random.split(rng, 3)
    loss = self.config.loss
    g_optim = (
      steps.lazy_optimizer(self.config.optim.g, loss.pl_interval)
      if loss.pl_weight
      else self.config.optim.g
    )
    d_optim = (
      steps.lazy_optimizer(self.config.optim.d, loss.r1_interval)
      if loss.r1_gamma
      else self.config.optim.d
    )
    z = jax.random.normal(g_rng, (2, self.z_dim))
    players = {
      'g': base.init_player(
        self.generator, make_optimizer(g_optim), g_rng, z, self.noise(g_rng, 2)
      ),
      'd': base.init_player(self.discriminator, make_optimizer(d_optim), d_rng, example),
    }
    w_dim = self.config.model.generator_kwargs.w_dim
    carry = {'w_avg': jnp.zeros((w_dim,), jnp.float32), 'pl_mean': jnp.zeros((), jnp.float32)}
    ema_players = ('g',) if self.config.method.ema_kimg else ()
    return GameState.create(state_rng, players, ema_players=ema_players, carry=carry)

  def train_step(self, state: GameState, batch):
    """D and G updates (``adversarial.alternate``), then lazy R1 and path length, w̄ and G's EMA."""
    rng = state.step_rng()
    game_rng, pl_rng, w_rng = jax.random.split(rng, 3)
    g, d = state.players['g'], state.players['d']
    method, loss = self.config.method, self.config.loss
    num = batch['image'].shape[1]

    def fakes_fn(params, data, rng):
      style_rng, noise_rng = jax.random.split(rng)
      ws = self.mixed_styles(params, style_rng, num)
      return self.synthesize(params, ws, self.noise(noise_rng, num)), (ws, {})

    def d_loss_fn(d, params, data, fakes, latents, rng):
      del latents, rng
      real_scores, fake_scores, stats = adversarial.discriminate(
        d, params, (data['image'],), (fakes,)
      )
      value = self.loss.d_loss(real_scores, fake_scores)
      metrics = {
        **base.scalar_metrics(d_loss=value),
        **adversarial.score_metrics(self.loss, real_scores, fake_scores),
      }
      return value, (stats, metrics)

    def g_loss_fn(fakes, d, data, latents):
      del latents
      return adversarial.generator_loss(self.loss, d, (fakes,), (data['image'],))

    g, d, metrics = adversarial.alternate(
      g, d, batch, game_rng, fakes_fn, d_loss_fn, g_loss_fn, method
    )
    real = batch['image'][-1]
    if loss.r1_gamma:
      d, r1_metrics = steps.every(loss.r1_interval, state.step, self.r1_update, d, real)
      metrics.update(r1_metrics)
    pl_mean = state.carry['pl_mean']
    if loss.pl_weight:
      (g, pl_mean), pl_metrics = steps.every(
        loss.pl_interval,
        state.step,
        functools.partial(self.path_length_update, num=num // loss.pl_batch_shrink),
        (g, pl_mean),
        pl_rng,
      )
      metrics.update(pl_metrics)
    w = self.map(g.params, jax.random.normal(w_rng, (num, self.z_dim)))
    w_avg = state.carry['w_avg']
    w_avg = jnp.mean(w, axis=0) + method.w_avg_beta * (w_avg - jnp.mean(w, axis=0))
    state = state.replace(
      step=state.step + 1,
      players={**state.players, 'g': g, 'd': d},
      carry={**state.carry, 'w_avg': w_avg, 'pl_mean': pl_mean},
    )
    decay = ema_decay(state.step, num, method)
    metrics.update(base.scalar_metrics(pl_mean=pl_mean, ema_decay=decay))
    return steps.update_ema(state, decay), metrics

  def r1_update(self, d, real):
    """D's lazy R1 update: θ_D -= opt(∇ (γ/2) k_D E‖∇_x D(x)‖²) on the real images [B, H, W, C]."""
    loss = self.config.loss

    def r1_loss(params):
      value = losses.r1_penalty(lambda x: base.apply_train(d, params, x)[0], real)
      return value * loss.r1_gamma / 2 * loss.r1_interval, (
        {},
        base.scalar_metrics(r1_penalty=value),
      )

    return steps.update_player(d, r1_loss)

  def path_length_update(self, carried, rng, *, num: int):
    """G's lazy path-length update on ``num`` mixed samples: (g, a) -> (g, a')."""
    g, pl_mean = carried
    loss = self.config.loss
    style_rng, noise_rng, y_rng = jax.random.split(rng, 3)

    def pl_loss(params):
      ws = self.mixed_styles(params, style_rng, num)
      noise = self.noise(noise_rng, num)
      lengths = losses.path_lengths(lambda ws: self.synthesize(params, ws, noise), ws, y_rng)
      value, mean = losses.path_length_penalty(lengths, pl_mean, loss.pl_decay)
      metrics = base.scalar_metrics(path_length_penalty=value, new_pl_mean=mean)
      return value * loss.pl_weight * loss.pl_interval, ({}, metrics)

    g, metrics = steps.update_player(g, pl_loss)
    return (g, metrics.pop('new_pl_mean')), metrics

  def decode(self, state: GameState, latents) -> jax.Array:
    """Images of z (EMA G, fixed noise, truncation ``config.sample.truncation``)."""
    z = latents['z']
    return self.render(state, self.styles(state, z), self.noise(None, z.shape[0], const=True))

  def generate(self, state: GameState, rng, num, truncation=None):
    """``num`` samples [num, H, W, C] at ψ = ``truncation`` (default the config's), with noise
    re-drawn (``config.sample.noise='random'``) or the fixed draw of ``decode`` (``'const'``)."""
    z_rng, noise_rng = jax.random.split(rng)
    ws = self.styles(state, self.latents(z_rng, num)['z'], truncation)
    const = self.config.sample.get('noise', 'random') == 'const'
    return self.render(state, ws, self.noise(noise_rng, num, const=const))

  def eval_step(self, state: GameState, batch, rng):
    """D's logistic loss and mean D(x), D(G(z)) on held-out images against as many samples."""
    fakes = self.generate(state, rng, batch['image'].shape[0])
    d = state.players['d']
    real_scores, fake_scores = base.apply_eval(d, batch['image']), base.apply_eval(d, fakes)
    return {
      **base.scalar_metrics(d_loss=self.loss.d_loss(real_scores, fake_scores)),
      **adversarial.score_metrics(self.loss, real_scores, fake_scores),
    }

  def traversals(self, state: GameState, rng, *, rows: int = 6, cols: int = 6, draws: int = 32):
    """Grids [rows, cols, H, W, C] of the EMA generator (fixed noise unless said):

    style_mixing: tile (i, j) takes the coarse styles (layers < L/2: the low resolutions) of row
      source i and the fine ones (layers ≥ L/2) of column source j; row 0 shows the column sources
      and column 0 the row sources, tile (0, 0) the mean image w̄ (the 2019 paper's Fig. 3);
    stochastic_variation: each row one w under ``cols - 1`` noise draws, then the per-pixel standard
      deviation over ``draws`` draws (shown from low = 0 to high = the largest std in the grid; the
      2019 paper's Fig. 4);
    truncation: each row one z at ψ = 0 ... 1 in ``cols`` steps (w̄ + ψ(w - w̄)).

    The three grids are one synthesis call, so ``figures`` compiles G once.
    """
    mix_rng, source_rng, noise_rng, trunc_rng = jax.random.split(rng, 4)
    low, high = self.config.data.value_range
    w_avg, cells = state.carry['w_avg'], rows * cols
    # Style mixing: sources with w̄ at index 0; tile (i, j) crosses over at L/2, row 0 takes every
    # layer from column j's source (crossover 0), column 0 from row i's (crossover L).
    w = self.styles(state, self.latents(mix_rng, rows + cols - 2)['z'])[:, 0]
    row_w = jnp.repeat(jnp.concatenate([w_avg[None], w[: rows - 1]]), cols, axis=0)
    col_w = jnp.tile(jnp.concatenate([w_avg[None], w[rows - 1 :]]), (rows, 1))
    i, j = jnp.divmod(jnp.arange(cells), cols)
    crossover = jnp.where(j == 0, self.num_styles, jnp.where(i == 0, 0, self.num_styles // 2))
    mixing = mix(row_w, col_w, crossover, self.num_styles)
    # Stochastic variation: each row's w under ``draws`` fresh noises.
    varied = jnp.repeat(self.styles(state, self.latents(source_rng, rows)['z']), draws, axis=0)
    # Truncation sweep.
    w = self.styles(state, self.latents(trunc_rng, rows)['z'], truncation=1.0)[:, 0]
    swept = jax.vmap(lambda psi: truncate(w, w_avg, psi), out_axes=1)(jnp.linspace(0.0, 1.0, cols))
    swept = mix(
      swept.reshape(cells, -1), swept.reshape(cells, -1), self.num_styles, self.num_styles
    )
    const, fresh = self.noise(None, 2 * cells, const=True), self.noise(noise_rng, rows * draws)
    noise = [jnp.concatenate([c[:cells], f, c[cells:]]) for c, f in zip(const, fresh)]
    images = self.render(state, jnp.concatenate([mixing, varied, swept]), noise)
    mixing, varied, swept = jnp.split(images, [cells, cells + rows * draws])
    varied = varied.reshape(rows, draws, *self.image_shape)
    std = jnp.std(varied, axis=1, keepdims=True)
    std = low + (high - low) * std / jnp.maximum(jnp.max(std), 1e-8)
    shape = (rows, cols, *self.image_shape)
    return {
      'style_mixing': mixing.reshape(shape),
      'stochastic_variation': jnp.concatenate([varied[:, : cols - 1], std], axis=1),
      'truncation': swept.reshape(shape),
    }

  def figures(self, state: GameState, batch, rng):
    del batch
    return self.traversals(state, rng)
