"""gans: generative models in JAX/Flax."""
