"""Load-time crop and resize (gans.data.transforms) and the datasets that use them."""

from __future__ import annotations

from conftest import REPO, write_idx_dataset
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from gans import config_lib
from gans.data import datasets, transforms


def _images(n=5, height=12, width=10, channels=3, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (n, height, width, channels), dtype=np.uint8)


def test_center_crop_takes_the_middle_square():
  images = _images(height=12, width=10)
  np.testing.assert_array_equal(transforms.center_crop(images, 6), images[:, 3:9, 2:8])
  with pytest.raises(ValueError, match='center_crop=11 exceeds the images'):
    transforms.center_crop(images, 11)


def test_resize_keeps_constants_averages_blocks_and_is_chunk_independent():
  constant = np.full((3, 16, 16, 3), 77, np.uint8)
  np.testing.assert_array_equal(
    transforms.crop_and_resize(constant, size=8), np.full((3, 8, 8, 3), 77)
  )
  # Down-sampling is antialiased: a one-pixel checkerboard averages out to grey, not to one phase.
  checkerboard = (np.indices((16, 16)).sum(0) % 2 * 200)[None, ..., None].astype(np.uint8)
  small = transforms.crop_and_resize(checkerboard, size=4)
  assert small.dtype == np.uint8 and small.shape == (1, 4, 4, 1)
  assert np.all(np.abs(small[:, 1:3, 1:3].astype(int) - 100) <= 2)
  images = _images(n=7, height=20, width=20)
  np.testing.assert_array_equal(
    transforms.crop_and_resize(images, 16, 8, chunk=3), transforms.crop_and_resize(images, 16, 8)
  )


def test_resizing_non_square_images_needs_a_crop():
  with pytest.raises(ValueError, match='set config.data.center_crop'):
    transforms.crop_and_resize(_images(height=12, width=10), size=8)
  assert transforms.crop_and_resize(_images(height=12, width=10), 10, 5).shape == (5, 5, 5, 3)


def _data_config(**fields):
  return ml_collections.ConfigDict(
    {**config_lib.base_config('gan').data.to_dict(), 'source_dir': '', 'tfds_dir': '', **fields}
  )


def test_idx_split_is_cropped_and_resized_at_load(tmp_path):
  directory = write_idx_dataset(str(tmp_path / 'idx'), num_train=32, num_test=16)
  plain = _data_config(source_dir=directory, tfds_dir=str(tmp_path / 'tfds'))
  small = _data_config(
    source_dir=directory, tfds_dir=str(tmp_path / 'tfds'), center_crop=20, image_size=16
  )
  split = datasets.load_split(small, 'train')
  assert split['image'].shape == (32, 16, 16, 1) and split['image'].dtype == np.uint8
  np.testing.assert_array_equal(
    split['image'], transforms.crop_and_resize(datasets.load_split(plain, 'train')['image'], 20, 16)
  )
  assert datasets.dataset_id(small) != datasets.dataset_id(plain)  # The evaluator's cache key.


def test_celeba64_is_cropped_resized_and_labelled_by_an_attribute(tmp_path):
  config = config_lib.load_recipe(f'{REPO}/configs/dcgan.py', 'celeba64')
  config.data.tfds_dir = str(tmp_path)
  with tfds.testing.mock_data(num_examples=6):
    split = datasets.load_split(config.data, 'train')
    assert split['image'].shape == (6, 64, 64, 3) and split.num_classes == 2
    assert set(np.unique(split['label'])) <= {0, 1}
    config.data.label_attribute = 'Wings'
    with pytest.raises(ValueError, match="label_attribute='Wings' is not an attribute of celeb_a"):
      datasets.load_split(config.data, 'train')
    config.data.label_attribute = ''
    with pytest.raises(ValueError, match='label_attribute=Male for CelebA'):
      datasets.load_split(config.data, 'train')
