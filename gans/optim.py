"""Optimizers from config: one ``optax.GradientTransformation`` per player.

``config.optim.<player>`` holds ``name`` (adam | adamw | rmsprop | sgd), ``lr``, ``b1``, ``b2``, ``eps``,
``weight_decay`` (adamw), ``rms_decay`` (rmsprop), ``grad_clip`` (global-norm clipping, 0 = off) and the learning-rate schedule
``decay_start``/``decay_steps``: lr(t) = lr · clip(1 − (t − decay_start) / decay_steps, 0, 1) for the t-th
update (constant, then linear to 0, as CycleGAN's); ``decay_steps`` = 0 keeps lr constant (and the optimizer
state without a schedule count).
"""

from __future__ import annotations

import optax


def learning_rate(cfg) -> float | optax.Schedule:
  """``cfg.lr``, or the schedule of ``cfg.decay_start`` / ``cfg.decay_steps`` (module docstring)."""
  decay_start, decay_steps = cfg.get('decay_start', 0), cfg.get('decay_steps', 0)
  if decay_start < 0 or decay_steps < 0:
    raise ValueError(
      f'optimizer decay_start={decay_start} and decay_steps={decay_steps} must be >= 0 (0 = off).'
    )
  if not decay_steps:
    return cfg.lr
  return optax.linear_schedule(cfg.lr, 0.0, decay_steps, transition_begin=decay_start)


def make_optimizer(cfg) -> optax.GradientTransformation:
  if cfg.lr <= 0:
    raise ValueError(f'optimizer learning rate must be positive, got lr={cfg.lr}.')
  lr = learning_rate(cfg)
  if cfg.name == 'adam':
    tx = optax.adam(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  elif cfg.name == 'adamw':
    tx = optax.adamw(lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
  elif cfg.name == 'rmsprop':
    # PyTorch's RMSprop, which the WGAN reference code uses: v <- ρ v + (1 - ρ) g², Δ = -lr g / (√v + ε),
    # ρ = rms_decay (its alpha, 0.99; optax's default is 0.9), ε outside the root.
    tx = optax.rmsprop(lr, decay=cfg.get('rms_decay', 0.99), eps=cfg.eps, eps_in_sqrt=False)
  elif cfg.name == 'sgd':
    tx = optax.sgd(lr)
  else:
    raise ValueError(f'unknown optimizer {cfg.name!r}: use adam, adamw, rmsprop or sgd.')
  if cfg.grad_clip:
    tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), tx)
  return tx
