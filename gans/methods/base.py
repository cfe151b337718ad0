"""The Method protocol, its optional capabilities, and the helpers every family uses to run its nets.

A method is a small set of pure functions over one ``GameState``:

    inputs: tuple[str, ...]                  the named arrays it reads from a batch ('image', 'label',
                                             later 'caption', 'image_b', ...); the trainer checks the
                                             dataset has them and the feeds move only these
    batches_per_step: int                    k, the batches one train step consumes
    init(rng, batch) -> GameState            nets, players and optimizers from an example batch
                                             (name -> [B, ...])
    train_step(state, batch) -> (GameState, metrics)
                                             one optimisation step of the whole game on batch
                                             name -> [k, B, ...] (always that rank, also for k = 1);
                                             pure, jitted and data-parallel by the trainer; metrics are
                                             float32 scalars
    eval_step(state, batch, rng) -> metrics  per-batch evaluation metrics on name -> [B, ...]
    generate(state, rng, num, **condition) -> images
                                             [num, H, W, C] in the data's value range; ``condition``
                                             names what the samples are conditioned on (``label=``
                                             classes, later caption tokens or source images); without
                                             it, the method's default (classes cycled, codes drawn)
    figures(state, batch, rng) -> {name: images [rows, cols, H, W, C]}
                                             family-specific image grids (reconstructions, walks, ...)

Optional capabilities are the ``typing.Protocol`` classes below, and ``supports`` is the one place that
checks them: the trainer, the evaluator and the visual tools ask ``supports(method, ClassConditional)``
(or ``gans.methods.require``, which names the families that have it), never attribute probes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gans.state import GameState, Player

Metrics = dict[str, jax.Array]


class Method(Protocol):
  inputs: tuple[str, ...]
  batches_per_step: int

  def init(self, rng: jax.Array, batch: dict) -> GameState: ...

  def train_step(self, state: GameState, batch: dict) -> tuple[GameState, Metrics]: ...

  def generate(self, state: GameState, rng: jax.Array, num: int, **condition) -> jax.Array: ...

  def eval_step(self, state: GameState, batch: dict, rng: jax.Array) -> Metrics: ...

  def figures(self, state: GameState, batch: dict, rng: jax.Array) -> dict[str, jax.Array]: ...


@runtime_checkable
class ClassConditional(Protocol):
  """Samples drawn for given classes; the evaluator scores them by the classifier's class accuracy."""

  def class_samples(
    self, state: GameState, rng: jax.Array, num: int
  ) -> tuple[jax.Array, jax.Array]:
    """``num`` samples [num, H, W, C] and the int32 [num] classes they were drawn for."""


@runtime_checkable
class UnsupervisedCodes(Protocol):
  """A discrete code learnt without labels (InfoGAN's), scored against the true labels."""

  def code_accuracy(self, state: GameState, images, labels) -> float:
    """Accuracy of the code predicted for ``images`` [N, H, W, C] after the best matching to ``labels``."""


@runtime_checkable
class LatentSpace(Protocol):
  """An explicit latent space: the visual tools walk and average its continuous entry ``z``."""

  def latents(self, rng: jax.Array, num: int) -> dict[str, jax.Array]:
    """Latent variables for ``num`` samples: float entries are continuous, integer ones discrete."""

  def decode(self, state: GameState, latents: dict[str, jax.Array]) -> jax.Array:
    """The images [num, H, W, C] of ``latents`` in inference mode (EMA weights when kept)."""


@runtime_checkable
class Traversals(Protocol):
  """Sweeps of the codes that condition the samples (InfoGAN's codes, a conditional GAN's classes)."""

  def traversals(self, state: GameState, rng: jax.Array) -> dict[str, jax.Array]:
    """name -> [rows, cols, H, W, C] grids."""


@runtime_checkable
class Translation(Protocol):
  """Unpaired translation between the split's domains ``image`` (A) and ``image_b`` (B) (CycleGAN's):
  samples are translations of given images, so the trainer and the evaluator supply the sources."""

  def translate(self, state: GameState, images: jax.Array, direction: str) -> jax.Array:
    """``images`` [B, H, W, C] of domain A (``direction='a2b'``) or B (``'b2a'``), translated."""


@runtime_checkable
class TextConditional(Protocol):
  """Samples drawn from captions (GAN-CLS's): sampling from text, style transfer and their scores."""

  def encode_captions(self, texts: str) -> Any:
    """``'a dark sneaker;a light, wide dress'`` -> int32 tokens [n, L]; ValueError naming bad captions."""

  def text_figures(
    self, state: GameState, rng: jax.Array, texts: str, *, steps: int
  ) -> dict[str, jax.Array]:
    """Samples of the captions ``texts`` and walks of ``steps`` images between them: name -> [rows,
    cols, H, W, C]."""

  def style_transfer_figures(self, state: GameState, images, texts: str) -> dict[str, jax.Array]:
    """Real ``images`` [B, H, W, C] redrawn for each caption: name -> [rows, cols, H, W, C]."""

  def caption_metrics(self, state: GameState, split, score, **options) -> dict[str, float]:
    """Scores of samples of the captions of ``split``; ``score(images in [0, 1], labels)`` -> dict."""


CAPABILITIES = {
  'class-conditional sampling': ClassConditional,
  'unsupervised codes': UnsupervisedCodes,
  'a latent space': LatentSpace,
  'code traversals': Traversals,
  'image translation': Translation,
  'sampling from text': TextConditional,
}


def supports(method, capability: type) -> bool:
  """Whether ``method`` has the optional ``capability`` (one of ``CAPABILITIES``)."""
  return isinstance(method, capability)


def init_player(
  module: nn.Module, tx: optax.GradientTransformation, rng: jax.Array, *inputs
) -> Player:
  """Initialises ``module`` on example ``inputs`` (called as ``module(*inputs, train=False)``)."""
  variables = module.init(rng, *inputs, train=False)
  return Player.create(
    apply_fn=module.apply,
    params=variables['params'],
    tx=tx,
    batch_stats=variables.get('batch_stats', {}),
  )


def apply_train(player: Player, params: Any, *inputs, rngs=None) -> tuple[Any, dict]:
  """Runs the player's net in training mode with ``params`` (the ones being differentiated).

  Returns ``(outputs, batch_stats)``: BatchNorm normalises with the statistics of this (global) batch
  and the running averages in ``batch_stats`` are updated; nets without BatchNorm return ``{}``.
  """
  if not player.batch_stats:
    return player.apply_fn({'params': params}, *inputs, train=True, rngs=rngs), {}
  outputs, updates = player.apply_fn(
    {'params': params, 'batch_stats': player.batch_stats},
    *inputs,
    train=True,
    rngs=rngs,
    mutable=['batch_stats'],
  )
  return outputs, updates['batch_stats']


def apply_eval(player: Player, *inputs, variables: dict | None = None) -> Any:
  """Runs the player's net in inference mode (BatchNorm running averages) with its own variables or
  ``variables`` (e.g. ``state.variables(name)``, the EMA copy's)."""
  return player.apply_fn(player.variables if variables is None else variables, *inputs, train=False)


def apply_inference(state: GameState, name: str, *inputs) -> Any:
  """Player ``name``'s net in inference mode with its EMA copy when kept (``state.variables``)."""
  return apply_eval(state.players[name], *inputs, variables=state.variables(name))


def scalar_metrics(**metrics) -> Metrics:
  return {name: jnp.asarray(value, jnp.float32) for name, value in metrics.items()}
