"""The state pytree shared by every family: named players, EMA copies, step, RNG and carried values.

A *player* is one trained net (or group of nets sharing an optimizer): a generator, a discriminator, an
encoder-decoder pair, a text encoder, a Q head. CycleGAN has four, LapGAN a pyramid, the VAE one. The
trainer never names them; each method decides which players it has.
"""

from __future__ import annotations

from typing import Any

import flax.struct
from flax.training import train_state
import jax
import jax.numpy as jnp

from gans import guard


def inference_variables(params, batch_stats) -> dict:
  """``{'params': ..., 'batch_stats': ...}`` for ``module.apply``, without empty statistics."""
  return {'params': params, **({'batch_stats': batch_stats} if batch_stats else {})}


class Player(train_state.TrainState):
  """One player's params, optimizer state and (possibly empty) BatchNorm statistics."""

  batch_stats: Any = flax.struct.field(default_factory=dict)

  @property
  def variables(self) -> dict:
    """The variables for ``module.apply`` in inference mode."""
    return inference_variables(self.params, self.batch_stats)


@flax.struct.dataclass
class EMA:
  """Exponential moving averages of one player's params and BatchNorm statistics (``gans.methods.steps
  .update_ema``): decoding with the EMA weights also normalises with statistics of those weights'
  history, never with the live player's."""

  params: Any
  batch_stats: Any = flax.struct.field(default_factory=dict)

  @classmethod
  def of(cls, player: Player) -> 'EMA':
    return cls(params=player.params, batch_stats=player.batch_stats)

  @property
  def variables(self) -> dict:
    """The variables for ``module.apply`` in inference mode, as ``Player.variables``."""
    return inference_variables(self.params, self.batch_stats)


@flax.struct.dataclass
class GameState:
  """Everything a run carries from step to step.

  Attributes:
    step: int32 scalar, the number of completed training steps.
    rng: a legacy uint32[2] PRNG key; step ``s`` draws from ``fold_in(rng, s)``.
    players: name -> Player.
    ema: name -> EMA of that player (empty when EMA is off).
    carry: name -> array, the values a family carries from one step to the next (BEGAN's k_t, a
      path-length mean, an image pool).
    health: the divergence guard's record (``gans.guard``): first bad step, bad quantity, skipped steps.
  """

  step: jax.Array
  rng: jax.Array
  players: dict[str, Player]
  ema: dict[str, EMA] = flax.struct.field(default_factory=dict)
  carry: dict[str, jax.Array] = flax.struct.field(default_factory=dict)
  health: dict[str, jax.Array] = flax.struct.field(default_factory=guard.initial_health)

  @classmethod
  def create(
    cls, rng: jax.Array, players: dict[str, Player], ema_players=(), carry=None
  ) -> 'GameState':
    return cls(
      step=jnp.zeros((), jnp.int32),
      rng=rng,
      players=players,
      ema={name: EMA.of(players[name]) for name in ema_players},
      carry=dict(carry or {}),
    )

  def step_rng(self) -> jax.Array:
    """The key of the current step: the same on every device and after a resume."""
    return jax.random.fold_in(self.rng, self.step)

  def variables(self, name: str) -> dict:
    """Inference variables of player ``name``: its EMA copy when it has one, else the live player's."""
    return (self.ema[name] if name in self.ema else self.players[name]).variables
