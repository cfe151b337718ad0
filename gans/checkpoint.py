"""Checkpoints with orbax: atomic, asynchronous, the last K kept, the data position saved beside the state.

A checkpoint ``workdir/checkpoints/<step>/`` holds ``state`` (the whole GameState pytree) and ``meta``
(JSON: the step, the number of batches consumed and the seed), so a resumed run continues with the batches
it would have seen. Orbax writes into a temporary directory and renames it when complete, so a crash
mid-save leaves the previous checkpoints as they were.

A save that fails (disk full, an I/O error) raises CheckpointWriteError naming the step, the directory,
the cause and the checkpoint that is kept. Saves are asynchronous: the failure of step s surfaces at the
next ``save`` or at ``wait``, and is reported as step s's. Its partial ``<s>.orbax-checkpoint-tmp``
directory is never listed as a checkpoint.
"""

from __future__ import annotations

import errno
import os
import time

from absl import logging
import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """Checkpoints exist but none can be restored."""


class CheckpointWriteError(RuntimeError):
  """A checkpoint could not be written (disk full, I/O error); the earlier ones are kept."""


_DISK_FULL = {errno.ENOSPC: 'No space left on device', errno.EDQUOT: 'Disk quota exceeded'}


def _is_disk_full(error: BaseException) -> bool:
  """ENOSPC or EDQUOT anywhere in ``error``'s chain: an OSError's errno, or TensorStore's text
  (``... No space left on device [os_error_code='28']``)."""
  while error is not None:
    if isinstance(error, OSError) and error.errno in _DISK_FULL:
      return True
    text = str(error)
    if any(f"os_error_code='{code}'" in text or name in text for code, name in _DISK_FULL.items()):
      return True
    error = error.__cause__ or error.__context__
  return False


class Checkpointer:
  """Saves every ``every`` steps (and when forced), keeps the last ``keep``, restores the latest."""

  def __init__(self, workdir: str, *, every: int, keep: int):
    if every <= 0 or keep <= 0:
      raise ValueError(
        f'config.train.checkpoint_every={every} and keep_checkpoints={keep} must be > 0.'
      )
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    self._every = every
    self._last_save = None  # The step of the latest save started: a failure that surfaces is its.
    self._failed = False  # Whether a failed save was reported.
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=True, create=True
      ),
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state, meta: dict, *, force: bool = False) -> bool:
    """Starts an asynchronous save of ``state`` at ``step`` if ``step`` is a multiple of ``every`` (or
    ``force``); returns whether it did."""
    if step % self._every and not force:
      return False
    self.wait()  # Orbax would wait too; here a failure of the previous save is reported as its.
    self._last_save = step
    try:
      return self._manager.save(
        step,
        args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
        force=True,
      )
    except Exception as e:
      raise self._write_error(e) from e

  def restore(self, state_template):
    """Restores ``(state, meta)`` from the newest readable checkpoint, with the shapes, dtypes and
    shardings of ``state_template``.

    A checkpoint that cannot be read (truncated or deleted files) is reported and the next older one is
    tried; if none can be read, CheckpointError is raised — never a silent fresh start.
    """
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
    failures = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self._manager.restore(
          step,
          args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
          ),
        )
      except Exception as e:  # Orbax and TensorStore raise many types for damaged files.
        logging.error(
          'Checkpoint %s/%d is unreadable (%s: %s); trying an older one.',
          self.directory,
          step,
          type(e).__name__,
          str(e).splitlines()[0][:300],
        )
        failures.append(step)
        continue
      logging.info('Restored checkpoint %s/%d', self.directory, step)
      self._set_aside(failures)
      return restored.state, restored.meta
    raise CheckpointError(
      f'no readable checkpoint in {self.directory} (tried steps {failures}). Move the directory away to '
      'start afresh, or restore it from a backup.'
    )

  def _set_aside(self, steps):
    """Moves unreadable checkpoints to ``checkpoints.damaged/`` (kept for inspection, out of the way of
    the steps the resumed run will save again)."""
    if not steps:
      return
    damaged = self.directory + '.damaged'
    os.makedirs(damaged, exist_ok=True)
    for step in steps:
      target = os.path.join(damaged, f'{step}.{time.strftime("%Y%m%d-%H%M%S")}')
      os.replace(os.path.join(self.directory, str(step)), target)
      logging.warning('Moved unreadable checkpoint %d to %s', step, target)
    self._manager.reload()

  def wait(self):
    """Blocks until pending asynchronous saves are on disk; CheckpointWriteError if one failed."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:
      raise self._write_error(e) from e

  def close(self):
    """Waits for pending saves and stops orbax's threads. Orbax raises a failure once in each place
    that waits for it, so after a reported failure it can come again here: then it is logged, and the
    close (which orbax cut short) is finished."""
    try:
      self._manager.close()
    except Exception as e:
      if not self._failed:
        raise self._write_error(e) from e
      logging.warning('Closing orbax after the failed save: %s', str(e).splitlines()[0][:300])
      self._manager.close()

  def _write_error(self, error: Exception) -> CheckpointWriteError:
    """The error that stops a run whose latest checkpoint could not be written."""
    self._failed = True
    step = self._last_save
    cause = 'disk full' if _is_disk_full(error) else 'write failed'
    first_line = (str(error).splitlines() or [''])[0][:2000]
    kept = self._manager.latest_step()  # Orbax has dropped the failed step.
    return CheckpointWriteError(
      f'could not write checkpoint {step} in {self.directory}: {cause} ({type(error).__name__}: '
      f'{first_line}). '
      + (
        f'The previous checkpoint, step {kept}, is kept and is where a rerun resumes'
        if kept is not None
        else 'There is no earlier checkpoint: a rerun starts afresh'
      )
      + '; the partial write is ignored. Free space (or fix the error) and rerun the same command.'
    )
