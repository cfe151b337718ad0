"""Timing of the PyTorch reference steps in launch/reference/ (imported by them from this folder)."""

import time


def steps_per_s(step, steps: int, warmup: int) -> float:
  """Runs ``step()`` ``warmup`` times, then times ``steps`` more: -> steps per second."""
  for _ in range(warmup):
    step()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  return steps / (time.perf_counter() - start)
