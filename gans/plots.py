"""Figures with axes, drawn by matplotlib off-screen (its Agg canvas; no pyplot, no display), as uint8 RGB.

- ``training_curves``: the run's TensorBoard scalars (``read_scalars``), one figure per group of tags
  (``train/...``, ``eval/...``), one panel per tag: value against training step, evaluation points as
  markers (a single evaluation is a visible point);
- ``tradeoff_curves``: metrics against a swept setting, e.g. BigGAN's truncation τ;
- ``mixture_scatter``: 2-D samples of a toy mixture with its mode centres and their 3σ circles (the
  radius within which a sample counts as high quality).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle
import numpy as np

PANEL_INCHES = (3.6, 2.6)
DPI = 100


def read_scalars(directory: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Every scalar logged under ``directory``: tag -> (steps [N], values [N]), by TensorBoard's own reader
  (all points kept; after a resume, points the resumed run logged again replace the old ones)."""
  from tensorboard.backend.event_processing import event_accumulator  # Only the curves need it.

  events = event_accumulator.EventAccumulator(directory, size_guidance={'scalars': 0})
  events.Reload()
  series = {}
  for tag in sorted(events.Tags()['scalars']):
    by_step = {event.step: event.value for event in events.Scalars(tag)}
    steps = np.array(sorted(by_step))
    series[tag] = (steps, np.array([by_step[s] for s in steps], np.float32))
  return series


def _panels(count: int, cols: int) -> tuple[Figure, list]:
  rows = max(1, -(-count // cols))
  cols = min(cols, max(count, 1))
  figure = Figure(figsize=(cols * PANEL_INCHES[0], rows * PANEL_INCHES[1]), dpi=DPI)
  axes = [figure.add_subplot(rows, cols, i + 1) for i in range(max(count, 1))]
  return figure, axes


def _to_picture(figure: Figure) -> np.ndarray:
  """uint8 [H, W, 3] of a drawn figure."""
  figure.tight_layout()
  canvas = FigureCanvasAgg(figure)
  canvas.draw()
  return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def training_curves(
  series: dict[str, tuple[np.ndarray, np.ndarray]], *, cols: int = 3
) -> dict[str, np.ndarray]:
  """{group: uint8 [H, W, 3]}: for each tag prefix ('train', 'eval', ...), a panel per tag of its value
  against the step (non-finite values left out; eval points marked)."""
  groups: dict[str, list[str]] = {}
  for tag in series:
    groups.setdefault(tag.split('/', 1)[0] if '/' in tag else 'scalars', []).append(tag)
  pictures = {}
  for group, tags in groups.items():
    figure, axes = _panels(len(tags), cols)
    for ax, tag in zip(axes, tags):
      steps, values = series[tag]
      finite = np.isfinite(values)
      marker = 'o' if group == 'eval' or finite.sum() < 2 else None
      ax.plot(steps[finite], values[finite], marker=marker, markersize=4, linewidth=1.2)
      name = tag.split('/', 1)[-1]
      ax.set(title=name, xlabel='training step', ylabel=name)
      ax.grid(alpha=0.3)
    pictures[group] = _to_picture(figure)
  return pictures


def tradeoff_curves(
  settings: Sequence[str], series: dict[str, Sequence[float]], *, xlabel: str, cols: int = 3
) -> np.ndarray:
  """uint8 [H, W, 3]: a panel per metric of its value at each setting (categorical x axis, in order)."""
  figure, axes = _panels(len(series), cols)
  positions = np.arange(len(settings))
  for ax, (name, values) in zip(axes, series.items()):
    ax.plot(positions, np.asarray(values, np.float64), marker='o', linewidth=1.2)
    ax.set_xticks(positions, list(settings))
    ax.set(title=name, xlabel=xlabel, ylabel=name)
    ax.grid(alpha=0.3)
  return _to_picture(figure)


def mixture_scatter(
  points: np.ndarray, centers: np.ndarray, std: float, extent: Sequence[float]
) -> np.ndarray:
  """uint8 [H, W, 3]: samples [N, 2] as dots over (lo, hi)², mode centres [M, 2] as crosses, and the
  circles of radius 3σ around them."""
  lo, hi = extent
  figure = Figure(figsize=(4.2, 4.2), dpi=DPI)
  ax = figure.add_subplot(1, 1, 1)
  points = np.asarray(points)
  ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, linewidths=0, label='samples')
  ax.scatter(
    centers[:, 0], centers[:, 1], s=10, marker='x', color='C3', linewidths=0.8, label='modes'
  )
  for center in centers:
    ax.add_patch(Circle(tuple(center), 3 * std, fill=False, color='C1', linewidth=1.0))
  ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel='x₁', ylabel='x₂', aspect='equal')
  ax.set_title(f'{len(points)} samples; circles: 3σ (σ = {std:g}) around the modes', fontsize=9)
  ax.legend(loc='upper right', fontsize=7)
  return _to_picture(figure)
