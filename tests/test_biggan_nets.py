"""BigGAN's nets: spectral norms, conditional BN, the projection, self-attention, the blocks against
the paper's layers written in numpy, shapes and names."""

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans.nets import biggan

BATCH = 4
# G: up-blocks to sides 16, 32 (8 channels); D: down-blocks to sides 16, 8, 8 (8, 16, 16 channels).
TINY_G = dict(
  image_shape=(32, 32, 3), num_classes=5, ch=4, widths=(2, 2), z_dim=12, shared_dim=8, bottom=8
)
TINY_D = dict(num_classes=5, ch=4, widths=(2, 4, 4), pool=(True, True, False))
Z, LABELS = jnp.zeros((BATCH, 12)), jnp.array([0, 3, 4, 3])
IMAGES = jnp.zeros((BATCH, 32, 32, 3))
BLOCKS = (biggan.GeneratorBlock, biggan.DiscriminatorBlock, biggan.SelfAttention)


def _capture_blocks(module, method):
  return isinstance(module, BLOCKS) and method == '__call__'


def _flat(tree):
  return flax.traverse_util.flatten_dict(flax.core.unfreeze(tree), sep='/')


def _init(module, *inputs, **kwargs):
  return flax.core.unfreeze(jax.jit(lambda: module.init(jax.random.key(1), *inputs, **kwargs))())


def _shapes(module, *inputs):
  return jax.eval_shape(lambda: module.init(jax.random.key(0), *inputs, train=False))


def _same(a, b):
  return jax.tree.all(jax.tree.map(np.array_equal, a, b))


def _np(x):
  return np.asarray(x, np.float64)


def _power_iteration(kernel, u):
  """One step from u [1, C_out] on the kernel as the matrix [-1, C_out]; Flax's normalisation
  x / sqrt(|x|² + ε)."""
  normalize = lambda x: x / np.sqrt(np.sum(x**2) + biggan.SN_EPSILON)
  w = _np(kernel).reshape(-1, kernel.shape[-1])
  return normalize(normalize(_np(u) @ w.T) @ w)


# The paper's layers in numpy (float64), with the kernels / σ that a training call used and stored.


def _sn_kernel(params, stats):
  return _np(params['layer_instance']['kernel']) / _np(stats['layer_instance/kernel/sigma'])


def _bias(params):
  return _np(params['layer_instance'].get('bias', 0.0))


def _dense(x, params, stats):
  return x @ _sn_kernel(params, stats) + _bias(params)


def _conv(x, params, stats):
  """'SAME' stride-1 convolution of x [B, H, W, C] by a k x k kernel, k odd."""
  kernel = _sn_kernel(params, stats)
  k, (_, height, width, _) = kernel.shape[0], x.shape
  padded = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
  windows = [
    padded[:, i : i + height, j : j + width] @ kernel[i, j] for i in range(k) for j in range(k)
  ]
  return sum(windows) + _bias(params)


def _relu(x):
  return np.maximum(x, 0.0)


def _bn(x, scale=1.0, offset=0.0):
  mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
  return (x - mean) / np.sqrt(var + 1e-5) * scale + offset


def _up(x):
  return x.repeat(2, axis=1).repeat(2, axis=2)


