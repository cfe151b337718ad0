"""The semi-supervised GAN's nets (Salimans et al. 2016, Sec. 5 and their MNIST model): D, a classifier of K
classes whose last hidden layer is also the generator's feature-matching target, and the authors' MNIST G.

D's K logits l_1..l_K are the first K logits of a (K+1)-way softmax whose fake class has logit 0
(``gans.losses.semi_supervised``): the net itself is a plain K-way classifier.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class WeightNormDense(nn.Module):
  """x [B, I] -> t g + b [B, O] with t = x v / ‖v‖ (v [I, O] normalised per output column; Salimans &
  Kingma 2016), v ~ N(0, 0.1²) as in the authors' code.

  ``data_init``: the data-dependent initialisation, with μ, σ [O] the batch mean and std of t: writes
  g = 1 / σ and b = -μ / σ into ``params`` (apply with ``mutable=['params']``) and returns (t - μ) / σ, so
  every unit starts with zero mean and unit variance on that batch. ``train_scale=False`` keeps g at its
  initial value (no gradient reaches it), as the authors' MNIST hidden layers do.
  """

  features: int
  train_scale: bool = True
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, data_init: bool = False):
    v = self.param('direction', nn.initializers.normal(0.1), (x.shape[-1], self.features))
    scale = self.param('scale', nn.initializers.ones, (self.features,))
    bias = self.param('bias', nn.initializers.zeros, (self.features,))
    t = jnp.dot(x, (v / jnp.linalg.norm(v, axis=0)).astype(self.dtype))
    if data_init:
      mean, std = jnp.mean(t, axis=0), jnp.std(t, axis=0) + 1e-6
      self.put_variable('params', 'scale', (1.0 / std).astype(scale.dtype))
      self.put_variable('params', 'bias', (-mean / std).astype(bias.dtype))
      return (t - mean) / std
    if not self.train_scale:
      scale = jax.lax.stop_gradient(scale)
    return t * scale.astype(self.dtype) + bias.astype(self.dtype)


class NoisyMLPClassifier(nn.Module):
  """images [B, H, W, C] -> (logits [B, K], features [B, hidden[-1]]).

  x -> x + σ_in ε -> [Dense -> ReLU -> + σ_h ε] × hidden -> Dense(K), ε ~ N(0, I) drawn from the ``noise``
  rng stream in training mode only (Salimans et al.'s MNIST D: hidden (1000, 500, 250, 250, 250), σ_in =
  0.3, σ_h = 0.5). ``features`` are the last hidden layer's activations before its noise. With
  ``weight_norm`` every Dense is weight-normalised, as the paper's nets are: by ``flax.linen.WeightNorm``,
  or with ``authors_layers`` by the authors' ``WeightNormDense`` whose hidden layers' scales g stay fixed
  (the logits' g trains); ``data_init`` (authors' layers only) runs the data-dependent initialisation of
  every layer in turn on the batch ``x``.
  """

  num_classes: int
  hidden: Sequence[int] = (1000, 500, 250, 250, 250)
  input_noise: float = 0.3
  hidden_noise: float = 0.5
  weight_norm: bool = True
  authors_layers: bool = False
  dtype: Any = jnp.float32

  def _dense(self, width: int, name: str, hidden: bool):
    if self.weight_norm and self.authors_layers:
      return WeightNormDense(width, train_scale=not hidden, dtype=self.dtype, name=name)
    dense = nn.Dense(width, dtype=self.dtype, name=name)
    return nn.WeightNorm(dense, name=f'{name}_weight_norm') if self.weight_norm else dense

  def _noise(self, h, std: float, train: bool):
    if not (train and std):
      return h
    return h + std * jax.random.normal(self.make_rng('noise'), h.shape, h.dtype)

  @nn.compact
  def __call__(self, x, train: bool, data_init: bool = False):
    init = {'data_init': True} if data_init else {}
    h = self._noise(x.reshape((x.shape[0], -1)).astype(self.dtype), self.input_noise, train)
    features = h
    for i, width in enumerate(self.hidden):
      features = nn.relu(self._dense(width, f'hidden_{i}', hidden=True)(h, **init))
      h = self._noise(features, self.hidden_noise, train)
    logits = self._dense(self.num_classes, 'logits', hidden=False)(h, **init)
    return logits.astype(jnp.float32), features.astype(jnp.float32)


class SoftplusMLPGenerator(nn.Module):
  """z [B, z_dim] -> images [B, *image_shape] in (0, 1): the authors' MNIST G.

  [Dense (no bias) -> BatchNorm (no scale) -> softplus] × hidden -> WeightNormDense(prod(image_shape))
  -> sigmoid, with hidden = (500, 500) in the paper's code.
  """

  image_shape: Sequence[int]
  hidden: Sequence[int] = (500, 500)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, train: bool):
    x = z.astype(self.dtype)
    for width in self.hidden:
      x = nn.Dense(width, use_bias=False, dtype=self.dtype)(x)
      x = nn.BatchNorm(
        use_running_average=not train, momentum=0.9, epsilon=1e-6, use_scale=False, dtype=self.dtype
      )(x)
      x = nn.softplus(x)
    x = nn.sigmoid(WeightNormDense(int(np.prod(self.image_shape)), dtype=self.dtype)(x))
    return x.astype(jnp.float32).reshape((z.shape[0], *self.image_shape))
