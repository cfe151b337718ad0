"""Every loss under jit/vmap/grad, at extreme logits, in bf16, with weights and bad shapes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import losses

_BATCH = 4
_NOT_LOSSES = {'F_DIVERGENCES', 'FDivergence', 'clip_weights', 'random_interpolates'}


def _normal(seed, shape):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _critic(x):
  return jnp.tanh(jnp.sum(x, axis=(2, 3))) @ jnp.array([0.5, -1.0, 2.0]) + jnp.mean(x**2)


def _cases():
  """name -> (loss, example args); the first argument is always a float array."""
  real, fake = _normal(0, (_BATCH, 2, 2, 1)), _normal(1, (_BATCH, 2, 2, 1))  # patch logits
  images, other_images = _normal(2, (_BATCH, 3, 3, 2)), _normal(3, (_BATCH, 3, 3, 2))
  mean, log_var = _normal(4, (_BATCH, 3)), 0.3 * _normal(5, (_BATCH, 3))
  codes, code_logits = np.array([0, 3, 1, 4]), _normal(6, (_BATCH, 5))
  scalar = np.float32
  rng = jax.random.key(7)
  cases = {
    'minimax_discriminator_loss': (losses.minimax_discriminator_loss, (real, fake)),
    'minimax_generator_loss': (losses.minimax_generator_loss, (fake,)),
    'nonsaturating_generator_loss': (losses.nonsaturating_generator_loss, (fake,)),
    'wasserstein_discriminator_loss': (losses.wasserstein_discriminator_loss, (real, fake)),
    'wasserstein_generator_loss': (losses.wasserstein_generator_loss, (fake,)),
    'hinge_discriminator_loss': (losses.hinge_discriminator_loss, (real, fake)),
    'hinge_generator_loss': (losses.hinge_generator_loss, (fake,)),
    'least_squares_discriminator_loss': (losses.least_squares_discriminator_loss, (real, fake)),
    'least_squares_generator_loss': (losses.least_squares_generator_loss, (fake,)),
    'matching_aware_discriminator_loss': (
      losses.matching_aware_discriminator_loss,
      (real, fake, 2.0 * fake),
    ),
    'gradient_penalty': (
      lambda r, f: losses.gradient_penalty(_critic, r, f, rng),
      (images, other_images),
    ),
    'r1_penalty': (functools.partial(losses.r1_penalty, _critic), (images,)),
    'orthogonal_regularization': (losses.orthogonal_regularization, (images,)),
    'r2_penalty': (functools.partial(losses.r2_penalty, _critic), (other_images,)),
    'dragan_penalty': (lambda r: losses.dragan_penalty(_critic, r, rng), (images,)),
    'began_autoencoder_loss': (losses.began_autoencoder_loss, (images, other_images)),
    'began_discriminator_loss': (
      losses.began_discriminator_loss,
      (scalar(0.3), scalar(0.4), scalar(0.5)),
    ),
    'began_k_update': (
      functools.partial(losses.began_k_update, gamma=0.5, lambda_k=0.1),
      (scalar(0.2), scalar(0.3), scalar(0.4)),
    ),
    'began_convergence_measure': (
      functools.partial(losses.began_convergence_measure, gamma=0.5),
      (scalar(0.3), scalar(0.4)),
    ),
    'symmetric_contrastive_loss': (losses.symmetric_contrastive_loss, (mean, log_var)),
    'latent_regression_loss': (losses.latent_regression_loss, (mean, log_var)),
    'cycle_consistency_loss': (losses.cycle_consistency_loss, (images, other_images)),
    'real_logit': (losses.real_logit, (code_logits,)),
    'supervised_class_loss': (losses.supervised_class_loss, (code_logits, codes)),
    'semi_supervised_discriminator_loss': (
      losses.semi_supervised_discriminator_loss,
      (code_logits, 2.0 * code_logits),
    ),
    'feature_matching_loss': (losses.feature_matching_loss, (mean, log_var)),
    'path_lengths': (
      lambda ws: losses.path_lengths(lambda w: jnp.tanh(w)[..., None], ws, rng),
      (_normal(11, (_BATCH, 3, 3)),),
    ),
    'path_length_penalty': (
      lambda lengths, mean: losses.path_length_penalty(lengths, mean)[0],  # (penalty, new mean)
      (np.abs(mean[:, 0]), scalar(0.5)),
    ),
    'identity_loss': (losses.identity_loss, (images, other_images)),
    'infogan_categorical_loss': (losses.infogan_categorical_loss, (code_logits, codes)),
    'infogan_continuous_loss': (losses.infogan_continuous_loss, (mean, log_var)),
    'categorical_mutual_information_bound': (
      losses.categorical_mutual_information_bound,
      (code_logits, codes),
    ),
    'gaussian_kl': (losses.gaussian_kl, (mean, log_var)),
    'bernoulli_log_likelihood': (
      losses.bernoulli_log_likelihood,
      (images, 1 / (1 + np.exp(-other_images))),
    ),
    'gaussian_log_likelihood': (losses.gaussian_log_likelihood, (images, other_images, 0.5)),
    'negative_elbo': (
      functools.partial(losses.negative_elbo, beta=2.0),
      (mean[:, 0], log_var[:, 0] ** 2),
    ),
    'iwae_bound': (
      losses.iwae_bound,
      (_normal(8, (3, _BATCH)), _normal(9, (3, _BATCH)), _normal(10, (3, _BATCH))),
    ),
    'f_divergence': (
      functools.partial(losses.f_divergence, divergence='gan'),
      (np.array([0.2, 0.5, 0.3], np.float32), np.array([0.4, 0.4, 0.2], np.float32)),
    ),
  }
  for kind in ('sigmoid', 'least_squares', 'hinge'):
    for player in ('discriminator', 'generator'):
      loss = getattr(losses, f'relativistic_average_{player}_loss')
      cases[f'relativistic_average_{player}_loss[{kind}]'] = (
        functools.partial(loss, kind=kind),
        (real, fake),
      )
  for divergence in losses.F_DIVERGENCES:
    cases[f'f_gan_discriminator_loss[{divergence}]'] = (
      functools.partial(losses.f_gan_discriminator_loss, divergence=divergence),
      (real, fake),
    )
    for saturating in (False, True):
      cases[f'f_gan_generator_loss[{divergence},saturating={saturating}]'] = (
        functools.partial(
          losses.f_gan_generator_loss, divergence=divergence, saturating=saturating
        ),
        (fake,),
      )
  return cases


_CASES = _cases()


def _summed(loss):
  return lambda *args: jnp.sum(loss(*args))


def _variant(args, i):
  """The i-th of three inputs to stack for vmap: floats shifted, integer codes kept."""
  return tuple(
    a + np.float32(0.1 * i) if np.issubdtype(np.asarray(a).dtype, np.floating) else a for a in args
  )


@functools.cache
def _transformed():
  """jit(vmap(value_and_grad(loss))) of every case over three stacked inputs, one program."""

  def run(stacked):
    return {
      name: jax.vmap(jax.value_and_grad(_summed(loss)))(*stacked[name])
      for name, (loss, _) in _CASES.items()
    }

  stacked = {
    name: jax.tree.map(lambda *a: np.stack(a), *(_variant(args, i) for i in range(3)))
    for name, (_, args) in _CASES.items()
  }
  return jax.jit(run)(stacked)


def test_every_public_loss_is_covered():
  covered = {name.split('[')[0] for name in _CASES}
  assert set(losses.__all__) - _NOT_LOSSES == covered


@pytest.mark.parametrize('name', sorted(_CASES))
def test_jit_vmap_grad_agree_with_eager(name):
  loss, args = _CASES[name]
  values, gradients = _transformed()[name]
  eager = [_summed(loss)(*_variant(args, i)) for i in range(3)]
  np.testing.assert_allclose(values, eager, rtol=2e-5, atol=1e-6)
  assert np.all(np.isfinite(gradients))


_EXTREME = np.array([-1e4, -30.0, 0.0, 30.0, 1e4], np.float32)
_MODERATE = np.array([-80.0, -30.0, 0.0, 30.0, 80.0], np.float32)
_POLYNOMIAL_GROWTH = ('pearson', 'jensen_shannon', 'gan')


def _stability_cases():
  """name -> (loss of one logit vector, logits it must stay finite for)."""
  two_sample = {
    'minimax': losses.minimax_discriminator_loss,
    'wasserstein': losses.wasserstein_discriminator_loss,
    'hinge': losses.hinge_discriminator_loss,
    'least_squares': losses.least_squares_discriminator_loss,
    **{
      f'relativistic[{kind}]': functools.partial(
        losses.relativistic_average_discriminator_loss, kind=kind
      )
      for kind in ('sigmoid', 'least_squares', 'hinge')
    },
    **{
      f'f_gan[{d}]': functools.partial(losses.f_gan_discriminator_loss, divergence=d)
      for d in losses.F_DIVERGENCES
    },
  }
  cases = {
    f'{name}_discriminator': (lambda l, loss=loss: loss(l, l[::-1]), _EXTREME)
    for name, loss in two_sample.items()
  }
  cases.update(
    {
      'minimax_generator': (losses.minimax_generator_loss, _EXTREME),
      'nonsaturating_generator': (losses.nonsaturating_generator_loss, _EXTREME),
      'least_squares_generator': (losses.least_squares_generator_loss, _EXTREME),
      'hinge_generator': (losses.hinge_generator_loss, _EXTREME),
      'matching_aware': (
        lambda l: losses.matching_aware_discriminator_loss(l, l[::-1], -l),
        _EXTREME,
      ),
      'infogan_categorical': (
        lambda l: losses.infogan_categorical_loss(jnp.outer(l, l[::-1]) / 1e4, np.arange(5)),
        _EXTREME,
      ),
      'bernoulli_log_likelihood': (
        lambda l: losses.bernoulli_log_likelihood(
          l[:, None], np.array([[0.0], [1.0], [0.5], [0.0], [1.0]])
        ),
        _EXTREME,
      ),
    }
  )
  for d in losses.F_DIVERGENCES:
    for saturating in (False, True):
      cases[f'f_gan_generator[{d},saturating={saturating}]'] = (
        functools.partial(losses.f_gan_generator_loss, divergence=d, saturating=saturating),
        _EXTREME if d in _POLYNOMIAL_GROWTH else _MODERATE,
      )
    if d not in _POLYNOMIAL_GROWTH:  # exp(|v|) growth: finite only where float32 holds it
      cases[f'f_gan[{d}]_discriminator'] = (cases[f'f_gan[{d}]_discriminator'][0], _MODERATE)
  return cases


_STABILITY_CASES = _stability_cases()


@pytest.mark.parametrize('name', sorted(_STABILITY_CASES))
def test_losses_and_gradients_stay_finite_at_extreme_logits(name):
  loss, logits = _STABILITY_CASES[name]
  value, gradient = jax.value_and_grad(_summed(loss))(logits)
  assert np.isfinite(value) and np.all(np.isfinite(gradient)), name


@pytest.mark.parametrize(
  'name',
  [
    'minimax_discriminator_loss',
    'hinge_discriminator_loss',
    'gaussian_kl',
    'bernoulli_log_likelihood',
    'gradient_penalty',
    'f_gan_discriminator_loss[jensen_shannon]',
    'iwae_bound',
  ],
)
def test_bfloat16_inputs_are_computed_in_float32(name):
  loss, args = _CASES[name]
  low = tuple(jnp.asarray(a, jnp.bfloat16) for a in args)
  result = loss(*low)
  assert result.dtype == jnp.float32
  np.testing.assert_allclose(result, loss(*(a.astype(jnp.float32) for a in low)), rtol=1e-6)


def test_weights_are_example_multiplicities():
  real, fake = _normal(0, (3, 2, 2, 1)), _normal(1, (2, 2, 2, 1))
  counts_real, counts_fake = np.array([2.0, 1.0, 0.0]), np.array([1.0, 3.0])
  repeated = losses.minimax_discriminator_loss(
    np.repeat(real, [2, 1, 0], axis=0), np.repeat(fake, [1, 3], axis=0)
  )
  weighted = losses.minimax_discriminator_loss(real, fake, weights=(counts_real, counts_fake))
  np.testing.assert_allclose(weighted, repeated, rtol=1e-6)
  rescaled = losses.minimax_discriminator_loss(
    real, fake, weights=(7 * counts_real, 0.5 * counts_fake)
  )
  np.testing.assert_allclose(rescaled, repeated, rtol=1e-6)
  one_array = losses.hinge_discriminator_loss(real, real, weights=counts_real)
  np.testing.assert_allclose(
    one_array,
    losses.hinge_discriminator_loss(real, real, weights=(counts_real, counts_real)),
    rtol=1e-6,
  )


@pytest.mark.parametrize(
  'call',
  [
    lambda: losses.minimax_discriminator_loss(np.zeros(4), np.zeros((4, 1))),
    lambda: losses.hinge_discriminator_loss(np.zeros((4, 2, 2, 1)), np.zeros((4, 3, 3, 1))),
    lambda: losses.nonsaturating_generator_loss(np.zeros((4, 2)), weights=np.ones(3)),
    lambda: losses.minimax_discriminator_loss(np.zeros(4), np.zeros(4), weights=(None,) * 3),
    lambda: losses.minimax_discriminator_loss(np.zeros(()), np.zeros(())),
    lambda: losses.gaussian_kl(np.zeros((4, 3)), np.zeros((4, 2))),
    lambda: losses.bernoulli_log_likelihood(np.zeros((4, 8)), np.zeros((4, 9))),
    lambda: losses.gaussian_log_likelihood(np.zeros(()), np.zeros(())),
    lambda: losses.negative_elbo(np.zeros(4), np.zeros(5)),
    lambda: losses.iwae_bound(np.zeros(4), np.zeros(4), np.zeros(4)),
    lambda: losses.infogan_categorical_loss(np.zeros((4, 5)), np.zeros((3,), np.int32)),
    lambda: losses.gradient_penalty(
      _critic, np.zeros((4, 3, 3, 2)), np.zeros((2, 3, 3, 2)), jax.random.key(0)
    ),
    lambda: losses.cycle_consistency_loss(np.zeros((4, 3)), np.zeros((4, 4))),
    lambda: losses.f_gan_discriminator_loss(np.zeros(4), np.zeros(4), divergence='tv'),
    lambda: losses.relativistic_average_discriminator_loss(
      np.zeros(4), np.zeros(4), kind='wasserstein'
    ),
  ],
)
def test_bad_shapes_and_options_raise_a_clear_error(call):
  with pytest.raises((AssertionError, ValueError), match=r'shape|must be one of|weights must'):
    call()
