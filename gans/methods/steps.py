"""Building blocks of train steps: pure, jit-friendly pieces a family's ``train_step`` is written from.

A step reads top to bottom (big_vision's ``update_fn``): fold the step's rng, define each player's loss
as a local function, and call

    update_player(player, loss_fn, *args)       value_and_grad with aux, BatchNorm statistics, optimizer
    update_players(players, loss_fn)            the same for players trained by one joint loss (VAE)
    critic_loop(update_fn, player, batches, rng)
                                                k updates of one player, each on its own batch (lax.scan)
    every(interval, step, update_fn, player)    a lazy regulariser, inside the jitted step (lax.cond)
    switch(pred, step_a, step_b, state, batch)  phases of training (GAN-CLS's pre-training, lax.cond)
    update_ema(state, decay, start)             EMA of params and BatchNorm statistics

``lazy_optimizer`` gives the optimizer of a lazily regularised player (StyleGAN2's correction).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax

from gans.state import GameState, Player

# loss_fn(params, *args) -> (loss, (batch_stats, metrics)).
LossFn = Callable[..., tuple[jax.Array, tuple[Any, dict]]]


def apply_gradients(player: Player, grads: Any, batch_stats: Any) -> Player:
  """One optimizer step, keeping the BatchNorm statistics of the forward pass that made ``grads``."""
  return player.apply_gradients(grads=grads).replace(batch_stats=batch_stats)


def update_player(player: Player, loss_fn: LossFn, *args) -> tuple[Player, dict]:
  """θ <- θ - optimizer(∇_θ loss_fn(θ, *args)): returns the updated player and the loss's metrics.

  ``loss_fn(params, *args) -> (loss, (batch_stats, metrics))``: ``batch_stats`` are the player's
  BatchNorm statistics after the forward passes of the loss (``base.apply_train``; ``{}`` without
  BatchNorm), ``metrics`` a dict of scalars.
  """
  (_, (batch_stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
    player.params, *args
  )
  return apply_gradients(player, grads, batch_stats), metrics


def update_players(players: dict[str, Player], loss_fn: LossFn) -> tuple[dict[str, Player], dict]:
  """``update_player`` for several players trained by one loss of all their params.

  ``loss_fn({name: params}) -> (loss, ({name: batch_stats}, metrics))``.
  """
  params = {name: player.params for name, player in players.items()}
  (_, (batch_stats, metrics)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  return {
    name: apply_gradients(player, grads[name], batch_stats[name])
    for name, player in players.items()
  }, metrics


def critic_loop(
  update_fn: Callable[[Player, dict, jax.Array], tuple[Player, dict]],
  player: Player,
  batches: dict[str, jax.Array],
  rng: jax.Array,
) -> tuple[Player, dict]:
  """k updates of ``player`` in a ``lax.scan``, update i on batch i with key ``fold_in(rng, i)``.

  Args:
    update_fn: (player, batch name -> [B, ...], key) -> (player, metrics).
    batches: name -> [k, B, ...].
  Returns:
    The player after k updates, and each metric's mean over them.
  """
  num = jax.tree.leaves(batches)[0].shape[0]

  def body(player, inputs):
    batch, i = inputs
    return update_fn(player, batch, jax.random.fold_in(rng, i))

  player, metrics = jax.lax.scan(body, player, (batches, jnp.arange(num)))
  return player, jax.tree.map(jnp.mean, metrics)


def every(
  interval: int,
  step: jax.Array,
  update_fn: Callable[..., tuple[Player, dict]],
  player: Player,
  *args,
) -> tuple[Player, dict]:
  """A lazy regulariser: ``update_fn(player, *args) -> (player, metrics)`` on the steps s = k, 2k, ...
  (s = ``step`` + 1, the step being taken, with ``step`` = ``state.step`` the steps completed), else the
  player unchanged and every metric 0. Both branches are compiled; ``lax.cond`` runs one.

  Lazy regularisation (Karras et al. 2020, StyleGAN2 appendix B) scales the regulariser's weight by k
  and its player's optimizer by ``lazy_optimizer``.
  """
  _, metric_shapes = jax.eval_shape(update_fn, player, *args)

  def skip(player, *args):
    del args
    return player, jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), metric_shapes)

  return jax.lax.cond((step + 1) % interval == 0, update_fn, skip, player, *args)


def switch(
  pred: jax.Array, true_step, false_step, state: GameState, batch
) -> tuple[GameState, dict]:
  """``true_step(state, batch)`` where ``pred`` else ``false_step(state, batch)``, both
  ``-> (state, metrics)``: phases of training in one jitted step (``lax.cond``; both compiled, one run).
  Each branch reports the metrics of both, 0 for the names only the other one has."""
  shapes = [jax.eval_shape(step, state, batch)[1] for step in (true_step, false_step)]
  names = {name: shape for metrics in shapes for name, shape in metrics.items()}

  def padded(step):
    def run(state, batch):
      state, metrics = step(state, batch)
      zeros = {name: jnp.zeros(s.shape, s.dtype) for name, s in names.items()}
      return state, {**zeros, **metrics}

    return run

  return jax.lax.cond(pred, padded(true_step), padded(false_step), state, batch)


def lazy_optimizer(optim: ml_collections.ConfigDict, interval: int) -> ml_collections.ConfigDict:
  """``config.optim.<player>`` for a player whose regulariser runs every ``interval`` = k steps:
  lr·c, β1^c, β2^c with c = k / (k + 1), so that the sum of the main and the lazy updates moves as
  the unregularised optimizer with a regulariser every step would (StyleGAN2, appendix B)."""
  c = interval / (interval + 1)
  corrected = ml_collections.ConfigDict(optim.to_dict())
  corrected.lr, corrected.b1, corrected.b2 = optim.lr * c, optim.b1**c, optim.b2**c
  return corrected


def update_ema(state: GameState, decay: float, start: int = 0) -> GameState:
  """ema <- decay·ema + (1 - decay)·live for the params and BatchNorm statistics of every player with
  an EMA copy; while ``state.step`` <= ``start`` the copy follows the live player (decay 0)."""
  if not state.ema:
    return state
  rate = 1.0 - decay if not start else jnp.where(state.step > start, 1.0 - decay, 1.0)
  ema = {
    name: old.replace(
      params=optax.incremental_update(state.players[name].params, old.params, rate),
      batch_stats=optax.incremental_update(state.players[name].batch_stats, old.batch_stats, rate),
    )
    for name, old in state.ema.items()
  }
  return state.replace(ema=ema)
