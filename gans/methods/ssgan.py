"""Semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 5): D is a
K-class classifier whose fake class K+1 has the logit 0, trained on a few labelled images, unlabelled
images and G's samples; G is trained by feature matching.

A batch holds ``image`` and ``label`` (the labelled subset) and ``unlabelled`` (the other training images,
drawn in an order of their own): ``config.data.num_labelled`` > 0, ``gans.data.semi_supervised``. With
D's class logits l(x) [K], its features f(x) [F] (last hidden layer) and log Z(x) = log Σ_k exp l_k(x):

    L_D = -E_{(x,y) labelled}[log softmax(l(x))_y]                                   (supervised)
          + λ (E_{x unlabelled}[softplus(-log Z(x))] + E_z[softplus(log Z(G(z)))])      (unsupervised)
    L_G = ‖E_{x unlabelled} f(x) − E_z f(G(z))‖² / F                                   (feature matching)

(λ = ``config.loss.unsupervised_weight``; ``gans.losses.semi_supervised``). One step: one D update, then
one G update through the same G(z) (``reuse_fakes``) with the updated D, its features on the same
unlabelled batch. D's Gaussian noise layers draw from the step's key in both updates. With
``config.method.data_init`` the first step starts by the data-dependent initialisation of D's
weight-normalised layers on its labelled batch (``data_dependent_init``; in both methods).

``ssgan_supervised`` is the baseline: the same D trained on L_supervised alone, the same batches of the
labelled subset and the same steps; G is built (for the trainer's sample grid) and never updated.

Evaluation: D's test ``accuracy`` and ``cross_entropy`` as a K-way classifier (argmax of l(x)), and for
the semi-supervised game mean D(x) on test images and D(G(z)) on samples.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from gans import losses, nets
from gans.methods import adversarial, base, steps
from gans.state import GameState, Player


def method_config(name: str = 'ssgan', data_init: bool = False) -> ml_collections.ConfigDict:
  """``config.method``: ``ssgan`` (the semi-supervised game) or ``ssgan_supervised`` (the baseline); a
  two-player game's fields (``adversarial.method_config``) with one D update per step reusing G(z), and
  ``data_init``: the data-dependent initialisation of D's weight norm on step 0's labelled batch."""
  method = adversarial.method_config(name, reuse_fakes=True)
  method.data_init = data_init
  return method


def loss_config(unsupervised_weight: float = 1.0) -> ml_collections.ConfigDict:
  """``config.loss``: λ, the weight of the unsupervised real/fake terms in D's loss."""
  return ml_collections.ConfigDict(dict(unsupervised_weight=unsupervised_weight))


def check_config(config) -> None:
  """The fields no run can use, named (before any work)."""
  adversarial.check_method_config(config.method)
  if not config.method.reuse_fakes:
    raise ValueError(
      'config.method.reuse_fakes=False: the semi-supervised step is one D update and one G update '
      'through the same G(z); set config.method.reuse_fakes=True and config.method.n_critic=1.'
    )
  if config.loss.unsupervised_weight < 0:
    raise ValueError(
      f'config.loss.unsupervised_weight={config.loss.unsupervised_weight} must be >= 0.'
    )
  d_kwargs = config.model.discriminator_kwargs
  if config.method.data_init and not (
    d_kwargs.get('weight_norm', True) and d_kwargs.get('authors_layers', False)
  ):
    raise ValueError(
      "config.method.data_init=True initialises the scales of the authors' weight-norm layers; set "
      'config.model.discriminator_kwargs.weight_norm=True and .authors_layers=True, or '
      'config.method.data_init=False.'
    )
  if config.data.num_labelled < 0:
    raise ValueError(f'config.data.num_labelled={config.data.num_labelled} must be >= 0.')
  if config.method.name == 'ssgan' and not config.data.num_labelled:
    raise ValueError(
      'config.data.num_labelled=0: the semi-supervised GAN needs a labelled subset and unlabelled '
      'images; set it > 0 (e.g. 100 = 10 labels per class), or use config.method.name='
      'ssgan_supervised for a plain classifier on all labels.'
    )


