"""The training loop, shared by every family: data -> step -> log -> checkpoint -> samples -> eval.

It knows only the Method protocol (``gans.methods.base``): the feeds move the data arrays the method
names (``method.inputs``) and its optional capabilities are asked with ``base.supports``. The step is
compiled once, ahead of time, for a replicated state and a batch split over all devices, with the old
state donated.
"""

from __future__ import annotations

import collections
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from gans import (
  checkpoint,
  config_guard,
  guard,
  methods,
  parallel,
  peers,
  preemption,
  visualize,
  watchdog,
  workdir_lock,
)
from gans.data import datasets, input_pipeline
from gans.evaluation import evaluator as evaluator_lib
from gans.evaluation import translation
from gans.methods import base

# train.feed='auto' keeps a training split of at most this size on every device (Fashion-MNIST: 47 MB,
# CIFAR-10: 154 MB; CelebA 64×64: 2.4 GB is fed from the host).
DEVICE_FEED_MAX_BYTES = 1 << 30


def normalize(batch: dict, value_range) -> dict:
  """Every uint8 array of ``batch`` holds pixels: -> float32 in ``value_range``; other arrays (labels,
  tokens, toy points) pass unchanged. Runs inside the jitted step."""
  lo, hi = value_range
  return {
    name: lo + (hi - lo) / 255.0 * x.astype(jnp.float32) if x.dtype == jnp.uint8 else x
    for name, x in batch.items()
  }


def method_arrays(split: datasets.Split, method, dataset: str) -> dict:
  """The arrays of ``split`` that ``method`` reads (``method.inputs``), by name; ValueError naming the
  missing ones."""
  check_inputs(split, method, dataset)
  return {name: split[name] for name in method.inputs}


def check_inputs(split, method, dataset: str) -> None:
  """ValueError naming the arrays ``method`` reads that ``split`` (a ``Split`` or ``SplitSource``)
  lacks."""
  missing = [name for name in method.inputs if name not in split.names]
  if missing:
    raise ValueError(
      f'the method reads the arrays {", ".join(method.inputs)} but data {dataset!r} has only '
      f'{", ".join(split.names)} (missing: {", ".join(missing)}); use a dataset with them, e.g. a '
      'labelled one for a class-conditional method (config.data.label_attribute for CelebA), a second '
      'domain image_b for a translation method (config.data.domain_b=edges).'
    )


def open_train_data(config) -> datasets.Split | datasets.SplitSource:
  """The training split: in memory (a ``Split``), or left on disk (a ``SplitSource``) for the stream
  feed, i.e. with ``train.feed=stream``, or ``auto`` when the split takes more than
  ``data.in_memory_limit_mb`` (known from the source's length and first example, without loading it)."""
  feed = config.train.feed
  if feed == 'stream' or (feed == 'auto' and datasets.streamable(config.data)):
    source = datasets.open_split(config.data, 'train')
    if feed == 'stream' or source.nbytes > config.data.in_memory_limit_mb * 2**20:
      return source
    return source.load()
  return datasets.load_split(config.data, 'train')


