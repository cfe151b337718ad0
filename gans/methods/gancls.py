"""GAN-CLS with GAN-INT and style transfer (Reed et al. 2016, "Generative Adversarial Text to Image
Synthesis"): images drawn from captions, G(z, φ(t)), and an inverse net S for style transfer.

Players (``gans.nets.gancls``): ``text`` (φ: tokens -> h ∈ R^D), ``image_encoder`` (ψ, the image side of
φ's matching loss), ``g`` (G(z, h)), ``d`` (the matching-aware D(x, h)) and ``s`` (S: x -> z). A batch holds
``image``, ``label`` and ``caption`` int32 [B, C, L] (C captions per image, ``gans.data.captions``); each
update uses one caption per image, drawn at random.

Two phases, in one jitted step (``steps.switch``):

1. steps < ``method.pretrain_steps``: φ and ψ learn a joint embedding of images and their captions,
   the symmetric contrastive loss (``losses.symmetric_contrastive_loss``, τ = ``loss.temperature``) on the
   k = n_critic batches of the step. Nothing else moves.
2. the game, with φ frozen (``method.train_text_encoder=True``: φ and ψ keep taking their matching
   update first in every step). With h = φ(t) of the right caption, ĥ = φ(t̂) of a caption of an image of
   another class in the batch (``wrong_rows``), s_{·} = D's logits:

       L_D = -log s(x, h) - ½ [log(1 - s(x, ĥ)) + log(1 - s(G(z, h), h))]            (the paper's 3 terms)
       L_G = -log s(G(z, h), h) - λ_int log s(G(z', h_int), h_int),  h_int = β h + (1 - β) h_→
       L_S = E‖z - S(G(z, h))‖²  on G's samples only (G before this step's update, inference mode)

   with h_→ the embedding of the next image's caption in the batch (``interpolate``), β =
   ``loss.interpolation_beta`` = 0.5 and λ_int = ``loss.interpolation_weight`` (GAN-INT: in G's loss
   only). ``loss.matching_aware=False`` is the baseline without the real/wrong term:
   L_D = -log s(x, h) - log(1 - s(G(z, h), h)).

Style transfer: G(S(x), φ(t′)) draws caption t′ in the style of the real image x. Samples from text
(``--mode=sample --config.sample.kind=text --config.sample.captions='a dark sneaker;a light, wide dress'``)
refuse a word outside the vocabulary, naming it; ``kind=style_transfer`` draws test images x
(or ``sample.input_dir``) × those captions. Without a caption, ``generate`` cycles the captions of every
class and attribute combination (``captions.FULL_TEMPLATE``), which ``class_samples`` scores by class.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gans import losses, nets
from gans.data import captions, datasets
from gans.evaluation.evaluator import to_unit_range
from gans.methods import adversarial, base, steps
from gans.nets import gancls as gancls_nets
from gans.optim import make_optimizer
from gans.state import GameState

ENCODERS = ('text', 'image_encoder')


def method_config(
  *, pretrain_steps: int = 500, train_text_encoder: bool = False, **game
) -> ml_collections.ConfigDict:
  """``config.method``: the two-player game's fields (``adversarial.method_config``; no
  ``reuse_fakes``), the matching pre-training's length and whether φ keeps learning after it."""
  cfg = adversarial.method_config('gancls', **game)
  cfg.pretrain_steps = pretrain_steps  # Steps of φ's matching pre-training before the game.
  cfg.train_text_encoder = (
    train_text_encoder  # After it, φ keeps its matching update (else frozen).
  )
  return cfg


def loss_config(
  *,
  matching_aware: bool = True,
  interpolation_weight: float = 1.0,
  interpolation_beta: float = 0.5,
  temperature: float = 0.1,
) -> ml_collections.ConfigDict:
  """``config.loss`` (module docstring)."""
  return ml_collections.ConfigDict(
    dict(
      matching_aware=matching_aware,  # D's real/wrong term (False: the baseline without it).
      interpolation_weight=interpolation_weight,  # λ_int of GAN-INT in G's loss; 0 = off.
      interpolation_beta=interpolation_beta,  # β of h_int = β h + (1 - β) h_→.
      temperature=temperature,  # τ of the matching loss.
    )
  )