def classify(d: Player, params, images, rng) -> tuple[tuple[jax.Array, jax.Array], dict]:
  """D in training mode (noise from ``rng``): -> ((class logits [B, K], features [B, F]), batch_stats)."""
  return base.apply_train(d, params, images, rngs={'noise': rng})


def data_dependent_init(d: Player, images, rng) -> Player:
  """D with every weight-normalised layer's scale g and bias b set, layer after layer, so that its
  pre-activations on ``images`` [B, H, W, C] (training mode: noise from ``rng``) have zero mean and unit
  variance per unit (``nets.ssgan.WeightNormDense``; the authors initialise on 500 training images)."""
  _, variables = d.apply_fn(
    {'params': d.params},
    images,
    train=True,
    data_init=True,
    rngs={'noise': rng},
    mutable=['params'],
  )
  return d.replace(params=variables['params'])


def accuracy(class_logits, labels) -> jax.Array:
  """The fraction of ``labels`` [B] that are the argmax of ``class_logits`` [B, K]."""
  return jnp.mean(jnp.argmax(class_logits, axis=-1) == labels)


class SupervisedBaseline:
  """Players ``g`` (z -> images, for samples only) and ``d`` (images -> (logits [B, K], features)); only
  D is trained, by L_supervised on the labelled batch."""

  inputs: tuple[str, ...] = ('image', 'label')
  batches_per_step = 1

  def __init__(self, config, image_shape, num_classes):
    self.config = config
    self.image_shape = tuple(image_shape)
    self.num_classes = num_classes
    model = config.model
    self.generator = nets.build(
      model.generator, image_shape=self.image_shape, dtype=model.dtype, **model.generator_kwargs
    )
    self.discriminator = nets.build(
      model.discriminator, num_classes=num_classes, dtype=model.dtype, **model.discriminator_kwargs
    )

  def latents(self, rng, num: int) -> dict[str, jax.Array]:
    """``{'z': [num, z_dim] ~ N(0, I)}``."""
    return {'z': jax.random.normal(rng, (num, self.config.model.z_dim), jnp.float32)}

  def decode(self, state: GameState, latents) -> jax.Array:
    """G(z) in inference mode (EMA copy when kept): [num, H, W, C]."""
    return base.apply_inference(state, 'g', latents['z'])

  def generate(self, state: GameState, rng, num):
    """``num`` samples [num, H, W, C]."""
    return self.decode(state, self.latents(rng, num))

  def init(self, rng, batch) -> GameState:
    example = batch['image'][:2]
    return adversarial.init_game(
      self.config,
      rng,
      self.generator,
      lambda g_rng: (self.latents(g_rng, 2)['z'],),
      self.discriminator,
      (example,),
    )

  def supervised_loss(self, d: Player, params, data, rng):
    """L_supervised on ``data['image']``, ``data['label']``: -> (loss, (batch_stats, metrics))."""
    (logits, _), stats = classify(d, params, data['image'], rng)
    loss = losses.supervised_class_loss(logits, data['label'])
    metrics = base.scalar_metrics(
      supervised_loss=loss, train_accuracy=accuracy(logits, data['label'])
    )
    return loss, (stats, metrics)

  def initial_d(self, state: GameState, images, rng) -> Player:
    """D, data-dependently initialised on ``images`` [B, ...] at step 0 with ``config.method.data_init``
    (``data_dependent_init``, noise from ``fold_in(rng, 1)`` for the step's key ``rng``), else as it is."""
    d = state.players['d']
    if not self.config.method.data_init:
      return d
    init_rng = jax.random.fold_in(rng, 1)
    return jax.lax.cond(
      state.step == 0, lambda d: data_dependent_init(d, images, init_rng), lambda d: d, d
    )

  def train_step(self, state: GameState, batch):
    """One D update on the labelled batch ``batch`` name -> [1, B, ...] (after ``initial_d``)."""
    rng = state.step_rng()
    data = jax.tree.map(lambda x: x[0], batch)
    d = self.initial_d(state, data['image'], rng)
    d, metrics = steps.update_player(d, functools.partial(self.supervised_loss, d), data, rng)
    return adversarial.advance(state, state.players['g'], d, self.config.method), metrics

  def eval_step(self, state: GameState, batch, rng):
    """D's test accuracy and cross-entropy (inference mode) on ``batch['image']``, ``batch['label']``."""
    del rng
    logits, _ = base.apply_eval(state.players['d'], batch['image'])
    return base.scalar_metrics(
      accuracy=accuracy(logits, batch['label']),
      cross_entropy=losses.supervised_class_loss(logits, batch['label']),
    )

  def figures(self, state: GameState, batch, rng):
    del state, batch, rng  # Sample grids are written by the trainer for every method.
    return {}