class Experiment:
  """What every mode needs: the mesh, the data, the method and a state placed on the devices."""

  def __init__(self, config, workdir: str):
    self.config = config
    self.workdir = workdir
    self.mesh = parallel.make_mesh()
    self.replicated = parallel.replicated(self.mesh)
    # The training split: a Split in memory, or a SplitSource on disk for the stream feed.
    self.train_data = open_train_data(config)
    self.streamed = isinstance(self.train_data, datasets.SplitSource)
    self._splits = {} if self.streamed else {'train': self.train_data}
    head = self.train_data.head(2)
    self.method = methods.create(config, head['image'].shape[1:], self.train_data.num_classes)
    check_inputs(self.train_data, self.method, config.data.name)
    # The arrays the in-memory feeds move (None when streamed).
    inputs = self.method.inputs
    self.train_arrays = None if self.streamed else {name: self.train_data[name] for name in inputs}
    self.checkpointer = checkpoint.Checkpointer(
      workdir, every=config.train.checkpoint_every, keep=config.train.keep_checkpoints
    )
    example = normalize({name: head[name] for name in self.method.inputs}, config.data.value_range)
    value_range = config.data.value_range
    self._generate = jax.jit(self.method.generate, static_argnums=2, out_shardings=self.replicated)
    self._eval_step = jax.jit(
      lambda state, batch, rng: self.method.eval_step(state, normalize(batch, value_range), rng),
      out_shardings=self.replicated,
    )
    self._figures = jax.jit(
      lambda state, batch, rng: self.method.figures(state, normalize(batch, value_range), rng),
      out_shardings=self.replicated,
    )
    self._evaluator = None
    self._class_samples = None
    # The initial state is computed at its first use: a restore needs only its shapes and shardings
    # (a resume, --mode=eval/sample/export then never compile nor run the initialisers).
    self._init = jax.jit(self.method.init, out_shardings=self.replicated)
    self._init_args = (jax.random.PRNGKey(config.train.seed), example)
    self._state = None
    self.is_writer = jax.process_index() == 0

  @property
  def state(self):
    """The players' TrainStates and the method's carry: the restored checkpoint's, else the initial."""
    if self._state is None:
      self._state = self._init(*self._init_args)
    return self._state

  @state.setter
  def state(self, state):
    self._state = state

  def compile_train_step(self, inputs, select=input_pipeline.BatchIterator.select):
    """Compiles the guarded, donated, data-parallel train step ``(state, inputs) -> (state, metrics)``
    for step inputs shaped like ``inputs``; ``select(inputs, state.step)`` makes the batch from them (the
    feed's ``select``; by default ``inputs`` is the batch).

    Returns ``(compiled_step, compile_seconds, metric_names)``.
    """

    def step_fn(state, inputs):
      batch = select(inputs, state.step)
      return self.method.train_step(state, normalize(batch, self.config.data.value_range))

    start = time.perf_counter()
    compiled = (
      jax.jit(
        guard.guarded(step_fn, self.config.train.nonfinite),
        in_shardings=(self.replicated, jax.tree.map(lambda x: x.sharding, inputs)),
        out_shardings=self.replicated,
        donate_argnums=0,
      )
      .lower(self.state, inputs)
      .compile()
    )
    seconds = time.perf_counter() - start
    return compiled, seconds, jax.eval_shape(step_fn, self.state, inputs)[1].keys()

  @property
  def feed(self) -> str:
    """``config.train.feed`` resolved: 'stream', 'device' or 'host' ('auto': stream when the split
    exceeds ``data.in_memory_limit_mb`` (``open_train_data``), else device when it is small and an epoch
    holds at least one step's batches, else host)."""
    if self.streamed:
      return 'stream'
    feed = self.config.train.feed
    if feed != 'auto':
      return feed
    split_bytes = sum(array.nbytes for array in self.train_arrays.values())
    batches_per_epoch = len(self.train_data) // self.config.train.batch_size
    small = split_bytes <= DEVICE_FEED_MAX_BYTES
    return 'device' if small and self.method.batches_per_step <= batches_per_epoch else 'host'

  def batches(self, start_step: int = 0):
    """The step inputs from ``start_step`` on: an ``input_pipeline.DeviceBatches``, ``BatchIterator`` or
    ``StreamBatches`` (``self.feed``); pass its ``select`` to ``compile_train_step``."""
    cfg = self.config.train
    kwargs = dict(
      global_batch_size=cfg.batch_size,
      seed=cfg.seed,
      mesh=self.mesh,
      start_step=start_step,
      batches_per_step=self.method.batches_per_step,
      order_groups={} if self.streamed else self.train_data.order_groups,
    )
    if self.feed == 'stream':
      return input_pipeline.StreamBatches(
        self.train_data, names=self.method.inputs, prefetch=cfg.prefetch, **kwargs
      )
    if self.feed == 'device':
      return input_pipeline.DeviceBatches(self.train_arrays, **kwargs)
    return input_pipeline.BatchIterator(self.train_arrays, prefetch=cfg.prefetch, **kwargs)

  def restore(self) -> int:
    """Loads the latest checkpoint if there is one; returns the step to continue from."""
    if self.checkpointer.latest_step() is None:
      return 0
    template = (
      self._state if self._state is not None else jax.eval_shape(self._init, *self._init_args)
    )
    self.state, meta = self.checkpointer.restore(template)
    return int(meta['step'])

  def generate(self, num: int, seed: int):
    """``num`` samples [num, ...] in ``config.data.value_range`` (EMA weights when the method keeps
    them), as a replicated array; a translation method's are translations of test images
    (``translation_sources``)."""
    if base.supports(self.method, base.Translation):
      sources, _ = self.translation_sources(num, seed)
      return self._generate(self.state, jax.random.PRNGKey(seed), num, image_b=sources)
    return self._generate(self.state, jax.random.PRNGKey(seed), num)

  def translation_sources(self, num: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Domain-B images of the evaluation split to translate into domain A, rows ``seed·num`` ... (cycling
    through the split), in the value range, and their labels when they have a known answer: the edge
    maps ``edges`` of the A images (``gans.data.domains``) carry the labels of those images; other
    B images (``image_b``) none."""
    test = self.split(self.config.eval.split)
    known = 'edges' in test.names
    rows = (np.arange(num) + seed * num) % len(test)
    sources = test['edges' if known else 'image_b'][rows]
    sources = normalize({'image': sources}, self.config.data.value_range)['image']
    return sources, test['label'][rows] if known else None

  def sample_batch(self, num: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Host copies of ``num`` samples and, for a class-conditional method (``base.ClassConditional``),
    the labels they were generated for; for a translation method (``base.Translation``), the
    translations of ``translation_sources`` and their labels."""
    rng = jax.random.PRNGKey(seed)
    if base.supports(self.method, base.ClassConditional):
      if self._class_samples is None:
        self._class_samples = jax.jit(
          self.method.class_samples, static_argnums=2, out_shardings=self.replicated
        )
      return parallel.to_host(self._class_samples(self.state, rng, num))
    if base.supports(self.method, base.Translation):
      _, labels = self.translation_sources(num, seed)
      return parallel.to_host(self.generate(num, seed)), labels
    return parallel.to_host(self._generate(self.state, rng, num)), None

  @property
  def evaluator(self):
    """The sample-quality evaluator (built on first use: it may train the feature classifier)."""
    if self._evaluator is None:
      self._evaluator = evaluator_lib.create(self.config, self.train_data, self.split('test'))
    return self._evaluator

  def split(self, name: str) -> datasets.Split:
    """A data split in memory, loaded once (evaluation reads ``eval.split``, by default the test
    split; a streamed training split is loaded only if asked for here)."""
    if name not in self._splits:
      self._splits[name] = datasets.load_split(self.config.data, name)
    return self._splits[name]

  def _test_batches(self, split: str, batch_size: int, num_batches: int):
    """The first ``num_batches`` × ``batch_size`` examples of ``split``, in order, sharded: the arrays
    the method reads, name -> [batch_size, ...]."""
    arrays = method_arrays(self.split(split), self.method, self.config.data.name)
    num_batches = min(num_batches, len(self.split(split)) // batch_size)
    local = parallel.local_batch_size(batch_size)
    sharding = parallel.batch_sharding(self.mesh)
    for b in range(num_batches):
      start = b * batch_size + jax.process_index() * local
      rows = slice(start, start + local)
      yield jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, x),
        {name: array[rows] for name, array in arrays.items()},
      )

  def evaluate(self) -> dict[str, float]:
    """Means of the method's ``eval_step`` metrics over the configured evaluation batches, plus the
    sample-quality metrics of ``gans.evaluation`` when ``eval.sample_metrics``."""
    cfg = self.config.eval
    rng = jax.random.PRNGKey(cfg.seed)
    totals = [
      self._eval_step(self.state, batch, jax.random.fold_in(rng, b))
      for b, batch in enumerate(self._test_batches(cfg.split, cfg.batch_size, cfg.num_batches))
    ]
    totals = parallel.to_host(totals)
    results = {name: float(np.mean([t[name] for t in totals])) for name in (totals or [{}])[0]}
    if cfg.sample_metrics:
      results.update(evaluator_lib.evaluate_samples(self.evaluator, self.sample_batch, self.config))
    if base.supports(self.method, base.Translation) and 'edges' in self.split(cfg.split).names:
      results.update(self._edge_metrics(self.split(cfg.split), cfg.batch_size))
    if cfg.sample_metrics and base.supports(self.method, base.TextConditional):
      results.update(
        self.method.caption_metrics(
          self.state,
          self.split(cfg.split),
          self.evaluator.score,
          num=cfg.num_samples,
          batch_size=cfg.batch_size,
          seed=cfg.seed,
        )
      )
    if base.supports(self.method, base.UnsupervisedCodes):  # InfoGAN's codes against true labels.
      test = self.split(cfg.split)
      images = normalize({'image': test['image']}, self.config.data.value_range)['image']
      results['code_accuracy'] = self.method.code_accuracy(self.state, images, test['label'])
    return results

  def _edge_metrics(self, test: datasets.Split, batch_size: int) -> dict[str, float]:
    """G(a) of every test image a against its true edge map (``gans.evaluation.translation``)."""
    translate = jax.jit(self.method.translate, static_argnums=2, out_shardings=self.replicated)
    value_range = self.config.data.value_range
    translated = np.concatenate(
      [
        parallel.to_host(
          translate(
            self.state,
            normalize({'image': test['image'][i : i + batch_size]}, value_range)['image'],
            'a2b',
          )
        )
        for i in range(0, len(test), batch_size)
      ]
    )
    return translation.edge_metrics(
      evaluator_lib.to_unit_range(translated, value_range), test['edges'].astype(np.float32) / 255.0
    )

  def figures(self) -> dict[str, np.ndarray]:
    """The sample grid (fixed noise) and the method's own figures, as uint8 pictures."""
    pictures = {'samples': self.generate(self.config.sample.num, self.config.sample.seed)}
    batch = next(self._test_batches(self.config.eval.split, 16 * jax.device_count(), 1))
    pictures.update(self._figures(self.state, batch, jax.random.PRNGKey(0)))
    return {
      name: visualize.to_picture(images, self.config.data)
      for name, images in parallel.to_host(pictures).items()
    }


