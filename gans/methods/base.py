"""The Method protocol and the helpers every family uses to build and run its players.

A method is a small set of pure functions over one ``GameState``:

    init(rng, batch) -> GameState            builds nets, players and optimizers from an example
                                             batch (never stacked: [B, ...])
    train_step(state, batch) -> (GameState, metrics)
                                             one optimisation step of the whole game; pure, jitted and
                                             data-parallel by the trainer; metrics are float32 scalars
    generate(state, rng, num) -> images      [num, H, W, C] in the data's value range
    eval_step(state, batch, rng) -> metrics  per-batch evaluation metrics (means over the batch)
    figures(state, batch, rng) -> {name: images [rows, cols, H, W, C]}
                                             family-specific image grids (reconstructions, walks, ...)

Optional, for the evaluator: ``class_samples(state, rng, num) -> (images, labels)`` (class-conditional
methods: samples and the classes they were drawn for, scored by the classifier's class accuracy) and
``code_accuracy(state, images, labels) -> float`` (unsupervised codes such as InfoGAN's, scored against
the true labels after the best matching).

``batch`` is ``{'image': float32 [B, H, W, C] in config.data.value_range, 'label': int32 [B]}``, or the
same with a leading ``[batches_per_step, ...]`` axis when the method asks for several batches per step
(e.g. n_critic critic updates, each on fresh data).
"""

from __future__ import annotations

from typing import Any, Protocol

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gans.state import GameState, Player

Metrics = dict[str, jax.Array]


class Method(Protocol):
  batches_per_step: int

  def init(self, rng: jax.Array, batch: dict) -> GameState: ...

  def train_step(self, state: GameState, batch: dict) -> tuple[GameState, Metrics]: ...

  def generate(self, state: GameState, rng: jax.Array, num: int) -> jax.Array: ...

  def eval_step(self, state: GameState, batch: dict, rng: jax.Array) -> Metrics: ...

  def figures(self, state: GameState, batch: dict, rng: jax.Array) -> dict[str, jax.Array]: ...


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


def apply_eval(player: Player, *inputs, params: Any = None) -> Any:
  """Runs the player's net in inference mode (BatchNorm running averages), optionally with other
  ``params`` (e.g. the EMA copy)."""
  variables = player.variables if params is None else {**player.variables, 'params': params}
  return player.apply_fn(variables, *inputs, train=False)


def update_player(player: Player, grads: Any, batch_stats: dict) -> Player:
  """One optimizer step, keeping the BatchNorm statistics of the forward pass that made ``grads``."""
  return player.apply_gradients(grads=grads).replace(batch_stats=batch_stats)


def scalar_metrics(**metrics) -> Metrics:
  return {name: jnp.asarray(value, jnp.float32) for name, value in metrics.items()}
