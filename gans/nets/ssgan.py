"""The semi-supervised GAN's discriminator (Salimans et al. 2016, Sec. 5 and their MNIST model): a
classifier of K classes whose last hidden layer is also the generator's feature-matching target.

D's K logits l_1..l_K are the first K logits of a (K+1)-way softmax whose fake class has logit 0
(``gans.losses.semi_supervised``): the net itself is a plain K-way classifier.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class NoisyMLPClassifier(nn.Module):
  """images [B, H, W, C] -> (logits [B, K], features [B, hidden[-1]]).

  x -> x + σ_in ε -> [Dense -> ReLU -> + σ_h ε] × hidden -> Dense(K), ε ~ N(0, I) drawn from the ``noise``
  rng stream in training mode only (Salimans et al.'s MNIST D: hidden (1000, 500, 250, 250, 250), σ_in =
  0.3, σ_h = 0.5). ``features`` are the last hidden layer's activations before its noise. With
  ``weight_norm`` every Dense is weight-normalised (w = g · v / ‖v‖, Salimans & Kingma 2016), as the
  paper's nets are.
  """

  num_classes: int
  hidden: Sequence[int] = (1000, 500, 250, 250, 250)
  input_noise: float = 0.3
  hidden_noise: float = 0.5
  weight_norm: bool = True
  dtype: Any = jnp.float32

  def _dense(self, width: int, name: str):
    dense = nn.Dense(width, dtype=self.dtype, name=name)
    return nn.WeightNorm(dense, name=f'{name}_weight_norm') if self.weight_norm else dense

  def _noise(self, h, std: float, train: bool):
    if not (train and std):
      return h
    return h + std * jax.random.normal(self.make_rng('noise'), h.shape, h.dtype)

  @nn.compact
  def __call__(self, x, train: bool):
    h = self._noise(x.reshape((x.shape[0], -1)).astype(self.dtype), self.input_noise, train)
    features = h
    for i, width in enumerate(self.hidden):
      features = nn.relu(self._dense(width, f'hidden_{i}')(h))
      h = self._noise(features, self.hidden_noise, train)
    logits = self._dense(self.num_classes, 'logits')(h)
    return logits.astype(jnp.float32), features.astype(jnp.float32)
