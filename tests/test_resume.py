"""A run interrupted at step k and resumed ends bit-identical to an uninterrupted run."""

from __future__ import annotations

from conftest import any_param_moved, load_params, same_params, tiny_config

from gans import train


def test_resumed_run_is_bit_identical(idx_dir, tfds_dir, tmp_path):
  # n_critic=2 stacks batches and EMA adds state: both must survive the restart.
  overrides = {'method.n_critic': 2, 'method.ema_decay': 0.9, 'train.checkpoint_every': 3}
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
  overrides = {'method.n_critic': 2, 'train.checkpoint_every': 5}
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