def write_figures(experiment: Experiment, step: int, writer=None) -> None:
  """Computes the figures on every process (they are collective), writes them from process 0."""
  figures = experiment.figures()
  if not experiment.is_writer:
    return
  for name, grid in figures.items():
    visualize.save_png(os.path.join(experiment.workdir, 'samples', f'{name}_{step:07d}.png'), grid)
    if writer is not None:
      writer.add_image(name, grid, step, dataformats='HWC')


def _format_duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  return f'{minutes // 60}:{minutes % 60:02d}:{seconds:02d}'


class _Logger:
  """Console lines and TensorBoard scalars; metrics stay on the device until a log step."""

  def __init__(self, writer, total_steps: int, start_step: int):
    self.writer, self.total_steps = writer, total_steps
    self._history, self._since, self._since_step = [], time.perf_counter(), start_step

  def append(self, metrics):
    self._history.append(metrics)

  def flush(self, step: int, health: dict) -> None:
    stacked = parallel.to_host(jax.tree.map(lambda *xs: jnp.stack(xs), *self._history))
    means = {
      name: float(np.nanmean(values)) if np.isfinite(values).any() else float('nan')
      for name, values in stacked.items()
    }
    self._history = []
    now = time.perf_counter()
    rate = (step - self._since_step) / (now - self._since)
    self._since, self._since_step = now, step
    skipped = int(parallel.to_host(health['skipped']))
    logging.info(
      'step %d/%d | %.1f steps/s | ETA %s | %s%s',
      step,
      self.total_steps,
      rate,
      _format_duration((self.total_steps - step) / rate),
      ' '.join(f'{k} {v:.4f}' for k, v in sorted(means.items())),
      f' | {skipped} non-finite steps skipped' if skipped else '',
    )
    if self.writer is not None:
      for name, value in {**means, 'steps_per_second': rate, 'skipped_steps': skipped}.items():
        self.writer.add_scalar(f'train/{name}', value, step)

  def eval(self, results: dict[str, float], step: int) -> None:
    logging.info(
      'eval at step %d | %s', step, ' '.join(f'{k} {v:.4f}' for k, v in sorted(results.items()))
    )
    if self.writer is not None:
      for name, value in results.items():
        self.writer.add_scalar(f'eval/{name}', value, step)


