"""Losses specific to one family: relativistic GANs, BEGAN, CycleGAN, GAN-CLS, InfoGAN."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import jax
import numpy as np
import pytest

from gans import losses

_SETTINGS = settings(max_examples=25, deadline=None, database=None)
_KINDS = ('sigmoid', 'least_squares', 'hinge')


def _outputs(seed, shape=(6, 2, 2, 1)):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize('kind', _KINDS)
def test_relativistic_generator_loss_is_discriminator_loss_with_roles_swapped(kind):
  real, fake = _outputs(0), _outputs(1, shape=(4, 2, 2, 1))
  np.testing.assert_allclose(
    losses.relativistic_average_generator_loss(real, fake, kind=kind),
    losses.relativistic_average_discriminator_loss(fake, real, kind=kind),
    rtol=1e-6,
  )


_PAPER_TERMS = {  # (f1, f2) of Jolicoeur-Martineau 2018, in numpy
  'sigmoid': (lambda y: np.log1p(np.exp(-y)), lambda y: np.log1p(np.exp(y))),
  'least_squares': (lambda y: (y - 1) ** 2, lambda y: (y + 1) ** 2),
  'hinge': (lambda y: np.maximum(1 - y, 0), lambda y: np.maximum(1 + y, 0)),
}


@pytest.mark.parametrize('kind', _KINDS)
def test_relativistic_average_losses_match_the_paper(kind):
  real, fake = _outputs(0, shape=(5,)), _outputs(1, shape=(7,))
  f1, f2 = _PAPER_TERMS[kind]
  d_loss = np.mean(f1(real - fake.mean())) + np.mean(f2(fake - real.mean()))
  g_loss = np.mean(f1(fake - real.mean())) + np.mean(f2(real - fake.mean()))
  np.testing.assert_allclose(
    losses.relativistic_average_discriminator_loss(real, fake, kind=kind), d_loss, rtol=1e-5
  )
  np.testing.assert_allclose(
    losses.relativistic_average_generator_loss(real, fake, kind=kind), g_loss, rtol=1e-5
  )


@pytest.mark.parametrize(
  'kind, value_when_indistinguishable',
  [('sigmoid', 2 * math.log(2.0)), ('least_squares', 2.0), ('hinge', 2.0)],
)
def test_relativistic_loss_when_real_and_fake_score_alike(kind, value_when_indistinguishable):
  same = np.full((5, 3), 0.7)
  np.testing.assert_allclose(
    losses.relativistic_average_discriminator_loss(same, same, kind=kind),
    value_when_indistinguishable,
    rtol=1e-6,
  )


@pytest.mark.parametrize('kind', _KINDS)
def test_relativistic_loss_compares_to_the_other_batch_mean(kind):
  real, fake = _outputs(0, shape=(5,)), _outputs(1, shape=(7,))
  loss = losses.relativistic_average_discriminator_loss
  shifted = loss(real + 3.0, fake + 3.0, kind=kind)  # only differences matter
  np.testing.assert_allclose(shifted, loss(real, fake, kind=kind), rtol=1e-5)
  assert loss(real + 1.0, fake, kind=kind) < loss(real, fake, kind=kind)


@_SETTINGS
@given(
  k=st.floats(0.0, 1.0),
  real=st.floats(0.0, 2.0),
  fake=st.floats(0.0, 2.0),
  gamma=st.floats(0.1, 1.0),
  lambda_k=st.floats(1e-4, 10.0),
)
def test_began_k_update_is_a_clipped_proportional_controller(k, real, fake, gamma, lambda_k):
  updated = float(losses.began_k_update(k, real, fake, gamma=gamma, lambda_k=lambda_k))
  assert 0.0 <= updated <= 1.0
  np.testing.assert_allclose(
    updated, min(max(k + lambda_k * (gamma * real - fake), 0.0), 1.0), rtol=1e-5, atol=1e-6
  )
  at_equilibrium = losses.began_k_update(k, real, gamma * real, gamma=gamma, lambda_k=lambda_k)
  np.testing.assert_allclose(at_equilibrium, k, rtol=1e-6, atol=1e-7)
  measure = losses.began_convergence_measure(real, fake, gamma=gamma)
  assert measure >= real - 1e-6
  np.testing.assert_allclose(
    losses.began_convergence_measure(real, gamma * real, gamma=gamma), real, rtol=1e-6, atol=1e-7
  )


def test_began_discriminator_loss_treats_k_as_a_constant():
  real_loss, fake_loss, k = 0.3, 0.5, 0.2
  np.testing.assert_allclose(
    losses.began_discriminator_loss(real_loss, fake_loss, k), 0.3 - 0.2 * 0.5, rtol=1e-6
  )
  gradients = jax.grad(losses.began_discriminator_loss, argnums=(0, 1, 2))(real_loss, fake_loss, k)
  np.testing.assert_allclose(gradients, (1.0, -k, 0.0), rtol=1e-6)


@pytest.mark.parametrize(
  'l1_loss', [losses.began_autoencoder_loss, losses.cycle_consistency_loss, losses.identity_loss]
)
def test_l1_reconstruction_losses(l1_loss):
  images = _outputs(0, shape=(3, 4, 4, 2))
  offsets = np.array([0.5, -1.0, 2.0])[:, None, None, None]
  assert l1_loss(images, images) == 0.0
  np.testing.assert_allclose(l1_loss(images, images + offsets), 3.5 / 3, rtol=1e-6)
  np.testing.assert_allclose(
    l1_loss(images, images + offsets, weights=np.array([0.0, 1.0, 1.0])), 1.5, rtol=1e-6
  )


def test_matching_aware_loss_pools_both_kinds_of_negatives():
  real_right, real_wrong, fake_right = (_outputs(seed, shape=(8, 1)) for seed in range(3))
  np.testing.assert_allclose(
    losses.matching_aware_discriminator_loss(real_right, real_wrong, fake_right),
    losses.minimax_discriminator_loss(real_right, np.concatenate([real_wrong, fake_right])),
    rtol=1e-6,
  )
  s = lambda logits: 1 / (1 + np.exp(-logits))
  direct = (
    -np.mean(np.log(s(real_right)))
    - 0.5 * np.mean(np.log(1 - s(real_wrong)))
    - 0.5 * np.mean(np.log(1 - s(fake_right)))
  )
  np.testing.assert_allclose(
    losses.matching_aware_discriminator_loss(real_right, real_wrong, fake_right), direct, rtol=1e-5
  )


def test_infogan_categorical_loss_is_cross_entropy():
  logits, codes = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]]), np.array([2, 1])
  log_softmax = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
  np.testing.assert_allclose(
    losses.infogan_categorical_loss(logits, codes),
    -np.mean(log_softmax[np.arange(2), codes]),
    rtol=1e-6,
  )


_continuous_loss_and_gradient = jax.jit(
  jax.value_and_grad(
    lambda log_std, mean, codes: losses.infogan_continuous_loss(mean, codes, log_std=log_std)
  )
)


def test_infogan_continuous_loss_with_fixed_and_learned_std():
  rng = np.random.default_rng(0)
  mean, codes = rng.normal(size=(64, 2)), rng.normal(size=(64, 2))
  squared_error = np.mean(np.sum(np.square(codes - mean), axis=-1))
  np.testing.assert_allclose(
    losses.infogan_continuous_loss(mean, codes),
    0.5 * squared_error + math.log(2 * math.pi),
    rtol=1e-5,
  )
  best_log_std = 0.5 * np.log(np.mean(np.square(codes - mean), axis=0))  # per code dimension
  best_loss, gradient = _continuous_loss_and_gradient(best_log_std, mean, codes)
  np.testing.assert_allclose(gradient, 0.0, atol=1e-5)
  assert best_loss < _continuous_loss_and_gradient(np.zeros(2), mean, codes)[0]
