"""The training loop, shared by every family: data -> step -> log -> checkpoint -> samples -> eval.

It knows only the Method protocol (``gans.methods.base``). The step is compiled once, ahead of time,
for a replicated state and a batch split over all devices, with the old state donated.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gans import checkpoint, methods, parallel, visualize
from gans.data import datasets, input_pipeline


def normalize(batch: dict, value_range) -> dict:
    """uint8 pixels -> float32 in ``value_range``; runs inside the jitted step."""
    lo, hi = value_range
    return {**batch, "image": lo + (hi - lo) / 255.0 * batch["image"].astype(jnp.float32)}


class Experiment:
    """What every mode needs: the mesh, the data, the method and a state placed on the devices."""

    def __init__(self, config, workdir: str):
        self.config = config
        self.workdir = workdir
        self.mesh = parallel.make_mesh()
        self.replicated = parallel.replicated(self.mesh)
        self._splits = {"train": datasets.load_split(config.data, "train")}
        self.train_split = self._splits["train"]
        self.method = methods.create(config, self.train_split.images.shape[1:], self.train_split.num_classes)
        self.checkpointer = checkpoint.Checkpointer(workdir, every=config.train.checkpoint_every,
                                                    keep=config.train.keep_checkpoints)
        example = normalize({"image": self.train_split.images[:2], "label": self.train_split.labels[:2]},
                            config.data.value_range)
        init = jax.jit(self.method.init, out_shardings=self.replicated)
        self.state = init(jax.random.PRNGKey(config.train.seed), example)
        self.is_writer = jax.process_index() == 0

    def restore(self) -> int:
        """Loads the latest checkpoint if there is one; returns the step to continue from."""
        if self.checkpointer.latest_step() is None:
            return 0
        self.state, meta = self.checkpointer.restore(self.state)
        return int(meta["step"])

    def generate(self, num: int, seed: int):
        rng = jax.random.PRNGKey(seed)
        return jax.jit(self.method.generate, static_argnums=2)(self.state, rng, num)

    def split(self, name: str) -> datasets.Split:
        """A data split, loaded once."""
        if name not in self._splits:
            self._splits[name] = datasets.load_split(self.config.data, name)
        return self._splits[name]

    def _test_batches(self, split: str, batch_size: int, num_batches: int):
        """The first ``num_batches`` × ``batch_size`` examples of ``split``, in order, sharded."""
        data = self.split(split)
        num_batches = min(num_batches, len(data.images) // batch_size)
        local = parallel.local_batch_size(batch_size)
        sharding = parallel.batch_sharding(self.mesh)
        for b in range(num_batches):
            start = b * batch_size + jax.process_index() * local
            rows = slice(start, start + local)
            yield jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x),
                               {"image": data.images[rows], "label": data.labels[rows]})

    def evaluate(self) -> dict[str, float]:
        """Means of the method's ``eval_step`` metrics over the configured evaluation batches."""
        cfg = self.config.eval
        eval_step = jax.jit(lambda state, batch, rng: self.method.eval_step(
            state, normalize(batch, self.config.data.value_range), rng))
        rng = jax.random.PRNGKey(cfg.seed)
        totals = [eval_step(self.state, batch, jax.random.fold_in(rng, b))
                  for b, batch in enumerate(self._test_batches(cfg.split, cfg.batch_size, cfg.num_batches))]
        return {name: float(np.mean([t[name] for t in totals])) for name in totals[0]}

    def figures(self) -> dict[str, np.ndarray]:
        """The sample grid (fixed noise) and the method's own figures, as uint8 pictures."""
        value_range = self.config.data.value_range
        pictures = {"samples": self.generate(self.config.sample.num, self.config.sample.seed)}
        batch = next(self._test_batches(self.config.eval.split, 16 * jax.device_count(), 1))
        figures = jax.jit(lambda state, batch, rng: self.method.figures(
            state, normalize(batch, value_range), rng))(self.state, batch, jax.random.PRNGKey(0))
        pictures.update(figures)
        return {name: visualize.image_grid(visualize.to_uint8(images, value_range))
                for name, images in pictures.items()}


