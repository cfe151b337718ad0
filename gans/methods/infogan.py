"""InfoGAN (Chen et al. 2016): a GAN whose latent codes c are kept recoverable from G(z, c).

Latents: z [62] ~ U(-1, 1) (the authors' MNIST code; ``model.z_prior='normal'`` for N(0, I)),
c_cat ~ Cat(K = 10) (one-hot into G), c_cont ~ U(-1, 1)^L (L = 2). D and the recognition net Q share a
trunk (one player ``d``, ``gans.nets.infogan``). Both players add λ times the negative log-likelihood
of the codes under Q to their GAN loss (the variational bound L_I of I(c; G(z, c))):

    L_info = CE(Q_cat(G(z, c)), c_cat) + λ_cont · (-log N(c_cont; Q_cont(G(z, c)), I))
    L_D,Q = L_D + λ L_info,   L_G = L_G + λ L_info

with λ = ``loss.info_weight`` and λ_cont = ``loss.continuous_weight``.

``code_accuracy`` scores Q's categorical code as a classifier of the real labels after the best
one-to-one matching of codes to classes (the paper reports ~5 % error on MNIST). Q is trained only on
fake batches normalised by their own BatchNorm statistics, while D's running averages mix the real and
the fake pass, so Q is scored the way it was trained: with the statistics of the scored batch. The
step is the two-player game's (``adversarial.alternate``) with these losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gans import losses, nets
from gans.methods import adversarial, base
from gans.state import GameState


def best_matching(predictions, labels, num_classes: int) -> np.ndarray:
  """The bijection π of codes to classes maximising mean(π(predictions) == labels), for codes and labels
  in [0, K): int64 [K], π[code] = class.

  The assignment is solved exactly by dynamic programming over subsets of classes: best[S] is the
  most agreements when codes 0..|S|-1 are matched to the classes in S, so
  best[S] = max_{y ∈ S} best[S \\ {y}] + C[|S| - 1, y] with C the [K, K] contingency table;
  O(2^K · K) steps (K = 10: ~10^4); π is read back from the argmaxes.
  """
  predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
  counts = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(counts, (predictions, labels), 1)
  best = np.full(1 << num_classes, -1, np.int64)
  choice = np.zeros(1 << num_classes, np.int64)  # The class matched to code |S| - 1 in best[S].
  best[0] = 0
  for subset in range(1, 1 << num_classes):
    code = bin(subset).count('1') - 1
    members = [y for y in range(num_classes) if subset >> y & 1]
    scores = [best[subset & ~(1 << y)] + counts[code, y] for y in members]
    best[subset], choice[subset] = max(scores), members[int(np.argmax(scores))]
  matching, subset = np.zeros(num_classes, np.int64), (1 << num_classes) - 1
  for code in reversed(range(num_classes)):
    matching[code] = choice[subset]
    subset &= ~(1 << matching[code])
  return matching


def best_matching_accuracy(predictions, labels, num_classes: int) -> float:
  """max over bijections π of mean(π(predictions) == labels) (``best_matching``'s π)."""
  predictions, labels = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
  return float(np.mean(best_matching(predictions, labels, num_classes)[predictions] == labels))


Z_PRIORS = ('uniform', 'normal')
TRAVERSAL_SPAN = 2.0  # Traversals sweep each continuous code over [-span, span].


def sweep(cols: int, span: float) -> np.ndarray:
  """The values [cols] a traversal gives its continuous code: evenly spaced from -span to span."""
  return np.linspace(-span, span, cols, dtype=np.float32)


def check_config(config) -> None:
  adversarial.check_method_config(config.method)
  if config.model.z_prior not in Z_PRIORS:
    raise ValueError(
      f"config.model.z_prior={config.model.z_prior!r} is not a prior of InfoGAN's noise z; use one of "
      f"{', '.join(Z_PRIORS)} (uniform: U(-1, 1), the paper's; normal: N(0, I))."
    )
  adversarial.check_loss_config(config.loss, 'infogan')
  if config.loss.penalty_weight or config.loss.name == 'relativistic':
    raise ValueError(
      'method infogan takes no gradient penalty (config.loss.penalty_weight=0) and no relativistic '
      'loss: its D scores fakes alone, with the codes read from the same pass.'
    )
  if config.loss.info_weight < 0 or config.loss.continuous_weight < 0:
    raise ValueError('config.loss.info_weight and config.loss.continuous_weight must be >= 0.')


def loss_config(
  name: str = 'nonsaturating', *, info_weight=1.0, continuous_weight=1.0, **overrides
):
  """``config.loss``: the adversarial objective's fields (``adversarial.loss_config``) and λ."""
  cfg = adversarial.loss_config(name, **overrides)
  cfg.info_weight = info_weight  # λ of the mutual-information term (both players).
  cfg.continuous_weight = continuous_weight  # Relative weight of the continuous codes' term.
  return cfg


class InfoGAN:
  """Players ``g`` (z and codes -> images) and ``d`` (D and Q on a shared trunk: images -> (logits [B],
  code logits [B, K], continuous code means [B, L])); ``config.model`` names the categorical and
  continuous code sizes (``num_categories``, ``num_continuous``)."""

  inputs = ('image',)

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.num_classes = num_classes
    self.batches_per_step = config.method.n_critic
    model = config.model
    self.num_categories = model.num_categories
    self.num_continuous = model.num_continuous
    self.generator = nets.build(
      model.generator, image_shape=tuple(image_shape), dtype=model.dtype, **model.generator_kwargs
    )
    self.discriminator = nets.build(
      model.discriminator,
      num_categories=self.num_categories,
      num_continuous=self.num_continuous,
      dtype=model.dtype,
      **model.discriminator_kwargs,
    )
    self.loss = adversarial.ADVERSARIAL_LOSSES[config.loss.name](config.loss)

  def noise(self, rng, num) -> jax.Array:
    """z [num, z_dim] from ``model.z_prior``: U(-1, 1) (uniform) or N(0, I) (normal)."""
    shape = (num, self.config.model.z_dim)
    if self.config.model.z_prior == 'uniform':
      return jax.random.uniform(rng, shape, jnp.float32, minval=-1.0, maxval=1.0)
    return jax.random.normal(rng, shape, jnp.float32)

  def latents(self, rng, num, category=None):
    """``{'z': [num, z_dim] (``noise``), 'category': int32 [num] ~ Cat(K), 'continuous': [num, L] ~
    U(-1, 1)}``; ``category`` sets the categorical code (InfoGAN never sees the data's labels)."""
    z_rng, cat_rng, cont_rng = jax.random.split(rng, 3)
    if category is None:
      category = jax.random.randint(cat_rng, (num,), 0, self.num_categories)
    continuous = jax.random.uniform(cont_rng, (num, self.num_continuous), minval=-1.0, maxval=1.0)
    return {
      'z': self.noise(z_rng, num),
      'category': jnp.asarray(category, jnp.int32),
      'continuous': continuous,
    }

  def _g_input(self, latents):
    """[num, z_dim + K + L]: z, the one-hot category and the continuous codes."""
    one_hot = jax.nn.one_hot(latents['category'], self.num_categories)
    return jnp.concatenate([latents['z'], one_hot, latents['continuous']], axis=-1)

  def info_loss(self, fake_outputs, latents) -> tuple[jax.Array, base.Metrics]:
    """λ · L_info of Q's heads on the fakes (module docstring), and its metrics."""
    _, code_logits, code_means = fake_outputs
    categorical = losses.infogan_categorical_loss(code_logits, latents['category'])
    continuous = losses.infogan_continuous_loss(code_means, latents['continuous'])
    metrics = base.scalar_metrics(
      info_categorical=categorical,
      info_continuous=continuous,
      code_accuracy_fake=jnp.mean(jnp.argmax(code_logits, -1) == latents['category']),
    )
    weight = self.config.loss.info_weight
    return weight * (categorical + self.config.loss.continuous_weight * continuous), metrics

  def _critic_terms(self, real_outputs, fake_outputs, latents):
    """L_D + λ L_info from D/Q's outputs on data and samples -> (loss, metrics)."""
    adversarial_loss = self.loss.d_loss(real_outputs[0], fake_outputs[0])
    info, info_metrics = self.info_loss(fake_outputs, latents)
    return adversarial_loss + info, {
      **base.scalar_metrics(d_loss=adversarial_loss),
      **adversarial.score_metrics(self.loss, real_outputs[0], fake_outputs[0]),
      **info_metrics,
    }

  def init(self, rng, batch) -> GameState:
    return adversarial.init_game(
      self.config,
      rng,
      self.generator,
      lambda g_rng: (self._g_input(self.latents(g_rng, 2)),),
      self.discriminator,
      (batch['image'][:2],),
    )

  def train_step(self, state: GameState, batch):
    """One step of the game (``adversarial.alternate``), both players adding λ L_info."""
    rng = state.step_rng()
    g, d = state.players['g'], state.players['d']

    def fakes_fn(params, data, rng):
      latents = self.latents(rng, data['image'].shape[0])
      fakes, g_stats = base.apply_train(g, params, self._g_input(latents))
      return fakes, (latents, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      del rng
      real_outputs, fake_outputs, stats = adversarial.discriminate(
        d, params, (data['image'],), (fakes,)
      )
      loss, metrics = self._critic_terms(real_outputs, fake_outputs, latents)
      return loss, (stats, metrics)

    def g_loss_fn(fakes, d, data, latents):
      del data
      fake_outputs = base.apply_train(d, d.params, fakes)[0]
      adversarial_loss = self.loss.g_loss(fake_outputs[0])
      info, info_metrics = self.info_loss(fake_outputs, latents)
      return adversarial_loss + info, {
        **base.scalar_metrics(g_loss=adversarial_loss),
        **info_metrics,
      }

    method = self.config.method
    g, d, metrics = adversarial.alternate(
      g, d, batch, rng, fakes_fn, d_loss_fn, g_loss_fn, method, self.config.loss.clip
    )
    return adversarial.advance(state, g, d, method), metrics

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(latents) in inference mode with the EMA copy when kept: [num, H, W, C]."""
    return base.apply_inference(state, 'g', self._g_input(latents))

  def generate(self, state: GameState, rng, num, category=None):
    """``num`` samples [num, H, W, C]; ``category`` [num] fixes the categorical code."""
    return self.decode(state, self.latents(rng, num, category))

  def eval_step(self, state: GameState, batch, rng):
    """D/Q's loss terms (inference mode) on held-out real images against as many samples."""
    latents = self.latents(rng, batch['image'].shape[0])
    fakes = self.decode(state, latents)
    d = state.players['d']
    real_outputs, fake_outputs = base.apply_eval(d, batch['image']), base.apply_eval(d, fakes)
    return self._critic_terms(real_outputs, fake_outputs, latents)[1]

  def predict_codes(self, state: GameState, images) -> jax.Array:
    """Q's categorical code for ``images`` [B, H, W, C]: int32 [B].

    BatchNorm normalises with the statistics of ``images`` themselves (training mode, the running
    averages left as they are), as Q saw its fake batches in training; D's running averages are a mix of
    the real and the fake passes that Q never trained under.
    """
    (_, code_logits, _), _ = base.apply_train(state.players['d'], state.players['d'].params, images)
    return jnp.argmax(code_logits, axis=-1)

  def _predict_all(self, state: GameState, images, batch_size: int) -> np.ndarray:
    """``predict_codes`` over ``images`` [N, H, W, C] in batches of ``batch_size``: int [N]."""
    predict = jax.jit(self.predict_codes)
    return np.concatenate(
      [
        np.asarray(predict(state, images[start : start + batch_size]))
        for start in range(0, len(images), batch_size)
      ]
    )

  def code_classes(self, state: GameState, images, labels, *, batch_size: int = 500) -> np.ndarray:
    """The class matched to each categorical code by ``best_matching`` on real ``images`` [N, H, W, C]
    and ``labels`` [N]: int [max(K, classes)], entry k the class of code k."""
    predictions = self._predict_all(state, images, batch_size)
    return best_matching(predictions, labels, max(self.num_categories, self.num_classes))

  def code_accuracy(self, state: GameState, images, labels, *, batch_size: int = 500) -> float:
    """Accuracy of Q's categorical code on real ``images`` [N, H, W, C] against ``labels`` [N] after the
    best one-to-one matching of codes to classes (``best_matching_accuracy``)."""
    predictions = self._predict_all(state, images, batch_size)
    return best_matching_accuracy(predictions, labels, max(self.num_categories, self.num_classes))

  def traversals(self, state: GameState, rng, *, cols: int = 10, span: float = TRAVERSAL_SPAN):
    """``code_<j>`` [K, cols, H, W, C] per continuous code j: row k fixes the category to k, columns sweep
    c_j over [-span, span] (the paper goes past the prior's [-1, 1]); z and the other codes are fixed."""
    z = self.noise(rng, 1)
    values = jnp.asarray(sweep(cols, span))
    figures = {}
    for j in range(self.num_continuous):
      continuous = (
        jnp.zeros((self.num_categories * cols, self.num_continuous))
        .at[:, j]
        .set(jnp.tile(values, self.num_categories))
      )
      latents = {
        'z': jnp.tile(z, (self.num_categories * cols, 1)),
        'category': jnp.repeat(jnp.arange(self.num_categories, dtype=jnp.int32), cols),
        'continuous': continuous,
      }
      images = self.decode(state, latents)
      figures[f'code_{j}'] = images.reshape((self.num_categories, cols, *images.shape[1:]))
    return figures

  def traversal_axes(self, class_names=None, *, cols: int = 10, span: float = TRAVERSAL_SPAN):
    """The axes of ``traversals``' figures: name -> (row labels [K], column labels [cols], title).

    Row k is the categorical code k, followed by ``class_names[k]`` when given (e.g. the class that
    ``code_classes`` matched to code k); the columns are the swept continuous code's values.
    """
    rows = [
      f'k={k}' + (f' {class_names[k]}' if class_names else '') for k in range(self.num_categories)
    ]
    columns = [f'{value:+.1f}' for value in sweep(cols, span)]
    return {
      f'code_{j}': (
        rows,
        columns,
        f'rows: categorical code k{" (class)" if class_names else ""}; columns: c_{j + 1}',
      )
      for j in range(self.num_continuous)
    }

  def figures(self, state: GameState, batch, rng):
    del batch
    return self.traversals(state, rng)
