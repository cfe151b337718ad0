"""Every objective of the project, as pure functions of logits/outputs.

Conventions (see `_common`): inputs of any leading shape `[B, ...]`; a scalar mean by default,
or `sum(w * v) / sum(w)` with optional per-example `weights` (a `(real, fake)` pair for
two-sample losses); float32 math for low-precision inputs; chex shape/rank checks. Nothing
here calls a model: penalties take the critic as a function. docs/losses.md lists every loss
with its formula and paper.
"""

from gans.losses.adversarial import (
  hinge_discriminator_loss,
  hinge_generator_loss,
  least_squares_discriminator_loss,
  least_squares_generator_loss,
  minimax_discriminator_loss,
  minimax_generator_loss,
  nonsaturating_generator_loss,
  relativistic_average_discriminator_loss,
  relativistic_average_generator_loss,
  wasserstein_discriminator_loss,
  wasserstein_generator_loss,
)
from gans.losses.began import (
  began_autoencoder_loss,
  began_convergence_measure,
  began_discriminator_loss,
  began_k_update,
)
from gans.losses.conditional import (
  cycle_consistency_loss,
  identity_loss,
  matching_aware_discriminator_loss,
)
from gans.losses.fgan import (
  F_DIVERGENCES,
  FDivergence,
  f_divergence,
  f_gan_discriminator_loss,
  f_gan_generator_loss,
)
from gans.losses.gancls import latent_regression_loss, symmetric_contrastive_loss
from gans.losses.infogan import (
  categorical_mutual_information_bound,
  infogan_categorical_loss,
  infogan_continuous_loss,
)
from gans.losses.path_length import path_length_penalty, path_lengths
from gans.losses.penalties import (
  clip_weights,
  dragan_penalty,
  gradient_penalty,
  orthogonal_regularization,
  r1_penalty,
  r2_penalty,
  random_interpolates,
)
from gans.losses.semi_supervised import (
  feature_matching_loss,
  real_logit,
  semi_supervised_discriminator_loss,
  supervised_class_loss,
)
from gans.losses.vae import (
  bernoulli_log_likelihood,
  gaussian_kl,
  gaussian_log_likelihood,
  iwae_bound,
  negative_elbo,
)

__all__ = (
  'F_DIVERGENCES',
  'FDivergence',
  'began_autoencoder_loss',
  'began_convergence_measure',
  'began_discriminator_loss',
  'began_k_update',
  'bernoulli_log_likelihood',
  'categorical_mutual_information_bound',
  'clip_weights',
  'cycle_consistency_loss',
  'dragan_penalty',
  'f_divergence',
  'feature_matching_loss',
  'f_gan_discriminator_loss',
  'f_gan_generator_loss',
  'gaussian_kl',
  'gaussian_log_likelihood',
  'gradient_penalty',
  'orthogonal_regularization',
  'path_length_penalty',
  'path_lengths',
  'hinge_discriminator_loss',
  'hinge_generator_loss',
  'identity_loss',
  'infogan_categorical_loss',
  'infogan_continuous_loss',
  'iwae_bound',
  'latent_regression_loss',
  'least_squares_discriminator_loss',
  'least_squares_generator_loss',
  'matching_aware_discriminator_loss',
  'minimax_discriminator_loss',
  'minimax_generator_loss',
  'negative_elbo',
  'nonsaturating_generator_loss',
  'r1_penalty',
  'real_logit',
  'r2_penalty',
  'symmetric_contrastive_loss',
  'random_interpolates',
  'relativistic_average_discriminator_loss',
  'relativistic_average_generator_loss',
  'semi_supervised_discriminator_loss',
  'supervised_class_loss',
  'wasserstein_discriminator_loss',
  'wasserstein_generator_loss',
)