def _pool(x, reduce=np.mean):
  b, h, w, c = x.shape
  return reduce(x.reshape(b, h // 2, 2, w // 2, 2, c), axis=(2, 4))


def _up_block(x, c, p, s):
  """CBN -> ReLU -> up -> conv3 -> CBN -> ReLU -> conv3, plus conv1(up(x)) (reference order)."""

  def cbn(h, name):
    gain = 1 + _dense(c, p[name]['gain'], s[name]['gain'])
    return _bn(h) * gain[:, None, None] + _dense(c, p[name]['bias'], s[name]['bias'])[:, None, None]

  h = _conv(_up(_relu(cbn(x, 'cbn1'))), p['conv1'], s['conv1'])
  h = _conv(_relu(cbn(h, 'cbn2')), p['conv2'], s['conv2'])
  return h + _conv(_up(x), p['skip'], s['skip'])


def _down_block(x, p, s, pool, preactivation):
  """[ReLU ->] conv3 -> ReLU -> conv3 [-> pool], plus the skip: x, or conv1 and pool of x, pooling
  first in the first block and convolving first after (the reference's order)."""
  h = _relu(x) if preactivation else x
  h = _conv(_relu(_conv(h, p['conv1'], s['conv1'])), p['conv2'], s['conv2'])
  if not pool and x.shape[-1] == h.shape[-1]:
    assert 'skip' not in p
    return h + x
  if preactivation:
    skip = _pool(_conv(x, p['skip'], s['skip'])) if pool else _conv(x, p['skip'], s['skip'])
  else:
    skip = _conv(_pool(x) if pool else x, p['skip'], s['skip'])
  return (_pool(h) if pool else h) + skip


def _attention(x, p, s):
  """x + γ·conv1(softmax(θ φᵀ) g), θ = conv1(x), φ and g max-pooled 2x2 conv1s of x."""
  b, height, width, c = x.shape
  conv = lambda v, name: _conv(v, p[name], s[name])
  flat = lambda v: v.reshape(b, -1, v.shape[-1])
  theta = flat(conv(x, 'theta'))
  phi, g = flat(_pool(conv(x, 'phi'), np.max)), flat(_pool(conv(x, 'g'), np.max))
  logits = theta @ phi.transpose(0, 2, 1)
  beta = np.exp(logits - logits.max(-1, keepdims=True))
  beta /= beta.sum(-1, keepdims=True)
  return x + _np(p['gamma']) * conv((beta @ g).reshape(b, height, width, c // 2), 'o')


@pytest.fixture(scope='module')
def discriminator():
  """Its variables and run(variables, images, train) -> ((scores, h), the batch_stats after the
  call and the blocks' outputs as 'intermediates')."""
  d = biggan.Discriminator(**TINY_D, attention_resolution=8)
  run = jax.jit(
    lambda v, images, train: d.apply(
      v,
      images,
      LABELS,
      train=train,
      return_features=True,
      capture_intermediates=_capture_blocks,
      mutable=['batch_stats', 'intermediates'],
    ),
    static_argnums=2,
  )
  images = jax.random.normal(jax.random.key(0), IMAGES.shape)
  return _init(d, IMAGES, LABELS, train=False), images, run


@pytest.mark.parametrize(
  'layer, inputs, shape',
  [
    (biggan.sn_dense(5, jnp.float32, 'dense'), jnp.ones((2, 7)), (7, 5)),
    (biggan.sn_conv(5, 3, jnp.float32, 'conv'), jnp.ones((2, 6, 6, 4)), (3, 3, 4, 5)),
  ],
  ids=['dense', 'conv'],
)
def test_spectral_norm_converges_to_the_largest_singular_value(layer, inputs, shape):
  variables = _init(layer, inputs, update_stats=False)
  initial = np.asarray(variables['params']['layer_instance']['kernel']).reshape(-1, shape[-1])
  np.testing.assert_allclose(initial.T @ initial, np.eye(5), atol=1e-5)  # Orthogonal columns.
  kernel = jax.random.normal(jax.random.key(1), shape)
  variables['params']['layer_instance']['kernel'] = kernel
  run = jax.jit(
    lambda v, train: layer.apply(v, inputs, update_stats=train, mutable=['batch_stats'])[1],
    static_argnums=1,
  )
  u = lambda v: np.asarray(v['batch_stats']['layer_instance/kernel/u'])
  for step in range(100):
    stats = run(variables, True)
    if step < 5:
      assert not np.array_equal(u(stats), u(variables)), step
      np.testing.assert_allclose(u(stats), _power_iteration(kernel, u(variables)), atol=1e-5)
    variables = {**variables, **stats}
  assert _same(run(variables, False), {'batch_stats': variables['batch_stats']})
  sigma = np.linalg.svd(np.asarray(kernel).reshape(-1, shape[-1]), compute_uv=False)[0]
  np.testing.assert_allclose(
    variables['batch_stats']['layer_instance/kernel/sigma'], sigma, rtol=1e-3
  )


def test_discriminator_steps_every_power_iteration_once_in_training_and_none_in_eval(
  discriminator,
):
  variables, images, run = discriminator
  params, before = _flat(variables['params']), _flat(variables['batch_stats'])
  after = _flat(run(variables, images, True)[1]['batch_stats'])
  us = [path for path in before if path.endswith('/u')]
  assert len(us) == 3 + 3 + 2 + 4 + 2  # Blocks 0-2 (2 without a skip), attention, head.
  for path in us:
    kernel = params[path.removesuffix('/u')]
    assert not np.array_equal(after[path], before[path]), path
    np.testing.assert_allclose(after[path], _power_iteration(kernel, before[path]), atol=1e-5)
  assert _same(run(variables, images, False)[1]['batch_stats'], variables['batch_stats'])


def test_discriminator_is_the_papers_layers_and_attention_at_gamma_zero_the_identity(
  discriminator,
):
  variables, images, run = discriminator
  outputs = lambda state, name: _np(state['intermediates'][name]['__call__'][0])
  _, state = run(variables, images, True)
  np.testing.assert_array_equal(outputs(state, 'attention'), outputs(state, 'block1'))
  params = {**variables['params']}
  params['attention'] = {**params['attention'], 'gamma': jnp.array(0.7)}
  (scores, h), state = run({**variables, 'params': params}, images, True)
  stats, x = state['batch_stats'], _np(images)
  for i, pool in enumerate(TINY_D['pool']):
    want = _down_block(x, params[f'block{i}'], stats[f'block{i}'], pool, preactivation=i > 0)
    x = outputs(state, f'block{i}')
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5)
    if i == 1:  # Side 8.
      want, x = _attention(x, params['attention'], stats['attention']), outputs(state, 'attention')
      np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5)
      assert float(np.abs(want - outputs(state, 'block1')).max()) > 1e-3
  np.testing.assert_allclose(h, _relu(x).sum((1, 2)), rtol=1e-4, atol=1e-5)
  embedding = _np(params['embed']['layer_instance']['embedding'])
  embedding /= _np(stats['embed']['layer_instance/embedding/sigma'])
  h = _np(h)
  want = _dense(h, params['linear'], stats['linear'])[:, 0] + (embedding[LABELS] * h).sum(-1)
  np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-5)


def test_score_is_the_linear_head_plus_the_projection_on_the_class_embedding(discriminator):
  """With w = linear kernel [C, 1], σ(w) = |w|; with E' = s·[I, 0] [5, C], σ(E') = s and
  E'[y] / s = one-hot(y): both power iterations are exact from any u, so
  D = w·h / |w| + b + h[y]."""
  variables, images, run = discriminator
  params = jax.tree.map(lambda x: x, variables['params'])
  w = np.asarray(jax.random.normal(jax.random.key(2), (16, 1)))
  params['linear']['layer_instance'] = {'kernel': w, 'bias': np.array([0.5], np.float32)}
  params['embed']['layer_instance']['embedding'] = 3.0 * np.eye(5, 16, dtype=np.float32)
  (scores, h), _ = run({**variables, 'params': params}, images, False)
  assert scores.shape == (BATCH,) and scores.dtype == jnp.float32 and h.shape == (BATCH, 16)
  h = _np(h)
  want = (h @ w)[:, 0] / np.linalg.norm(w) + 0.5 + h[np.arange(BATCH), LABELS]
  np.testing.assert_allclose(scores, want, rtol=1e-5)


def test_generator_is_the_papers_layers_with_the_shared_embedding_and_hierarchical_z():
  g = biggan.Generator(**TINY_G)
  z = jax.random.normal(jax.random.key(0), Z.shape)
  images, variables = jax.jit(
    lambda: g.init_with_output(
      jax.random.key(1), z, LABELS, True, capture_intermediates=_capture_blocks, mutable=True
    )
  )()
  params, stats = variables['params'], variables['batch_stats']
  outputs = lambda name: _np(variables['intermediates'][name]['__call__'][0])
  assert g.num_chunks == 3
  chunks = np.split(_np(z), 3, axis=-1)
  shared = _np(params['shared']['embedding'])[LABELS]
  x = _dense(chunks[0], params['linear'], stats['linear']).reshape(BATCH, 8, 8, 8)
  for i in range(2):
    c = np.concatenate([shared, chunks[i + 1]], axis=-1)
    want, x = _up_block(x, c, params[f'block{i}'], stats[f'block{i}']), outputs(f'block{i}')
    np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5)
  h = _relu(_bn(x, _np(params['bn']['scale']), _np(params['bn']['bias'])))
  want = np.tanh(_conv(h, params['image_conv'], stats['image_conv']))
  np.testing.assert_allclose(images, want, rtol=1e-4, atol=1e-5)
  assert images.shape == (BATCH, 32, 32, 3) and images.dtype == jnp.float32
  assert float(jnp.abs(images).max()) <= 1.0 and float(images.std()) > 0
  embedding = _np(params['shared']['embedding'])
  np.testing.assert_allclose(embedding @ embedding.T, np.eye(5), atol=1e-5)  # Orthogonal rows.


