"""VAE on Fashion-MNIST 28×28: MLP encoder/decoder, Bernoulli likelihood, analytic KL, β = 1.

E: x -> Dense(512) -> ReLU -> Dense(256) -> ReLU -> (μ, log σ²) ∈ R^16 × R^16.
D: z -> Dense(256) -> ReLU -> Dense(512) -> ReLU -> Dense(784) pixel logits.

    python -m gans.main --config=configs/vae.py
"""

from gans import config_lib
from gans.methods import vae


def get_config():
  c = config_lib.base_config(vae.method_config(variational=True))
  c.model = dict(
    dtype='float32',
    latent_dim=16,
    encoder='mlp.MLPEncoder',
    encoder_kwargs=dict(hidden=(512, 256)),
    decoder='mlp.MLPDecoder',
    decoder_kwargs=dict(hidden=(256, 512)),
  )
  c.loss = vae.loss_config('bernoulli', beta=1.0, gaussian_log_scale=-2.0)
  c.optim.encoder = config_lib.optimizer('adam', lr=1e-3, b1=0.9)
  c.optim.decoder = config_lib.optimizer('adam', lr=1e-3, b1=0.9)
  c.train.steps = 10_000
  c.eval.iwae_samples = 100  # K of the importance-weighted bound on log p(x) (0 = off).
  return c
