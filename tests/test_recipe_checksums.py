"""Every recipe trains exactly as it did before the family layer (issue 13): a checksum of each player's
parameters after initialisation and after three steps through the trainer (its feed and compiled step),
at test size, against the values recorded at commit 1b97a53 before the methods were rewritten (rows of
later families: recorded when they were added, as their comments say).

The checksum of a parameter tree p is Σ_leaves Σ w·p with w a fixed Gaussian vector per leaf (seeded by
the leaf's path), so a change of the initial draw or of any step's randomness or arithmetic moves it by
O(1) relative; float rounding of another CPU moves it by far less than the tolerance.
"""

from __future__ import annotations

import zlib

from conftest import STYLEGAN_TINY, tiny_config
import jax
import numpy as np
import optax
import pytest

from gans import train

# Test-size nets of each recipe (the overrides of tests/test_zoo_main.py, as config fields).
_DCGAN = {
  'model.generator_kwargs.base_features': 4,
  'model.discriminator_kwargs.base_features': 4,
}
TINY = {
  'gan': {'model.generator_kwargs.hidden': (16, 32), 'model.discriminator_kwargs.hidden': (32, 16)},
  'gan_ring': {},
  'gan_grid': {},
  'gan_stacked': {
    'model.generator_kwargs.hidden': (16, 32),
    'model.discriminator_kwargs.hidden': (32, 16),
  },
  'vae': {'model.encoder_kwargs.hidden': (32,), 'model.decoder_kwargs.hidden': (32,)},
  'ae': {'model.encoder_kwargs.hidden': (32,), 'model.decoder_kwargs.hidden': (32,)},
  'dcgan': _DCGAN,
  'lsgan': _DCGAN,
  'wgan': _DCGAN,
  'wgan_gp': _DCGAN,
  'cgan': {
    'model.generator_kwargs.hidden': (16, 32),
    'model.discriminator_kwargs.hidden': (32, 16),
  },
  'infogan': {
    'model.generator_kwargs.hidden': 32,
    'model.discriminator_kwargs.hidden': 32,
    'model.discriminator_kwargs.q_hidden': 8,
  },
  'began': {
    'model.generator_kwargs.base_features': 4,
    'model.discriminator_kwargs.filters': 4,
  },
  # 4×4 (the 8×8 nets' compile took 21 s in the suite); R1 on step 2, path length on step 3 of the three.
  'stylegan': STYLEGAN_TINY,
}

STEPS = 3


def checksum(tree) -> float:
  """Σ over leaves of Σ w_leaf · leaf, w_leaf ~ N(0, 1) seeded by the leaf's path."""
  total = 0.0
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    leaf = np.asarray(leaf, np.float64)
    seed = zlib.crc32(jax.tree_util.keystr(path).encode())
    total += float(np.sum(np.random.default_rng(seed).standard_normal(leaf.shape) * leaf))
  return total


def recipe_checksums(recipe, idx_dir, tfds_dir, workdir) -> dict[str, tuple[float, float, float]]:
  """player -> (checksum of the initial params, checksum of the update δ = params after ``STEPS`` -
  initial, ‖δ‖₂)."""
  config = tiny_config(recipe, idx_dir, tfds_dir, steps=STEPS, **TINY[recipe])
  if config.data.get('source') == 'toy':
    config.data.toy_train_size = 512
  experiment = train.Experiment(config, workdir)
  initial = jax.device_get({name: p.params for name, p in experiment.state.players.items()})
  batches = experiment.batches(0)
  inputs = next(batches)
  step, _, _ = experiment.compile_train_step(inputs, batches.select)
  state = experiment.state
  for s in range(STEPS):
    state, _ = step(state, inputs)
    if s < STEPS - 1:
      inputs = next(batches)
  batches.close()
  experiment.checkpointer.close()
  final = jax.device_get({name: p.params for name, p in state.players.items()})
  deltas = {name: jax.tree.map(np.subtract, final[name], initial[name]) for name in initial}
  return {
    name: (checksum(initial[name]), checksum(delta), float(optax.global_norm(delta)))
    for name, delta in deltas.items()
  }


