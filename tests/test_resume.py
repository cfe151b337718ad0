"""A run interrupted at step k and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

from conftest import PARAMS_ONLY, any_param_moved, load_params, same_params, tiny_config
import jax

from gans import train


def test_resumed_run_is_bit_identical(idx_dir, tfds_dir, tmp_path):
  # n_critic=2 stacks batches and EMA adds state: both must survive the restart.
  overrides = {
    'method.n_critic': 2,
    'method.ema_decay': 0.9,
    'train.checkpoint_every': 3,
    **PARAMS_ONLY,
  }
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=6, **overrides), str(tmp_path / 'straight')
  )
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=3, **overrides), str(tmp_path / 'resumed')
  )
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=6, **overrides), str(tmp_path / 'resumed')
  )

  straight, resumed = load_params(tmp_path / 'straight', 6), load_params(tmp_path / 'resumed', 6)
  assert same_params(straight, resumed)
  # And training did something: the params moved away from those at step 3.
  assert any_param_moved(load_params(tmp_path / 'resumed', 3), resumed)


def test_the_two_feeds_train_the_same_parameters(idx_dir, tfds_dir, tmp_path):
  """train.feed only moves where rows are gathered: a run fed from the device equals one begun on the host
  feed and resumed on the device feed, across an epoch boundary (256 examples, 16 batches per epoch)."""
  overrides = {'method.n_critic': 2, 'train.checkpoint_every': 5, **PARAMS_ONLY}
  device = {**overrides, 'train.feed': 'device'}
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=10, **device), str(tmp_path / 'device')
  )
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=5, **overrides, **{'train.feed': 'host'}),
    str(tmp_path / 'switched'),
  )
  train.train_and_evaluate(
    tiny_config('gan', idx_dir, tfds_dir, steps=10, **device), str(tmp_path / 'switched')
  )
  assert same_params(load_params(tmp_path / 'device', 10), load_params(tmp_path / 'switched', 10))


def test_auto_feed_is_the_host_feed_when_a_step_outlasts_an_epoch(idx_dir, tfds_dir, tmp_path):
  """256 examples in batches of 64: 4 batches an epoch, so 5 critic batches a step need the host feed."""
  feeds = {
    n_critic: train.Experiment(
      tiny_config(
        'gan', idx_dir, tfds_dir, **{'method.n_critic': n_critic, 'train.batch_size': 64}
      ),
      str(tmp_path / str(n_critic)),
    ).feed
    for n_critic in (4, 5)
  }
  assert feeds == {4: 'device', 5: 'host'}


def test_a_restore_never_runs_the_initialisers(idx_dir, tfds_dir, tmp_path, monkeypatch):
  """The initial state is only traced for its shapes and shardings when a checkpoint exists; the
  restored state is the checkpoint's. Without one, the first use of the state initialises it."""
  config = tiny_config('gan', idx_dir, tfds_dir, steps=2, **PARAMS_ONLY)
  train.train_and_evaluate(config, str(tmp_path / 'run'))
  concrete_calls = []
  jitted = jax.jit

  def counting_jit(fun, **kwargs):
    def counted(*args):
      if not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(args)):
        concrete_calls.append(fun)
      return compiled(*args)

    compiled = jitted(fun, **kwargs)
    return counted

  monkeypatch.setattr(jax, 'jit', counting_jit)
  restored = train.Experiment(config, str(tmp_path / 'run'))
  fresh = train.Experiment(config, str(tmp_path / 'fresh'))
  monkeypatch.undo()
  init = restored.method.init
  assert restored.restore() == 2
  restored_params = {name: p.params for name, p in restored.state.players.items()}
  assert same_params(jax.device_get(restored_params), load_params(tmp_path / 'run', 2))
  assert not [f for f in concrete_calls if getattr(f, '__func__', None) is init.__func__]
  assert fresh.restore() == 0 and int(fresh.state.step) == 0
  assert [f for f in concrete_calls if getattr(f, '__func__', None) is init.__func__]
