"""The Inception-v3 of FID (pytorch-fid's ``FIDInceptionA/C/E`` variant of the TF 2015-12-05 graph), in Flax.

FID and IS as papers report them use the TF-Slim Inception-v3 graph that TF-GAN ships
(``inception-2015-12-05``); pytorch-fid distributes the same weights as a PyTorch state dict
(``pt_inception-2015-12-05-6726825d.pth``) with blocks that reproduce that graph's quirks. This module is
that network, with parameter names that mirror the PyTorch modules, so the weights convert by renaming
and transposing (``launch/reference/convert_inception_weights.py``; torch is not a gans dependency):

  input [N, H, W, C] in [0, 1] (grey images repeated to 3 channels)
    -> bilinear resize to 299 x 299 (half-pixel centres, no anti-aliasing: PyTorch's
       ``F.interpolate(mode='bilinear', align_corners=False)``) -> 2 x - 1
    -> Conv 3x3/2 (32) -> Conv 3x3 (32) -> Conv 3x3 pad 1 (64) -> MaxPool 3x3/2
    -> Conv 1x1 (80) -> Conv 3x3 (192) -> MaxPool 3x3/2                                [N, 35, 35, 192]
    -> Mixed_5b/5c/5d (A: pool features 32, 64, 64) -> Mixed_6a (B)                     [N, 17, 17, 768]
    -> Mixed_6b/6c/6d/6e (C: 7x7 channels 128, 160, 160, 192) -> Mixed_7a (D)           [N, 8, 8, 1280]
    -> Mixed_7b (E, average pool) -> Mixed_7c (E, max pool) -> global average pool      pool3 [N, 2048]
    -> Dense 1008                                                                       logits [N, 1008]

Every convolution is bias-free, followed by BatchNorm (ε = 1e-3, running statistics) and ReLU. The FID
variant differs from torchvision's Inception-v3 in its average pools, which exclude the padding from the
mean (``count_include_pad=False``), and in Mixed_7c's pool branch, a max pool. The 1008 logits are the TF
graph's classes (index 0 is its unused background class), what the Inception score of TF-GAN and
torch-fidelity reads. ``launch/reference/inception_parity.py`` checks this module against pytorch-fid's own
module classes with random weights (docs/evaluation.md has the result).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gans.evaluation import batching
from gans.nets import layers

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_LOGITS = 1008


class BasicConv(nn.Module):
  """Conv (no bias) -> BatchNorm(ε 1e-3, running averages) -> ReLU: pytorch-fid's ``BasicConv2d``."""

  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    pad_h, pad_w = self.padding
    x = layers.Conv(
      self.features,
      self.kernel_size,
      strides=self.strides,
      padding=((pad_h, pad_h), (pad_w, pad_w)),
      use_bias=False,
      name='conv',
    )(x)
    return nn.relu(nn.BatchNorm(use_running_average=True, epsilon=1e-3, name='bn')(x))


def _average_pool(x):
  """3x3, stride 1, pad 1, the mean over the window's pixels inside the image."""
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool(x, strides: int = 2, pad: int = 0):
  return nn.max_pool(x, (3, 3), (strides, strides), padding=((pad, pad), (pad, pad)))


