"""Soak test (a benchmark, not in the default suite): a long `gans.main` run keeps host memory, open
files and step time flat.

    python -m pytest -q -m benchmark tests/test_soak.py -s      # ~10 min on 2 cores

20,000 steps of the MLP GAN (`configs/gan.py`, the recipe's nets) on a dataset the test writes, with a
checkpoint every 500 steps and an evaluation every 5,000. A sampler thread reads the process's resident
memory, open file descriptors and CPU time from /proc every half second; the console's log lines (every
1,000 steps) cut the run into windows. Per window the test prints the median RSS, the fewest and most
open descriptors (a checkpoint write holds a few files open for a moment: the fewest is the baseline) and
the step time, in wall-clock and in CPU time (CPU ms per step: on a shared machine other jobs slow the
wall-clock rate, the CPU time per step much less). README's Reliability table records a run.
"""

from __future__ import annotations

import bisect
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
_TICKS = os.sysconf('SC_CLK_TCK')


def _read(pid: int) -> tuple[float, float, int, float]:
  """(time, RSS in MB, open descriptors, user + system CPU seconds) of ``pid``."""
  with open(f'/proc/{pid}/status') as f:
    rss_kb = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))
  with open(f'/proc/{pid}/stat') as f:
    fields = f.read().rsplit(')', 1)[1].split()
  cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15).
  return time.time(), rss_kb / 1024, len(os.listdir(f'/proc/{pid}/fd')), cpu


def _sample(pid: int, samples: list, stop: threading.Event) -> None:
  while not stop.wait(0.5):
    try:
      samples.append(_read(pid))
    except (FileNotFoundError, ProcessLookupError, AttributeError):
      return


def _windows(samples, log_times: dict[int, float]) -> list[dict]:
  """One row per log interval: the samples taken between the log lines of ``step - LOG_EVERY`` and
  ``step``."""
  times = [s[0] for s in samples]
  rows, previous = [], None
  for step, end in sorted(log_times.items()):
    if previous is not None:
      lo, hi = bisect.bisect_left(times, previous[1]), bisect.bisect_right(times, end)
      window = samples[lo:hi]
      if len(window) >= 2:
        rss = [s[1] for s in window]
        fds = [s[2] for s in window]
        steps = step - previous[0]
        rows.append(
          {
            'step': step,
            'rss_mb': round(float(np.median(rss)), 1),
            'fds_min': min(fds),
            'fds_max': max(fds),
            'steps_per_s': round(steps / (end - previous[1]), 1),
            'cpu_ms_per_step': round(
              1000
              * (window[-1][3] - window[0][3])
              / steps
              * (end - previous[1])
              / (window[-1][0] - window[0][0]),
              2,
            ),
          }
        )
    previous = (step, end)
  return rows


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
  log_times, tail = {}, []
  for line in process.stderr:
    match = re.search(r'step (\d+)/\d+ \| ([\d.]+) steps/s', line)
    if match:
      log_times[int(match.group(1))] = time.time()
    tail = [*tail[-20:], line]
  assert process.wait() == 0, ''.join(tail)
  stop.set()
  sampler.join()
  rows = _windows(samples, log_times)
  for row in rows:
    print(json.dumps(row))
  # Settled: from the window after the first evaluation and sample grid on (they run after the log line
  # of step EVAL_EVERY, so in the window that ends LOG_EVERY later, and create the evaluator, its
  # classifier and the compiled sampler). Step times only from windows without an evaluation or grid.
  settled = [row for row in rows if row['step'] > EVAL_EVERY + LOG_EVERY]
  plain = [row for row in rows if (row['step'] - LOG_EVERY) % EVAL_EVERY != 0]
  quarter = max(1, len(plain) // 4)
  report = {
    'rss_mb_first_settled_last': [settled[0]['rss_mb'], settled[-1]['rss_mb']],
    'rss_mb_max': round(max(s[1] for s in samples), 1),
    'fds_min_first_settled_last': [settled[0]['fds_min'], settled[-1]['fds_min']],
    'fds_max': max(row['fds_max'] for row in rows),
    'steps_per_s_first_last_quarter': [
      float(np.median([row['steps_per_s'] for row in plain[:quarter]])),
      float(np.median([row['steps_per_s'] for row in plain[-quarter:]])),
    ],
    'cpu_ms_per_step_first_last_quarter': [
      float(np.median([row['cpu_ms_per_step'] for row in plain[:quarter]])),
      float(np.median([row['cpu_ms_per_step'] for row in plain[-quarter:]])),
    ],
    'checkpoints_kept': sorted(os.listdir(tmp_path / 'run' / 'checkpoints')),
  }
  # Resident memory is flat from the first evaluation to the end: gans.main caps glibc's malloc arenas
  # (gans.malloc_arenas). Without the cap it rose with orbax's background checkpoint writes
  # (2026-12-01: 736 -> 807 MB from step 7,000 to 20,000, 754 -> 884 MB in 4,000 steps checkpointing
  # every 250); with it 793 -> 783 MB (max 815). Flat: the end within 3 % of the first settled window,
  # and the last four windows within 3 % of the four before them.
  last, before = (np.mean([row['rss_mb'] for row in part]) for part in (rows[-4:], rows[-8:-4]))
  report['rss_mb_last_4_windows_vs_4_before'] = [round(float(before), 1), round(float(last), 1)]
  print(json.dumps(report, indent=2))
  assert last <= 1.03 * before, report
  assert settled[-1]['rss_mb'] <= 1.03 * settled[0]['rss_mb'], report
  assert settled[-1]['fds_min'] <= settled[0]['fds_min'], report  # No leaked descriptors.
  cpu_first, cpu_last = report['cpu_ms_per_step_first_last_quarter']
  assert cpu_last <= 1.2 * cpu_first, report