def check_config(config) -> None:
  """The fields no run can use, named (before any work)."""
  adversarial.check_method_config(config.method)
  method, loss, data = config.method, config.loss, config.data
  if method.reuse_fakes:
    raise ValueError(
      'config.method.reuse_fakes=True: GAN-CLS draws G fresh samples for its own update (GAN-INT adds '
      'interpolated captions); set it to False.'
    )
  if method.pretrain_steps < 0:
    raise ValueError(f'config.method.pretrain_steps={method.pretrain_steps} must be >= 0.')
  if loss.interpolation_weight < 0 or not 0 <= loss.interpolation_beta <= 1:
    raise ValueError(
      'config.loss.interpolation_weight must be >= 0 and config.loss.interpolation_beta in [0, 1] '
      f'(got {loss.interpolation_weight}, {loss.interpolation_beta}).'
    )
  if loss.temperature <= 0:
    raise ValueError(f'config.loss.temperature={loss.temperature} must be > 0.')
  if data.get('captions', '') not in captions.KINDS:
    raise ValueError(
      f'method gancls reads captions: set config.data.captions to one of {captions.KINDS} (got '
      f"{data.get('captions', '')!r}); configs/gancls.py sets 'attributes'."
    )
  if data.get('max_caption_length', 0) < 1:
    raise ValueError('config.data.max_caption_length must be >= 1 (tokens per caption).')


def choose_captions(tokens, rng) -> jax.Array:
  """One of the C captions of each image at random: [B, C, L] -> [B, L]."""
  pick = jax.random.randint(rng, tokens.shape[:1], 0, tokens.shape[1])
  return jnp.take_along_axis(tokens, pick[:, None, None], axis=1)[:, 0]


def wrong_rows(labels, rng) -> jax.Array:
  """For each example i, a row j of the batch with labels[j] ≠ labels[i] drawn uniformly (a row of the
  same class only when the batch has one class): int32 [B]."""
  noise = jax.random.uniform(rng, (labels.shape[0],) * 2)
  other = labels[None, :] != labels[:, None]
  return jnp.argmax(noise + 2.0 * other, axis=1)


def interpolate(h, beta: float) -> jax.Array:
  """GAN-INT's conditions β h_i + (1 - β) h_{i+1} (the next row, cyclically): [B, D]."""
  return beta * h + (1.0 - beta) * jnp.roll(h, -1, axis=0)