# Recorded at commit 1b97a53 (before the family layer) with this file's recipe_checksums, oneDNN
# convolutions on (the default here), except where a row says otherwise.
RECORDED: dict[str, dict[str, tuple[float, float, float]]] = {
  'ae': {
    'decoder': (25.009923099945397, 0.17832902307025078, 0.3255516588687897),
    'encoder': (-1.4969434338720502, -0.13327381469280475, 0.286624550819397),
  },
  'began': {
    'd': (8.720171437942277, 0.21904379954287811, 0.11252912878990173),
    'g': (4.694656565721755, 0.005966827467932756, 0.08705855160951614),
  },
  'cgan': {
    'd': (1.9293464804110525, -0.14569421011399966, 0.1707994043827057),
    'g': (-31.40670102329588, -0.03495891479158551, 0.08745768666267395),
  },
  'dcgan': {
    'd': (-3.4813191470428957, 0.00625649853801411, 0.01724051497876644),
    'g': (0.8654499273831924, -0.15690875047500516, 0.10742121189832687),
  },
  'gan': {
    'd': (-10.089861232492725, -0.009180096494937659, 0.07299154996871948),
    'g': (17.60443692873968, -0.12815141085470041, 0.08450716733932495),
  },
  # Re-recorded on 2026-12-02 for issue 18 (the grid's recipe became PacGAN's: maxout D, weights
  # ~ N(0, 0.02²), Adam β1 0.8), tests' XLA flags.
  'gan_grid': {
    'd': (7.787897246432669, 0.06637303996665518, 0.108242928981781),
    'g': (18.885154609443966, 0.36953603030975896, 0.15078304708003998),
  },
  'gan_ring': {
    'd': (-20.514337711873324, 0.020443868425051435, 0.06500458717346191),
    'g': (-28.827499431321083, 0.26866118335877504, 0.1464705765247345),
  },
  'gan_stacked': {
    'd': (-7.015302932144996, -0.0010632850005358905, 0.09331945329904556),
    'g': (19.336264574773544, -0.03142022375439376, 0.14291104674339294),
  },
  # Re-recorded on 2026-12-02 for issue 18 item 3 (z ~ U(-1, 1), the authors' prior, instead of
  # N(0, I); λ 2 on the categorical code and 1 on the continuous ones): the initial params are unchanged.
  'infogan': {
    'd': (22.975666535459055, -0.15877701241335787, 0.2073848992586136),
    'g': (-137.61687344368335, 1.5979699847079594, 1.0653538703918457),
  },
  'lsgan': {
    'd': (-3.4813191470428957, 0.0056158212686218765, 0.017877843230962753),
    'g': (0.8654499273831924, -0.13786874065265006, 0.10741586983203888),
  },
  'vae': {
    'decoder': (25.009923099945397, -0.054127608434069885, 0.39418700337409973),
    'encoder': (-1.4969434338720502, 0.10908571333566845, 0.3163549602031708),
  },
  # Re-recorded on 2026-12-01 for issue 18 item 7 (PyTorch's RMSProp, ρ 0.99, ε outside the root; the
  # critic clipped from its initialisation), at XLA's default optimisation level.
  'wgan': {
    'd': (0.13518399426931993, -0.1100281381522411, 0.08243747800588608),
    'g': (0.8654499273831924, 0.038354796672786275, 0.19110219180583954),
  },
  # Recorded on 2026-12-02 (issue 15; StyleGAN came after the family layer), tests' XLA flags.
  'stylegan': {
    'd': (-24.00827665119396, 0.1347280612752808, 0.09748154878616333),
    'g': (-1318.0409982766341, 0.004172101777840612, 0.10708101838827133),
  },
  'wgan_gp': {
    'd': (0.21296495967661672, 0.02139684188861188, 0.04946552962064743),
    'g': (0.8654499273831924, 0.07511643733319173, 0.052309535443782806),
  },
}


@pytest.mark.parametrize('recipe', sorted(TINY))
def test_recipe_trains_as_recorded(recipe, idx_dir, tfds_dir, tmp_path):
  got = recipe_checksums(recipe, idx_dir, tfds_dir, str(tmp_path))
  want = RECORDED[recipe]
  assert set(got) == set(want)
  for player, (initial, delta, norm) in want.items():
    np.testing.assert_allclose(got[player][0], initial, rtol=1e-5, err_msg=f'{player} init')
    np.testing.assert_allclose(got[player][2], norm, rtol=1e-2, err_msg=f'{player} ‖update‖')
    # w·δ of an update drawn otherwise differs by ~‖δ‖ (w ~ N(0, I)); the float rounding of XLA's
    # convolutions instead of oneDNN's (GANS_ONEDNN_CONV=0) moved it by at most 3.3 % of ‖δ‖ (DCGAN's D,
    # whose Adam steps amplify rounding in near-zero gradients) and ‖δ‖ by 0.11 %.
    assert abs(got[player][1] - delta) <= 0.1 * norm, (player, got[player][1], delta, norm)
