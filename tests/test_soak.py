"""Soak test (a benchmark, not in the default suite): a long `gans.main` run keeps host memory, open
files and step time flat.

    python -m pytest -q -m benchmark tests/test_soak.py -s      # ~5-10 min on 2 cores

20,000 steps of the MLP GAN (`configs/gan.py`, the recipe's nets) on a dataset the test writes, with a
checkpoint every 500 steps and an evaluation every 5,000. A sampler thread reads the process's resident
memory and open file descriptors from /proc every second; the console's steps/s lines give the step time.
The numbers are printed (README's Reliability table records a run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

from conftest import REPO, write_idx_dataset
import numpy as np
import pytest

STEPS, CHECKPOINT_EVERY, EVAL_EVERY, LOG_EVERY = 20_000, 500, 5_000, 1_000


def _sample(pid: int, samples: list, stop: threading.Event) -> None:
  while not stop.wait(1.0):
    try:
      with open(f'/proc/{pid}/status') as f:
        rss_kb = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))
      samples.append((time.time(), rss_kb / 1024, len(os.listdir(f'/proc/{pid}/fd'))))
    except (FileNotFoundError, ProcessLookupError, AttributeError):
      return


@pytest.mark.benchmark
def test_long_run_keeps_memory_files_and_step_time_flat(tmp_path):
  data = write_idx_dataset(str(tmp_path / 'idx'), num_train=6000, num_test=1000)
  args = [
    sys.executable,
    '-m',
    'gans.main',
    f'--config={REPO}/configs/gan.py',
    f'--workdir={tmp_path / "run"}',
    f'--config.data.source_dir={data}',
    f'--config.data.tfds_dir={tmp_path / "tfds"}',
    f'--config.train.steps={STEPS}',
    f'--config.train.checkpoint_every={CHECKPOINT_EVERY}',
    f'--config.train.eval_every={EVAL_EVERY}',
    f'--config.train.log_every={LOG_EVERY}',
    f'--config.train.sample_every={EVAL_EVERY}',
    '--config.eval.num_samples=2000',
    '--config.eval.classifier_steps=200',
  ]
  process = subprocess.Popen(
    args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
  )
  samples, stop = [], threading.Event()
  sampler = threading.Thread(target=_sample, args=(process.pid, samples, stop), daemon=True)
  sampler.start()
  rates = {}
  for line in process.stderr:
    match = re.search(r'step (\d+)/\d+ \| ([\d.]+) steps/s', line)
    if match:
      rates[int(match.group(1))] = float(match.group(2))
  assert process.wait() == 0
  stop.set()
  sampler.join()
  times, rss, fds = (np.array(column) for column in zip(*samples))
  # From the first evaluation on (the evaluator, its classifier and the compiled sampler exist).
  settled = times >= times[0] + 0.25 * (times[-1] - times[0])
  # Log intervals after the first (compilation) without an evaluation and sample grid in them: those run
  # after the log line of a multiple of EVAL_EVERY, so in the interval that ends LOG_EVERY later.
  plain = [
    rate
    for step, rate in sorted(rates.items())
    if step > LOG_EVERY and (step - LOG_EVERY) % EVAL_EVERY != 0
  ]
  quarter = max(1, len(plain) // 4)
  report = {
    'rss_mb_settled_first_last_max': [float(rss[settled][0]), float(rss[-1]), float(rss.max())],
    'open_fds_settled_first_last_max': [int(fds[settled][0]), int(fds[-1]), int(fds.max())],
    'steps_per_s_first_last_quarter': [
      float(np.median(plain[:quarter])),
      float(np.median(plain[-quarter:])),
    ],
    'checkpoints_kept': sorted(os.listdir(tmp_path / 'run' / 'checkpoints')),
  }
  print(json.dumps(report, indent=2))
  assert rss[-1] <= rss[settled][0] * 1.10 + 50, report  # No growth beyond noise.
  assert fds[settled].max() <= fds[settled][0] + 8, report  # No leaked files.
  assert np.median(plain[-quarter:]) >= 0.8 * np.median(plain[:quarter]), report
