"""BEGAN (Berthelot et al. 2017) on Fashion-MNIST 28×28: an autoencoder discriminator and k_t control.

D = decoder(encoder(x)), the paper's ELU autoencoder (``gans.nets.began``, n = 16 filters, h = 64):
    encoder: Conv3(16) -> ELU -> [Conv3 ×2 -> ELU -> Conv3 s2] × 2 (16, 32, 48 filters) -> Conv3 ×2
    -> Dense(64); decoder: Dense(7·7·16) -> [Conv3 -> ELU -> Conv3 -> ELU -> NN upsample ×2] × 2
    -> Conv3 ×2 -> Conv3(1).
G = the 28×28 DCGAN generator (``gans.nets.dcgan``, widths 128, 64, 32; BatchNorm, Tanh) from z(64).
Loss: L_D = L(x) - k_t L(G(z)), L_G = L(G(z)), L = mean |v - D(v)|,
k_{t+1} = clip(k_t + λ_k (γ L(x) - L(G(z))), 0, 1); M_global logged. γ = 1, λ_k = 0.01; Adam 2e-4, β1 0.5,
batch 64; the G update reuses the D update's samples.

What was measured before choosing these (hand-made configs, batch 64 and 2,000 steps unless noted, scored
as in README): with the paper's G (its ELU decoder, ``model.generator='began.BEGANDecoder'``, 16 or 32
filters) and γ = 0.5 or 0.7, k_t stayed near 0 and G collapsed to one blob (FID 415 after 5,000 steps at
batch 16, 465 at batch 64); with γ = 1 it made blurred shapes (FID 280). With the DCGAN G, γ = 0.5
collapsed too (FID 494) and γ = 1 made varied garments (FID 110; 47 after this recipe's 4,000 steps).
With γ < 1 the equilibrium L(G(z)) = γ L(x) was met by collapsed samples, which D reconstructs easily;
γ = 1 asks for samples as hard for D to reconstruct as real images.

    python -m gans.main --config=configs/began.py[:cifar10]
"""

from gans import config_lib
from gans.methods import adversarial, began


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(adversarial.method_config('began', reuse_fakes=True))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist', 'cifar10'))
  c.data.value_range = (-1.0, 1.0)
  c.model = dict(
    dtype='float32',
    z_dim=64,
    generator='dcgan.image_generator',
    generator_kwargs=dict(base_features=32),
    discriminator='began.BEGANAutoencoder',
    discriminator_kwargs=dict(hidden=64, filters=16, blocks=2),
  )
  c.loss = began.loss_config(gamma=1.0, lambda_k=0.01)
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.train.batch_size = 64
  c.train.steps = 4_000  # ~11 min on the 2-core CPU; longer runs sample better.
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  return c
