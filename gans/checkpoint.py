"""Checkpoints with orbax: atomic, asynchronous, the last K kept, the data position saved beside the state.

A checkpoint ``workdir/checkpoints/<step>/`` holds ``state`` (the whole GameState pytree) and ``meta``
(JSON: the step, the number of batches consumed and the seed), so a resumed run continues with the batches
it would have seen. Orbax writes into a temporary directory and renames it when complete, so a crash
mid-save leaves the previous checkpoints as they were.
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp
from absl import logging


class Checkpointer:
    """Saves every ``every`` steps (and when forced), keeps the last ``keep``, restores the latest."""

    def __init__(self, workdir: str, *, every: int, keep: int):
        if every <= 0 or keep <= 0:
            raise ValueError(f"config.train.checkpoint_every={every} and keep_checkpoints={keep} must be > 0.")
        self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
        self._every = every
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=True, create=True),
        )

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state, meta: dict, *, force: bool = False) -> bool:
        """Starts an asynchronous save of ``state`` at ``step`` if ``step`` is a multiple of ``every`` (or
        ``force``); returns whether it did."""
        if step % self._every and not force:
            return False
        return self._manager.save(
            step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
            force=True)

    def restore(self, state_template, step: int | None = None):
        """Restores ``(state, meta)`` at ``step`` (default: latest) with the shapes, dtypes and shardings
        of ``state_template``."""
        step = self.latest_step() if step is None else step
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state_template)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        logging.info("Restored checkpoint %s/%d", self.directory, step)
        return restored.state, restored.meta

    def wait(self):
        """Blocks until pending asynchronous saves are on disk."""
        self._manager.wait_until_finished()

    def close(self):
        self._manager.close()