class _StepsInFlight:
  """Bounds the steps dispatched ahead of the host: after step ``i`` is dispatched, waits for step
  ``i - limit`` to be done (its metrics ready), so ``limit`` steps stay queued and the host never waits
  for the step it has just launched. Unbounded, the loop would queue every step up to the next log step
  (``train.log_every``), and XLA:CPU deadlocks a multi-device step queued past 32 (``MAX_STEPS_IN_FLIGHT``
  in ``gans.config_guard``). Tells ``dog`` (``gans.watchdog``) of every step known to be done."""

  def __init__(self, limit: int, dog):
    self._limit, self._dog = limit, dog
    self._queued = collections.deque()

  def add(self, step: int, metrics) -> None:
    """Step ``step`` was dispatched; its ``metrics`` become ready when it is done."""
    self._queued.append((step, metrics))
    if len(self._queued) > self._limit:
      done_step, done = self._queued.popleft()
      jax.block_until_ready(done)
      self._dog.beat(done_step)

  def all_done(self, step: int) -> None:
    """Every step up to ``step`` is done (e.g. its metrics were copied to the host)."""
    self._queued.clear()
    self._dog.beat(step)


def _start_writer(config, workdir: str):
  """Process 0 records the resolved config and opens TensorBoard; other processes write nothing."""
  if jax.process_index() != 0:
    return None
  os.makedirs(workdir, exist_ok=True)
  tmp = os.path.join(workdir, 'config.json.tmp')
  with open(tmp, 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  os.replace(tmp, os.path.join(workdir, 'config.json'))
  from tensorboardX import SummaryWriter  # Local import: only the writing process needs it.

  return SummaryWriter(os.path.join(workdir, 'tensorboard'))


def train_and_evaluate(config, workdir: str) -> dict[str, float] | None:
  """Trains ``config`` in ``workdir``, resuming from its latest checkpoint.

  Process 0 holds the workdir's lock (``gans.workdir_lock``) from before anything is written until the
  end, whatever the end; a second run in the same workdir raises WorkdirLocked. Returns the final
  evaluation metrics, or None when stopped early by SIGTERM/SIGINT (after checkpointing).
  """
  config_guard.validate(config)
  with workdir_lock.WorkdirLock(workdir, active=jax.process_index() == 0):
    return _train_and_evaluate(config, workdir)


def _train_and_evaluate(config, workdir: str) -> dict[str, float] | None:
  """``train_and_evaluate`` once the workdir is locked."""
  config_guard.check_resumable(config, workdir)
  experiment = Experiment(config, workdir)
  method, cfg, checkpointer = experiment.method, config.train, experiment.checkpointer
  start_step = experiment.restore()
  writer = _start_writer(config, workdir)
  batches = experiment.batches(start_step)
  logging.info(
    'Training %s from step %d to %d (%d batches per epoch, %s feed)',
    config.method.name,
    start_step,
    cfg.steps,
    batches.batches_per_epoch,
    experiment.feed,
  )

  inputs = next(batches)
  train_step, compile_seconds, metric_names = experiment.compile_train_step(inputs, batches.select)
  logging.info('Compiled the train step in %.1f s', compile_seconds)

  def save(step, state, force=False):
    """Checkpoints unless the state diverged since the last check (then raises, keeping older ones)."""
    if force or step % cfg.checkpoint_every == 0:
      guard.raise_if_diverged(state.health, metric_names, checkpointer.latest_step())
      checkpointer.save(
        step,
        state,
        {'step': step, 'seed': cfg.seed, 'batches_consumed': step * method.batches_per_step},
        force=force,
      )

  log = _Logger(writer, cfg.steps, start_step)
  state = experiment.state
  try:
    with watchdog.Watchdog(
      cfg.step_timeout_s, cfg.stop_timeout_s, start_step, peers.describe
    ) as dog:
      with preemption.Preemption(experiment.mesh, cfg.max_steps_in_flight) as preempt:
        in_flight = _StepsInFlight(cfg.max_steps_in_flight, dog)
        for step in range(start_step + 1, cfg.steps + 1):
          state, metrics = train_step(state, inputs)
          log.append(metrics)
          if step < cfg.steps:
            inputs = next(batches)
          in_flight.add(step, metrics)
          if step % cfg.log_every == 0 or step == cfg.steps:
            guard.raise_if_diverged(state.health, metric_names, checkpointer.latest_step())
            log.flush(step, state.health)
            in_flight.all_done(step)
          save(step, state)
          if preempt.requested(step):
            if checkpointer.latest_step() != step:  # Not saved by the interval above.
              save(step, state, force=True)
            logging.warning(
              'Stopped at step %d after checkpointing; rerun the same command to resume.', step
            )
            return None
          if cfg.sample_every and (step % cfg.sample_every == 0 or step == cfg.steps):
            experiment.state = state
            with dog.paused('figures'):
              write_figures(experiment, step, writer)
          if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            experiment.state = state
            with dog.paused('evaluation'):
              log.eval(experiment.evaluate(), step)
      if checkpointer.latest_step() != cfg.steps:
        save(cfg.steps, state, force=True)
      experiment.state = state
      # A SIGTERM from here on ends the process (gans.workdir_lock's handler or the default action).
      with dog.paused('final evaluation', signals_end_it=True):
        results = experiment.evaluate()
      log.eval(results, cfg.steps)
      return results
  finally:
    batches.close()
    try:
      checkpointer.wait()  # A failed asynchronous save raises CheckpointWriteError here at the latest.
    finally:
      checkpointer.close()
      if writer is not None:
        writer.close()