def test_conditional_batch_norm_of_a_zero_condition_is_batch_norm_without_scale_and_offset():
  x = jax.random.normal(jax.random.key(0), (BATCH, 4, 4, 6)) * 3 + 1
  cbn = biggan.ConditionalBatchNorm()
  bn = nn.BatchNorm(use_scale=False, use_bias=False, momentum=0.9, epsilon=1e-5)
  cbn_vars = _init(cbn, x, jnp.zeros((BATCH, 10)), train=False)
  bn_vars = {'batch_stats': cbn_vars['batch_stats']['bn']}  # Running mean 0, variance 1.

  @jax.jit
  def outputs(c):
    """(training outputs, eval outputs after that step, new running statistics) of CBN and BN."""
    cbn_train, cbn_stats = cbn.apply(cbn_vars, x, c, train=True, mutable=['batch_stats'])
    bn_train, bn_stats = bn.apply(bn_vars, x, False, mutable=['batch_stats'])
    cbn_eval = cbn.apply({**cbn_vars, **cbn_stats}, x[:2] * 2, c[:2], train=False)
    bn_eval = bn.apply(bn_stats, x[:2] * 2, True)
    cbn_outputs = (cbn_train, cbn_eval, cbn_stats['batch_stats']['bn'])
    return cbn_outputs, (bn_train, bn_eval, bn_stats['batch_stats'])

  cbn_outputs, bn_outputs = outputs(jnp.zeros((BATCH, 10)))
  assert _same(cbn_outputs, bn_outputs)
  cbn_outputs, bn_outputs = outputs(jax.random.normal(jax.random.key(2), (BATCH, 10)))
  assert not np.allclose(cbn_outputs[0], bn_outputs[0])
  assert not np.allclose(cbn_outputs[1], bn_outputs[1])


