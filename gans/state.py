"""The state pytree shared by every family: named players, EMA copies, step, RNG and auxiliary values.

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
import optax

from gans import guard


class Player(train_state.TrainState):
  """One player's params, optimizer state and (possibly empty) BatchNorm statistics."""

  batch_stats: Any = flax.struct.field(default_factory=dict)

  @property
  def variables(self) -> dict:
    """The variables for ``module.apply`` in inference mode."""
    return {
      'params': self.params,
      **({'batch_stats': self.batch_stats} if self.batch_stats else {}),
    }


@flax.struct.dataclass
class GameState:
  """Everything a run carries from step to step.

  Attributes:
    step: int32 scalar, the number of completed training steps.
    rng: a legacy uint32[2] PRNG key; step ``s`` draws from ``fold_in(rng, s)``.
    players: name -> Player.
    ema: name -> exponential moving average of that player's params (empty when EMA is off).
    aux: name -> array, for values a family carries between steps (BEGAN's k_t, counters, flags).
    health: the divergence guard's record (``gans.guard``): first bad step, bad quantity, skipped steps.
  """

  step: jax.Array
  rng: jax.Array
  players: dict[str, Player]
  ema: dict[str, Any] = flax.struct.field(default_factory=dict)
  aux: dict[str, jax.Array] = flax.struct.field(default_factory=dict)
  health: dict[str, jax.Array] = flax.struct.field(default_factory=guard.initial_health)

  @classmethod
  def create(
    cls, rng: jax.Array, players: dict[str, Player], ema_players=(), aux=None
  ) -> 'GameState':
    return cls(
      step=jnp.zeros((), jnp.int32),
      rng=rng,
      players=players,
      ema={name: players[name].params for name in ema_players},
      aux=dict(aux or {}),
    )

  def step_rng(self) -> jax.Array:
    """The key of the current step: the same on every device and after a resume."""
    return jax.random.fold_in(self.rng, self.step)

  def update_ema(self, decay: float) -> 'GameState':
    """ema <- decay·ema + (1 - decay)·params, for every player that has an EMA copy."""
    ema = {
      name: optax.incremental_update(self.players[name].params, old, 1.0 - decay)
      for name, old in self.ema.items()
    }
    return self.replace(ema=ema)
