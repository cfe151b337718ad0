"""Losses of conditional and unpaired translation models: CycleGAN and GAN-CLS."""

from gans.losses._common import Array, Weights, mean_absolute_error
from gans.losses.adversarial import minimax_discriminator_loss


def cycle_consistency_loss(
  inputs: Array, reconstructions: Array, *, weights: Weights = None
) -> Array:
  """E|F(G(x)) - x| (L1, mean over all elements) for one direction of the cycle.

  Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
  Networks", ICCV 2017, eq. 2; the full term adds the y -> F(y) -> G(F(y)) direction, and the
  paper weights the sum by lambda = 10.

  Args:
    inputs: `[B, ...]` x.
    reconstructions: `[B, ...]` F(G(x)).
    weights: optional `[B]` example weights.
  """
  return mean_absolute_error(reconstructions, inputs, weights)


def identity_loss(inputs: Array, outputs: Array, *, weights: Weights = None) -> Array:
  """E|G(y) - y| for G: X -> Y applied to y in Y: G should leave its own domain unchanged.

  Zhu et al. 2017 (after Taigman et al., ICLR 2017), used to preserve colour composition.

  Args:
    inputs: `[B, ...]` y, already in G's output domain.
    outputs: `[B, ...]` G(y).
    weights: optional `[B]` example weights.
  """
  return mean_absolute_error(outputs, inputs, weights)


def matching_aware_discriminator_loss(
  real_right_logits: Array,
  real_wrong_logits: Array,
  fake_right_logits: Array,
  *,
  weights: Weights = None,
) -> Array:
  """-E[log s_r] - 1/2 (E[log(1 - s_w)] + E[log(1 - s_f)]), s = sigmoid(logits).

  The matching-aware discriminator of GAN-CLS: Reed et al., "Generative Adversarial Text to
  Image Synthesis", ICML 2016, Algorithm 1. s_r scores (real image, right text), s_w (real
  image, wrong text) and s_f (fake image, right text); the generator uses
  `nonsaturating_generator_loss(fake_right_logits)`.

  Args:
    real_right_logits, real_wrong_logits, fake_right_logits: `[B, ...]` logits.
    weights: optional `[B]` example weights, shared by the three terms.
  """
  return 0.5 * (
    minimax_discriminator_loss(real_right_logits, real_wrong_logits, weights=weights)
    + minimax_discriminator_loss(real_right_logits, fake_right_logits, weights=weights)
  )
