"""FID's Inception-v3 in Flax (gans.evaluation.inception): its input preparation, the weight conversion
from PyTorch names and layouts, and the extractor behind `--config.eval.feature_extractor=inception`.
launch/reference/inception_parity.sh checks the network itself against pytorch-fid (docs/evaluation.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans import evaluation
from gans.evaluation import inception


def _bilinear_half_pixel(image: np.ndarray, size: int) -> np.ndarray:
  """PyTorch's F.interpolate(mode='bilinear', align_corners=False) of one [H, W] image, in numpy."""

  def taps(n):
    source = np.maximum((np.arange(size) + 0.5) * n / size - 0.5, 0.0)
    low = np.floor(source).astype(int)
    return low, np.minimum(low + 1, n - 1), source - low

  (r0, r1, wr), (c0, c1, wc) = taps(image.shape[0]), taps(image.shape[1])
  rows = image[r0] * (1 - wr)[:, None] + image[r1] * wr[:, None]
  return rows[:, c0] * (1 - wc) + rows[:, c1] * wc


def test_inputs_are_resized_as_pytorch_fid_does_and_scaled_to_minus_one_one():
  image = np.random.default_rng(0).uniform(0, 1, (1, 28, 28, 1)).astype(np.float32)
  prepared = np.asarray(inception.resize_and_scale(image))
  assert prepared.shape == (1, 299, 299, 3)
  expected = 2 * _bilinear_half_pixel(image[0, ..., 0].astype(np.float64), 299) - 1
  for channel in range(3):  # Grey images repeated to RGB.
    np.testing.assert_allclose(prepared[0, ..., channel], expected, atol=1e-5)  # float32.


def _torch_state_dict(variables) -> dict[str, np.ndarray]:
  """The inverse of the conversion, in PyTorch's names and layouts, with batch counters as the .pth has."""
  state = {}
  for path, value in jax.tree_util.tree_leaves_with_path(variables):
    collection, *modules, leaf = [k.key for k in path]
    value = np.asarray(value)
    if leaf == 'kernel':
      name, value = 'weight', value.T if value.ndim == 2 else value.transpose(3, 2, 0, 1)
    else:
      name = {'scale': 'weight', 'bias': 'bias', 'mean': 'running_mean', 'var': 'running_var'}[leaf]
    state['.'.join([*modules, name])] = value
    if leaf == 'var':
      state['.'.join([*modules, 'num_batches_tracked'])] = np.zeros((), np.int64)
  return state


@pytest.fixture(scope='module')
def random_variables():
  shapes = jax.eval_shape(
    inception.FIDInceptionV3().init, jax.random.key(0), jnp.zeros((1, 299, 299, 3))
  )
  rng = np.random.default_rng(1)

  def draw(path, leaf):
    """He-scaled kernels and near-identity BatchNorms: the features then depend on the input."""
    name = path[-1].key
    if name == 'kernel':
      fan_in = np.prod(leaf.shape[:-1])
      return rng.normal(0, np.sqrt(2 / fan_in), leaf.shape).astype(np.float32)
    centre = 1.0 if name in ('scale', 'var') else 0.0
    return (centre + rng.uniform(-0.1, 0.1, leaf.shape)).astype(np.float32)

  return jax.tree_util.tree_map_with_path(draw, shapes)


def test_state_dict_converts_to_the_flax_variables(random_variables):
  state = _torch_state_dict(random_variables)
  assert 'Mixed_7c.branch_pool.conv.weight' in state and state['fc.weight'].shape == (1008, 2048)
  converted = inception.variables_from_state_dict(state)
  assert jax.tree.structure(converted) == jax.tree.structure(random_variables)
  for got, want in zip(jax.tree.leaves(converted), jax.tree.leaves(random_variables)):
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
  'change, message',
  [
    (lambda s: s.pop('Mixed_6b.branch7x7_2.conv.weight'), 'missing'),
    (lambda s: s.update({'Mixed_6b.extra.conv.weight': np.zeros((1, 1, 1, 1))}), 'unexpected'),
    (lambda s: s.update({'fc.bias': np.zeros(1000)}), 'wrong shapes'),
    (lambda s: s.update({'AuxLogits.fc.stddev': np.zeros(1)}), 'unexpected entry'),
  ],
)
def test_weights_that_do_not_fit_are_named(random_variables, change, message):
  state = _torch_state_dict(random_variables)
  change(state)
  with pytest.raises(ValueError, match=message):
    inception.variables_from_state_dict(state)


def test_extractor_from_the_registry(random_variables, tmp_path):
  with pytest.raises(ValueError, match='convert_inception_weights.py'):
    evaluation.get_feature_extractor('inception', weights_path=str(tmp_path / 'pt_inception.pth'))
  path = str(tmp_path / 'inception.npz')
  np.savez(path, **_torch_state_dict(random_variables))
  extractor = evaluation.get_feature_extractor('inception', weights_path=path, batch_size=2)
  images = np.random.default_rng(2).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
  features, logits = extractor.features_and_logits(images)
  assert features.shape == (3, 2048) and logits.shape == (3, 1008)
  assert np.all(np.isfinite(features)) and np.ptp(features, axis=0).max() > 0  # Input-dependent.
  np.testing.assert_allclose(
    extractor.features(images / 255.0), features, rtol=1e-5
  )  # 2 + 1 padded.