def write_figures(experiment: Experiment, step: int, writer=None) -> None:
    for name, grid in experiment.figures().items():
        visualize.save_png(os.path.join(experiment.workdir, "samples", f"{name}_{step:07d}.png"), grid)
        if writer is not None:
            writer.add_image(name, grid, step, dataformats="HWC")


def _format_duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def check_finite(metrics: dict[str, float], step: int, last_checkpoint: int | None) -> None:
    bad = [name for name, value in metrics.items() if not np.isfinite(value)]
    if bad:
        raise FloatingPointError(
            f"non-finite {', '.join(bad)} at step {step}; the last good checkpoint is step {last_checkpoint} "
            "(lower the learning rates or check the data).")


def train_and_evaluate(config, workdir: str) -> dict[str, float]:
    """Trains ``config`` in ``workdir`` (resuming from its latest checkpoint); returns final eval metrics."""
    experiment = Experiment(config, workdir)
    method, cfg = experiment.method, config.train
    start_step = experiment.restore()
    writer = None
    if experiment.is_writer:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
        from tensorboardX import SummaryWriter  # Local import: only the writing process needs it.
        writer = SummaryWriter(os.path.join(workdir, "tensorboard"))
    batches = input_pipeline.BatchIterator(
        {"image": experiment.train_split.images, "label": experiment.train_split.labels},
        global_batch_size=cfg.batch_size, seed=cfg.seed, mesh=experiment.mesh, start_step=start_step,
        stack=method.batches_per_step, prefetch=cfg.prefetch)
    logging.info("Training %s from step %d to %d (%d batches per epoch)", config.method.name, start_step,
                 cfg.steps, batches.batches_per_epoch)

    def step_fn(state, batch):
        return method.train_step(state, normalize(batch, config.data.value_range))

    batch = next(batches)
    t0 = time.perf_counter()
    train_step = jax.jit(step_fn, in_shardings=(experiment.replicated, batch["image"].sharding),
                         out_shardings=experiment.replicated, donate_argnums=0
                         ).lower(experiment.state, batch).compile()
    logging.info("Compiled the train step in %.1f s", time.perf_counter() - t0)

    state, history, last_saved = experiment.state, [], experiment.checkpointer.latest_step()
    interval_start, interval_step = time.perf_counter(), start_step
    try:
        for step in range(start_step + 1, cfg.steps + 1):
            state, metrics = train_step(state, batch)
            history.append(metrics)
            if step < cfg.steps:
                batch = next(batches)
            if step % cfg.log_every == 0 or step == cfg.steps:
                means = {k: float(np.mean(v)) for k, v in jax.device_get(
                    jax.tree.map(lambda *xs: jnp.stack(xs), *history)).items()}
                history = []
                check_finite(means, step, last_saved)
                now = time.perf_counter()
                rate = (step - interval_step) / (now - interval_start)
                interval_start, interval_step = now, step
                logging.info("step %d/%d | %.1f steps/s | ETA %s | %s", step, cfg.steps, rate,
                             _format_duration((cfg.steps - step) / rate),
                             " ".join(f"{k} {v:.4f}" for k, v in sorted(means.items())))
                if writer is not None:
                    for name, value in {**means, "steps_per_second": rate}.items():
                        writer.add_scalar(f"train/{name}", value, step)
            if experiment.checkpointer.save(step, state, {"step": step, "seed": cfg.seed,
                                                          "batches_consumed": step * method.batches_per_step}):
                last_saved = step
            if step % cfg.sample_every == 0 or step == cfg.steps:
                experiment.state = state
                write_figures(experiment, step, writer)
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                experiment.state = state
                _log_eval(experiment.evaluate(), step, writer)
        if last_saved != cfg.steps:
            experiment.checkpointer.save(cfg.steps, state, {"step": cfg.steps, "seed": cfg.seed,
                                                            "batches_consumed": cfg.steps * method.batches_per_step},
                                         force=True)
        experiment.state = state
        results = experiment.evaluate()
        _log_eval(results, cfg.steps, writer)
        return results
    finally:
        batches.close()
        experiment.checkpointer.wait()
        experiment.checkpointer.close()
        if writer is not None:
            writer.close()


def _log_eval(results: dict[str, float], step: int, writer) -> None:
    logging.info("eval at step %d | %s", step, " ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())))
    if writer is not None:
        for name, value in results.items():
            writer.add_scalar(f"eval/{name}", value, step)