class BlockA(nn.Module):
  """Mixed_5b/c/d, 35x35: 1x1 (64) | 1x1 (48) -> 5x5 (64) | 1x1 (64) -> 3x3 (96) -> 3x3 (96) |
  avg pool -> 1x1 (pool_features)."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    branch1x1 = BasicConv(64, (1, 1), name='branch1x1')(x)
    branch5x5 = BasicConv(48, (1, 1), name='branch5x5_1')(x)
    branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(branch5x5)
    double = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    double = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(double)
    double = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_3')(double)
    pool = BasicConv(self.pool_features, (1, 1), name='branch_pool')(_average_pool(x))
    return jnp.concatenate([branch1x1, branch5x5, double, pool], axis=-1)


class BlockB(nn.Module):
  """Mixed_6a, 35x35 -> 17x17: 3x3/2 (384) | 1x1 (64) -> 3x3 (96) -> 3x3/2 (96) | max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(384, (3, 3), strides=2, name='branch3x3')(x)
    double = BasicConv(64, (1, 1), name='branch3x3dbl_1')(x)
    double = BasicConv(96, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(double)
    double = BasicConv(96, (3, 3), strides=2, name='branch3x3dbl_3')(double)
    return jnp.concatenate([branch3x3, double, _max_pool(x)], axis=-1)


class BlockC(nn.Module):
  """Mixed_6b-e, 17x17, factorised 7x7: 1x1 (192) | 1x1 -> 1x7 -> 7x1 (192) |
  1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 (192) | avg pool -> 1x1 (192); inner widths ``channels_7x7``."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c = self.channels_7x7
    row, column = dict(kernel_size=(1, 7), padding=(0, 3)), dict(kernel_size=(7, 1), padding=(3, 0))
    branch1x1 = BasicConv(192, (1, 1), name='branch1x1')(x)
    branch7x7 = BasicConv(c, (1, 1), name='branch7x7_1')(x)
    branch7x7 = BasicConv(c, **row, name='branch7x7_2')(branch7x7)
    branch7x7 = BasicConv(192, **column, name='branch7x7_3')(branch7x7)
    double = BasicConv(c, (1, 1), name='branch7x7dbl_1')(x)
    double = BasicConv(c, **column, name='branch7x7dbl_2')(double)
    double = BasicConv(c, **row, name='branch7x7dbl_3')(double)
    double = BasicConv(c, **column, name='branch7x7dbl_4')(double)
    double = BasicConv(192, **row, name='branch7x7dbl_5')(double)
    pool = BasicConv(192, (1, 1), name='branch_pool')(_average_pool(x))
    return jnp.concatenate([branch1x1, branch7x7, double, pool], axis=-1)


class BlockD(nn.Module):
  """Mixed_7a, 17x17 -> 8x8: 1x1 (192) -> 3x3/2 (320) | 1x1 -> 1x7 -> 7x1 -> 3x3/2 (192) | max pool."""

  @nn.compact
  def __call__(self, x):
    branch3x3 = BasicConv(192, (1, 1), name='branch3x3_1')(x)
    branch3x3 = BasicConv(320, (3, 3), strides=2, name='branch3x3_2')(branch3x3)
    branch7x7 = BasicConv(192, (1, 1), name='branch7x7x3_1')(x)
    branch7x7 = BasicConv(192, (1, 7), padding=(0, 3), name='branch7x7x3_2')(branch7x7)
    branch7x7 = BasicConv(192, (7, 1), padding=(3, 0), name='branch7x7x3_3')(branch7x7)
    branch7x7 = BasicConv(192, (3, 3), strides=2, name='branch7x7x3_4')(branch7x7)
    return jnp.concatenate([branch3x3, branch7x7, _max_pool(x)], axis=-1)


class BlockE(nn.Module):
  """Mixed_7b/c, 8x8: 1x1 (320) | 1x1 (384) -> [1x3, 3x1] (2 x 384) |
  1x1 (448) -> 3x3 (384) -> [1x3, 3x1] (2 x 384) | pool -> 1x1 (192): 2048 channels. The pool is an
  average (Mixed_7b) or a max (Mixed_7c, ``max_pool``), as in the TF graph."""

  max_pool: bool

  @nn.compact
  def __call__(self, x):
    row, column = dict(kernel_size=(1, 3), padding=(0, 1)), dict(kernel_size=(3, 1), padding=(1, 0))
    branch1x1 = BasicConv(320, (1, 1), name='branch1x1')(x)
    branch3x3 = BasicConv(384, (1, 1), name='branch3x3_1')(x)
    branch3x3 = [
      BasicConv(384, **row, name='branch3x3_2a')(branch3x3),
      BasicConv(384, **column, name='branch3x3_2b')(branch3x3),
    ]
    double = BasicConv(448, (1, 1), name='branch3x3dbl_1')(x)
    double = BasicConv(384, (3, 3), padding=(1, 1), name='branch3x3dbl_2')(double)
    double = [
      BasicConv(384, **row, name='branch3x3dbl_3a')(double),
      BasicConv(384, **column, name='branch3x3dbl_3b')(double),
    ]
    pooled = _max_pool(x, strides=1, pad=1) if self.max_pool else _average_pool(x)
    pool = BasicConv(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate([branch1x1, *branch3x3, *double, pool], axis=-1)


def resize_and_scale(images) -> jax.Array:
  """[N, H, W, C] in [0, 1] (C = 1 or 3) -> [N, 299, 299, 3] in [-1, 1], as pytorch-fid prepares them
  (float32 unless the images are another float type)."""
  images = jnp.asarray(images)
  if not jnp.issubdtype(images.dtype, jnp.floating):
    images = images.astype(jnp.float32)
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  size = (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3)
  images = jax.image.resize(images, size, method='bilinear', antialias=False)
  return 2.0 * images - 1.0


class FIDInceptionV3(nn.Module):
  """images [N, H, W, C] in [0, 1] -> (pool3 features [N, 2048], logits [N, 1008])."""

  @nn.compact
  def __call__(self, images):
    x = resize_and_scale(images)
    x = BasicConv(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
    x = BasicConv(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = BasicConv(80, (1, 1), name='Conv2d_3b_1x1')(_max_pool(x))
    x = _max_pool(BasicConv(192, (3, 3), name='Conv2d_4a_3x3')(x))
    for name, pool_features in (('Mixed_5b', 32), ('Mixed_5c', 64), ('Mixed_5d', 64)):
      x = BlockA(pool_features, name=name)(x)
    x = BlockB(name='Mixed_6a')(x)
    for name, channels in (
      ('Mixed_6b', 128),
      ('Mixed_6c', 160),
      ('Mixed_6d', 160),
      ('Mixed_6e', 192),
    ):
      x = BlockC(channels, name=name)(x)
    x = BlockD(name='Mixed_7a')(x)
    x = BlockE(max_pool=False, name='Mixed_7b')(x)
    x = BlockE(max_pool=True, name='Mixed_7c')(x)
    features = jnp.mean(x, axis=(1, 2))
    return features, nn.Dense(NUM_LOGITS, name='fc')(features)


def variables_from_state_dict(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
  """Flax variables of ``FIDInceptionV3`` from a PyTorch state dict (names -> numpy arrays), e.g. the
  ``.npz`` that ``launch/reference/convert_inception_weights.py`` writes from pytorch-fid's ``.pth``.

  ``A.B.conv.weight`` [O, I, kh, kw] -> params A/B/conv/kernel [kh, kw, I, O]; ``bn.weight``/``bn.bias``
  -> scale/bias; ``bn.running_mean``/``running_var`` -> batch_stats mean/var; ``fc.weight`` [1008, 2048]
  -> fc/kernel [2048, 1008]. Raises ValueError naming missing, unexpected or mis-shaped entries.
  """
  params, batch_stats = {}, {}
  renames = {
    'conv.weight': ('params', 'kernel', (2, 3, 1, 0)),
    'bn.weight': ('params', 'scale', None),
    'bn.bias': ('params', 'bias', None),
    'bn.running_mean': ('batch_stats', 'mean', None),
    'bn.running_var': ('batch_stats', 'var', None),
    'fc.weight': ('params', 'kernel', (1, 0)),
    'fc.bias': ('params', 'bias', None),
  }
  for name, value in arrays.items():
    *modules, _ = path = name.split('.')
    if path[-1] == 'num_batches_tracked':
      continue
    if '.'.join(path[-2:]) not in renames:
      raise ValueError(f'unexpected entry {name!r} in the Inception weights.')
    collection, leaf, axes = renames['.'.join(path[-2:])]
    node = params if collection == 'params' else batch_stats
    for module in modules:
      node = node.setdefault(module, {})
    node[leaf] = np.asarray(value if axes is None else np.transpose(value, axes), np.float32)
  variables = {'params': params, 'batch_stats': batch_stats}
  _check_against_model(variables)
  return variables


def _check_against_model(variables) -> None:
  """ValueError unless ``variables`` has exactly FIDInceptionV3's leaves and shapes."""
  expected = jax.eval_shape(
    FIDInceptionV3().init, jax.random.key(0), jnp.zeros((1, INPUT_SIZE, INPUT_SIZE, 3))
  )
  want = {
    jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(expected)
  }
  got = {
    jax.tree_util.keystr(k): v.shape for k, v in jax.tree_util.tree_leaves_with_path(variables)
  }
  missing, unexpected = sorted(set(want) - set(got)), sorted(set(got) - set(want))
  wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
  if missing or unexpected or wrong:
    raise ValueError(
      'the Inception weights do not fit FIDInceptionV3 (pytorch-fid pt_inception-2015-12-05, converted '
      f'with launch/reference/convert_inception_weights.py): missing {missing[:5]}, unexpected '
      f'{unexpected[:5]}, wrong shapes {[(k, got[k], want[k]) for k in wrong[:5]]}.'
    )


def load_variables(path: str) -> dict[str, Any]:
  """``FIDInceptionV3`` variables from a converted ``.npz``; a ``.pth`` gets the command that converts it."""
  if path.endswith(('.pth', '.pt')):
    raise ValueError(
      f'{path} is a PyTorch file: convert it once, in an environment with torch, with\n'
      f'  python launch/reference/convert_inception_weights.py {path} {path.rsplit(".", 1)[0]}.npz\n'
      'and pass the .npz as --config.eval.feature_weights.'
    )
  with np.load(path) as data:
    return variables_from_state_dict(dict(data))


class InceptionFeatureExtractor:
  """``FeatureExtractor`` of ``FIDInceptionV3``: pool3 features [N, 2048] and logits [N, 1008].

  Images (float in [0, 1] or uint8) go through in batches of ``batch_size``, the last zero-padded.
  """

  def __init__(self, variables, batch_size: int = 100):
    self.variables, self.batch_size = variables, batch_size
    self._apply = jax.jit(FIDInceptionV3().apply)

  def features_and_logits(self, images) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    if images.dtype == np.uint8:
      images = images.astype(np.float32) / 255.0
    return batching.features_and_logits(self._apply, self.variables, images, self.batch_size)

  def features(self, images) -> np.ndarray:
    return self.features_and_logits(images)[0]

  def logits(self, images) -> np.ndarray:
    return self.features_and_logits(images)[1]


def inception_extractor(
  weights_path: str | None = None, batch_size: int = 100
) -> InceptionFeatureExtractor:
  """The ``inception`` entry of ``gans.evaluation.classifier``'s registry."""
  if not weights_path:
    raise ValueError(
      "the 'inception' feature extractor needs weights on disk: --config.eval.feature_weights=PATH.npz, "
      "pytorch-fid's pt_inception-2015-12-05-6726825d.pth converted with "
      'launch/reference/convert_inception_weights.py (nothing is downloaded); for 28x28 data use '
      "'classifier'."
    )
  return InceptionFeatureExtractor(load_variables(weights_path), batch_size)
