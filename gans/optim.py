"""Optimizers from config: one ``optax.GradientTransformation`` per player.

``config.optim.<player>`` holds ``name`` (adam | adamw | rmsprop | sgd), ``lr``, ``b1``, ``b2``, ``eps``,
``weight_decay`` (adamw) and ``grad_clip`` (global-norm clipping, 0 = off).
"""

from __future__ import annotations

import optax


def make_optimizer(cfg) -> optax.GradientTransformation:
  if cfg.lr <= 0:
    raise ValueError(f'optimizer learning rate must be positive, got lr={cfg.lr}.')
  if cfg.name == 'adam':
    tx = optax.adam(cfg.lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  elif cfg.name == 'adamw':
    tx = optax.adamw(cfg.lr, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps, weight_decay=cfg.weight_decay)
  elif cfg.name == 'rmsprop':
    tx = optax.rmsprop(cfg.lr, eps=cfg.eps)
  elif cfg.name == 'sgd':
    tx = optax.sgd(cfg.lr)
  else:
    raise ValueError(f'unknown optimizer {cfg.name!r}: use adam, adamw, rmsprop or sgd.')
  if cfg.grad_clip:
    tx = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), tx)
  return tx
