"""A split for semi-supervised learning: a class-balanced labelled subset and the rest unlabelled.

With ``config.data.num_labelled = n > 0`` (n a multiple of the number of classes K), the training split of N
examples becomes the named arrays

    image       uint8 [N − n, H, W, C]   the n labelled images, each repeated about (N − n) / n times
    label       int32 [N − n]            their classes (n / K examples of each class)
    unlabelled  uint8 [N − n, H, W, C]   the other N − n images, without their labels

with ``order_groups = {'unlabelled': 1}``: the feeds draw the unlabelled rows in an order of their own, so a
step's labelled batch and unlabelled batch are independent (as the two domains of ``gans.data.domains``).
The subset is n / K rows of each class drawn without replacement by ``config.data.labelled_seed``, so one
seed gives one subset in every run. The labels of the unlabelled rows are in no array of the split.

Held-out splits stay fully labelled: ``image`` and ``label`` as loaded, and ``unlabelled`` = ``image`` (the
same array), so a method that reads ``unlabelled`` in training can be evaluated on them.
"""

from __future__ import annotations

import numpy as np

from gans.data import domains


def balanced_subset(
  labels: np.ndarray, num_labelled: int, num_classes: int, seed: int
) -> np.ndarray:
  """Rows of ``num_labelled / num_classes`` examples of each class of ``labels`` int [N], drawn without
  replacement by ``seed``: int64 [num_labelled], in increasing order."""
  if num_labelled % num_classes:
    raise ValueError(
      f'config.data.num_labelled={num_labelled} is not a multiple of the {num_classes} classes; '
      f'use a multiple such as {num_classes * max(1, num_labelled // num_classes)} (the subset is '
      'class-balanced).'
    )
  per_class = num_labelled // num_classes
  rng = np.random.default_rng(seed)
  rows = []
  for k in range(num_classes):
    members = np.flatnonzero(labels == k)
    if len(members) < per_class:
      raise ValueError(
        f'config.data.num_labelled={num_labelled} asks for {per_class} labels of class {k}, which has '
        f'{len(members)} examples in the training split; lower config.data.num_labelled.'
      )
    rows.append(rng.choice(members, per_class, replace=False))
  return np.sort(np.concatenate(rows))


def semi_supervised_arrays(
  images: np.ndarray, labels: np.ndarray, num_labelled: int, num_classes: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
  """The training split's arrays and order groups (module docstring) from ``images`` [N, H, W, C] and
  ``labels`` [N]."""
  if num_labelled >= len(images):
    raise ValueError(
      f'config.data.num_labelled={num_labelled} leaves no unlabelled example of the {len(images)} in '
      'the training split; lower it.'
    )
  labelled = balanced_subset(labels, num_labelled, num_classes, seed)
  unlabelled = np.setdiff1d(np.arange(len(images)), labelled)
  repeated = labelled[domains.resampled_rows(num_labelled, len(unlabelled), seed)]
  arrays = {'image': images[repeated], 'label': labels[repeated], 'unlabelled': images[unlabelled]}
  return arrays, {'unlabelled': 1}


def held_out_arrays(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
  """A held-out split's arrays: every example labelled, ``unlabelled`` the same images."""
  return {'image': images, 'label': labels, 'unlabelled': images}