def test_shapes_and_dtypes():
  for channels in (3, 1):
    g = biggan.Generator(**{**TINY_G, 'image_shape': (32, 32, channels)}, dtype=jnp.bfloat16)
    images = jax.eval_shape(lambda: g.init_with_output(jax.random.key(0), Z, LABELS, False)[0])
    assert images == jax.ShapeDtypeStruct((BATCH, 32, 32, channels), jnp.float32)
  d = biggan.Discriminator(**TINY_D, dtype=jnp.bfloat16)
  scores = jax.eval_shape(lambda: d.init_with_output(jax.random.key(0), IMAGES, LABELS, False)[0])
  assert scores == jax.ShapeDtypeStruct((BATCH,), jnp.float32)


def test_attention_follows_the_block_of_the_configured_side():
  g_params = lambda **kw: _shapes(biggan.Generator(**{**TINY_G, **kw}), Z, LABELS)['params']
  d_params = lambda **kw: _shapes(biggan.Discriminator(**{**TINY_D, **kw}), IMAGES, LABELS)[
    'params'
  ]
  assert 'attention' not in g_params() and 'attention' not in d_params()
  theta = lambda params: params['attention']['theta']['layer_instance']['kernel'].shape
  assert theta(g_params(widths=(2, 4), attention_resolution=16)) == (1, 1, 8, 1)
  assert theta(g_params(widths=(2, 4), attention_resolution=32)) == (1, 1, 16, 2)
  assert theta(d_params(attention_resolution=16)) == (1, 1, 8, 1)
  # Sides 16, 8, 8, 8 with 8, 16, 32, 32 channels: after the first block of side 8.
  deeper = dict(widths=(2, 4, 8, 8), pool=(True, True, False, False))
  assert theta(d_params(**deeper, attention_resolution=8)) == (1, 1, 16, 2)
  assert 'skip' not in d_params()['block2']  # No pool, no change of width: the skip is x.


def test_bad_sides_and_z_dim_are_named():
  with pytest.raises(ValueError, match=r'generator_kwargs.attention_resolution=12 .* \[16, 32\]'):
    biggan.Generator(**TINY_G, attention_resolution=12)
  with pytest.raises(ValueError, match=r'model.generator_kwargs.z_dim=16 .* 3 equal chunks'):
    biggan.Generator(**{**TINY_G, 'z_dim': 16})
  with pytest.raises(ValueError, match=r'image_shape \(16, 16, 3\) must be 32x32'):
    biggan.Generator(**{**TINY_G, 'image_shape': (16, 16, 3)})
  with pytest.raises(ValueError, match=r'discriminator_kwargs.attention_resolution=4 .* \[8, 16\]'):
    _shapes(biggan.Discriminator(**TINY_D, attention_resolution=4), IMAGES, LABELS)
  with pytest.raises(ValueError, match=r'discriminator_kwargs.pool=\(True,\) .*widths=\(2, 4, 4\)'):
    biggan.Discriminator(**{**TINY_D, 'pool': (True,)})


def test_every_kernel_is_spectrally_normalised_but_the_shared_embedding():
  g = _shapes(biggan.Generator(**TINY_G, attention_resolution=16), Z, LABELS)
  d = _shapes(biggan.Discriminator(**TINY_D, attention_resolution=8), IMAGES, LABELS)
  for variables, plain in ((g, {'shared/embedding'}), (d, set())):
    params, stats = _flat(variables['params']), _flat(variables['batch_stats'])
    matrices = {path for path, leaf in params.items() if len(leaf.shape) >= 2}
    for stat in ('/u', '/sigma'):
      assert {path.removesuffix(stat) for path in stats if path.endswith(stat)} == matrices - plain
  assert g['params']['shared']['embedding'].shape == (5, 8) and 'shared' not in g['batch_stats']
  assert set(d['batch_stats']['embed']) == {
    'layer_instance/embedding/u',
    'layer_instance/embedding/sigma',
  }