class GANCLS:
  """Players ``text``, ``image_encoder``, ``g``, ``d``, ``s`` (module docstring)."""

  inputs = ('image', 'label', 'caption')

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.num_classes = num_classes
    self.image_shape = tuple(image_shape)
    self.batches_per_step = config.method.n_critic
    self.prepared = datasets.prepared_captions(config.data)
    self.vocabulary = self.prepared.vocabulary
    model = config.model
    text = gancls_nets.TextEncoder(
      vocab_size=len(self.vocabulary), dtype=model.dtype, **model.text_encoder_kwargs
    )
    generator = nets.build(
      model.generator, image_shape=self.image_shape, dtype=model.dtype, **model.generator_kwargs
    )
    self.nets = {
      'text': text,
      'image_encoder': gancls_nets.ImageToVector(
        out_dim=text.out_dim, normalize=True, dtype=model.dtype, **model.image_encoder_kwargs
      ),
      'g': gancls_nets.TextConditionalGenerator(generator, model.compress_dim, model.dtype),
      'd': nets.build(
        model.discriminator,
        compress_dim=model.compress_dim,
        dtype=model.dtype,
        **model.discriminator_kwargs,
      ),
      's': gancls_nets.ImageToVector(
        out_dim=model.z_dim, dtype=model.dtype, **model.inverse_kwargs
      ),
    }
    self.default_captions, self.default_classes = self._default_captions()

  def _default_captions(self) -> tuple[np.ndarray, np.ndarray]:
    """Tokens [M, L] and classes [M] that ``generate`` cycles through without a caption: every class
    with every attribute combination in ``captions.FULL_TEMPLATE`` (class-major), or for captions from
    files the first caption of each test image."""
    length = self.config.data.max_caption_length
    if self.config.data.captions == 'files':
      test = datasets.load_split(self.config.data, 'test')
      return test['caption'][:, 0], test['label']
    table = captions.caption_table(
      self.prepared.class_names, self.vocabulary, length, (captions.FULL_TEMPLATE,)
    )[:, :, 0]
    classes = np.repeat(np.arange(table.shape[0], dtype=np.int32), table.shape[1])
    return table.reshape(-1, length), classes

  # Players and the step.

  def init(self, rng, batch) -> GameState:
    keys = dict(zip((*self.nets, 'state'), jax.random.split(rng, len(self.nets) + 1)))
    images, tokens = batch['image'][:2], batch['caption'][:2, 0]
    h = jnp.zeros((2, self.nets['text'].out_dim), jnp.float32)
    z = jnp.zeros((2, self.config.model.z_dim), jnp.float32)
    example = {
      'text': (tokens,),
      'image_encoder': (images,),
      'g': (z, h),
      'd': (images, h),
      's': (images,),
    }
    optim = self.config.optim
    optimizers = {'text': optim.text, 'image_encoder': optim.text, 'g': optim.g, 'd': optim.d}
    players = {
      name: base.init_player(
        self.nets[name], make_optimizer(optimizers.get(name, optim.s)), keys[name], *example[name]
      )
      for name in self.nets
    }
    ema = ('g',) if self.config.method.ema_decay else ()
    return GameState.create(keys['state'], players, ema_players=ema)

  def train_step(self, state: GameState, batch):
    """φ's matching pre-training for ``method.pretrain_steps`` steps, then the game (module docstring)."""
    if not self.config.method.pretrain_steps:
      return self.game_step(state, batch)
    pretraining = state.step < self.config.method.pretrain_steps
    return steps.switch(pretraining, self.matching_step, self.game_step, state, batch)

  def matching_loss(self, params, encoders, data, rng):
    """The symmetric contrastive loss of ψ(x) and φ(t) over a batch -> (loss, (batch_stats, metrics))."""
    tokens = choose_captions(data['caption'], rng)
    u, u_stats = base.apply_train(encoders['image_encoder'], params['image_encoder'], data['image'])
    v, v_stats = base.apply_train(encoders['text'], params['text'], tokens)
    loss = losses.symmetric_contrastive_loss(u, v, temperature=self.config.loss.temperature)
    retrieval = jnp.mean(jnp.argmax(u @ v.T, axis=1) == jnp.arange(u.shape[0]))
    metrics = base.scalar_metrics(matching_loss=loss, matching_retrieval=retrieval)
    return loss, ({'image_encoder': u_stats, 'text': v_stats}, metrics)

  def _update_encoders(self, players, batch, rng):
    """k matching updates of φ and ψ, one per batch of ``batch`` name -> [k, B, ...]."""

    def update(encoders, data, rng):
      return steps.update_players(
        encoders, lambda params: self.matching_loss(params, encoders, data, rng)
      )

    encoders = {name: players[name] for name in ENCODERS}
    encoders, metrics = steps.critic_loop(update, encoders, batch, rng)
    return {**players, **encoders}, metrics

  def matching_step(self, state: GameState, batch):
    """Phase 1: φ and ψ only."""
    players, metrics = self._update_encoders(state.players, batch, state.step_rng())
    return state.replace(step=state.step + 1, players=players), metrics

  def critic_loss(self, real_right, real_wrong, fake_right):
    """L_D from D's logits [B] on (x, h), (x, ĥ), (G(z, h), h) -> (loss, metrics); ``real_wrong`` is
    unused without the matching-aware term."""
    if self.config.loss.matching_aware:
      loss = losses.matching_aware_discriminator_loss(real_right, real_wrong, fake_right)
    else:
      loss = losses.minimax_discriminator_loss(real_right, fake_right)
    return loss, base.scalar_metrics(
      d_loss=loss,
      d_real=jnp.mean(jax.nn.sigmoid(real_right)),
      d_wrong=jnp.mean(jax.nn.sigmoid(real_wrong)),
      d_fake=jnp.mean(jax.nn.sigmoid(fake_right)),
    )

  def _scores(self, d, params, images, fakes, h, h_wrong):
    """D in training mode on (x, h), (G(z, h), h), then (x, ĥ) when that term is on (BatchNorm
    statistics carried): -> ((real_right, real_wrong, fake_right) logits [B], D's batch_stats)."""
    real_right, fake_right, stats = adversarial.discriminate(d, params, (images, h), (fakes, h))
    if not self.config.loss.matching_aware:
      return (real_right, jnp.zeros_like(real_right), fake_right), stats
    real_wrong, stats = base.apply_train(d.replace(batch_stats=stats), params, images, h_wrong)
    return (real_right, real_wrong, fake_right), stats

  def generator_loss(self, fake_scores, interpolated_scores):
    """L_G from D's logits on G's samples of the right and of the interpolated captions."""
    right = losses.nonsaturating_generator_loss(fake_scores)
    interpolated = losses.nonsaturating_generator_loss(interpolated_scores)
    loss = right + self.config.loss.interpolation_weight * interpolated
    return loss, base.scalar_metrics(g_loss=right, g_interpolated_loss=interpolated)

  def latents(self, rng, num, caption=None):
    """``{'z': [num, z_dim] ~ N(0, I), 'caption': int32 [num, L]}``; without ``caption`` the default
    captions cycle (``_default_captions``)."""
    if caption is None:
      caption = jnp.asarray(self.default_captions)[jnp.arange(num) % len(self.default_captions)]
    z = jax.random.normal(rng, (num, self.config.model.z_dim), jnp.float32)
    return {'z': z, 'caption': jnp.asarray(caption, jnp.int32)}

  def game_step(self, state: GameState, batch):
    """Phase 2: [φ and ψ,] k D updates, one G update, one S update (module docstring)."""
    rng = state.step_rng()
    text_rng, d_rng, g_rng, s_rng = jax.random.split(rng, 4)
    players, metrics = state.players, {}
    if self.config.method.train_text_encoder:
      players, metrics = self._update_encoders(players, batch, text_rng)
    g, d, s = players['g'], players['d'], players['s']
    z_dim = self.config.model.z_dim

    def embed(tokens, rng):  # h = φ(one caption per image), φ fixed.
      return base.apply_eval(players['text'], choose_captions(tokens, rng))

    def d_update(d, data, rng):
      caption_rng, wrong_rng, z_rng = jax.random.split(rng, 3)
      h = embed(data['caption'], caption_rng)
      h_wrong = h[wrong_rows(data['label'], wrong_rng)]
      z = jax.random.normal(z_rng, (h.shape[0], z_dim))
      fakes = jax.lax.stop_gradient(base.apply_train(g, g.params, z, h)[0])

      def loss_fn(params):
        scores, stats = self._scores(d, params, data['image'], fakes, h, h_wrong)
        loss, metrics = self.critic_loss(*scores)
        return loss, (stats, metrics)

      return steps.update_player(d, loss_fn)

    d, d_metrics = steps.critic_loop(d_update, d, batch, d_rng)
    last = jax.tree.map(lambda x: x[-1], batch)

    caption_rng, z_rng = jax.random.split(g_rng)
    h = embed(last['caption'], caption_rng)
    num = h.shape[0]
    h_g = jnp.concatenate([h, interpolate(h, self.config.loss.interpolation_beta)])
    z_g = jax.random.normal(z_rng, (2 * num, z_dim))

    def g_loss_fn(params):
      fakes, g_stats = base.apply_train(g, params, z_g, h_g)
      scores = base.apply_train(d, d.params, fakes, h_g)[0]
      loss, metrics = self.generator_loss(scores[:num], scores[num:])
      return loss, (g_stats, metrics)

    g_next, g_metrics = steps.update_player(g, g_loss_fn)

    caption_rng, z_rng = jax.random.split(s_rng)
    z_s = jax.random.normal(z_rng, (num, z_dim))
    samples = jax.lax.stop_gradient(base.apply_eval(g, z_s, embed(last['caption'], caption_rng)))

    def s_loss_fn(params):
      predicted, s_stats = base.apply_train(s, params, samples)
      loss = losses.latent_regression_loss(z_s, predicted)
      return loss, (s_stats, base.scalar_metrics(inverse_loss=loss))

    s, s_metrics = steps.update_player(s, s_loss_fn)
    state = state.replace(players={**players, 's': s})
    state = adversarial.advance(state, g_next, d, self.config.method)
    return state, {**metrics, **d_metrics, **g_metrics, **s_metrics}

  # Sampling.

  def embed(self, state: GameState, tokens) -> jax.Array:
    """φ(tokens [B, L]) in inference mode: [B, D]."""
    return base.apply_eval(state.players['text'], tokens)

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(z, φ(caption)) in inference mode (EMA copy when kept): [num, H, W, C]."""
    h = self.embed(state, latents['caption'])
    return base.apply_inference(state, 'g', latents['z'], h)

  def generate(self, state: GameState, rng, num, caption=None):
    """``num`` samples [num, H, W, C] of captions ``caption`` int32 [num, L] (default: cycled)."""
    return self.decode(state, self.latents(rng, num, caption))

  def style_transfer(self, state: GameState, images, caption) -> jax.Array:
    """G(S(x), φ(t′)): ``images`` [B, H, W, C] redrawn for ``caption`` int32 [B, L]."""
    z = base.apply_eval(state.players['s'], images)
    return base.apply_inference(state, 'g', z, self.embed(state, caption))

  def class_samples(self, state: GameState, rng, num: int):
    """``num`` samples of the default captions and the classes those captions name."""
    classes = jnp.asarray(self.default_classes)[jnp.arange(num) % len(self.default_classes)]
    return self.generate(state, rng, num), classes

  def encode_captions(self, texts: str) -> np.ndarray:
    """``'a dark sneaker;a light, wide dress'`` -> int32 [n, L]; ValueError naming an empty caption, a
    too long one or a word outside the vocabulary."""
    parts = texts.split(';')
    if not texts.strip():
      raise ValueError(
        "no captions: pass --config.sample.captions='a dark sneaker;a light, wide dress' (';' between "
        'captions).'
      )
    return self.vocabulary.encode(
      parts,
      self.config.data.max_caption_length,
      unknown='refuse',
      where=[f'caption {i + 1} {t!r} of config.sample.captions' for i, t in enumerate(parts)],
    )[0]

  def text_figures(self, state: GameState, rng, texts: str, *, cols: int = 8, steps: int = 8):
    """``text`` [n, cols]: row i holds G(z_j, φ(t_i)) for the same ``cols`` noises; with n >= 2 also
    ``text_interpolation`` [n - 1, steps]: row i walks h from φ(t_i) to φ(t_{i+1}) with z fixed."""
    tokens = jnp.asarray(self.encode_captions(texts))
    n = tokens.shape[0]
    z = jax.random.normal(rng, (cols, self.config.model.z_dim))
    latents = {'z': jnp.tile(z, (n, 1)), 'caption': jnp.repeat(tokens, cols, axis=0)}
    figures = {'text': jax.jit(self.decode)(state, latents).reshape(n, cols, *self.image_shape)}
    if n >= 2:
      figures['text_interpolation'] = jax.jit(self._text_walks, static_argnums=3)(
        state, tokens, z[:1], steps
      )
    return figures

  def _text_walks(self, state: GameState, tokens, z, steps: int) -> jax.Array:
    """[n - 1, steps, H, W, C]: G(z, (1 - t) φ(t_i) + t φ(t_{i+1})) for t from 0 to 1."""
    h = self.embed(state, tokens)
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    walks = ((1 - t) * h[:-1, None] + t * h[1:, None]).reshape(-1, h.shape[-1])
    images = base.apply_inference(state, 'g', jnp.tile(z, (len(walks), 1)), walks)
    return images.reshape(len(tokens) - 1, steps, *self.image_shape)

  def style_transfer_figures(self, state: GameState, images, texts: str):
    """``style_transfer`` [B, 1 + n]: each real image x (first column), then G(S(x), φ(t_j)) per
    caption t_j."""
    tokens = jnp.asarray(self.encode_captions(texts))
    num, n = images.shape[0], tokens.shape[0]
    drawn = jax.jit(self.style_transfer)(
      state, jnp.repeat(images, n, axis=0), jnp.tile(tokens, (num, 1))
    ).reshape(num, n, *self.image_shape)
    return {'style_transfer': jnp.concatenate([images[:, None], drawn], axis=1)}

  # Evaluation.

  def eval_step(self, state: GameState, batch, rng):
    """On held-out data: D's terms, φ/ψ's matching loss and S's error on fresh samples."""
    caption_rng, wrong_rng, z_rng, match_rng = jax.random.split(rng, 4)
    h = self.embed(state, choose_captions(batch['caption'], caption_rng))
    h_wrong = h[wrong_rows(batch['label'], wrong_rng)]
    z = jax.random.normal(z_rng, (h.shape[0], self.config.model.z_dim))
    fakes = base.apply_inference(state, 'g', z, h)
    d = state.players['d']
    scores = [base.apply_eval(d, x, c) for x, c in ((batch['image'], h), (batch['image'], h_wrong))]
    _, metrics = self.critic_loss(scores[0], scores[1], base.apply_eval(d, fakes, h))
    encoders = {name: state.players[name] for name in ENCODERS}
    params = {name: player.params for name, player in encoders.items()}
    _, (_, match_metrics) = self.matching_loss(params, encoders, batch, match_rng)
    inverse = losses.latent_regression_loss(z, base.apply_eval(state.players['s'], fakes))
    return {**metrics, **match_metrics, **base.scalar_metrics(inverse_loss=inverse)}

  def figures(self, state: GameState, batch, rng):
    """``text_classes`` [K, 8]: row k from the first default caption of class k, the same 8 noises in
    every row; ``style_transfer`` [8, 1 + K]: the batch's first 8 images redrawn for those captions."""
    classes = np.unique(self.default_classes)
    tokens = jnp.asarray(
      self.default_captions[[np.flatnonzero(self.default_classes == k)[0] for k in classes]]
    )
    z = jax.random.normal(rng, (8, self.config.model.z_dim))
    latents = {'z': jnp.tile(z, (len(tokens), 1)), 'caption': jnp.repeat(tokens, 8, axis=0)}
    grid = self.decode(state, latents).reshape(len(tokens), 8, *self.image_shape)
    images = batch['image'][:8]
    drawn = self.style_transfer(
      state, jnp.repeat(images, len(tokens), axis=0), jnp.tile(tokens, (len(images), 1))
    ).reshape(len(images), len(tokens), *self.image_shape)
    return {'text_classes': grid, 'style_transfer': jnp.concatenate([images[:, None], drawn], 1)}

  def caption_metrics(
    self, state: GameState, split, score, *, num: int, batch_size: int, seed: int
  ):
    """Scores of samples of the captions of ``split`` (a ``datasets.Split`` of the test images):

    * ``text_*``: G(z, φ(t_i)) for caption t_i of test image i (one of its C, by ``seed``), scored by
      ``score(images in [0, 1], labels)`` (FID, class accuracy against image i's class, ...) and by the
      agreement of their measured attributes with t_i's words (``captions.attribute_agreement``);
    * ``style_*``: G(S(x_i), φ(t_j)) with t_j a caption of a test image j of another class
      (``wrong_rows``), scored against j's class and t_j's words.
    """
    rng = jax.random.PRNGKey(seed)
    num = min(num, len(split))
    pick = np.asarray(jax.random.randint(rng, (num,), 0, split['caption'].shape[1]))
    tokens = split['caption'][np.arange(num), pick]
    labels = split['label'][:num]
    targets = np.asarray(wrong_rows(jnp.asarray(labels), jax.random.fold_in(rng, 1)))
    lo, hi = self.config.data.value_range
    sources = lo + (hi - lo) / 255.0 * split['image'][:num].astype(np.float32)
    generate = jax.jit(self.generate, static_argnums=2)
    transfer = jax.jit(self.style_transfer)
    text_images, style_images = [], []
    for start in range(0, num, batch_size):
      rows = slice(start, min(start + batch_size, num))
      size = rows.stop - rows.start
      key = jax.random.fold_in(rng, 2 + start)
      text_images.append(np.asarray(generate(state, key, size, tokens[rows])))
      style_images.append(np.asarray(transfer(state, sources[rows], tokens[targets[rows]])))
    results = {}
    for prefix, images, rows in (
      ('text', text_images, np.arange(num)),
      ('style', style_images, targets),
    ):
      images = to_unit_range(np.concatenate(images), self.config.data.value_range)
      scores = dict(score(images, labels[rows]))
      if self.config.data.captions == 'attributes':
        texts = self.vocabulary.decode(tokens[rows])
        scores.update(
          captions.attribute_agreement(
            images, texts, self.prepared.class_names, self.prepared.thresholds
          )
        )
      results.update({f'{prefix}_{name}': value for name, value in scores.items()})
    return results
