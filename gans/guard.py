"""Divergence guard: non-finite losses or parameters are caught inside the jitted step, reported on the host.

Every step computes ``ok = all metrics finite and all params finite`` on the device (no host sync). The
state's ``health`` records the first bad step and which quantity was bad; the trainer reads it only at log and
checkpoint intervals. Policies (``config.train.nonfinite``):

  * ``stop`` (default): training halts at the next log/checkpoint interval with a message naming the step,
    the quantity and the last good checkpoint; no checkpoint is written after the bad step.
  * ``skip``: the update of a bad step is dropped (the state keeps its previous values but the step counter
    advances, so the next step sees fresh data and noise) and counted in ``health['skipped']``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gans import parallel

POLICIES = ('stop', 'skip')


def initial_health() -> dict[str, jax.Array]:
  return {
    'first_bad_step': jnp.array(-1, jnp.int32),
    'bad_quantity': jnp.array(-1, jnp.int32),
    'skipped': jnp.array(0, jnp.int32),
  }


def quantity_names(metric_names) -> list[str]:
  """What ``health['bad_quantity']`` indexes: the metrics in sorted order, then the parameters."""
  return sorted(metric_names) + ['parameters']


def _finite_flags(state, metrics) -> jax.Array:
  """bool [num metrics + 1]: each metric finite, then all parameters of all players finite."""
  params = [player.params for player in state.players.values()]
  params_ok = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(params)]))
  return jnp.stack([jnp.all(jnp.isfinite(metrics[name])) for name in sorted(metrics)] + [params_ok])


def guarded(train_step, policy: str):
  """Wraps ``train_step(state, batch) -> (state, metrics)`` with the divergence guard."""
  if policy not in POLICIES:
    raise ValueError(f'config.train.nonfinite={policy!r}: use one of {", ".join(POLICIES)}.')

  def step(state, batch):
    new_state, metrics = train_step(state, batch)
    flags = _finite_flags(new_state, metrics)
    ok = jnp.all(flags)
    if policy == 'skip':
      new_state = jax.tree.map(lambda new, old: jnp.where(ok, new, old), new_state, state)
      new_state = new_state.replace(step=state.step + 1)
    health = state.health
    first_bad = (health['first_bad_step'] < 0) & ~ok & (policy == 'stop')
    new_health = {
      'first_bad_step': jnp.where(first_bad, state.step + 1, health['first_bad_step']),
      'bad_quantity': jnp.where(
        first_bad, jnp.argmin(flags).astype(jnp.int32), health['bad_quantity']
      ),
      'skipped': health['skipped'] + (~ok & (policy == 'skip')).astype(jnp.int32),
    }
    return new_state.replace(health=new_health), metrics

  return step


class DivergenceError(FloatingPointError):
  """Training produced non-finite values under the ``stop`` policy."""


def raise_if_diverged(health: dict, metric_names, last_good_checkpoint: int | None) -> None:
  """Host-side check of ``health`` (a small device-to-host copy); raises DivergenceError under ``stop``."""
  health = parallel.to_host(health)
  first_bad_step, bad_quantity = int(health['first_bad_step']), int(health['bad_quantity'])
  if first_bad_step >= 0:
    name = quantity_names(metric_names)[bad_quantity]
    where = (
      f'the last good checkpoint is step {last_good_checkpoint} (kept)'
      if last_good_checkpoint
      else 'no checkpoint was written before it'
    )
    raise DivergenceError(
      f'non-finite {name} at step {first_bad_step}; {where}. Lower the learning rates, check the data, '
      'or use --config.train.nonfinite=skip to drop bad updates.'
    )