class SemiSupervisedGAN(SupervisedBaseline):
  """The baseline's players, D trained on L_D and G on feature matching (module docstring)."""

  inputs = ('image', 'label', 'unlabelled')

  def train_step(self, state: GameState, batch):
    """One D update, then one G update, on ``batch`` name -> [1, B, ...] (after ``initial_d``)."""
    rng = state.step_rng()
    g, d = state.players['g'], self.initial_d(state, batch['image'][0], rng)
    weight = self.config.loss.unsupervised_weight

    def fakes_fn(params, data, rng):
      z_rng, noise_rng = jax.random.split(rng)
      latents = self.latents(z_rng, data['unlabelled'].shape[0])
      fakes, g_stats = base.apply_train(g, params, latents['z'])
      return fakes, ({**latents, 'g_loss_noise': noise_rng}, g_stats)

    def d_loss_fn(d, params, data, fakes, latents, rng):
      del latents
      labelled_rng, unlabelled_rng, fake_rng = jax.random.split(rng, 3)
      supervised, (stats, metrics) = self.supervised_loss(d, params, data, labelled_rng)
      d = d.replace(batch_stats=stats)
      (real_logits, _), stats = classify(d, params, data['unlabelled'], unlabelled_rng)
      (fake_logits, _), stats = classify(d.replace(batch_stats=stats), params, fakes, fake_rng)
      unsupervised = losses.semi_supervised_discriminator_loss(real_logits, fake_logits)
      loss = supervised + weight * unsupervised
      metrics = {
        **metrics,
        **base.scalar_metrics(d_loss=loss, unsupervised_loss=unsupervised),
        **self.real_fake_metrics(real_logits, fake_logits),
      }
      return loss, (stats, metrics)

    def g_loss_fn(fakes, d, data, latents):
      real_rng, fake_rng = jax.random.split(latents['g_loss_noise'])
      (_, real_features), _ = classify(d, d.params, data['unlabelled'], real_rng)
      (_, fake_features), _ = classify(d, d.params, fakes, fake_rng)
      loss = losses.feature_matching_loss(real_features, fake_features)
      return loss, base.scalar_metrics(g_loss=loss)

    method = self.config.method
    g, d, metrics = adversarial.alternate(g, d, batch, rng, fakes_fn, d_loss_fn, g_loss_fn, method)
    return adversarial.advance(state, g, d, method), metrics

  @staticmethod
  def real_fake_metrics(real_logits, fake_logits) -> base.Metrics:
    """Mean D(x) = sigmoid(log Z(x)) on data and D(G(z)) on samples."""
    return base.scalar_metrics(
      d_real=jnp.mean(jax.nn.sigmoid(losses.real_logit(real_logits))),
      d_fake=jnp.mean(jax.nn.sigmoid(losses.real_logit(fake_logits))),
    )

  def eval_step(self, state: GameState, batch, rng):
    """The baseline's classifier metrics, and mean D(x) on test images against as many samples."""
    fakes = self.generate(state, rng, batch['image'].shape[0])
    d = state.players['d']
    real_logits, fake_logits = (base.apply_eval(d, x)[0] for x in (batch['image'], fakes))
    return {
      **super().eval_step(state, batch, rng),
      **self.real_fake_metrics(real_logits, fake_logits),
    }
