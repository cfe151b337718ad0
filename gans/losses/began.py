"""BEGAN: an autoencoder discriminator balanced by a proportional controller.

Berthelot, Schumm & Metz, "BEGAN: Boundary Equilibrium Generative Adversarial Networks",
2017. With L(v) = |v - D(v)| (eta = 1) the autoencoder loss:
  L_D = L(x) - k_t L(G(z)),   L_G = L(G(z)),
  k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1),
  M_global = L(x) + |gamma L(x) - L(G(z))|.
"""

import jax
import jax.numpy as jnp

from gans.losses._common import Array, Weights, mean_absolute_error


def began_autoencoder_loss(
  inputs: Array, reconstructions: Array, *, weights: Weights = None
) -> Array:
  """L(v) = E|v - D(v)| over all elements; L_G is this on generated images.

  Args:
    inputs: `[B, ...]` images fed to the autoencoder D.
    reconstructions: `[B, ...]` D(inputs).
    weights: optional `[B]` example weights.
  """
  return mean_absolute_error(reconstructions, inputs, weights)


def began_discriminator_loss(real_ae_loss: Array, fake_ae_loss: Array, k: Array) -> Array:
  """L_D = L(x) - k_t L(G(z)); k_t is a controller state, so no gradient flows into it."""
  return real_ae_loss - jax.lax.stop_gradient(k) * fake_ae_loss


def began_k_update(
  k: Array, real_ae_loss: Array, fake_ae_loss: Array, *, gamma: float, lambda_k: float
) -> Array:
  """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1), gradient-free.

  gamma = E[L(G(z))] / E[L(x)] at equilibrium is the diversity ratio (the paper uses
  gamma in [0.3, 0.7] and lambda_k = 1e-3).
  """
  balance = gamma * real_ae_loss - fake_ae_loss
  return jax.lax.stop_gradient(jnp.clip(k + lambda_k * balance, 0.0, 1.0))


def began_convergence_measure(real_ae_loss: Array, fake_ae_loss: Array, *, gamma: float) -> Array:
  """M_global = L(x) + |gamma L(x) - L(G(z))|, which decreases as training converges."""
  return real_ae_loss + jnp.abs(gamma * real_ae_loss - fake_ae_loss)
